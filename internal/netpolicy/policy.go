// Package netpolicy is moat's outbound HTTP for tools: the policy a
// manifest's [net] grant describes, and the client that enforces it.
//
// A guest has no sockets (WASI preview 1 has none); it asks the host to make
// a request through the moat.http_request import. In the call path it sits
// inside the sandbox stage: transport → authenticate → rate limit → MCP
// server → authorise → validate → sandbox (internal/sandbox calls Policy.Do for
// each http_request) → result → audit (an Event per outbound request).
//
// Policy.Do fails closed at every step:
//
//   - the URL must be http(s) with no userinfo or control characters; its
//     host and port must match the allowlist; plain http only for hosts
//     granted it; the method must be granted;
//   - names are resolved by the host; every address the name resolves to
//     must be public unicast (AddressClass), unless allow_ips grants it,
//     and the connection is made to that very address — the name is never
//     resolved again, so there is no DNS-rebinding window (TLS still
//     verifies the certificate against the name);
//   - redirects are followed by hand, each hop checked like the first;
//   - no proxy is taken from the environment;
//   - request and response bodies are capped while they are read;
//   - hop-by-hop headers are stripped both ways; header names and values
//     with CR, LF or NUL are refused;
//   - secret headers from the manifest are added by the host for their
//     host only, replacing any guest header of that name; they never reach
//     the guest, the audit Event or an error message.
package netpolicy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/moatmcp/moat/internal/manifest"
)

// Defaults for the zero values of Config: a manifest's [net] defaults.
const (
	DefaultMaxRequest  = manifest.DefaultNetMaxRequest
	DefaultMaxResponse = manifest.DefaultNetMaxResponse
	DefaultTimeout     = manifest.DefaultNetTimeout
)

// Caps that do not depend on the manifest.
const (
	MaxHeaders           = 64       // request headers a guest may send
	MaxHeaderBytes       = 16 << 10 // their names and values together
	maxResponseHeaders   = 64 << 10 // Transport.MaxResponseHeaderBytes
	maxRedirectBodyBytes = 64 << 10 // read from a 3xx before following it, so the connection can be reused
)

// Resolver looks up a host name's addresses. *net.Resolver implements it;
// tests inject their own to map names to any address class.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Header is a header the host adds to requests whose URL matches Host (a
// Pattern), e.g. Authorization for api.github.com. The guest never sees
// Value.
type Header struct {
	Host  string // a Pattern, e.g. "api.github.com"
	Name  string // e.g. "Authorization"
	Value string // the secret; never logged
}

// Config is a [net] grant. The zero value of each field says what it does;
// an empty Allow denies every request.
type Config struct {
	Allow        []string      // Patterns of the hosts a request may reach
	Methods      []string      // upper-case methods; nil: GET only
	HTTPHosts    []string      // Patterns reachable over plain http; nil: https only
	AllowIPs     []string      // addresses or CIDR blocks reachable even if AddressClass refuses them
	MaxRequest   int64         // request body bytes; 0: DefaultMaxRequest
	MaxResponse  int64         // response body bytes; 0: DefaultMaxResponse
	Timeout      time.Duration // one request including its redirects; 0: DefaultTimeout
	MaxRedirects int           // redirects followed; 0: none (the guest gets the 3xx)
	Headers      []Header      // secret headers, added by the host

	Resolver  Resolver    // nil: net.DefaultResolver
	TLS       *tls.Config // nil: the system's roots; tests set RootCAs
	OnRequest func(Event) // called once per request sent (each redirect hop); may be nil
}

// Event is what the audit log records of one outbound request (one hop).
// It holds no header values, no body, no path and no query string.
type Event struct {
	Host     string // "host:port"
	Method   string
	Status   int    // 0 when no response arrived
	Outcome  string // "ok" or a Kind's name
	Hop      int    // 0 for the first request, n for the nth redirect
	BytesOut int64  // request body
	BytesIn  int64  // response body, as read
	Duration time.Duration
	// Secrets are the names (canonical) of the secret headers the host
	// added to this hop, for the call's receipt; never their values.
	Secrets []string
}

// Request is one request a guest asks for.
type Request struct {
	Method string
	URL    string
	Header map[string]string // guest headers; checked and filtered
	Body   []byte
}

// Response is what the guest gets back: the last hop's status, headers
// (hop-by-hop ones removed, repeated ones joined with ", ") and body.
type Response struct {
	Status int
	URL    string // the final URL, after redirects
	Header map[string]string
	Body   []byte
}

// Policy is a compiled Config and the HTTP client that enforces it.
//
// # Notes
//
//   - Immutable after New; safe for concurrent use.
//   - It keeps idle connections (to vetted addresses) for reuse; Close
//     drops them.
type Policy struct {
	allow, httpHosts []Pattern
	methods          []string
	allowIPs         []netip.Prefix
	headers          []secretHeader
	maxReq, maxResp  int64
	timeout          time.Duration
	maxRedirects     int
	resolver         Resolver
	onRequest        func(Event)
	transport        *http.Transport
}

type secretHeader struct {
	host        Pattern
	name, value string // name canonical
}

// New checks cfg and returns its Policy. Errors wrap ErrConfig and name
// the field and index, never a header value.
func New(cfg Config) (*Policy, error) {
	p := &Policy{
		maxReq: cfg.MaxRequest, maxResp: cfg.MaxResponse, timeout: cfg.Timeout,
		maxRedirects: cfg.MaxRedirects, resolver: cfg.Resolver, onRequest: cfg.OnRequest,
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	for i, s := range cfg.Allow {
		pt, err := ParsePattern(s)
		if err != nil {
			return nil, bad("allow[%d]: %v", i, err)
		}
		p.allow = append(p.allow, pt)
	}
	for i, s := range cfg.HTTPHosts {
		pt, err := ParsePattern(s)
		if err != nil {
			return nil, bad("http_hosts[%d]: %v", i, err)
		}
		p.httpHosts = append(p.httpHosts, pt)
	}
	for i, s := range cfg.AllowIPs {
		pf, err := ParsePrefix(s)
		if err != nil {
			return nil, bad("allow_ips[%d]: %v", i, err)
		}
		p.allowIPs = append(p.allowIPs, pf)
	}
	p.methods = []string{http.MethodGet}
	if cfg.Methods != nil {
		p.methods = nil
		for i, m := range cfg.Methods {
			if err := CheckMethod(m); err != nil {
				return nil, bad("methods[%d]: %v", i, err)
			}
			p.methods = append(p.methods, m)
		}
	}
	for i, h := range cfg.Headers {
		pt, err := ParsePattern(h.Host)
		if err != nil {
			return nil, bad("header[%d].host: %v", i, err)
		}
		if err := CheckHeaderName(h.Name); err != nil {
			return nil, bad("header[%d].name: %v", i, err)
		}
		if isHopByHop(http.CanonicalHeaderKey(h.Name)) || isManaged(http.CanonicalHeaderKey(h.Name)) {
			return nil, bad("header[%d].name: %s is set by the HTTP client and cannot be injected", i, h.Name)
		}
		if err := CheckHeaderValue(h.Value); err != nil {
			return nil, bad("header[%d].value: the value contains a control character", i) // never echo a secret
		}
		p.headers = append(p.headers, secretHeader{host: pt, name: http.CanonicalHeaderKey(h.Name), value: h.Value})
	}
	switch {
	case p.maxReq < 0 || p.maxResp < 0 || p.timeout < 0 || p.maxRedirects < 0:
		return nil, bad("limits must not be negative")
	}
	if p.maxReq == 0 {
		p.maxReq = DefaultMaxRequest
	}
	if p.maxResp == 0 {
		p.maxResp = DefaultMaxResponse
	}
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	var tlsConfig *tls.Config
	if cfg.TLS != nil {
		tlsConfig = cfg.TLS.Clone()
	}
	p.transport = &http.Transport{
		Proxy:                  nil, // never from the environment: a proxy would see the secrets and bypass the address checks
		DialContext:            p.dial,
		TLSClientConfig:        tlsConfig,
		ForceAttemptHTTP2:      true, // a custom DialContext disables it otherwise
		MaxResponseHeaderBytes: maxResponseHeaders,
		TLSHandshakeTimeout:    p.timeout,
		IdleConnTimeout:        30 * time.Second,
		MaxIdleConnsPerHost:    4,
	}
	return p, nil
}

// Close drops idle connections. Requests in flight are not affected.
func (p *Policy) Close() { p.transport.CloseIdleConnections() }

// CheckMethod accepts an HTTP method token. CONNECT and TRACE are refused:
// one opens a tunnel, the other echoes the request (and its secrets) back.
func CheckMethod(m string) error { return manifest.CheckMethod(m) }

// MatchAllowed reports whether rawURL's scheme, host and port pass the
// allowlist (and http_hosts for plain http). It does not resolve the host.
func (p *Policy) MatchAllowed(rawURL string) error {
	t, err := parseURL(rawURL)
	if err != nil {
		return err
	}
	return p.checkTarget(t)
}

func (p *Policy) checkTarget(t *target) error {
	if !slices.ContainsFunc(p.allow, func(pt Pattern) bool { return pt.Match(t.host, t.port, t.defaultPort) }) {
		return errorf(KindDeniedHost, "%s is not in the allowlist", t.hostPort())
	}
	if !t.https && !slices.ContainsFunc(p.httpHosts, func(pt Pattern) bool { return pt.Match(t.host, t.port, t.defaultPort) }) {
		return errorf(KindDeniedScheme, "plain http to %s is not granted (http_hosts)", t.hostPort())
	}
	return nil
}

// checkAddr returns nil if a may be reached.
func (p *Policy) checkAddr(a netip.Addr) error {
	a = a.WithZone("").Unmap()
	for _, pf := range p.allowIPs {
		if pf.Contains(a) {
			return nil
		}
	}
	if c := AddressClass(a); c != "" {
		return errorf(KindDeniedAddress, "address %s is %s", a, c)
	}
	return nil
}

// dial is the transport's DialContext: it resolves the name itself, checks
// every address, and connects to a checked address, so what was vetted is
// what is reached.
func (p *Policy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, errorf(KindBadRequest, "malformed address")
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, errorf(KindBadRequest, "malformed port")
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = p.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			if ctx.Err() != nil {
				return nil, &Error{Kind: KindTimeout, Msg: "timed out resolving " + host, Err: err}
			}
			return nil, &Error{Kind: KindDNS, Msg: host + " did not resolve", Err: err}
		}
		if len(addrs) == 0 {
			return nil, errorf(KindDNS, "%s has no addresses", host)
		}
	}
	// Every address must pass, not just one: a name that resolves to both a
	// public and a private address is treated as hostile.
	for _, a := range addrs {
		if err := p.checkAddr(a); err != nil {
			err.(*Error).Msg = host + " resolves to " + err.(*Error).Msg
			return nil, err
		}
	}
	var d net.Dialer
	var last error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(a.WithZone("").Unmap(), uint16(port)).String())
		if err == nil {
			return c, nil
		}
		last = err
	}
	if ctx.Err() != nil {
		return nil, &Error{Kind: KindTimeout, Msg: "timed out connecting to " + host, Err: last}
	}
	return nil, &Error{Kind: KindConnect, Msg: "cannot connect to " + host, Err: last}
}

var errTimeout = errors.New("net request timed out")

// Do makes req under the policy and returns the final response. Every
// error is an *Error. Each request sent (each hop) is reported as an
// Event, and so is a request refused before anything was sent.
func (p *Policy) Do(ctx context.Context, req *Request) (*Response, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, p.timeout, errTimeout)
	defer cancel()
	hop, host, method := 0, "", ""
	refuse := func(err error) (*Response, error) {
		p.emit(ctx, Event{Host: host, Method: method, Hop: hop, Outcome: KindOf(err).String()})
		return nil, err
	}
	if err := CheckMethod(req.Method); err != nil {
		return refuse(errorf(KindBadRequest, "method is malformed"))
	}
	method = req.Method
	t, err := parseURL(req.URL)
	if err != nil {
		return refuse(err)
	}
	host = t.hostPort()
	if !slices.Contains(p.methods, req.Method) {
		return refuse(errorf(KindDeniedMethod, "method %s is not granted", req.Method))
	}
	if int64(len(req.Body)) > p.maxReq {
		return refuse(errorf(KindRequestTooLarge, "body is %d bytes; the limit is %d", len(req.Body), p.maxReq))
	}
	guest, err := guestHeaders(req.Header)
	if err != nil {
		return refuse(err)
	}
	if err := p.checkTarget(t); err != nil {
		return refuse(err)
	}

	body := req.Body
	first := t.hostPort()
	for {
		resp, next, err := p.roundTrip(ctx, hop, method, t, body, guest, t.hostPort() != first)
		if err != nil {
			return nil, err // reported by roundTrip
		}
		if next == "" {
			return resp, nil
		}
		hop++ // what follows concerns the next hop
		nt, err := parseURL(next)
		if err != nil {
			host = ""
			return refuse(err)
		}
		host = nt.hostPort()
		if err := p.checkTarget(nt); err != nil {
			err.(*Error).Msg = "redirect: " + err.(*Error).Msg
			return refuse(err)
		}
		// RFC 9110 15.4: 301 and 302 may, and 303 must, turn into a GET
		// without a body; 307 and 308 keep both.
		switch resp.Status {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
			if method != http.MethodHead {
				method, body = http.MethodGet, nil
			}
		}
		if !slices.Contains(p.methods, method) {
			return refuse(errorf(KindDeniedMethod, "redirect: method %s is not granted", method))
		}
		t = nt
	}
}

// redirect returns the URL to follow next, or "" when the response of
// hop (status, Location, from base) is the one the guest gets: it is not a
// redirect, it has no usable Location, or the policy's redirects are used
// up. It is decided from the head, before the body is read, because it
// decides how the body is read.
func (p *Policy) redirect(status int, location string, base *url.URL, hop int) string {
	if !isRedirect(status) || location == "" || hop >= p.maxRedirects {
		return ""
	}
	u, err := base.Parse(location)
	if err != nil {
		return ""
	}
	return u.String()
}

// roundTrip sends one hop and reads its response, capped. next is the URL
// to follow ("" when the response is the guest's): a followed redirect's
// body is read up to maxRedirectBodyBytes (so the connection can be
// reused) and dropped; every other body is the guest's, and one over
// MaxResponse is refused whatever MaxResponse is.
func (p *Policy) roundTrip(ctx context.Context, hop int, method string, t *target, body []byte, guest http.Header, crossed bool) (resp *Response, next string, err error) {
	start := time.Now()
	ev := Event{Host: t.hostPort(), Method: method, Hop: hop, BytesOut: int64(len(body))}
	defer func() {
		ev.Duration = time.Since(start)
		ev.Outcome = "ok"
		if err != nil {
			ev.Outcome = KindOf(err).String()
		}
		p.emit(ctx, ev)
	}()

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, t.url.String(), rd)
	if err != nil {
		return nil, "", errorf(KindBadRequest, "request cannot be built")
	}
	for name, vs := range guest {
		// A redirect to another host must not carry the guest's
		// credentials there (as net/http's own client does).
		if crossed && crossHostDropped[name] {
			continue
		}
		hreq.Header[name] = vs
	}
	for _, h := range p.headers {
		if h.host.Match(t.host, t.port, t.defaultPort) {
			hreq.Header[h.name] = []string{h.value}
			ev.Secrets = append(ev.Secrets, h.name)
		}
	}
	if _, ok := hreq.Header["User-Agent"]; !ok {
		hreq.Header["User-Agent"] = []string{"moat"}
	}

	hresp, err := p.transport.RoundTrip(hreq)
	if err != nil {
		return nil, "", p.classify(ctx, err, "request to "+t.hostPort()+" failed")
	}
	defer hresp.Body.Close()
	ev.Status = hresp.StatusCode
	next = p.redirect(hresp.StatusCode, hresp.Header.Get("Location"), t.url, hop)
	if next != "" {
		// The body of a redirect that is followed reaches no one: read
		// a little of it so the connection can be reused, and drop it.
		// Its size is no error, whatever MaxResponse is.
		n, err := io.Copy(io.Discard, io.LimitReader(hresp.Body, maxRedirectBodyBytes))
		ev.BytesIn = n
		if err != nil {
			return nil, "", p.classify(ctx, err, "reading the response from "+t.hostPort()+" failed")
		}
		return &Response{Status: hresp.StatusCode, URL: t.url.String(), Header: responseHeaders(hresp.Header)}, next, nil
	}
	data, err := io.ReadAll(io.LimitReader(hresp.Body, p.maxResp+1))
	ev.BytesIn = int64(len(data))
	if err != nil {
		return nil, "", p.classify(ctx, err, "reading the response from "+t.hostPort()+" failed")
	}
	if int64(len(data)) > p.maxResp {
		return nil, "", errorf(KindResponseTooLarge, "response from %s is over %d bytes", t.hostPort(), p.maxResp)
	}
	return &Response{Status: hresp.StatusCode, URL: t.url.String(), Header: responseHeaders(hresp.Header), Body: data}, "", nil
}

func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// classify turns a transport error into an *Error.
func (p *Policy) classify(ctx context.Context, err error, msg string) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if ctx.Err() != nil {
		return &Error{Kind: KindTimeout, Msg: msg + ": out of time", Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: KindTimeout, Msg: msg + ": out of time", Err: err}
	}
	var (
		tlsErr  tls.RecordHeaderError
		certErr *tls.CertificateVerificationError
	)
	if errors.As(err, &tlsErr) || errors.As(err, &certErr) {
		return &Error{Kind: KindConnect, Msg: msg + ": TLS failed", Err: err}
	}
	return &Error{Kind: KindFailed, Msg: msg, Err: err}
}

func (p *Policy) emit(ctx context.Context, ev Event) {
	if p.onRequest != nil {
		p.onRequest(ev)
	}
	if f, ok := ctx.Value(observerKey{}).(func(Event)); ok && f != nil {
		f(ev)
	}
}

type observerKey struct{}

// WithObserver returns a ctx under which every request Policy.Do makes
// also calls f, after Config.OnRequest. The host sets it per tool call so
// that audit records carry the call's principal and tool.
func WithObserver(ctx context.Context, f func(Event)) context.Context {
	return context.WithValue(ctx, observerKey{}, f)
}
