package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/internal/build"
	"github.com/moatmcp/moat/internal/console"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/sandbox"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat check", stderr, "usage: moat check [--access] [--capabilities] [--json] PATH...\n\nValidates tool manifests (files, or folders of *.toml), compiles their\nmodules and prints each module's sha256. A server config file (moat.toml)\nis recognised: it is validated, and the manifests in its [tools] dirs are\nchecked. Exit 2 on any error.\n\n--capabilities prints what each tool may touch (mounts, hosts, secrets by\nname, limits, isolation, digest, signer, approval and a held update's\ndiff); --access prints which key or token may call which tool (needs\nmoat.toml). They are the console's tables (docs/console.md).")
	cacheDir := fs.String("cache-dir", "", "compile cache folder (default: the user cache dir)")
	showAccess := fs.Bool("access", false, "print the principals × tools matrix (needs a moat.toml among PATHs)")
	showCaps := fs.Bool("capabilities", false, "print each tool's capability table")
	asJSON := fs.Bool("json", false, "with --access or --capabilities: print JSON")
	pos, code, ok := parseArgs(fs, args, 1, -1)
	if !ok {
		return code
	}
	var (
		tools []*manifest.Tool
		cfg   *manifest.Config // the first config among PATHs
	)
	bad := 0
	tables := *showAccess || *showCaps
	if *asJSON && !tables {
		fmt.Fprintln(stderr, "moat check: --json goes with --access or --capabilities")
		return exitUsage
	}
	say := func(format string, a ...any) {
		if !tables { // the tables alone, so they can be piped
			fmt.Fprintf(stdout, format, a...)
		}
	}
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
			c, cerr := manifest.LoadConfig(p)
			switch {
			case cerr == nil:
				say("ok  config %s\n", build.Rel(c.File))
				if cfg == nil {
					cfg = c
				}
				// Its tools are checked too, as moat serve would load them.
				for _, d := range c.ManifestDirs {
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
	held := map[string]string{}
	var loaded []*manifest.Tool
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
			loaded = append(loaded, m)
			say("ok  %-24s sha256:%s (%s)  %s\n", m.Name, m.SHA256, pin, build.Rel(m.File))
			say("    %s\n", entry)
			if hold != "" {
				held[m.Name] = hold
				say("    held for approval: %s\n", strings.ReplaceAll(hold, "\n", "\n      "))
			}
		}
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "moat check: %d error(s)\n", bad)
		return exitUsage
	}
	if *showCaps {
		if err := console.WriteCapabilities(stdout, console.Capabilities(loaded, held, nil), *asJSON); err != nil {
			fmt.Fprintf(stderr, "moat check: %v\n", err)
			return exitUsage
		}
	}
	if *showAccess {
		if cfg == nil {
			fmt.Fprintln(stderr, "moat check: --access needs the server's config (moat.toml) among PATHs: keys and tokens are configured there")
			return exitUsage
		}
		if *showCaps && !*asJSON {
			fmt.Fprintln(stdout)
		}
		if err := console.WriteAccess(stdout, console.AccessMatrix(cfg, loaded, time.Now()), *asJSON); err != nil {
			fmt.Fprintf(stderr, "moat check: %v\n", err)
			return exitUsage
		}
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

// absPath is filepath.Abs, or p itself if the working directory is gone.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
