package host

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/moatmcp/moat/internal/approval"
	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/ratelimit"
	"github.com/moatmcp/moat/internal/transport"
)

// snapshot is everything moat.toml and the manifests decide, provisioned
// whole: the compiled tools, the authenticator with its keys and JWT
// settings, the principals of stdio and --no-auth, the limiter's rates, the
// TLS certificate, and the HTTP stack built from them. A reload builds a
// new snapshot and swaps it in; nothing in a snapshot changes after build.
//
// # Notes
//
//   - Holders (acquire/release) keep its tools open: a call runs under the
//     snapshot it started with, and a retired snapshot's own tools close
//     only once its last holder has released it.
//   - Tools whose manifest digest did not change are shared with the
//     previous snapshot, not recompiled.
type snapshot struct {
	gen      uint64
	cfg      *manifest.Config
	tools    map[string]*Tool
	names    []string            // sorted: the order of tools/list
	authn    *auth.Authenticator // nil: no authentication (stdio, --no-auth)
	fallback *auth.Principal     // caller of requests without a verified token; nil = nobody
	limiter  *ratelimit.Limiter
	quotas   *quotaPolicy      // [quotas] and the keys' own (observe.go)
	cert     *tls.Certificate  // nil without TLS
	keys     map[string]string // API key id → digest of its entry (reload reports)
	jwt      string            // digest of [auth.jwt]; "" without
	files    []string          // every file it was built from, for the watcher
	held     map[string]string // tools held for approval (moat.lock) → the readable diff
	handler  http.Handler      // the HTTP stack (stack.go)

	mu      sync.Mutex
	refs    int
	retired bool
	drained chan struct{} // closed once retired and released by all
}

// acquire holds the snapshot; false once it is retired.
func (s *snapshot) acquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired {
		return false
	}
	s.refs++
	return true
}

func (s *snapshot) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs--
	if s.retired && s.refs == 0 {
		close(s.drained)
	}
}

// retire marks the snapshot superseded: no new holder, and drained closes
// when the last one releases it.
func (s *snapshot) retire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired {
		return
	}
	s.retired = true
	if s.refs == 0 {
		close(s.drained)
	}
}

// closeTools closes the snapshot's tools that keep does not hold too.
func (s *snapshot) closeTools(ctx context.Context, keep *snapshot) error {
	var errs []error
	for name, t := range s.tools {
		if keep != nil && keep.tools[name] == t {
			continue
		}
		errs = append(errs, t.Close(ctx))
	}
	return errors.Join(errs...)
}

// snapshotExtraKey carries the snapshot that authenticated a request in
// the go-sdk's TokenInfo.Extra, so the MCP handlers run each request under
// the snapshot its HTTP stages used.
const snapshotExtraKey = "moat.snapshot"

// build provisions a snapshot from cfg. prev (nil at start) lends its
// unchanged tools and its limiter's buckets. On error nothing is left
// open, and prev is untouched.
func (s *Server) build(ctx context.Context, cfg *manifest.Config, prev *snapshot) (snap *snapshot, ch *changeSet, err error) {
	snap = &snapshot{gen: s.gen.Add(1), cfg: cfg, tools: map[string]*Tool{}, drained: make(chan struct{})}
	if prev != nil {
		if err := restartOnly(prev.cfg, cfg); err != nil {
			return nil, nil, err
		}
	}
	var made []*Tool // closed if the build fails
	defer func() {
		if err != nil {
			for _, t := range made {
				t.Close(context.Background())
			}
		}
	}()

	ms, err := loadManifests(cfg.ManifestDirs)
	if err != nil {
		return nil, nil, err
	}
	locks, err := loadLocks(cfg.ManifestDirs)
	if err != nil {
		return nil, nil, err
	}
	held := map[string]string{} // tool → why it is held
	var toLoad []*manifest.Tool
	for _, m := range ms {
		digest := m.Digest
		if lock := locks[filepath.Dir(m.File)]; lock != nil {
			if old, unchanged := prevTool(prev, m.Name, digest); unchanged {
				snap.tools[m.Name] = old // approved when it was loaded
				continue
			}
			rm, err := resolveModule(ctx, m)
			if err != nil {
				return nil, nil, err
			}
			if why := approvalHold(lock, rm, nil); why != "" {
				held[m.Name] = why
				if old, ok := prev.toolNamed(m.Name); ok {
					snap.tools[m.Name] = old // the approved version keeps serving
					continue
				}
				// At start-up: rebuild the approved version from the
				// lock, when it still can be (its module unchanged, or
				// by digest from the registry cache).
				approved := approvedVersion(ctx, lock, m)
				if approved == nil {
					continue // nothing approved to serve: fail closed
				}
				rm = approved
			}
			m = rm
		}
		if prev != nil {
			if old, ok := prev.tools[m.Name]; ok {
				if old.digest == digest {
					snap.tools[m.Name] = old
					continue
				}
				if err := checkPin(old.Manifest, m); err != nil {
					return nil, nil, err
				}
			}
		}
		toLoad = append(toLoad, m)
	}
	// Compiled in parallel (LoadTools): start-up with many Go tools is
	// bound by compilation.
	loaded, err := LoadTools(ctx, s.rt, toLoad)
	made = append(made, loaded...)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range loaded {
		snap.tools[t.Name()] = t
	}
	for name := range snap.tools {
		snap.names = append(snap.names, name)
	}
	sort.Strings(snap.names)

	if err := s.provisionAuth(ctx, cfg, snap); err != nil {
		return nil, nil, err
	}
	snap.quotas = newQuotaPolicy(cfg)
	rc := rateConfig(cfg.Rates, snap.tools)
	rc.Store = s.store // nil: in this process
	if prev != nil {
		snap.limiter = prev.limiter.With(rc)
	} else {
		snap.limiter = ratelimit.New(rc)
	}
	if cfg.TLSCert != "" && !s.opts.Stdio {
		c, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: [server.tls]: the certificate and key do not load as a pair", cfg.File)
		}
		snap.cert = &c
	}
	snap.held = held
	snap.files = snapshotFiles(cfg, ms)
	snap.handler = s.stack(snap)
	return snap, diff(prev, snap), nil
}

// loadManifests loads every manifest in dirs; any error fails the whole
// set, with every file's error named.
func loadManifests(dirs []string) ([]*manifest.Tool, error) {
	var (
		all  []*manifest.Tool
		errs []error
		seen = map[string]string{}
	)
	for _, dir := range dirs {
		ms, derrs := manifest.LoadDir(dir)
		errs = append(errs, derrs...)
		for _, m := range ms {
			if prev, dup := seen[m.Name]; dup {
				errs = append(errs, &manifest.Error{File: m.File, Line: m.Line("name"), Field: "name",
					Msg: fmt.Sprintf("tool %q is already defined in %s", m.Name, prev), Err: manifest.ErrDuplicateTool})
				continue
			}
			seen[m.Name] = m.File
			all = append(all, m)
		}
	}
	return all, errors.Join(errs...)
}

// restartOnly refuses a reload that changes what only a restart can
// change: the listeners, the compile cache and the audit file. The whole
// reload is refused, so the files and the server never disagree silently.
func restartOnly(old, cur *manifest.Config) error {
	for _, f := range []struct {
		field    string
		old, cur string
	}{
		{"[server] listen", old.Listen, cur.Listen},
		{"[metrics] listen", old.MetricsListen, cur.MetricsListen},
		{"[sandbox] cache_dir", old.CacheDir, cur.CacheDir},
		{"[audit] file", old.AuditFile, cur.AuditFile},
		{"[audit] on_failure", string(old.AuditOnFailure), string(cur.AuditOnFailure)},
		{"[sandbox] max_guest_memory", fmt.Sprint(old.MaxGuestMemory), fmt.Sprint(cur.MaxGuestMemory)},
		{"[sandbox] max_idle_instances", fmt.Sprint(old.MaxIdleInstances), fmt.Sprint(cur.MaxIdleInstances)},
		{"[server.tls] (on or off)", fmt.Sprint(old.TLSCert != ""), fmt.Sprint(cur.TLSCert != "")},
		{"[server] max_body", fmt.Sprint(old.MaxBodyBytes), fmt.Sprint(cur.MaxBodyBytes)},
		{"[state]", fmt.Sprintf("%+v", old.State), fmt.Sprintf("%+v", cur.State)},
		{"[request_state]", fmt.Sprintf("%+v", old.RequestState), fmt.Sprintf("%+v", cur.RequestState)},
		{"[telemetry]", telemetryText(old.Telemetry), telemetryText(cur.Telemetry)},
	} {
		if f.old != f.cur {
			return fmt.Errorf("%s: %s changed from %q to %q: that takes a restart; the previous configuration keeps serving", cur.File, f.field, f.old, f.cur)
		}
	}
	return nil
}

// checkPin refuses a change to a pinned tool that does not come with a new
// pin: changing what an agent is told about a tool, or what the tool may
// do, must go with a new pin (no silent "rug pull").
func checkPin(old, cur *manifest.Tool) error {
	if !old.Pinned {
		return nil
	}
	if !cur.Pinned {
		return fmt.Errorf("%s: sha256: the pin was removed from a pinned tool; refusing the change (restart moat to accept it)", cur.File)
	}
	if old.SHA256 == cur.SHA256 {
		return fmt.Errorf("%s: sha256: the tool changed but its pin did not; update sha256 to accept the change", cur.File)
	}
	return nil
}

// provisionAuth decides how callers are authenticated. Never silently
// open: with no keys and no JWT configured on a loopback address it uses
// a key made for this run (devKey) and printed once; on any other address
// it refuses. --no-auth is loopback-only (checked at New).
func (s *Server) provisionAuth(ctx context.Context, cfg *manifest.Config, snap *snapshot) error {
	switch {
	case s.opts.Stdio:
		// The MCP spec leaves stdio's credentials to the environment.
		l := cfg.Auth.Local
		snap.fallback = &auth.Principal{ID: "local", Method: auth.MethodLocal, Tools: slices.Clone(l.Tools), Scopes: slices.Clone(l.Scopes)}
		return nil
	case s.opts.NoAuth:
		snap.fallback = &auth.Principal{ID: "anonymous", Method: "none", Tools: []string{"*"}}
		return nil
	}
	ac := authConfig(cfg.Auth)
	if len(ac.Keys) == 0 && ac.JWT == nil {
		if !transport.IsLoopbackListen(cfg.Listen) {
			return fmt.Errorf("no API keys or [auth.jwt] configured: refusing to serve %s without authentication (see docs/auth.md; `moat keys new` makes a key)", cfg.Listen)
		}
		k, err := s.devKey.get(s.notice, cfg.Auth.ScopesSupported)
		if err != nil {
			return err
		}
		ac.Keys = []auth.APIKey{k}
	}
	snap.keys = map[string]string{}
	for _, k := range ac.Keys {
		snap.keys[k.ID] = keyDigest(k)
	}
	if j := ac.JWT; j != nil {
		snap.jwt = digestStrings(j.Issuer, j.Audience, j.JWKSFile, j.JWKSURL, strings.Join(j.Algorithms, " "), j.Leeway.String())
	}
	authn, err := auth.New(ctx, ac, &auth.Options{
		Logger: s.log,
		Now:    s.opts.now,
		OnDecision: func(r *http.Request, d auth.Decision) {
			if d.OK {
				return
			}
			// A store error here loses one count; the next request's
			// check (Blocked) fails closed on the same error.
			_ = snap.limiter.AuthFailed(r.Context(), d.Addr)
			if errors.Is(d.Err, auth.ErrExpired) && d.PrincipalID != "" {
				// An expired key's sessions end at its first refused
				// request, as a revoked key's do at the reload.
				s.endSessions(&changeSet{revoked: map[string]bool{d.PrincipalID: true}})
			}
		},
		Record:     s.authDecision,
		TokenExtra: map[string]any{snapshotExtraKey: snap},
	})
	if err != nil {
		return fmt.Errorf("%s: [auth]: %w", cfg.File, err)
	}
	snap.authn = authn
	return nil
}

// devKey is the key made for one run when no key is configured. It is
// made once and kept across reloads (so a reload that still configures no
// key does not lock its holder out); a reload that configures keys retires
// it, and its sessions end.
type devKey struct {
	mu  sync.Mutex
	key *auth.APIKey
}

func (d *devKey) get(notice interface{ Write([]byte) (int, error) }, scopes []string) (auth.APIKey, error) {
	d.mu.Lock()
	secret := ""
	if d.key == nil {
		var hash string
		var err error
		if secret, hash, err = auth.NewKey(); err != nil {
			d.mu.Unlock()
			return auth.APIKey{}, err
		}
		d.key = &auth.APIKey{ID: "dev", Hash: hash, Tools: []string{"*"}}
	}
	k := *d.key
	d.mu.Unlock()
	if secret != "" {
		// Shown once, to the operator's terminal, like a notebook token;
		// never written to the log or the audit trail. After unlocking: a
		// terminal write can block.
		fmt.Fprintf(notice, "moat: no keys configured; a key for this run only (all tools):\n\n    Authorization: Bearer %s\n\n", secret)
	}
	k.Scopes = slices.Clone(scopes)
	return k, nil
}

// authConfig turns [auth] into the authenticator's config.
func authConfig(c manifest.AuthConfig) auth.Config {
	ac := auth.Config{
		ResourceURL:          c.ResourceURL,
		AuthorizationServers: c.AuthorizationServers,
		ScopesSupported:      c.ScopesSupported,
	}
	for _, k := range c.Keys {
		ac.Keys = append(ac.Keys, auth.APIKey{ID: k.ID, Hash: k.Hash, Tools: k.Tools, Scopes: k.Scopes, Expires: k.Expires, Rate: k.Rate})
	}
	if j := c.JWT; j != nil {
		ac.JWT = &auth.JWTConfig{Issuer: j.Issuer, Audience: j.Audience, JWKSFile: j.JWKSFile, JWKSURL: j.JWKSURL, Algorithms: j.Algorithms, Leeway: j.Leeway}
	}
	return ac
}

// rateConfig turns [rate_limits] and the manifests' own rates (limits.rate,
// limits.rate_all) into the limiter's config; zero fields keep the
// defaults.
func rateConfig(c manifest.RateConfig, tools map[string]*Tool) ratelimit.Config {
	rc := ratelimit.Config{
		PerPrincipal:         c.PerPrincipal,
		PerPrincipalRequests: c.PerPrincipalRequests,
		PerPrincipalTool:     c.PerPrincipalTool,
		PerTool:              c.PerTool,
		FailedAuthPerAddr:    c.FailedAuthPerAddr,
		MaxEntries:           c.MaxEntries,
		IdleTTL:              c.IdleTTL,
		Tools:                map[string]ratelimit.ToolRates{},
	}
	for name, t := range tools {
		l := t.Manifest.Limits
		if !l.Rate.IsZero() || !l.RateAll.IsZero() {
			rc.Tools[name] = ratelimit.ToolRates{PerPrincipalTool: l.Rate, PerTool: l.RateAll}
		}
	}
	return rc
}

// keyDigest identifies one API key entry: a change of any field is a
// change of the key, and a change of its hash revokes the old secret.
func keyDigest(k auth.APIKey) string {
	return digestStrings(k.ID, k.Hash, strings.Join(k.Tools, "\x00"), strings.Join(k.Scopes, "\x00"), k.Expires.UTC().String(), k.Rate.String())
}

func digestStrings(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// prevTool is prev's tool of that name when its manifest digest is digest.
func prevTool(prev *snapshot, name, digest string) (*Tool, bool) {
	t, ok := prev.toolNamed(name)
	return t, ok && t.digest == digest
}

// toolNamed is the snapshot's tool of that name; a nil snapshot has none.
func (s *snapshot) toolNamed(name string) (*Tool, bool) {
	if s == nil {
		return nil, false
	}
	t, ok := s.tools[name]
	return t, ok
}

// loadLocks reads moat.lock in each manifest folder that has one: there,
// what the operator approved decides what serves (docs/supply-chain.md).
// A folder without one has approvals off. A lock that does not parse fails
// the whole load.
func loadLocks(dirs []string) (map[string]*approval.Lock, error) {
	locks := map[string]*approval.Lock{}
	for _, dir := range dirs {
		l, err := approval.Load(filepath.Join(dir, approval.FileName))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, err
		}
		locks[dir] = l
	}
	return locks, nil
}

// approvedVersion rebuilds the version of m's tool that moat.lock
// approved, from the manifest text it keeps, at m's path (so its relative
// paths mean what they meant). nil when it cannot be: no entry, or the
// rebuilt tool is not what was approved (e.g. its module file changed).
func approvedVersion(ctx context.Context, lock *approval.Lock, m *manifest.Tool) *manifest.Tool {
	e, ok := lock.Tools[m.Name]
	if !ok || e.ManifestText == "" {
		return nil
	}
	old, err := manifest.Parse(m.File, []byte(e.ManifestText))
	if err != nil {
		return nil
	}
	if old, err = resolveModule(ctx, old); err != nil {
		return nil
	}
	if approvalHold(lock, old, []byte(e.ManifestText)) != "" {
		return nil
	}
	return old
}

// approvalHold says why m may not serve under lock ("" when it may): a
// tool the lock does not know, or whose description, schemas or grants
// changed in a way that needs approval (wider grants, a new interface).
// Narrowing needs none.
func approvalHold(lock *approval.Lock, m *manifest.Tool, data []byte) string {
	if data == nil {
		var err error
		if data, err = os.ReadFile(m.File); err != nil {
			return "its manifest cannot be read again: " + err.Error()
		}
	}
	at, err := approval.FromManifest(m, data)
	if err != nil {
		return err.Error()
	}
	d, diff := lock.Check(at)
	if d.Serves() {
		return ""
	}
	if d == approval.New {
		return "not in moat.lock: approve it with `moat approve " + m.Name + "`"
	}
	return "changed since it was approved (`moat approve " + m.Name + "` accepts it):\n" + diff.String()
}
