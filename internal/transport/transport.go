// Package transport hardens the HTTP front of moat: it wraps the go-sdk's
// Streamable HTTP handler and refuses, before anything else runs, requests a
// browser could be tricked into sending (foreign Origin, DNS-rebound Host),
// bodies that are too large, of the wrong type, not JSON, or JSON-RPC batches.
//
// It is the first stage of the call path:
//
//	transport (internal/transport) → authenticate → rate limit → MCP server →
//	authorise → validate → sandbox → result → audit
//
// Every refusal is a JSON-RPC error object with a fixed message; nothing from
// the request or from Go is echoed. docs/transport.md says which layer (this
// package, the go-sdk, net/http) enforces what.
package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/moatmcp/moat/internal/loopback"

	"github.com/moatmcp/moat/internal/wire"
)

// DefaultMaxBodyBytes is the body cap when Options.MaxBodyBytes is 0. It is
// the go-sdk's own default (mcp.DefaultMaxRequestBodyBytes), so that this
// layer, not the SDK, is the one that answers.
const DefaultMaxBodyBytes = 4 << 20

// Errors a request is refused with. StatusAndCode maps each to its HTTP status
// and JSON-RPC code.
var (
	ErrForbiddenOrigin  = errors.New("forbidden: origin not allowed")
	ErrForbiddenHost    = errors.New("forbidden: host not allowed")
	ErrBodyTooLarge     = errors.New("request body too large")
	ErrContentType      = errors.New("unsupported content type: use application/json")
	ErrParse            = errors.New("parse error: body is not valid JSON")
	ErrBatch            = errors.New("invalid request: batch requests are not supported")
	ErrProtocolVersion  = errors.New("unsupported protocol version")
	ErrUnreadableBody   = errors.New("invalid request: could not read body")
	ErrBadListenAddress = errors.New("bad listen address")
	ErrPlaintextListen  = errors.New("refusing to serve without TLS on a non-loopback address (set TLS, or declare that a TLS-terminating proxy is in front)")
)

// JSON-RPC 2.0 error codes.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	// codeUnsupportedVersion is MCP's UnsupportedProtocolVersionError.
	codeUnsupportedVersion = -32022
)

// StatusAndCode maps an error returned by this package to the HTTP status and
// JSON-RPC error code it is answered with. Unknown errors map to 400 and
// invalid request.
func StatusAndCode(err error) (status, code int) {
	switch {
	case errors.Is(err, ErrForbiddenOrigin), errors.Is(err, ErrForbiddenHost):
		return http.StatusForbidden, codeInvalidRequest
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge, codeInvalidRequest
	case errors.Is(err, ErrContentType):
		return http.StatusUnsupportedMediaType, codeInvalidRequest
	case errors.Is(err, ErrParse):
		return http.StatusBadRequest, codeParseError
	case errors.Is(err, ErrProtocolVersion):
		return http.StatusBadRequest, codeUnsupportedVersion
	}
	return http.StatusBadRequest, codeInvalidRequest
}

// Options configures Wrap. A nil *Options is the zero Options.
type Options struct {
	// AllowedOrigins lists the origins ("scheme://host[:port]", compared
	// exactly, case-insensitively) that browsers may call from. A request with
	// an Origin header that is neither listed nor the server's own origin is
	// refused with 403. A request without Origin is not from a browser page
	// and is allowed (authentication still applies). Zero value: only
	// same-origin browser requests.
	AllowedOrigins []string
	// AllowedHosts lists Host header values ("name" or "name:port") allowed in
	// addition to ListenAddr itself and, on a loopback listener (or for a
	// request that arrived on a loopback interface), localhost, 127.0.0.1 and
	// [::1] with the listening port. Any other Host is refused with 403: that
	// is what stops DNS rebinding. An entry without a port matches any port.
	// Zero value: on a non-loopback listener, only ListenAddr itself.
	AllowedHosts []string
	// ListenAddr is the address actually listened on ("host:port", after
	// resolving port 0). Its port is the one loopback names must carry.
	ListenAddr string
	// MaxBodyBytes caps a request body; a larger one is refused with 413.
	// Zero value: DefaultMaxBodyBytes. Keep the go-sdk's
	// StreamableHTTPOptions.MaxRequestBodyBytes at least this large.
	MaxBodyBytes int64
	// SupportedVersions are the MCP protocol versions served; a request
	// whose MCP-Protocol-Version header names another (or is malformed, or
	// repeated) gets UnsupportedProtocolVersionError (-32022, 400) listing
	// them, with the version it asked for and its own JSON-RPC id. Zero
	// value: any date-shaped version passes (the go-sdk checks it).
	SupportedVersions []string
	// OnRefusal is called for every request refused here, with the status
	// it gets and the refusal: one of this package's Err* sentinels, whose
	// fixed text is the audit reason. nil = not called. It must be quick
	// and safe for concurrent use.
	OnRefusal func(r *http.Request, status int, err error)
}

// Wrap returns a handler that checks each request, then passes it to next.
//
// Checks, in order, each answered with a JSON-RPC error body:
//   - Host must be allowed (see Options.AllowedHosts), else 403;
//   - Origin, if present, must be the server's own or allowed, else 403; a
//     request with no Origin but a Sec-Fetch-Site of "cross-site" or
//     "same-site" is refused too;
//   - MCP-Protocol-Version, if present, must look like a date, else 400;
//   - POST: Content-Type must be application/json, else 415; the body must be
//     at most MaxBodyBytes, else 413; it must be valid JSON, else 400 with
//     -32700; it must not be a batch (a JSON array), else 400: batching left
//     MCP in 2025-06-18, and one HTTP request must stay one call for rate
//     limiting and audit.
//
// # Notes
//
//   - The body is read into memory (at most MaxBodyBytes) and handed on as a
//     fresh reader; the go-sdk reads it whole anyway.
//   - Options are copied: changing them after Wrap has no effect.
func Wrap(next http.Handler, opts *Options) http.Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	w := &wrapper{next: next, maxBody: o.MaxBodyBytes, onRefusal: o.OnRefusal, versions: slices.Clone(o.SupportedVersions)}
	if w.maxBody <= 0 {
		w.maxBody = DefaultMaxBodyBytes
	}
	for _, origin := range o.AllowedOrigins {
		w.origins = append(w.origins, strings.ToLower(strings.TrimSuffix(origin, "/")))
	}
	w.listenHost, w.listenPort = splitHostPort(o.ListenAddr)
	w.listenLoopback = loopback.Host(w.listenHost)
	for _, h := range o.AllowedHosts {
		w.hosts = append(w.hosts, normalizeHost(h))
	}
	if w.listenHost != "" && !isUnspecified(w.listenHost) {
		w.hosts = append(w.hosts, normalizeHost(o.ListenAddr))
	}
	return w
}

type wrapper struct {
	next           http.Handler
	maxBody        int64
	origins        []string
	hosts          []string
	listenHost     string
	listenPort     string
	listenLoopback bool
	onRefusal      func(*http.Request, int, error)
	versions       []string
}

// versionShaped reports whether v has the shape of an MCP protocol
// version, YYYY-MM-DD in ASCII digits. The go-sdk answers an unknown
// version older than its newest with 400, but lets any string that sorts
// after "2026-07-28" through (it compares strings); this keeps those to
// dates. By hand rather than a regular expression: it runs on every
// request.
func versionShaped(v string) bool {
	if len(v) != len("2026-07-28") {
		return false
	}
	for i := range len(v) {
		if i == 4 || i == 7 {
			if v[i] != '-' {
				return false
			}
		} else if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

func (w *wrapper) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if err := w.check(r); err != nil {
		if w.onRefusal != nil {
			status, _ := StatusAndCode(err)
			w.onRefusal(r, status, err)
		}
		if errors.Is(err, ErrProtocolVersion) {
			w.writeVersionError(rw, r)
			return
		}
		writeError(rw, err)
		return
	}
	w.next.ServeHTTP(rw, r)
}

// versionOK reports whether r's MCP-Protocol-Version header, if any, is
// one date-shaped value among the versions served.
func (w *wrapper) versionOK(r *http.Request) bool {
	vs := r.Header.Values("Mcp-Protocol-Version")
	switch {
	case len(vs) == 0:
		return true
	case len(vs) > 1 || !versionShaped(vs[0]):
		return false
	}
	return len(w.versions) == 0 || slices.Contains(w.versions, vs[0])
}

// writeVersionError answers UnsupportedProtocolVersionError: HTTP 400,
// code -32022, data {supported, requested}, and the request's id when its
// body (read and checked by then, for a POST) has one.
func (w *wrapper) writeVersionError(rw http.ResponseWriter, r *http.Request) {
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	if r.Method == http.MethodPost && r.Body != nil {
		if body, err := io.ReadAll(r.Body); err == nil {
			_ = json.Unmarshal(body, &req)
		}
	}
	requested := strings.Join(r.Header.Values("Mcp-Protocol-Version"), ", ")
	if len(requested) > 64 {
		requested = requested[:64]
	}
	supported := w.versions
	if supported == nil {
		supported = []string{}
	}
	wire.Write(rw, http.StatusBadRequest, req.ID, wire.Error{Code: codeUnsupportedVersion, Message: "unsupported protocol version",
		Data: struct {
			Supported []string `json:"supported"`
			Requested string   `json:"requested"`
		}{supported, requested}})
}

func (w *wrapper) check(r *http.Request) error {
	if !w.hostAllowed(r) {
		return ErrForbiddenHost
	}
	// The go-sdk checks Host again, case-sensitively; hand it the form
	// accepted here so the two layers agree.
	r.Host = normalizeHost(r.Host)
	if !w.originAllowed(r) {
		return ErrForbiddenOrigin
	}
	if r.Method != http.MethodPost {
		if !w.versionOK(r) {
			return ErrProtocolVersion
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return ErrContentType
	}
	if err := w.readBody(r); err != nil {
		return err
	}
	// After the body, so that the refusal can carry the request's id.
	if !w.versionOK(r) {
		return ErrProtocolVersion
	}
	return nil
}

// readBody replaces r.Body with a checked, in-memory copy.
func (w *wrapper) readBody(r *http.Request) error {
	if r.ContentLength > w.maxBody {
		return ErrBodyTooLarge
	}
	var body []byte
	if r.Body != nil {
		var err error
		if r.ContentLength > 0 {
			// Declared (and within the cap): read it into a buffer of
			// exactly that size; net/http ends the body there.
			body = make([]byte, r.ContentLength)
			_, err = io.ReadFull(r.Body, body)
		} else {
			body, err = io.ReadAll(io.LimitReader(r.Body, w.maxBody+1))
		}
		r.Body.Close()
		if err != nil {
			return ErrUnreadableBody
		}
		if int64(len(body)) > w.maxBody {
			return ErrBodyTooLarge
		}
	}
	if !json.Valid(body) {
		return ErrParse
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		return ErrBatch
	}
	r.Body = &checkedBody{Reader: bytes.NewReader(body), b: body}
	r.ContentLength = int64(len(body))
	return nil
}

// checkedBody is a POST body this package has read and checked, handed on
// as a reader that also gives the later stages its bytes (Body): the
// body is copied out of the connection once.
type checkedBody struct {
	*bytes.Reader
	b []byte
}

func (*checkedBody) Close() error { return nil }

// Body returns the bytes of r's body when Wrap read and checked it (a
// POST that passed), without copying them: the caller must not modify
// them. ok is false for any other body.
func Body(r *http.Request) (b []byte, ok bool) {
	if cb, ok := r.Body.(*checkedBody); ok {
		return cb.b, true
	}
	return nil, false
}

func (w *wrapper) hostAllowed(r *http.Request) bool {
	host := normalizeHost(r.Host)
	if host == "" {
		return false
	}
	name, port := splitHostPort(host)
	for _, allowed := range w.hosts {
		if allowed == host {
			return true
		}
		if aName, aPort := splitHostPort(allowed); aPort == "" && aName == name {
			return true
		}
	}
	if loopback.Host(name) && (w.listenLoopback || arrivedOnLoopback(r)) {
		return port == w.listenPort || (port == "" && (w.listenPort == "80" || w.listenPort == "443"))
	}
	return false
}

func (w *wrapper) originAllowed(r *http.Request) bool {
	origins := r.Header.Values("Origin")
	if len(origins) == 0 {
		// Not sent by a browser page, or a browser navigation; the latter
		// carries Sec-Fetch-Site.
		switch r.Header.Get("Sec-Fetch-Site") {
		case "cross-site", "same-site":
			return false
		}
		return true
	}
	if len(origins) > 1 {
		return false
	}
	origin := strings.ToLower(origins[0])
	if slices.Contains(w.origins, origin) {
		return true
	}
	// Same origin: the page was served by this server, under the Host that
	// hostAllowed has already accepted. The scheme is not compared: behind a
	// TLS-terminating proxy the page is https and the request plain http.
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return false
	}
	reqName, reqPort := splitHostPort(normalizeHost(r.Host))
	oName, oPort := splitHostPort(u.Host)
	if oPort == "" {
		oPort = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if reqPort == "" {
		reqPort = oPort // Host without port: the default port of the scheme used
	}
	return oName == reqName && oPort == reqPort
}

// arrivedOnLoopback reports whether the connection's local address is a
// loopback one (for a server listening on all interfaces).
func arrivedOnLoopback(r *http.Request) bool {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || addr == nil {
		return false
	}
	ap, err := netip.ParseAddrPort(addr.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// normalizeHost lowercases a Host value and drops a trailing dot on the name.
func normalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	name, port := splitHostPort(h)
	name = strings.TrimSuffix(name, ".")
	if port == "" {
		if strings.Contains(name, ":") {
			return "[" + name + "]"
		}
		return name
	}
	return net.JoinHostPort(name, port)
}

// splitHostPort splits "name:port", "[v6]:port", "name" or "[v6]" into a
// bracket-free name and a port ("" if absent).
func splitHostPort(h string) (name, port string) {
	if n, p, err := net.SplitHostPort(h); err == nil {
		return n, p
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), ""
}

func isUnspecified(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

// CheckListen refuses to serve plain HTTP on an address other hosts can reach:
// bearer tokens and API keys would cross the network in clear. A non-loopback
// address (including "", 0.0.0.0 and ::, which listen everywhere, and any
// name but "localhost") needs tls, or behindProxy when a TLS-terminating
// proxy is in front.
func CheckListen(addr string, tls, behindProxy bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ErrBadListenAddress
	}
	if n, err := strconv.Atoi(port); port != "" && (err != nil || n < 0 || n > 65535) {
		return ErrBadListenAddress
	}
	if loopback.Host(host) || tls || behindProxy {
		return nil
	}
	return ErrPlaintextListen
}

// writeError answers with a JSON-RPC error object. Messages are the package's
// fixed sentinel texts, never request data.
func writeError(rw http.ResponseWriter, err error) {
	status, code := StatusAndCode(err)
	if status == http.StatusRequestEntityTooLarge {
		rw.Header().Set("Connection", "close") // the rest of the body is unread
	}
	wire.Write(rw, status, nil, wire.Error{Code: code, Message: err.Error()})
}

// IsLoopbackListen reports whether a listen address ("host:port") accepts
// connections from this machine only: "localhost" or a loopback IP.
// Empty, 0.0.0.0 and :: listen on every interface, and are not.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopback.Host(host)
}
