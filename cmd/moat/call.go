package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/sandbox"
)

// maxArgsFile caps --args-file and stdin; the manifest's own max_input is
// checked after.
const maxArgsFile = 64 << 20

func cmdCall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("moat call", stderr, "usage: moat call MANIFEST [--args JSON | --args-file FILE]\n\nRuns one call under the full sandbox and prints the MCP CallToolResult.\nWith neither flag, the arguments are read from stdin.\nExit: 0 success, 1 tool error, 2 usage or manifest error.")
	argsJSON := fs.String("args", "", "the call's arguments as a JSON object")
	argsFile := fs.String("args-file", "", "read the arguments from this file")
	cacheDir := fs.String("cache-dir", "", "compile cache folder (default: the user cache dir)")
	pos, code, ok := parseArgs(fs, args, 1, 1)
	if !ok {
		return code
	}
	if *argsJSON != "" && *argsFile != "" {
		fmt.Fprintln(stderr, "moat call: give --args or --args-file, not both")
		return exitUsage
	}
	var (
		raw []byte
		err error
	)
	switch {
	case *argsJSON != "":
		raw = []byte(*argsJSON)
	case *argsFile != "":
		raw, err = readCapped(*argsFile, nil)
	default:
		raw, err = readCapped("", stdin)
	}
	if err != nil {
		fmt.Fprintf(stderr, "moat call: %v\n", err)
		return exitUsage
	}
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	if !json.Valid(raw) {
		fmt.Fprintln(stderr, "moat call: the arguments are not valid JSON")
		return exitUsage
	}

	m, err := manifest.Load(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	rt, err := sandbox.New(ctx, &sandbox.Options{CacheDir: *cacheDir})
	if err != nil {
		fmt.Fprintf(stderr, "moat call: %v\n", err)
		return exitUsage
	}
	defer rt.Close(context.Background())
	tool, err := host.LoadTool(ctx, rt, m)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	defer tool.Close(context.Background())

	log := slog.New(slog.NewTextHandler(stderr, nil))
	hooks := &sandbox.Hooks{
		Log: func(level int, msg string) {
			log.Info("tool log", "tool", m.Name, "level", string(host.LogLevel(level)), "msg", msg)
		},
		Progress: func(p, total float64, msg string) {
			log.Info("tool progress", "tool", m.Name, "progress", p, "total", total, "msg", msg)
		},
	}
	res, info, err := tool.Call(ctx, raw, hooks)
	if err != nil {
		// moat call runs on the operator's own machine: the full error is
		// theirs to see.
		fmt.Fprintf(stderr, "moat call: host error: %v\n", err)
		return exitInternal
	}
	// No HTML escaping: "<" stays "<" for the person (or script) reading
	// the result, as it does in the text content itself.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fmt.Fprintf(stderr, "moat call: %v\n", err)
		return exitInternal
	}
	// The go-sdk's own MarshalJSON escapes; undo it as the host does.
	stdout.Write(host.UnescapeHTML(out.Bytes()))
	if info.Run != nil {
		log.Debug("call finished", "outcome", info.Outcome, "duration", info.Run.Duration)
	}
	if res.IsError {
		return exitToolErr
	}
	return exitOK
}

// readCapped reads a file (or r when name is "") up to maxArgsFile bytes.
func readCapped(name string, r io.Reader) ([]byte, error) {
	if name != "" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxArgsFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxArgsFile {
		return nil, fmt.Errorf("arguments larger than %d bytes", maxArgsFile)
	}
	return b, nil
}
