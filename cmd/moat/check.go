package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/host/manifest"
	"github.com/moatmcp/moat/host/sandbox"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat check", stderr, "usage: moat check PATH...\n\nValidates tool manifests (files, or folders of *.toml), compiles their\nmodules and prints each module's sha256. A server config file (moat.toml)\nis recognised: it is validated, and the manifests in its [tools] dirs are\nchecked. Exit 2 on any error.")
	cacheDir := fs.String("cache-dir", "", "compile cache folder (default: the user cache dir)")
	pos, code, ok := parseArgs(fs, args, 1, -1)
	if !ok {
		return code
	}
	var tools []*manifest.Tool
	bad := 0
	for _, p := range pos {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", p, err)
			bad++
			continue
		}
		if st.IsDir() {
			ts, errs := manifest.LoadDir(p)
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
			bad += len(errs)
			tools = append(tools, ts...)
			continue
		}
		t, err := manifest.Load(p)
		if err != nil {
			// Not a manifest: perhaps the server's config (moat.toml).
			cfg, cerr := manifest.LoadConfig(p)
			switch {
			case cerr == nil:
				fmt.Fprintf(stdout, "ok  config %s\n", rel(cfg.File))
				// Its tools are checked too, as moat serve would load them.
				for _, d := range cfg.ManifestDirs {
					ts, errs := manifest.LoadDir(d)
					for _, e := range errs {
						fmt.Fprintln(stderr, e)
					}
					bad += len(errs)
					tools = append(tools, ts...)
				}
			case looksLikeConfig(p, err):
				fmt.Fprintln(stderr, cerr)
				bad++
			default:
				fmt.Fprintln(stderr, err)
				bad++
			}
			continue
		}
		tools = append(tools, t)
	}
	if len(tools) > 0 {
		rt, err := sandbox.New(ctx, &sandbox.Options{CacheDir: *cacheDir})
		if err != nil {
			fmt.Fprintf(stderr, "moat check: %v\n", err)
			return exitUsage
		}
		defer rt.Close(context.Background())
		for _, m := range tools {
			t, err := host.LoadTool(ctx, rt, m)
			if err != nil {
				fmt.Fprintln(stderr, err)
				bad++
				continue
			}
			entry := t.Entry()
			hold, herr := host.ApprovalHold(t)
			t.Close(ctx)
			if herr != nil {
				fmt.Fprintln(stderr, herr)
				bad++
				continue
			}
			pin := "unpinned"
			if m.Pinned {
				pin = "pinned"
			}
			fmt.Fprintf(stdout, "ok  %-24s sha256:%s (%s)  %s\n", m.Name, m.SHA256, pin, rel(m.File))
			fmt.Fprintf(stdout, "    %s\n", entry)
			if hold != "" {
				fmt.Fprintf(stdout, "    held for approval: %s\n", strings.ReplaceAll(hold, "\n", "\n      "))
			}
		}
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "moat check: %d error(s)\n", bad)
		return exitUsage
	}
	return exitOK
}

// configTables are the top-level tables of a server config; a manifest
// error that names one means the file was a config all along.
var configTables = []string{"server", "tools", "sandbox", "auth", "rate_limits", "audit", "metrics"}

// looksLikeConfig tells, for a file that is neither a valid manifest nor a
// valid config, which of the two errors to show: the config's when the
// file is called moat.toml or its manifest error names a config table.
func looksLikeConfig(path string, manifestErr error) bool {
	if filepath.Base(path) == "moat.toml" {
		return true
	}
	msg := manifestErr.Error()
	for _, t := range configTables {
		if strings.Contains(msg, `"`+t+`"`) || strings.Contains(msg, " "+t+":") {
			return true
		}
	}
	return false
}

// rel shortens a path for display when it is under the working directory.
func rel(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && filepath.IsLocal(r) {
		return r
	}
	return p
}
