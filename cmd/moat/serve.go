package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/host/manifest"
	"github.com/moatmcp/moat/host/sandbox"
	"github.com/moatmcp/moat/host/transport"
)

// shutdownGrace is how long calls in flight get to finish after SIGINT or
// SIGTERM.
const shutdownGrace = 10 * time.Second

func cmdServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("moat serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "server config file (moat.toml); see docs/config.md")
	listen := fs.String("listen", "", "listen address (default 127.0.0.1:8080)")
	stdio := fs.Bool("stdio", false, "serve MCP over stdin/stdout instead of HTTP")
	build := fs.Bool("build", false, "build the Go tools the manifests name before loading them")
	cacheDir := fs.String("cache-dir", "", "compile cache folder (default: the user cache dir)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM)")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	watchEvery := fs.Duration("watch", 2*time.Second, "how often to look for changed manifests and modules (0: only on SIGHUP)")
	behindTLS := fs.Bool("tls-terminated-upstream", false, "allow a non-loopback listen address without TLS because a proxy in front terminates TLS")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: moat serve [flags] [MANIFEST_DIR...]\n\nLoads and compiles every tool manifest in the folders, then serves the tools\nover MCP: Streamable HTTP at /mcp, or stdio with --stdio. Flags override the\nconfig file; MANIFEST_DIRs replace its [tools] dirs.")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	cfg := manifest.DefaultConfig()
	if *configFile != "" {
		if cfg, err = manifest.LoadConfig(*configFile); err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
	}
	if len(pos) > 0 {
		cfg.ManifestDirs = pos
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
	if len(cfg.ManifestDirs) == 0 {
		fmt.Fprintln(stderr, "moat serve: no manifest folders: pass MANIFEST_DIR or set [tools] dirs in the config")
		return exitUsage
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		fmt.Fprintln(stderr, "moat serve: TLS needs both a certificate and a key")
		return exitUsage
	}

	// Logs go to stderr: with --stdio, stdout carries nothing but MCP.
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *build {
		if err := buildForManifests(ctx, cfg.ManifestDirs, stderr, stderr); err != nil {
			fmt.Fprintf(stderr, "moat serve: %v\n", err)
			return exitUsage
		}
	}

	rt, err := sandbox.New(ctx, &sandbox.Options{CacheDir: cfg.CacheDir})
	if err != nil {
		fmt.Fprintf(stderr, "moat serve: %v\n", err)
		return exitUsage
	}
	defer rt.Close(context.Background())
	h := host.New(&host.Options{Logger: log})
	defer h.Close(context.Background())
	// At start-up every manifest must load: fail closed rather than serve
	// a partial set the operator did not ask for. Later reloads keep the
	// previous version of a broken tool instead.
	if rep := h.Sync(ctx, rt, cfg.ManifestDirs); !rep.OK() {
		for _, err := range rep.Errors {
			fmt.Fprintln(stderr, err)
		}
		fmt.Fprintf(stderr, "moat serve: %d manifest(s) failed to load; fix or remove them (moat check shows the details)\n", len(rep.Errors))
		return exitUsage
	}
	go watch(ctx, h, rt, cfg.ManifestDirs, *watchEvery, log)

	if *stdio {
		log.Info("serving over stdio", "tools", len(h.Tools()))
		if err := h.ServeStdio(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
			log.Error("stdio server stopped", "err", err)
			return exitInternal
		}
		return exitOK
	}
	return serveHTTP(ctx, cfg, h, log, stderr)
}

func serveHTTP(ctx context.Context, cfg *manifest.Config, h *host.Host, log *slog.Logger, stderr io.Writer) int {
	useTLS := cfg.TLSCert != ""
	if err := transport.CheckListen(cfg.Listen, useTLS, cfg.BehindTLSProxy); err != nil {
		fmt.Fprintf(stderr, "moat serve: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "moat serve: %v\n", err)
		return exitUsage
	}
	addr := ln.Addr().String()
	mux := http.NewServeMux()
	var stopping atomic.Bool
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if stopping.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "shutting down\n")
			return
		}
		fmt.Fprintf(w, "ready: %d tools\n", len(h.Tools()))
	})
	mux.Handle("/mcp", transport.Wrap(h.HTTPHandler(cfg.MaxBodyBytes), &transport.Options{
		AllowedOrigins: cfg.AllowedOrigins,
		AllowedHosts:   cfg.AllowedHosts,
		ListenAddr:     addr,
		MaxBodyBytes:   cfg.MaxBodyBytes,
	}))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if useTLS {
		scheme = "https"
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	fmt.Fprintf(stderr, "moat: serving %d tool(s) at %s://%s/mcp\n", len(h.Tools()), scheme, addr)
	select {
	case err := <-errc:
		log.Error("server stopped", "err", err)
		return exitInternal
	case <-ctx.Done():
	}
	stopping.Store(true)
	log.Info("shutting down: finishing calls in flight (a second signal exits at once)", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown deadline passed; closing connections", "err", err)
		srv.Close()
	}
	return exitOK
}
