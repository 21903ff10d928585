package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moatmcp/moat/internal/atomicfile"
)

// clientConfig is how one MCP client is told about a server: the JSON
// file it reads, the key its servers sit under, and the entry for an HTTP
// and a stdio server. Each follows the client's own documentation (see
// docs/clients.md, which shows every one).
type clientConfig struct {
	title   string // for messages
	file    string // where the client reads it, for the help text
	servers string // the top-level key of the server entries
	http    func(c *connection) (entry json.RawMessage, inputs []clientInput)
	stdio   func(c *connection) json.RawMessage
	note    func(c *connection) string // printed to stderr after the JSON, or ""
}

// connection is what moat client-config was told about the server.
type connection struct {
	name    string   // the entry's name in the client's list
	url     string   // HTTP: the MCP endpoint
	key     string   // HTTP: the API key, or "" for a placeholder
	command string   // stdio: the moat binary
	args    []string // stdio: its arguments
}

// keyPlaceholder stands in for a key that was not given.
const keyPlaceholder = "MOAT_KEY_HERE"

func (c *connection) bearer() string {
	k := c.key
	if k == "" {
		k = keyPlaceholder
	}
	return "Bearer " + k
}

func stdioEntry(c *connection) json.RawMessage {
	return obj("command", c.command, "args", c.args)
}

// clientInput is a value the client asks the user for (VS Code's inputs).
type clientInput struct {
	id   string
	spec json.RawMessage
}

// obj builds a JSON object from key, value pairs, in that order: the
// entries read as each client's documentation writes them.
func obj(kv ...any) json.RawMessage {
	var ms []member
	for i := 0; i+1 < len(kv); i += 2 {
		v, err := marshalNoEscape(kv[i+1])
		if err != nil {
			panic(err) // strings, string slices and objects: cannot fail
		}
		ms = append(ms, member{key: kv[i].(string), val: v})
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := marshalNoEscape(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// clients is every client moat client-config knows, by the name given on
// the command line.
var clients = map[string]clientConfig{
	"claude-desktop": {
		title:   "Claude Desktop",
		file:    "claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\)",
		servers: "mcpServers",
		// Claude Desktop's config file starts local processes only; a
		// server over HTTP is reached through the mcp-remote bridge, with
		// the header in the environment (args must not hold spaces).
		http: func(c *connection) (json.RawMessage, []clientInput) {
			return obj("command", "npx",
				"args", []string{"-y", "mcp-remote", c.url, "--header", "Authorization:${MOAT_AUTH}"},
				"env", obj("MOAT_AUTH", c.bearer())), nil
		},
		stdio: stdioEntry,
		note: func(*connection) string {
			return "restart Claude Desktop to load it"
		},
	},
	"claude-code": {
		title:   "Claude Code",
		file:    ".mcp.json in the project's root (or: claude mcp add)",
		servers: "mcpServers",
		http: func(c *connection) (json.RawMessage, []clientInput) {
			return obj("type", "http", "url", c.url, "headers", obj("Authorization", c.bearer())), nil
		},
		stdio: func(c *connection) json.RawMessage {
			return obj("type", "stdio", "command", c.command, "args", c.args)
		},
	},
	"vscode": {
		title:   "VS Code",
		file:    ".vscode/mcp.json in the workspace",
		servers: "servers",
		// VS Code asks for the key when it starts the server and keeps it
		// in its secret storage: the key never goes into the file.
		http: func(c *connection) (json.RawMessage, []clientInput) {
			return obj("type", "http", "url", c.url, "headers", obj("Authorization", "Bearer ${input:moat-key}")),
				[]clientInput{{id: "moat-key", spec: obj("type", "promptString", "id", "moat-key", "description", "moat API key", "password", true)}}
		},
		stdio: func(c *connection) json.RawMessage {
			return obj("type", "stdio", "command", c.command, "args", c.args)
		},
	},
	"cursor": {
		title:   "Cursor",
		file:    ".cursor/mcp.json in the project, or ~/.cursor/mcp.json",
		servers: "mcpServers",
		http: func(c *connection) (json.RawMessage, []clientInput) {
			return obj("url", c.url, "headers", obj("Authorization", c.bearer())), nil
		},
		stdio: stdioEntry,
	},
	"inspector": {
		title:   "the MCP Inspector",
		file:    "any file, given as npx @modelcontextprotocol/inspector --config FILE --server NAME",
		servers: "mcpServers",
		http: func(c *connection) (json.RawMessage, []clientInput) {
			return obj("type", "streamable-http", "url", c.url), nil
		},
		stdio: stdioEntry,
		note: func(c *connection) string {
			if c.url == "" {
				return "run: npx @modelcontextprotocol/inspector --config FILE --server " + c.name
			}
			return "the Inspector's config has no header: give the key in its Authentication field, or on its command line:\n" +
				"    npx @modelcontextprotocol/inspector --cli " + c.url + " --transport http --header \"Authorization: Bearer $MOAT_KEY\" --method tools/list"
		},
	},
}

// clientNames lists the clients, sorted, for usage and completion.
func clientNames() []string {
	var names []string
	for n := range clients {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Errors of moat client-config.
var (
	errUnknownClient = errors.New("unknown client")
	errNotJSONObject = errors.New("not a JSON object")
)

// maxClientFile caps a client config file read for merging.
const maxClientFile = 4 << 20

func cmdClientConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat client-config", stderr, "usage: moat client-config CLIENT [--url URL] [--key KEY] [--write FILE]\n"+
		"       moat client-config CLIENT --stdio [--config moat.toml | MANIFEST_DIR...] [--write FILE]\n\n"+
		"Prints the JSON that connects an MCP client to moat, or with --write merges\n"+
		"it into the client's config file (other entries kept; a file holding a key\n"+
		"is written mode 0600). CLIENT is one of: "+strings.Join(clientNames(), ", ")+".\n\n"+
		"Over HTTP (the default) the entry carries the URL and the API key: --key,\n"+
		"else $MOAT_KEY, else a placeholder to replace (VS Code prompts for it\n"+
		"instead). With --stdio the client starts this moat binary itself with\n"+
		"serve --stdio and the config file or manifest folders given.")
	url := fs.String("url", "http://127.0.0.1:8080/mcp", "HTTP: moat's MCP endpoint")
	key := fs.String("key", "", "HTTP: the API key (default: $MOAT_KEY); prefer the variable, a flag stays in shell history")
	stdio := fs.Bool("stdio", false, "let the client start moat serve --stdio instead of connecting over HTTP")
	config := fs.String("config", "", "stdio: the server config file moat serve reads")
	name := fs.String("name", "moat", "the server's name in the client's list")
	command := fs.String("command", "", "stdio: the moat binary the client runs (default: this one)")
	write := fs.String("write", "", "merge into this JSON file instead of printing")
	pos, code, ok := parseArgs(fs, args, 1, -1)
	if !ok {
		return code
	}
	cc, ok := clients[pos[0]]
	if !ok {
		fmt.Fprintf(stderr, "moat client-config: %v %q (%s)\n", errUnknownClient, pos[0], strings.Join(clientNames(), ", "))
		return exitUsage
	}
	if !*stdio && (len(pos) > 1 || *config != "") {
		fmt.Fprintln(stderr, "moat client-config: manifest folders and --config are for --stdio; over HTTP the running server has them")
		return exitUsage
	}
	conn := &connection{name: *name}
	var entry json.RawMessage
	var inputs []clientInput
	if *stdio {
		conn.command = *command
		if conn.command == "" {
			exe, err := os.Executable()
			if err != nil {
				fmt.Fprintf(stderr, "moat client-config: finding this binary: %v; give --command\n", err)
				return exitUsage
			}
			conn.command = exe
		}
		conn.args = []string{"serve", "--stdio"}
		if *config != "" {
			conn.args = append(conn.args, "--config", absPath(*config))
		}
		for _, d := range pos[1:] {
			conn.args = append(conn.args, absPath(d))
		}
		entry = cc.stdio(conn)
	} else {
		conn.url = *url
		conn.key = *key
		if conn.key == "" {
			conn.key = os.Getenv("MOAT_KEY")
		}
		entry, inputs = cc.http(conn)
	}
	holdsKey := conn.key != "" && pos[0] != "vscode" && pos[0] != "inspector" && !*stdio

	if *write == "" {
		b, err := mergeClientConfig(nil, cc.servers, conn.name, entry, inputs)
		if err != nil {
			fmt.Fprintf(stderr, "moat client-config: %v\n", err)
			return exitInternal
		}
		stdout.Write(b)
	} else {
		replaced, err := writeClientConfig(*write, cc.servers, conn.name, entry, inputs, holdsKey)
		if err != nil {
			fmt.Fprintf(stderr, "moat client-config: %v\n", err)
			return exitUsage
		}
		verb := "added"
		if replaced {
			verb = "replaced"
		}
		fmt.Fprintf(stderr, "moat client-config: %s %q in %s (%s)\n", verb, conn.name, *write, cc.title)
	}
	if !*stdio && conn.key == "" && pos[0] != "vscode" && pos[0] != "inspector" {
		fmt.Fprintf(stderr, "note: no --key and no $MOAT_KEY: replace %s with the key (moat keys new prints one)\n", keyPlaceholder)
	}
	if cc.note != nil {
		if n := cc.note(conn); n != "" {
			fmt.Fprintf(stderr, "note: %s\n", n)
		}
	}
	return exitOK
}

// writeClientConfig merges the entry into the JSON file at path (made if
// missing) and reports whether an entry of that name was replaced. A file
// that will hold a key is written mode 0600, whatever its mode was.
func writeClientConfig(path, servers, name string, entry json.RawMessage, inputs []clientInput, holdsKey bool) (bool, error) {
	var old []byte
	mode := fs.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		if st.Size() > maxClientFile {
			return false, fmt.Errorf("%s: larger than %d bytes", path, maxClientFile)
		}
		if old, err = os.ReadFile(path); err != nil {
			return false, err
		}
		if !holdsKey {
			mode = st.Mode().Perm()
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	replaced := false
	if len(bytes.TrimSpace(old)) > 0 {
		top, err := decodeObject(old)
		if err != nil {
			return false, fmt.Errorf("%s: %w (a file with comments must be edited by hand)", path, err)
		}
		for _, m := range top {
			if m.key == servers {
				list, err := decodeObject(m.val)
				if err != nil {
					return false, fmt.Errorf("%s: %s: %w", path, servers, err)
				}
				for _, s := range list {
					replaced = replaced || s.key == name
				}
			}
		}
	}
	b, err := mergeClientConfig(old, servers, name, entry, inputs)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	return replaced, atomicfile.WriteFile(path, b, mode)
}

// member is one name and value of a JSON object, in the file's order.
type member struct {
	key string
	val json.RawMessage
}

// decodeObject decodes a JSON object keeping its members' order, so that
// a merged file differs from the original only where moat changed it.
func decodeObject(b []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotJSONObject
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		ms = append(ms, member{key: k, val: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", errNotJSONObject)
	}
	return ms, nil
}

// encodeObject writes members as an indented JSON object.
func encodeObject(ms []member) ([]byte, error) {
	var compact bytes.Buffer
	compact.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			compact.WriteByte(',')
		}
		k, err := marshalNoEscape(m.key)
		if err != nil {
			return nil, err
		}
		compact.Write(k)
		compact.WriteByte(':')
		compact.Write(m.val)
	}
	compact.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// marshalNoEscape is json.Marshal without HTML escaping.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// set replaces the member named key, or appends it.
func set(ms []member, key string, val json.RawMessage) []member {
	for i := range ms {
		if ms[i].key == key {
			ms[i].val = val
			return ms
		}
	}
	return append(ms, member{key: key, val: val})
}

// mergeClientConfig puts the entry under servers.name in the JSON object
// old (nil: a new document), and adds each input whose id the document's
// "inputs" does not have. Everything else is kept as it was.
func mergeClientConfig(old []byte, servers, name string, entry json.RawMessage, inputs []clientInput) ([]byte, error) {
	var top []member
	if len(bytes.TrimSpace(old)) > 0 {
		var err error
		if top, err = decodeObject(old); err != nil {
			return nil, err
		}
	}
	var list []member
	for _, m := range top {
		if m.key == servers {
			var err error
			if list, err = decodeObject(m.val); err != nil {
				return nil, fmt.Errorf("%s: %w", servers, err)
			}
		}
	}
	list = set(list, name, entry)
	lb, err := encodeObject(list)
	if err != nil {
		return nil, err
	}
	top = set(top, servers, bytes.TrimSpace(lb))
	if len(inputs) > 0 {
		var have []json.RawMessage
		for _, m := range top {
			if m.key == "inputs" {
				if err := json.Unmarshal(m.val, &have); err != nil {
					return nil, fmt.Errorf("inputs: %w", err)
				}
			}
		}
		ids := map[string]bool{}
		for _, h := range have {
			var in struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(h, &in) == nil {
				ids[in.ID] = true
			}
		}
		for _, in := range inputs {
			if !ids[in.id] {
				have = append(have, in.spec)
			}
		}
		ib, err := marshalNoEscape(have)
		if err != nil {
			return nil, err
		}
		top = set(top, "inputs", ib)
	}
	return encodeObject(top)
}
