package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/internal/manifest"
)

// cmdServe turns flags into host.Options and runs a host.Server: the
// lifecycle (load, provision, serve, reload, close) is the host package's.
func cmdServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("moat serve", stderr, "usage: moat serve [flags] [MANIFEST_DIR...]\n\nLoads and compiles every tool manifest in the folders, then serves the tools\nover MCP: Streamable HTTP at /mcp, or stdio with --stdio. Flags override the\nconfig file; MANIFEST_DIRs replace its [tools] dirs. A change to moat.toml,\na manifest or any file they name is picked up while serving (and on SIGHUP):\nall of it at once, or none of it if a file is broken (docs/config.md).")
	configFile := fs.String("config", "", "server config file (moat.toml); see docs/config.md")
	listen := fs.String("listen", "", "listen address (default 127.0.0.1:8080)")
	stdio := fs.Bool("stdio", false, "serve MCP over stdin/stdout instead of HTTP")
	noAuth := fs.Bool("no-auth", false, "serve without authentication (loopback only; for development)")
	build := fs.Bool("build", false, "build the Go tools the manifests name before loading them")
	cacheDir := fs.String("cache-dir", "", "compile cache folder (default: the user cache dir)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM)")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	watchEvery := fs.Duration("watch", 2*time.Second, "how often to look for changed configuration files (0: only on SIGHUP)")
	behindTLS := fs.Bool("tls-terminated-upstream", false, "allow a non-loopback listen address without TLS because a proxy in front terminates TLS")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	override := func(cfg *manifest.Config) error {
		if len(pos) > 0 {
			cfg.ManifestDirs = absPaths(pos)
		}
		if *listen != "" {
			cfg.Listen = *listen
		}
		if *cacheDir != "" {
			cfg.CacheDir = *cacheDir
		}
		if *tlsCert != "" || *tlsKey != "" {
			cfg.TLSCert, cfg.TLSKey = *tlsCert, *tlsKey
		}
		if *behindTLS {
			cfg.BehindTLSProxy = true
		}
		return nil
	}
	// Logs go to stderr: with --stdio, stdout carries nothing but MCP.
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *build {
		dirs := pos
		if len(dirs) == 0 && *configFile != "" {
			if cfg, err := manifest.LoadConfig(*configFile); err == nil {
				dirs = cfg.ManifestDirs
			}
		}
		if err := buildForManifests(ctx, dirs, stderr, stderr); err != nil {
			fmt.Fprintf(stderr, "moat serve: %v\n", err)
			return exitUsage
		}
	}
	if *noAuth {
		fmt.Fprintln(stderr, "moat: WARNING: --no-auth: every local process can call every tool, with no key. For development only.")
	}
	srv, err := host.New(ctx, &host.Options{
		ConfigFile: *configFile,
		Override:   override,
		Stdio:      *stdio,
		NoAuth:     *noAuth,
		Logger:     log,
		Notice:     stderr,
		Stdin:      stdin,
		Stdout:     stdout,
		Watch:      *watchEvery,
	})
	if err != nil {
		fmt.Fprintf(stderr, "moat serve: %v\n", err)
		return exitUsage
	}
	defer srv.Close(context.Background())

	// SIGHUP reloads, like a change to the files.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hctx, stopHUP := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopHUP()
	wg.Go(func() {
		for {
			select {
			case <-hctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading")
				srv.Reload(hctx)
			}
		}
	})
	if err := srv.Serve(ctx); err != nil {
		log.Error("server stopped", "err", err)
		return exitInternal
	}
	return exitOK
}

// absPaths makes command-line paths absolute, as config paths are.
func absPaths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p
		if a, err := filepath.Abs(p); err == nil {
			out[i] = a
		}
	}
	return out
}
