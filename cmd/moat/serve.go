package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/host/audit"
	"github.com/moatmcp/moat/host/auth"
	"github.com/moatmcp/moat/host/manifest"
	"github.com/moatmcp/moat/host/metrics"
	"github.com/moatmcp/moat/host/ratelimit"
	"github.com/moatmcp/moat/host/sandbox"
	"github.com/moatmcp/moat/host/transport"
)

// shutdownGrace is how long calls in flight get to finish after SIGINT or
// SIGTERM.
const shutdownGrace = 10 * time.Second

func cmdServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("moat serve", stderr, "usage: moat serve [flags] [MANIFEST_DIR...]\n\nLoads and compiles every tool manifest in the folders, then serves the tools\nover MCP: Streamable HTTP at /mcp, or stdio with --stdio. Flags override the\nconfig file; MANIFEST_DIRs replace its [tools] dirs.")
	configFile := fs.String("config", "", "server config file (moat.toml); see docs/config.md")
	listen := fs.String("listen", "", "listen address (default 127.0.0.1:8080)")
	stdio := fs.Bool("stdio", false, "serve MCP over stdin/stdout instead of HTTP")
	noAuth := fs.Bool("no-auth", false, "serve without authentication (loopback only; for development)")
	build := fs.Bool("build", false, "build the Go tools the manifests name before loading them")
	cacheDir := fs.String("cache-dir", "", "compile cache folder (default: the user cache dir)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM)")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	watchEvery := fs.Duration("watch", 2*time.Second, "how often to look for changed manifests and modules (0: only on SIGHUP)")
	behindTLS := fs.Bool("tls-terminated-upstream", false, "allow a non-loopback listen address without TLS because a proxy in front terminates TLS")
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
	auditLog, err := audit.Open(cfg.AuditFile)
	if err != nil {
		fmt.Fprintf(stderr, "moat serve: audit log: %v\n", err)
		return exitUsage
	}
	defer auditLog.Close() // flushes nothing: every record is written when logged
	mets := metrics.New()

	rt, err := sandbox.New(ctx, &sandbox.Options{CacheDir: cfg.CacheDir})
	if err != nil {
		fmt.Fprintf(stderr, "moat serve: %v\n", err)
		return exitUsage
	}
	defer rt.Close(context.Background())
	hopts := &host.Options{Logger: log, Audit: auditLog, Metrics: mets}
	if *stdio {
		hopts.Fallback = localPrincipal(cfg.Auth.Local)
	}
	h := host.New(hopts)
	defer h.Close(context.Background())
	// At start-up every manifest must load: fail closed rather than serve
	// a partial set the operator did not ask for. Later reloads keep the
	// previous version of a broken tool instead.
	if rep := h.Sync(ctx, rt, cfg.ManifestDirs); !rep.OK() {
		for _, err := range rep.Errors {
			fmt.Fprintln(stderr, err)
		}
		mets.LoadError("load")
		fmt.Fprintf(stderr, "moat serve: %d manifest(s) failed to load; fix or remove them (moat check shows the details)\n", len(rep.Errors))
		return exitUsage
	}
	for _, t := range h.Tools() {
		log.Info("tool loaded", "tool", t.Name(), "entry", t.Entry())
	}
	limiter := ratelimit.New(rateConfig(cfg.Rates, h.Tools()))
	h.SetLimiter(limiter)
	go watch(ctx, h, rt, cfg.ManifestDirs, *watchEvery, log, func(rep *host.SyncReport) {
		limiter.SetToolRates(toolRates(h.Tools())) // a manifest's rate may have changed
		mets.Reload(rep.OK())
		if !rep.OK() {
			mets.LoadError("reload")
		}
		if err := auditLog.Reopen(); err != nil {
			log.Error("audit log: reopen failed", "err", err)
		}
	})

	if *stdio {
		log.Info("serving over stdio", "tools", len(h.Tools()))
		if err := h.ServeStdio(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
			log.Error("stdio server stopped", "err", err)
			return exitInternal
		}
		return exitOK
	}
	useTLS := cfg.TLSCert != ""
	if err := transport.CheckListen(cfg.Listen, useTLS, cfg.BehindTLSProxy); err != nil {
		fmt.Fprintf(stderr, "moat serve: %v\n", err)
		return exitUsage
	}
	authn, fallback, err := setUpAuth(ctx, cfg, *noAuth, h, limiter, log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "moat serve: %v\n", err)
		return exitUsage
	}
	h.SetFallback(fallback)
	return serveHTTP(ctx, cfg, h, authn, limiter, mets, log, stderr)
}

func serveHTTP(ctx context.Context, cfg *manifest.Config, h *host.Host, authn *auth.Authenticator, limiter *ratelimit.Limiter, mets *metrics.Metrics, log *slog.Logger, stderr io.Writer) int {
	useTLS := cfg.TLSCert != ""
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "moat serve: %v\n", err)
		return exitUsage
	}
	addr := ln.Addr().String()
	var stopping atomic.Bool
	health := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	ready := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if stopping.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "shutting down\n")
			return
		}
		fmt.Fprintf(w, "ready: %d tools\n", len(h.Tools()))
	})
	hopts := host.HTTPOptions{
		Transport: transport.Options{
			AllowedOrigins: cfg.AllowedOrigins,
			AllowedHosts:   cfg.AllowedHosts,
			ListenAddr:     addr,
			MaxBodyBytes:   cfg.MaxBodyBytes,
		},
		Auth:                    authn,
		Limiter:                 limiter,
		Extra:                   map[string]http.Handler{"/healthz": health, "/readyz": ready},
		MaxSessions:             cfg.MaxSessions,
		MaxSessionsPerPrincipal: cfg.MaxSessionsPer,
	}
	if cfg.MetricsListen == "" {
		hopts.Metrics = mets.Handler() // behind the same authentication as /mcp
	} else {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			fmt.Fprintf(stderr, "moat serve: metrics listener: %v\n", err)
			return exitUsage
		}
		msrv := &http.Server{Handler: mets.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
		fmt.Fprintf(stderr, "moat: metrics at http://%s/metrics\n", mln.Addr())
	}
	srv := &http.Server{
		Handler:           h.HTTPStack(hopts),
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
