// Package host is moat's server core: it turns a config file and a folder
// of tool manifests into a running MCP tool host, and keeps it in step with
// those files while it serves.
//
// Its lifecycle reads top to bottom, as a Server's methods:
//
//	New      load moat.toml and every manifest → provision the snapshot:
//	         tools (compiled), keys and principals, grants, limiter rates,
//	         JWT settings, network policies; open the audit log
//	Serve    serve MCP over Streamable HTTP (or stdio) until ctx ends
//	Reload   build a whole new snapshot from the files and swap it in, or
//	         keep the previous one whole if any file is broken
//	Close    release everything; safe after a failed New
//
// The path of one call, and the package that owns each stage:
//
//	transport      body cap, Origin/Host checks             internal/transport
//	authenticate   API key or JWT → principal               internal/auth
//	limits         per principal, per principal×tool, tool  internal/ratelimit
//	               (shared by replicas with [state] url)    internal/state
//	MCP server     go-sdk: initialize, tools/list, call     host (this package)
//	authorise      may this principal use this tool?        host (gate.go)
//	validate       arguments against the input schema       internal/schema
//	sandbox        a fresh instance with only its grants    internal/sandbox, internal/rootfs
//	result         stdout → content / structuredContent     host (result.go)
//	audit          one hash-chained record per decision     internal/audit
//
// cmd/moat only turns flags into Options and runs a Server. Every stage
// fails closed.
package host

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/console"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/metrics"
	"github.com/moatmcp/moat/internal/ratelimit"
	"github.com/moatmcp/moat/internal/sandbox"
	"github.com/moatmcp/moat/internal/state"
	"github.com/moatmcp/moat/internal/telemetry"
	"github.com/moatmcp/moat/internal/transport"
)

// Version is the host's version as it introduces itself to MCP clients.
const Version = "0.1.0"

// sessionTimeout closes HTTP sessions idle for this long: sessions hold
// memory, so they must not live forever.
const sessionTimeout = 30 * time.Minute

// shutdownGrace is how long calls in flight get to finish once Serve's
// context ends.
const shutdownGrace = 10 * time.Second

// Options configure a Server. A nil *Options is the defaults: moat.toml's
// defaults (manifest.DefaultConfig) with no manifest folders, which New
// refuses.
type Options struct {
	// ConfigFile is moat.toml. "" means the defaults; Override must then
	// name the manifest folders.
	ConfigFile string
	// Override applies the command line to every config the server loads,
	// at New and at each reload, so flags always win over the file. It may
	// refuse a combination with an error. nil = none.
	Override func(*manifest.Config) error
	// Stdio serves MCP over Stdin/Stdout instead of HTTP; the caller is the
	// config's [auth.local] principal.
	Stdio bool
	// NoAuth serves HTTP without authentication, every caller being one
	// anonymous principal with every tool: development only, and refused
	// unless the listen address is loopback.
	NoAuth bool
	// Logger receives the operator log; nil discards it.
	Logger *slog.Logger
	// Notice is the operator's terminal: the one-run key made when no key
	// is configured is printed there once, and the serving address. nil =
	// os.Stderr. Never the log: a key must not reach a log file.
	Notice io.Writer
	// Stdin and Stdout carry MCP with Stdio; nil = os.Stdin, os.Stdout.
	Stdin  io.Reader
	Stdout io.Writer
	// Watch is how often the server looks for changed files (moat.toml,
	// the manifests, every file they reference) and reloads; 0 = only on
	// Reload (and SIGHUP, which cmd/moat turns into Reload).
	Watch time.Duration
	// Listener, when set, is used instead of listening on the config's
	// address (tests: a listener on 127.0.0.1:0). Serve closes it.
	Listener net.Listener

	// now is the clock of credential expiry; nil = time.Now. Tests in
	// this package set it.
	now func() time.Time
	// traces, set by tests, receives every span (tracing on whatever
	// [telemetry] and the environment say).
	traces *telemetry.Recorder
	// events, when set, is told what happened as it happens, so that tests
	// in this package wait on events instead of polling; nil in production.
	events *testEvents
}

// testEvents are the moments tests synchronise on. Each func is called on
// the goroutine where the event happens and must not block.
type testEvents struct {
	audited      func(audit.Record) // a record was written to the audit log
	callStarted  func(tool string)  // a guest is about to run
	listenClosed func()             // a listen stream ended and released its slot
}

// Server is one running moat: a snapshot of everything the files decide,
// swapped whole on reload, and the state that outlives snapshots (the
// sandbox runtime and its compile cache, the audit log, metrics, the rate
// limiter's buckets, the MCP sessions).
//
// # Notes
//
//   - Safe for concurrent use.
//   - A call runs under the snapshot it started with; a reload never
//     changes what a call in flight sees.
//   - Close waits for every goroutine the Server started.
type Server struct {
	opts    Options
	log     *slog.Logger
	notice  io.Writer
	rt      *sandbox.Runtime
	audit   *audit.Logger
	metrics *metrics.Metrics
	mcp     *mcp.Server
	mcpHTTP http.Handler // the go-sdk's Streamable HTTP handlers by protocol era (era.go): sessions outlive snapshots
	caps    *sessionCap
	listens *listenStreams // open subscriptions/listen streams (listen.go)
	calls   callRegistry   // call contexts of the requests the go-sdk serves (sdkadapter.go)
	console consoleState   // the operator console's activity, reloads and audit check (console.go)
	devKey  devKey
	// store is the shared state of [state] url (Redis), for the process's
	// life; nil = each snapshot's limiter keeps its buckets in memory.
	store        state.Store
	storeRefuses bool              // [state] on_failure = "refuse": 503 and not ready while store is down
	replica      string            // [state] replica, or the host name: in audit records
	inputs       *inputSealing     // requestState of multi-round-trip calls (mrtr.go)
	usage        state.Store       // quota usage: store, or this process's own when nil
	tel          *telemetry.Tracer // traces ([telemetry]); off when not configured
	ln           net.Listener      // nil with Stdio
	addr         string            // the address ln listens on
	served       atomic.Bool       // Serve took ln

	snap     atomic.Pointer[snapshot]
	gen      atomic.Uint64
	reloadMu sync.Mutex // one reload at a time
	stopping atomic.Bool

	wg        sync.WaitGroup // goroutines the Server started
	closeOnce sync.Once
	closed    chan struct{}

	// noDirect sends every tools/call to the go-sdk (fastcall.go): tests
	// compare the two paths with it.
	noDirect bool
	// streamAnswers sends the go-sdk's answers as it wrote them
	// (jsonanswer.go): tests that tell the direct path by its
	// application/json answer set it.
	streamAnswers bool
}

// New loads the config and every manifest, provisions the first snapshot,
// and returns a Server ready to Serve. Every manifest must load: at start
// the server refuses to serve a partial set the operator did not ask for.
// Errors name the file, line and column. When New fails it has already
// closed what it made (and Options.Listener).
func New(ctx context.Context, opts *Options) (_ *Server, err error) {
	s := &Server{closed: make(chan struct{})}
	if opts != nil {
		s.opts = *opts
	}
	s.console.activity = console.NewActivity(s.opts.now)
	s.ln = s.opts.Listener // closed by Close, also when New fails
	s.log = s.opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.notice = s.opts.Notice
	if s.notice == nil {
		s.notice = os.Stderr
	}
	defer func() {
		if err != nil {
			s.Close(context.Background())
		}
	}()

	cfg, err := s.loadConfig()
	if err != nil {
		return nil, err
	}
	if err := s.checkProcessSettings(cfg); err != nil {
		return nil, err
	}
	onFailure, err := audit.ParseOnFailure(string(cfg.AuditOnFailure))
	if err != nil {
		return nil, err
	}
	if s.audit, err = audit.OpenWith(cfg.AuditFile, &audit.Options{OnFailure: onFailure}); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	s.metrics = metrics.New()
	if err := s.openState(cfg); err != nil {
		return nil, err
	}
	if err := s.openInputSealing(cfg); err != nil {
		return nil, err
	}
	if err := s.openTelemetry(ctx, cfg); err != nil {
		return nil, err
	}
	if s.rt, err = sandbox.New(ctx, &sandbox.Options{CacheDir: cfg.CacheDir, MaxGuestMemory: cfg.MaxGuestMemory, MaxIdleInstances: cfg.MaxIdleInstances}); err != nil {
		return nil, err
	}
	s.mcp = newMCPServer(s)
	s.mcpHTTP = newEraRouter(s.mcp, s.log, cfg.MaxBodyBytes)
	sessionStore := s.store
	if sessionStore == nil {
		sessionStore = ratelimit.NewLocalStore(ratelimit.TableOptions{})
	}
	s.caps = newSessionCap(s.mcp, sessionStore, func() { s.metrics.Limited("sessions") })
	s.listens = newListenStreams(sessionStore, func() { s.metrics.Limited("listen_streams") })
	if ev := s.opts.events; ev != nil {
		s.listens.closed = ev.listenClosed
	}
	if !s.opts.Stdio {
		if s.ln == nil {
			if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
				return nil, err
			}
		}
		s.addr = s.ln.Addr().String()
	}

	snap, _, err := s.build(ctx, cfg, nil)
	if err != nil {
		s.metrics.LoadError("load")
		return nil, err
	}
	s.install(snap, nil)
	s.logHeld(snap)
	for _, name := range snap.names {
		s.log.Info("tool loaded", "tool", name, "entry", snap.tools[name].Entry())
	}
	return s, nil
}

// loadConfig reads moat.toml (or the defaults) and applies the overrides.
func (s *Server) loadConfig() (*manifest.Config, error) {
	cfg := manifest.DefaultConfig()
	if s.opts.ConfigFile != "" {
		var err error
		if cfg, err = manifest.LoadConfig(s.opts.ConfigFile); err != nil {
			return nil, err
		}
	}
	if s.opts.Override != nil {
		if err := s.opts.Override(cfg); err != nil {
			return nil, err
		}
	}
	if len(cfg.ManifestDirs) == 0 {
		return nil, errors.New("no manifest folders: pass MANIFEST_DIR or set [tools] dirs in the config")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("TLS needs both a certificate and a key")
	}
	return cfg, nil
}

// checkProcessSettings refuses settings that cannot be served at all, at
// start: a listen address that would expose the server without TLS or
// without authentication.
func (s *Server) checkProcessSettings(cfg *manifest.Config) error {
	if s.opts.Stdio {
		return nil
	}
	if err := transport.CheckListen(cfg.Listen, cfg.TLSCert != "", cfg.BehindTLSProxy); err != nil {
		return err
	}
	if s.opts.NoAuth && !transport.IsLoopbackListen(cfg.Listen) {
		return fmt.Errorf("--no-auth is refused on %s: it is only allowed on a loopback address", cfg.Listen)
	}
	return nil
}

// Serve serves MCP until ctx ends (then finishes calls in flight for up to
// shutdownGrace) or the listener fails. It watches the files for changes
// when Options.Watch is set.
func (s *Server) Serve(ctx context.Context) error {
	if s.opts.Watch > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.watch(ctx, s.opts.Watch)
		}()
	}
	if s.opts.Stdio {
		return s.serveStdio(ctx)
	}
	return s.serveHTTP(ctx)
}

func (s *Server) serveStdio(ctx context.Context) error {
	in, out := s.opts.Stdin, s.opts.Stdout
	if in == nil {
		in = os.Stdin
	}
	if out == nil {
		out = os.Stdout
	}
	s.log.Info("serving over stdio", "tools", len(s.current().names))
	err := s.mcp.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(in), Writer: nopWriteCloser{out}})
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func (s *Server) serveHTTP(ctx context.Context) error {
	cfg := s.current().cfg
	if !s.served.CompareAndSwap(false, true) {
		return errors.New("serve: already served")
	}
	ln, addr := s.ln, s.addr
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		msrv := &http.Server{Handler: s.metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = msrv.Serve(mln)
		}()
		defer msrv.Close()
		fmt.Fprintf(s.notice, "moat: metrics at http://%s/metrics\n", mln.Addr())
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	useTLS := cfg.TLSCert != ""
	scheme := "http"
	if useTLS {
		scheme = "https"
		// The certificate follows reloads: each handshake takes the one of
		// the snapshot serving then.
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := s.current().cert; c != nil {
				return c, nil
			}
			return nil, errors.New("no certificate loaded")
		}}
	}
	// A listen stream ends only when its client or the server ends it:
	// shutdown ends them rather than waiting out its grace.
	srv.RegisterOnShutdown(s.listens.closeAll)
	errc := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if useTLS {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	fmt.Fprintf(s.notice, "moat: serving %d tool(s) at %s://%s/mcp\n", len(s.current().names), scheme, addr)
	select {
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	case <-s.closed: // Close stops serving: it waits for the goroutine above
	}
	s.stopping.Store(true)
	s.log.Info("shutting down: finishing calls in flight (a second signal exits at once)", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown deadline passed; closing connections", "err", err)
		srv.Close()
	}
	<-errc
	return nil
}

// Close stops serving and releases the tools, the sandbox runtime and the
// audit log, after the goroutines the Server started have ended. It is safe
// to call more than once, and after a failed New.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	s.closeOnce.Do(func() {
		close(s.closed)
		s.wg.Wait()
		if snap := s.snap.Swap(nil); snap != nil {
			snap.retire()
			select {
			case <-snap.drained:
			case <-ctx.Done(): // calls still holding it: their modules close under them
			}
			errs = append(errs, snap.closeTools(ctx, nil))
		}
		if s.rt != nil {
			errs = append(errs, s.rt.Close(ctx))
		}
		if s.audit != nil {
			errs = append(errs, s.audit.Close())
		}
		if s.store != nil {
			errs = append(errs, s.store.Close())
		}
		if s.tel != nil {
			// Bounded: spans still queued after ctx ends are dropped.
			errs = append(errs, s.tel.Shutdown(ctx))
		}
		if s.ln != nil && !s.served.Load() {
			errs = append(errs, s.ln.Close())
		}
	})
	return errors.Join(errs...)
}

// current is the snapshot serving now. Use acquire for anything that must
// not see its tools closed under it.
func (s *Server) current() *snapshot { return s.snap.Load() }

// acquire returns the snapshot serving now, held until release: its tools
// stay open until every holder has released it.
func (s *Server) acquire() *snapshot {
	for {
		snap := s.snap.Load()
		if snap == nil {
			return nil
		}
		if snap.acquire() {
			return snap
		}
		// Retired between the load and the acquire: the next load sees
		// its successor.
	}
}

// newErrorID returns a short random id that joins a client-facing error to
// the full error in the log.
func newErrorID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
