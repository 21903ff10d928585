package ratelimit

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/moatmcp/moat/internal/state"

	"github.com/moatmcp/moat/internal/wire"
)

// Which table refused a call, as AllowCall reports it.
const (
	// WhichPrincipalTool is the per principal×tool table.
	WhichPrincipalTool = "principal_tool"
	// WhichTool is the per tool table (all principals together).
	WhichTool = "tool"
)

// Config holds the limits the host applies. The zero value of every field
// means its default, as DefaultConfig returns; use manifest.Unlimited to
// turn one rate off.
type Config struct {
	// PerPrincipal limits tool calls per principal (an API key id or a
	// token subject), whatever protocol housekeeping (initialize,
	// notifications, tools/list) surrounds them. Over it the client gets
	// HTTP 429 with Retry-After. Default "600/min burst 60". An API key's
	// own rate overrides it.
	PerPrincipal Rate
	// PerPrincipalRequests is the ceiling on raw HTTP requests per
	// principal, of any kind: flood protection, kept generous so that it
	// never bites before PerPrincipal does for a well-behaved client.
	// Default DefaultRequestCeiling, "6000/min burst 600".
	PerPrincipalRequests Rate
	// PerPrincipalTool limits calls of one tool by one principal.
	// Default "120/min burst 20".
	PerPrincipalTool Rate
	// PerTool limits calls of one tool by everyone together.
	// Default "6000/min burst 200".
	PerTool Rate
	// FailedAuthPerAddr limits failed authentications per client address
	// (an IPv4 address or an IPv6 /64). Over it the address is refused
	// with 429 before authentication is even tried. Default "20/min
	// burst 10".
	FailedAuthPerAddr Rate
	// Tools overrides PerPrincipalTool and PerTool for single tools, by
	// tool name (from the tool's manifest). A zero field in ToolRates
	// keeps the Config-wide rate.
	Tools map[string]ToolRates
	// MaxEntries bounds each table (principals, principal×tool pairs,
	// tools, addresses) separately. Default DefaultMaxEntries (10,000).
	MaxEntries int
	// IdleTTL is how long a key stays tracked once its bucket is full.
	// Default DefaultIdleTTL (10 minutes).
	IdleTTL time.Duration
	// Now is the clock of the in-process store. Nil means time.Now; tests
	// pass a fake one. A shared store uses its own clock (Redis's TIME).
	Now func() time.Time
	// Store holds the buckets. Nil means an in-process LocalStore bounded
	// by MaxEntries and IdleTTL; the host passes a shared one (Redis,
	// internal/state) when [state] url is set.
	Store state.Store
}

// ToolRates are one tool's own rates; the zero Rate keeps the default.
type ToolRates struct {
	PerPrincipalTool Rate
	PerTool          Rate
}

// DefaultConfig returns the defaults: 600/min burst 60 per principal,
// 120/min burst 20 per principal×tool, 6000/min burst 200 per tool, 20/min
// burst 10 failed authentications per address, 10,000 keys per table, keys
// dropped 10 minutes after their bucket refills, and a 1s wait for a
// concurrency slot.
//
// The burst is what an agent may fire at once (a plan fanning out into
// parallel calls); the rate is what it may sustain. 600/min is ten requests
// a second per principal, well above what one agent loop needs and well
// below what a small host can serve.
func DefaultConfig() Config {
	return Config{
		PerPrincipal:         MustParseRate("600/min burst 60"),
		PerPrincipalRequests: MustParseRate(DefaultRequestCeiling),
		PerPrincipalTool:     MustParseRate("120/min burst 20"),
		PerTool:              MustParseRate("6000/min burst 200"),
		FailedAuthPerAddr:    MustParseRate("20/min burst 10"),
		MaxEntries:           DefaultMaxEntries,
		IdleTTL:              DefaultIdleTTL,
	}
}

// withDefaults returns c with every unset field set to its default, and
// its own copy of Tools.
func (c Config) withDefaults() Config {
	c.Tools = maps.Clone(c.Tools)
	d := DefaultConfig()
	if c.PerPrincipal.IsZero() {
		c.PerPrincipal = d.PerPrincipal
	}
	if c.PerPrincipalRequests.IsZero() {
		c.PerPrincipalRequests = d.PerPrincipalRequests
	}
	if c.PerPrincipalTool.IsZero() {
		c.PerPrincipalTool = d.PerPrincipalTool
	}
	if c.PerTool.IsZero() {
		c.PerTool = d.PerTool
	}
	if c.FailedAuthPerAddr.IsZero() {
		c.FailedAuthPerAddr = d.FailedAuthPerAddr
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = d.MaxEntries
	}
	if c.IdleTTL <= 0 {
		c.IdleTTL = d.IdleTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// DefaultRequestCeiling is Config.PerPrincipalRequests when it is not set:
// a flood guard on raw HTTP requests, well above what protocol housekeeping
// around PerPrincipal's calls needs.
const DefaultRequestCeiling = "6000/min burst 600"

// Limiter is the host's rate limiting: per principal (tool calls, and a
// generous ceiling on raw requests) at the HTTP layer, per principal×tool
// and per tool for each call, and failed authentications per client
// address. The buckets live in a state.Store: this replica's memory (a
// LocalStore) or Redis, shared by every replica (internal/state).
//
// # Notes
//
//   - Safe for concurrent use; its Config never changes. A reload makes a
//     new Limiter with With, which shares this one's store: the buckets
//     already filled are kept, so nobody gets a fresh burst because a file
//     was touched.
//   - Every table is bounded by Config.MaxEntries and fails closed when it
//     is full of keys being limited (see Table); in Redis every bucket
//     expires once it is full again.
//   - A store error (Redis down or slow) is returned, never taken for a
//     yes: the host refuses the request with 503 (fail closed).
type Limiter struct {
	cfg   Config
	store state.Store
	// own is true when the Limiter made its store (a LocalStore from
	// MaxEntries, IdleTTL and Now), false when Config.Store was given.
	own        bool
	maxEntries int
	idleTTL    time.Duration
}

// Table names in the store, one per kind of bucket.
const (
	tablePrincipal     = "principal"
	tableRequests      = "requests"
	tablePrincipalTool = "principal_tool"
	tableTool          = "tool"
	tableFailedAuth    = "failed_auth"
)

// New returns a Limiter for cfg, with defaults for its unset fields.
func New(cfg Config) *Limiter {
	cfg = cfg.withDefaults()
	l := &Limiter{cfg: cfg, store: cfg.Store, maxEntries: cfg.MaxEntries, idleTTL: cfg.IdleTTL}
	if l.store == nil {
		l.own = true
		l.store = NewLocalStore(TableOptions{MaxEntries: cfg.MaxEntries, IdleTTL: cfg.IdleTTL, Now: cfg.Now})
	}
	return l
}

// With returns a Limiter that applies cfg's rates to l's buckets: a
// reload's new rates (a key's own rate, a manifest's rate or rate_all, the
// defaults) take effect at the next request, and nobody's bucket is
// refilled by it. Only when l made its own store and cfg changes the
// tables' shape (MaxEntries or IdleTTL), or cfg names another store, does
// the new Limiter start from empty buckets. cfg.Now must be the clock l
// was made with (or nil for both).
func (l *Limiter) With(cfg Config) *Limiter {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Store != nil && cfg.Store != l.store,
		cfg.Store == nil && (!l.own || cfg.MaxEntries != l.maxEntries || cfg.IdleTTL != l.idleTTL):
		return New(cfg)
	}
	return &Limiter{cfg: cfg, store: l.store, own: l.own, maxEntries: l.maxEntries, idleTTL: l.idleTTL}
}

// Config returns the configuration in use, defaults filled in.
func (l *Limiter) Config() Config {
	c := l.cfg
	c.Tools = maps.Clone(c.Tools)
	return c
}

// Store is the store holding the buckets.
func (l *Limiter) Store() state.Store { return l.store }

// AllowCall takes one call of tool by principal from the principal×tool
// bucket and the tool bucket, both or neither. When either refuses, it
// returns false, how long to wait, and which refused (WhichPrincipalTool or
// WhichTool); a refused call takes nothing from either. err is the store's
// (Redis unreachable): the call must be refused as unavailable.
//
// The host reports a refusal as a tool result with isError set, whose text
// is Message(retryAfter), not as a JSON-RPC error: MCP clients show tool
// errors to the model, which can then wait and retry, while protocol errors
// usually end the agent's turn or are retried blindly. The call was well
// formed and the host is healthy; only this caller must slow down.
func (l *Limiter) AllowCall(ctx context.Context, principal, tool string) (ok bool, retryAfter time.Duration, which string, err error) {
	ppt, pt := l.cfg.PerPrincipalTool, l.cfg.PerTool
	if o, found := l.cfg.Tools[tool]; found {
		if !o.PerPrincipalTool.IsZero() {
			ppt = o.PerPrincipalTool
		}
		if !o.PerTool.IsZero() {
			pt = o.PerTool
		}
	}
	var checks []state.Check
	var names []string
	for _, c := range []struct {
		which, table, key string
		r                 Rate
	}{
		{WhichPrincipalTool, tablePrincipalTool, principalToolKey(principal, tool), ppt},
		{WhichTool, tableTool, tool, pt},
	} {
		switch {
		case c.r.IsUnlimited():
			continue
		case c.r.IsZero():
			return false, rate.InfDuration, c.which, nil
		}
		checks = append(checks, state.Check{Table: c.table, Key: c.key, Rate: c.r})
		names = append(names, c.which)
	}
	res, err := l.allow(ctx, checks...)
	if err != nil || res.OK {
		return err == nil, 0, "", err
	}
	return false, res.RetryAfter, names[res.Refused], nil
}

// allow asks the store about checks; none is always allowed.
func (l *Limiter) allow(ctx context.Context, checks ...state.Check) (state.Result, error) {
	if len(checks) == 0 {
		return state.Result{OK: true, Refused: -1}, nil
	}
	return l.store.Allow(ctx, checks...)
}

// allowOne is one bucket at r: Unlimited allows without asking the store,
// the zero Rate refuses.
func (l *Limiter) allowOne(ctx context.Context, table, key string, r Rate) (bool, time.Duration, error) {
	switch {
	case r.IsUnlimited():
		return true, 0, nil
	case r.IsZero():
		return false, rate.InfDuration, nil
	}
	res, err := l.allow(ctx, state.Check{Table: table, Key: key, Rate: r})
	if err != nil {
		return false, 0, err
	}
	return res.OK, res.RetryAfter, nil
}

// PrincipalKey is the key a request is limited under by AllowPrincipal
// and AllowRequest: the principal's id, or, for a request that somehow has
// none, its client address (IPv4, or IPv6 /64), so that it is still
// limited.
func PrincipalKey(id, remoteAddr string) string {
	if id == "" {
		return "a:" + AddrKey(remoteAddr)
	}
	return "p:" + id
}

// AllowPrincipal takes one tool call of the principal under key
// (PrincipalKey) at its own rate own, or at PerPrincipal when own is the
// zero Rate. Only tool calls count: initialize, notifications, tools/list
// and the like are protocol housekeeping, which AllowRequest bounds, so a
// key's rate is the number of tool calls it may make whatever its client
// sends around them. err is the store's.
func (l *Limiter) AllowPrincipal(ctx context.Context, key string, own Rate) (ok bool, retryAfter time.Duration, err error) {
	if own.IsZero() {
		own = l.cfg.PerPrincipal
	}
	return l.allowOne(ctx, tablePrincipal, key, own)
}

// AllowRequest takes one HTTP request of the principal under key
// (PrincipalKey) from the raw request ceiling, PerPrincipalRequests: flood
// protection against a client that sends anything at all, fast.
func (l *Limiter) AllowRequest(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	return l.allowOne(ctx, tableRequests, key, l.cfg.PerPrincipalRequests)
}

// principalToolKey joins the two names unambiguously whatever bytes they
// hold: the principal's length comes first.
func principalToolKey(principal, tool string) string {
	return strconv.Itoa(len(principal)) + ":" + principal + tool
}

// AuthFailed records a failed authentication from addr, a client address as
// in http.Request.RemoteAddr ("ip:port") or a bare IP. Call it after every
// authentication that fails. err is the store's.
//
// Behind a reverse proxy the host must pass the client's address as the
// proxy reports it; the Limiter never reads X-Forwarded-For itself.
func (l *Limiter) AuthFailed(ctx context.Context, addr string) error {
	_, _, err := l.allowOne(ctx, tableFailedAuth, AddrKey(addr), l.cfg.FailedAuthPerAddr)
	return err
}

// Blocked reports whether addr has failed authentication too often and
// must be refused (HTTP 429, see WriteRefusal) before its
// credentials are even checked, and for how long. It tracks nothing new,
// so probing it with fresh addresses costs no memory; but when a local
// table is full of addresses being limited, every untracked address is
// blocked too (fail closed: that only happens under a distributed attack).
// err is the store's.
func (l *Limiter) Blocked(ctx context.Context, addr string) (bool, time.Duration, error) {
	r := l.cfg.FailedAuthPerAddr
	switch {
	case r.IsUnlimited():
		return false, 0, nil
	case r.IsZero():
		return true, rate.InfDuration, nil
	}
	res, err := l.store.Limited(ctx, state.Check{Table: tableFailedAuth, Key: AddrKey(addr), Rate: r})
	if err != nil {
		return false, 0, err
	}
	return !res.OK, res.RetryAfter, nil
}

// maxRetryAfter caps the delay written in Retry-After and Message. Only a
// table with no rate at all yields more (rate.InfDuration).
const maxRetryAfter = 24 * time.Hour

// RetryAfterSeconds is d in whole seconds, rounded up, at least 1 and at
// most 86400: the value of a Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	d = min(max(d, time.Second), maxRetryAfter)
	return int((d + time.Second - 1) / time.Second)
}

// Message is the text telling a client it was limited:
// "rate limit exceeded; retry after 3s". The host uses it for tool errors
// too, so the client sees one wording.
func Message(retryAfter time.Duration) string {
	return "rate limit exceeded; retry after " + strconv.Itoa(RetryAfterSeconds(retryAfter)) + "s"
}

// WriteRefusal writes the HTTP response for a limited request: status
// 429, a Retry-After header (RetryAfterSeconds), and a JSON-RPC error
// (-32000) whose message is msg — Message(retryAfter) for a rate, another
// text for the host's other caps (e.g. open sessions) — carrying the
// request's id as the client sent it (null when it is not one):
//
//	{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"rate limit exceeded; retry after 3s"}}
func WriteRefusal(w http.ResponseWriter, id json.RawMessage, retryAfter time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds(retryAfter)))
	wire.Write(w, http.StatusTooManyRequests, id, wire.Error{Code: -32000, Message: msg})
}

// AddrKey is the key a client address is limited under. addr is "ip:port"
// (http.Request.RemoteAddr) or a bare IP; the port is dropped, since one
// client opens connections from many ports. An IPv4-mapped IPv6 address is
// its IPv4 address, and the zone is dropped. An IPv6 address is grouped by
// its /64: one host or site owns a whole /64 (SLAAC, privacy addresses),
// so counting each address on its own would give one client 2^64 buckets.
// Anything else (a Unix socket, a pipe) shares the one key "other".
func AddrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return "other"
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
