package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moatmcp/moat/internal/clientconfig"
)

func cmdClientConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat client-config", stderr, "usage: moat client-config CLIENT [--url URL] [--key KEY] [--write FILE]\n"+
		"       moat client-config CLIENT --stdio [--config moat.toml | MANIFEST_DIR...] [--write FILE]\n\n"+
		"Prints the JSON that connects an MCP client to moat, or with --write merges\n"+
		"it into the client's config file (other entries kept; a file holding a key\n"+
		"is written mode 0600). CLIENT is one of: "+strings.Join(clientconfig.Names(), ", ")+".\n\n"+
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
	client, err := clientconfig.Lookup(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "moat client-config: %v\n", err)
		return exitUsage
	}
	if !*stdio && (len(pos) > 1 || *config != "") {
		fmt.Fprintln(stderr, "moat client-config: manifest folders and --config are for --stdio; over HTTP the running server has them")
		return exitUsage
	}
	conn := &clientconfig.Connection{Name: *name, Stdio: *stdio}
	if *stdio {
		conn.Command = *command
		if conn.Command == "" {
			exe, err := os.Executable()
			if err != nil {
				fmt.Fprintf(stderr, "moat client-config: finding this binary: %v; give --command\n", err)
				return exitUsage
			}
			conn.Command = exe
		}
		conn.Args = []string{"serve", "--stdio"}
		if *config != "" {
			conn.Args = append(conn.Args, "--config", absPath(*config))
		}
		for _, d := range pos[1:] {
			conn.Args = append(conn.Args, absPath(d))
		}
	} else {
		conn.URL = *url
		conn.Key = *key
		if conn.Key == "" {
			conn.Key = os.Getenv("MOAT_KEY")
		}
	}
	entry := client.Entry(conn)

	if *write == "" {
		b, err := entry.JSON()
		if err != nil {
			fmt.Fprintf(stderr, "moat client-config: %v\n", err)
			return exitInternal
		}
		stdout.Write(b)
	} else {
		replaced, err := entry.WriteFile(*write)
		if err != nil {
			fmt.Fprintf(stderr, "moat client-config: %v\n", err)
			return exitUsage
		}
		verb := "added"
		if replaced {
			verb = "replaced"
		}
		fmt.Fprintf(stderr, "moat client-config: %s %q in %s (%s)\n", verb, conn.Name, *write, client.Title())
	}
	if entry.NeedsKey {
		fmt.Fprintf(stderr, "note: no --key and no $MOAT_KEY: replace %s with the key (moat keys new prints one)\n", clientconfig.KeyPlaceholder)
	}
	if entry.Note != "" {
		fmt.Fprintf(stderr, "note: %s\n", entry.Note)
	}
	return exitOK
}
