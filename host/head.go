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
	if json.Unmarshal(m.Meta["io.modelcontextprotocol/protocolVersion"], &metaVersion) == nil && metaVersion != "" && metaVersion != r.Header.Get("Mcp-Protocol-Version") {
		return "header mismatch: the Mcp-Protocol-Version header does not match _meta's io.modelcontextprotocol/protocolVersion"
	}
	ms := r.Header.Values("Mcp-Method")
	switch {
	case len(ms) == 0:
		return "header mismatch: the Mcp-Method header is required"
	case len(ms) > 1 || ms[0] != raw.Method:
		return "header mismatch: the Mcp-Method header does not match the request's method"
	}
	var key string
	switch raw.Method {
	case "tools/call", "prompts/get":
		key = "name"
	case "resources/read":
		key = "uri"
	default:
		return ""
	}
	var p map[string]json.RawMessage
	_ = json.Unmarshal(raw.Params, &p) // paramsError ran first
	var inBody string
	if err := json.Unmarshal(p[key], &inBody); err != nil {
		return "" // no name in the body: the method's own error says so
	}
	ns := r.Header.Values("Mcp-Name")
	switch {
	case len(ns) == 0:
		return "header mismatch: the Mcp-Name header is required for " + raw.Method
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
		id := newErrorID()
		log.Debug("request refused at its head", "error_id", id, "method", raw.Method, "status", status, "code", code, "err", detail)
		writeJSONRPCError(w, status, raw.ID, &jsonrpc.Error{Code: code, Message: msg + " (error id " + id + ")"})
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
