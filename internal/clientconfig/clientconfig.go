// Package clientconfig writes the JSON that connects an MCP client
// (Claude Desktop, Claude Code, VS Code, Cursor, the MCP Inspector) to a
// moat server, and merges it into the client's own config file.
//
// It sits behind moat client-config: the command reads flags and the
// environment ($MOAT_KEY, its own path) into a Connection, asks a Client
// for its Entry, and prints or writes it. Each client's entry follows its
// own documentation (docs/clients.md shows every one). A merge keeps
// every other entry and key of the file, in its order; a file that will
// hold an API key is written mode 0600.
package clientconfig

import (
	"bytes"
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

// KeyPlaceholder stands in for a key that was not given.
const KeyPlaceholder = "MOAT_KEY_HERE"

func (c *connection) bearer() string {
	k := c.key
	if k == "" {
		k = KeyPlaceholder
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

// Names lists the clients, sorted, for usage and completion.
func Names() []string {
	var names []string
	for n := range clients {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Errors of Lookup, Merge and WriteFile.
var (
	// ErrUnknownClient: a client name Lookup does not know.
	ErrUnknownClient = errors.New("unknown client")
	// ErrNotJSONObject: the file to merge into is not one JSON object.
	ErrNotJSONObject = errors.New("not a JSON object")
)

// maxClientFile caps a client config file read for merging.
const maxClientFile = 4 << 20

// writeFile merges the entry into the JSON file at path (made if
// missing) and reports whether an entry of that name was replaced. A file
// that will hold a key is written mode 0600, whatever its mode was.
func writeFile(path, servers, name string, entry json.RawMessage, inputs []clientInput, holdsKey bool) (bool, error) {
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
	b, err := merge(old, servers, name, entry, inputs)
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
		return nil, ErrNotJSONObject
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
		return nil, fmt.Errorf("%w: data after the object", ErrNotJSONObject)
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

// merge puts the entry under servers.name in the JSON object
// old (nil: a new document), and adds each input whose id the document's
// "inputs" does not have. Everything else is kept as it was.
func merge(old []byte, servers, name string, entry json.RawMessage, inputs []clientInput) ([]byte, error) {
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

// Client is one MCP client clientconfig knows.
type Client struct {
	name string
	cfg  clientConfig
}

// Lookup returns the client called name (one of Names).
func Lookup(name string) (*Client, error) {
	cc, ok := clients[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (%s)", ErrUnknownClient, name, strings.Join(Names(), ", "))
	}
	return &Client{name: name, cfg: cc}, nil
}

// Title is the client's name for messages ("Claude Desktop").
func (c *Client) Title() string { return c.cfg.title }

// Connection is how the client reaches moat.
type Connection struct {
	// Name is the entry's name in the client's list of servers.
	Name string
	// Stdio: the client starts Command with Args (moat serve --stdio).
	// Zero: it connects over HTTP to URL.
	Stdio bool
	// URL is moat's MCP endpoint (HTTP only).
	URL string
	// Key is the API key (HTTP only). Zero: KeyPlaceholder stands in, for
	// the user to replace (VS Code prompts for it instead).
	Key string
	// Command and Args start moat (Stdio only).
	Command string
	Args    []string
}

// Entry is a client's entry for one connection, ready to print or merge.
type Entry struct {
	servers string
	name    string
	entry   json.RawMessage
	inputs  []clientInput
	// HoldsKey: the entry carries the API key itself, so a file holding it
	// is written mode 0600.
	HoldsKey bool
	// NeedsKey: the entry carries KeyPlaceholder where the key goes.
	NeedsKey bool
	// Note is what the user should know or do next, or "".
	Note string
}

// Entry builds the client's entry for conn.
func (c *Client) Entry(conn *Connection) *Entry {
	cn := &connection{name: conn.Name, url: conn.URL, key: conn.Key, command: conn.Command, args: conn.Args}
	e := &Entry{servers: c.cfg.servers, name: conn.Name}
	// VS Code prompts for the key and the Inspector's file has no header:
	// neither file ever holds one.
	keyInFile := c.name != "vscode" && c.name != "inspector"
	if conn.Stdio {
		e.entry = c.cfg.stdio(cn)
	} else {
		e.entry, e.inputs = c.cfg.http(cn)
		e.HoldsKey = conn.Key != "" && keyInFile
		e.NeedsKey = conn.Key == "" && keyInFile
	}
	if c.cfg.note != nil {
		e.Note = c.cfg.note(cn)
	}
	return e
}

// JSON is the entry as a config file of its own.
func (e *Entry) JSON() ([]byte, error) {
	return merge(nil, e.servers, e.name, e.entry, e.inputs)
}

// Merge puts the entry into the JSON document old (nil: a new one),
// keeping everything else as it was.
func (e *Entry) Merge(old []byte) ([]byte, error) {
	return merge(old, e.servers, e.name, e.entry, e.inputs)
}

// WriteFile merges the entry into the JSON file at path (made if missing;
// at most 4 MiB read) and reports whether an entry of that name was
// replaced.
func (e *Entry) WriteFile(path string) (replaced bool, err error) {
	return writeFile(path, e.servers, e.name, e.entry, e.inputs, e.HoldsKey)
}
