package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildFacts is what moat version reports, from the binary's own build
// information (runtime/debug.ReadBuildInfo): nothing is stamped by hand,
// so it cannot disagree with what was built.
type buildFacts struct {
	Version  string // the module version: "v1.2.3" from go install …@v1.2.3, "(devel)" from a checkout
	Revision string // vcs.revision, or "" when built without VCS information
	Modified bool   // vcs.modified: built from a tree with uncommitted changes
	Time     string // vcs.time
	Go       string // the Go toolchain that built the binary
	Wazero   string // the wazero version linked in
	MCPSDK   string // the MCP go-sdk version linked in
}

func readBuildFacts() buildFacts {
	f := buildFacts{Version: "(unknown)", Go: runtime.Version(), Wazero: "(unknown)", MCPSDK: "(unknown)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return f
	}
	if bi.Main.Version != "" {
		f.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		f.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			f.Revision = s.Value
		case "vcs.modified":
			f.Modified = s.Value == "true"
		case "vcs.time":
			f.Time = s.Value
		}
	}
	for _, d := range bi.Deps {
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version + " (replaced)"
		}
		switch d.Path {
		case "github.com/tetratelabs/wazero":
			f.Wazero = v
		case "github.com/modelcontextprotocol/go-sdk":
			f.MCPSDK = v
		}
	}
	return f
}

// moatVersion is the one-line version, for messages: "v1.2.3", or
// "(devel) 0123456789ab+dirty" from a checkout.
func moatVersion() string {
	f := readBuildFacts()
	v := f.Version
	if f.Revision != "" {
		r := f.Revision
		if len(r) > 12 {
			r = r[:12]
		}
		v += " " + r
		if f.Modified {
			v += "+dirty"
		}
	}
	return v
}

func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat version", stderr, "usage: moat version\n\nPrints the moat module version, the commit it was built from, and the\nversions of Go, wazero and the MCP go-sdk in the binary.")
	if _, code, ok := parseArgs(fs, args, 0, 0); !ok {
		return code
	}
	writeVersion(stdout, readBuildFacts())
	return exitOK
}

func writeVersion(w io.Writer, f buildFacts) {
	commit := f.Revision
	if commit == "" {
		commit = "(unknown: built without VCS information)"
	} else if f.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "moat %s\n", f.Version)
	fmt.Fprintf(w, "commit  %s\n", commit)
	if f.Time != "" {
		fmt.Fprintf(w, "built   %s\n", f.Time)
	}
	fmt.Fprintf(w, "go      %s\n", f.Go)
	fmt.Fprintf(w, "wazero  %s\n", f.Wazero)
	fmt.Fprintf(w, "mcp     %s\n", f.MCPSDK)
}
