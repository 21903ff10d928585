package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/telemetry"
)

// The request-head checks that parseHead runs once the head is parsed,
// before anything else sees the request. They answer what the go-sdk
// would otherwise answer with its own text: a Go decoding error (with the
// request's bytes and Go type names in it) for params of the wrong shape,
// or messages that echo header and body values for a header mismatch.
// Here the answer is a fixed text of ours, with the request's id, through
// internal/wire.

// codeHeaderMismatch is MCP 2026-07-28's HeaderMismatchError: an Mcp-*
// header that disagrees with the body.
const codeHeaderMismatch = -32020

// paramsOf are the params types the go-sdk decodes each method it serves
// into (mcp.Server's method table, v1.8.0). A method not listed is not
// served: the go-sdk answers it "method not found" without decoding.
var paramsOf = map[string]func() any{
	"initialize":                func() any { return new(mcp.InitializeParams) },
	"ping":                      func() any { return new(mcp.PingParams) },
	"server/discover":           func() any { return new(mcp.DiscoverParams) },
	"tools/list":                func() any { return new(mcp.ListToolsParams) },
	"tools/call":                func() any { return new(mcp.CallToolParamsRaw) },
	"subscriptions/listen":      func() any { return new(mcp.SubscriptionsListenParams) },
	"completion/complete":       func() any { return new(mcp.CompleteParams) },
	"prompts/list":              func() any { return new(mcp.ListPromptsParams) },
	"prompts/get":               func() any { return new(mcp.GetPromptParams) },
	"resources/list":            func() any { return new(mcp.ListResourcesParams) },
	"resources/templates/list":  func() any { return new(mcp.ListResourceTemplatesParams) },
	"resources/read":            func() any { return new(mcp.ReadResourceParams) },
	"resources/subscribe":       func() any { return new(mcp.SubscribeParams) },
	"resources/unsubscribe":     func() any { return new(mcp.UnsubscribeParams) },
	"notifications/initialized": func() any { return new(mcp.InitializedParams) },
	"notifications/cancelled":   func() any { return new(mcp.CancelledParams) },
	"notifications/progress":    func() any { return new(mcp.ProgressNotificationParams) },

	// Deprecated in 2026-07-28 (SEP-2577), still served to sessions.
	//lint:ignore SA1019 see above
	"logging/setLevel": func() any { return new(mcp.SetLoggingLevelParams) },
	//lint:ignore SA1019 see above
	"notifications/roots/list_changed": func() any { return new(mcp.RootsListChangedParams) },
}

// removedIn2026 are the methods MCP 2026-07-28 removed (the session
// handshake, ping, the session's log level, per-resource subscriptions):
// a 2026-07-28 request for one is "method not found" (404).
var removedIn2026 = map[string]bool{
	"initialize": true, "ping": true, "logging/setLevel": true,
	"resources/subscribe": true, "resources/unsubscribe": true,
}

// fieldName is the shape of a params field named in an error: the names
// of the SDK's struct fields, never arbitrary request text.
var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_./]{0,63}$`)

// paramsError says what is wrong with params for method, as a fixed text
// (naming at most a field of the method's params), or "" when the go-sdk
// will decode them; err is the decoder's, for the operator log. params is the raw value, not null and an object (the
// caller checked).
func paramsError(method string, params json.RawMessage) (msg string, err error) {
	mk, ok := paramsOf[method]
	if !ok {
		return "", nil
	}
	if err = json.Unmarshal(params, mk()); err == nil {
		return "", nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && fieldName.MatchString(te.Field) {
		return "invalid params: " + te.Field + " has the wrong type", err
	}
	return "invalid params: they do not match " + method + "'s parameters", err
}

// headerError checks the Mcp-Method and Mcp-Name headers of a 2026-07-28
// request against its body (MCP 2026-07-28, "Standard headers"): every
// request names its method in Mcp-Method, and tools/call its tool in
// Mcp-Name (prompts/get and resources/read theirs, though moat serves
// neither). It returns a fixed message for HeaderMismatchError, or "".
// Older requests carry no such headers: they are not checked.
func headerError(r *http.Request, raw *rawHead) string {
	if r.Header.Get("Mcp-Protocol-Version") < statelessEra || raw.Method == "" {
		return "" // a response names no method
	}
	var m struct {
		Meta map[string]json.RawMessage `json:"_meta"`
	}
	_ = json.Unmarshal(raw.Params, &m) // paramsError ran first
	var metaVersion string
	_ = json.Unmarshal(m.Meta[mcp.MetaKeyProtocolVersion], &metaVersion)
	var key string
	switch raw.Method {
	case "tools/call", "prompts/get":
		key = "name"
	case "resources/read":
		key = "uri"
	}
	var inBody string
	named := false // no name in the body: the method's own error says so
	if key != "" {
		var p map[string]json.RawMessage
		_ = json.Unmarshal(raw.Params, &p) // paramsError ran first
		named = json.Unmarshal(p[key], &inBody) == nil
	}
	return headerMismatch(r, raw.Method, metaVersion, inBody, named)
}

// headerMismatch is headerError's verdict on the values it read from the
// body: method, _meta's protocol version (or ""), and, when named, the
// tool name (or resource URI) in the body. quickHead (headdecode.go)
// calls it with the values of its one decode.
func headerMismatch(r *http.Request, method, metaVersion, inBody string, named bool) string {
	if metaVersion != "" && metaVersion != r.Header.Get("Mcp-Protocol-Version") {
		return "header mismatch: the Mcp-Protocol-Version header does not match _meta's io.modelcontextprotocol/protocolVersion"
	}
	ms := r.Header.Values("Mcp-Method")
	switch {
	case len(ms) == 0:
		return "header mismatch: the Mcp-Method header is required"
	case len(ms) > 1 || ms[0] != method:
		return "header mismatch: the Mcp-Method header does not match the request's method"
	}
	var key string
	switch method {
	case "tools/call", "prompts/get":
		key = "name"
	case "resources/read":
		key = "uri"
	default:
		return ""
	}
	if !named {
		return ""
	}
	ns := r.Header.Values("Mcp-Name")
	switch {
	case len(ns) == 0:
		return "header mismatch: the Mcp-Name header is required for " + method
	case len(ns) > 1 || ns[0] != inBody:
		return "header mismatch: the Mcp-Name header does not match the request's " + key
	}
	return ""
}

// rawHead is a request's JSON-RPC head as parsed from the body.
type rawHead struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// checkHead answers a request whose head is refused (a method that its
// era does not have, -32601; params not an object or not of the method's
// shape, -32602; Mcp-* headers that disagree with the body, -32020), with
// the request's id, and reports whether it did.
func checkHead(log *slog.Logger, w http.ResponseWriter, r *http.Request, raw *rawHead) bool {
	refuse := func(status int, code int64, msg string, detail error) bool {
		refuseHead(log, w, raw.ID, raw.Method, status, code, msg, detail)
		return true
	}
	if raw.Method != "" && len(raw.ID) > 0 {
		newEra := r.Header.Get("Mcp-Protocol-Version") >= statelessEra
		switch {
		case newEra && (removedIn2026[raw.Method] || paramsOf[raw.Method] == nil):
			return refuse(http.StatusNotFound, jsonrpc.CodeMethodNotFound, "method not found", nil)
		case !newEra && r.Header.Get("Mcp-Session-Id") == "" && r.Header.Get("Mcp-Protocol-Version") != "" &&
			raw.Method != "initialize" && raw.Method != "server/discover":
			// A 2025-11-25 (or 2025-06-18) client names its version only
			// within a session; the go-sdk would answer code 0 with its
			// own text. (Without the header, a 2025-03-26 request, the
			// go-sdk serves it in a one-request session.)
			return refuse(http.StatusBadRequest, jsonrpc.CodeInvalidRequest, "invalid request: no session: send initialize first, or use protocol version 2026-07-28, which has no sessions", nil)
		case !newEra && (raw.Method == methodListen || paramsOf[raw.Method] == nil):
			// subscriptions/listen is 2026-07-28's: a session has its
			// GET stream.
			return refuse(http.StatusBadRequest, jsonrpc.CodeMethodNotFound, "method not found", nil)
		}
	}
	p := bytes.TrimSpace(raw.Params)
	hasParams := len(p) > 0 && !bytes.Equal(p, []byte("null"))
	if hasParams && p[0] != '{' {
		return refuse(http.StatusBadRequest, jsonrpc.CodeInvalidParams, "invalid params: params must be an object", nil)
	}
	if hasParams {
		if msg, err := paramsError(raw.Method, p); msg != "" {
			return refuse(http.StatusBadRequest, jsonrpc.CodeInvalidParams, msg, err)
		}
	}
	if msg := headerError(r, raw); msg != "" {
		return refuse(http.StatusBadRequest, codeHeaderMismatch, msg, nil)
	}
	return false
}

// refuseHead answers a request refused at its head with id, a fixed
// message and an error id; detail goes to the operator log only.
func refuseHead(log *slog.Logger, w http.ResponseWriter, id json.RawMessage, method string, status int, code int64, msg string, detail error) {
	eid := newErrorID()
	log.Debug("request refused at its head", "error_id", eid, "method", method, "status", status, "code", code, "err", detail)
	writeJSONRPCError(w, status, id, &jsonrpc.Error{Code: code, Message: msg + " (error id " + eid + ")"})
}

// carefulHead is parseHead's path for every request quickHead does not
// vouch for: the head read case-insensitively (encoding/json) and checked
// (checkHead), then decoded exactly where it can be. It reports whether
// it refused the request (answered on w); else head is filled.
func carefulHead(log *slog.Logger, w http.ResponseWriter, r *http.Request, body []byte, head *requestHead) bool {
	*head = requestHead{}
	var raw rawHead
	_ = json.Unmarshal(body, &raw) // transport.Wrap refused bodies that are not JSON
	if checkHead(log, w, r, &raw) {
		return true
	}
	if !decodeHead(body, head) { // exact keys, as the go-sdk reads them
		*head = requestHead{ID: raw.ID, Method: raw.Method}
		_ = json.Unmarshal(raw.Params, &head.Params) // an object: checkHead refused anything else
	}
	if len(head.Params.Meta) > 0 {
		var tr telemetry.Meta
		_ = json.Unmarshal(head.Params.Meta, &tr) // a malformed trace context is ignored
		head.trace = tr
	}
	return false
}

// quickRefused runs, on what quickHead decoded, the one check of
// checkHead that can refuse a request quickHead vouches for: the Mcp-*
// headers against the body. It reports whether it refused the request.
func quickRefused(log *slog.Logger, w http.ResponseWriter, r *http.Request, head *requestHead) bool {
	version, _ := head.meta[mcp.MetaKeyProtocolVersion].(string)
	if msg := headerMismatch(r, head.Method, version, head.Params.Name, true); msg != "" {
		refuseHead(log, w, head.ID, head.Method, http.StatusBadRequest, codeHeaderMismatch, msg, nil)
		return true
	}
	return false
}
