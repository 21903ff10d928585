package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/moatmcp/moat/internal/jsonstr"
	"github.com/moatmcp/moat/internal/telemetry"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// directCalls answers the common stateless-era tools/call itself, as the
// last stage of the HTTP path, instead of handing it to the go-sdk: the
// go-sdk's stateless handler makes a server session per request, decodes
// the body six more times (each decode allocating a 32 KiB buffer), runs
// the handler on its own goroutine and answers in server-sent events,
// which together cost several times the call itself (docs/performance.md).
//
// The call runs through exactly the same handler the go-sdk would call
// (callHandler → call: authorise, rate limit, validate, sandbox, audit
// before the answer), after the same HTTP stages; only the MCP envelope
// is done here. A request is served directly only when it is one the
// go-sdk would accept and answer with a single result and nothing
// streamed (directCall says which); anything else — a header or _meta
// the go-sdk would refuse, a progress token or a log level (notifications
// need the stream), a multi-round-trip retry, a tool with x-mcp-header
// parameters — goes to the go-sdk as before, so its refusals and
// behaviour are unchanged. The answer is application/json: the client
// accepts it (it must, in 2026-07-28) and nothing streams.
func (s *Server) directCalls(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head := headOf(r)
		meta, ok := s.directCall(r, head)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		// The request, its params and extra in one allocation.
		d := &directRequest{
			params: mcp.CallToolParamsRaw{Meta: meta, Name: head.Params.Name, Arguments: head.Params.Arguments},
			extra:  mcp.RequestExtra{TokenInfo: sdkauth.TokenInfoFromContext(r.Context()), Header: r.Header},
		}
		d.req.Params, d.req.Extra = &d.params, &d.extra
		req := &d.req
		ctx := r.Context()
		if !s.tel.Enabled() {
			// Tracing on: the HTTP stage made the request span, in ctx.
			// Off: no span, but the caller's trace id still reaches the
			// audit record and the logs (as traceMCP does for the go-sdk).
			var span telemetry.Span
			ctx, span = s.tel.StartRequest(ctx, head.Method, "", head.trace, telemetry.HeaderMeta(r.Header))
			defer span.End()
		}
		// callHandler's work, without its context value: the call context
		// the stages made (sdkadapter.go), of a stateless request (no
		// stopWithRequest: its handler runs under the request's context).
		var res *mcp.CallToolResult
		var err error
		if cc := callOfRequest(r); cc == nil { // openCall did not run: a wiring bug
			err = s.callLost("tools/call")
		} else {
			res, err = s.call(ctx, cc, req)
		}
		var body []byte
		if err == nil && res != nil && len(res.Meta) == 0 {
			// A plain text result is written as stamped without making
			// the _meta map the stamp would add (textResultBody).
			body, _ = textResultBody(head.ID, res)
		}
		if err == nil && body == nil {
			err = stampResult(res)
		}
		if err != nil {
			var jerr *jsonrpc.Error
			if !errors.As(err, &jerr) {
				id := newErrorID()
				s.log.Error("tool call failed", "error_id", id, "err", err)
				jerr = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("internal error (error id %s)", id)}
			}
			w.Header().Set("Cache-Control", "no-cache, no-transform")
			writeJSONRPCError(w, errorStatus(jerr), head.ID, jerr)
			return
		}
		if body == nil {
			body, err = resultBody(head.ID, res)
		}
		if err != nil {
			id := newErrorID()
			s.log.Error("tool result could not be encoded", "error_id", id, "err", err)
			writeJSONRPCError(w, http.StatusOK, head.ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("internal error (error id %s)", id)})
			return
		}
		h := w.Header()
		// Header.Set would allocate a one-element slice per header per
		// call; these are shared and never written (net/http copies
		// them when it writes the header).
		h["Cache-Control"] = noCacheHeader
		h["Content-Type"] = jsonContentType
		w.Write(body)
	})
}

// directRequest is a direct call's request with its params and extra.
type directRequest struct {
	req    mcp.CallToolRequest
	params mcp.CallToolParamsRaw
	extra  mcp.RequestExtra
}

// The values of directCalls' answer headers, in canonical form.
var (
	noCacheHeader   = []string{"no-cache, no-transform"}
	jsonContentType = []string{"application/json"}
)

// errorStatus is the HTTP status of a 2026-07-28 error answer, as the
// go-sdk sends it (SEP-2575): 404 for an unknown method, 400 for invalid
// params (an unknown tool), an unsupported version or missing client
// capabilities, else 200.
func errorStatus(e *jsonrpc.Error) int {
	switch e.Code {
	case jsonrpc.CodeMethodNotFound:
		return http.StatusNotFound
	case jsonrpc.CodeInvalidParams, mcp.CodeUnsupportedProtocolVersion, mcp.CodeMissingRequiredClientCapabilities:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// directCall reports whether r is a tools/call directCalls may answer,
// and its _meta: each condition is one the go-sdk checks (and would
// refuse otherwise) or a feature only its path has.
func (s *Server) directCall(r *http.Request, head *requestHead) (mcp.Meta, bool) {
	if !s.directHead(r, head) {
		return nil, false
	}
	meta := head.meta // quickHead decoded it
	if meta == nil && json.Unmarshal(head.Params.Meta, &meta) != nil {
		return nil, false
	}
	if !newProtocolMeta(meta, r.Header.Get("Mcp-Protocol-Version")) {
		return nil, false
	}
	return meta, true
}

// directHead is directCall's part that needs no more decoding.
func (s *Server) directHead(r *http.Request, head *requestHead) bool {
	if s.noDirect || r.Method != http.MethodPost || !head.exact || head.Method != "tools/call" || head.JSONRPC != "2.0" || !isStatelessEra(r) {
		return false
	}
	if !plainID(head.ID) {
		return false // a notification, or an id the go-sdk would judge or re-encode
	}
	p := &head.Params
	if p.Name == "" || len(p.InputResponses) > 0 || len(p.RequestState) > 0 {
		return false
	}
	jsonOK, streamOK := accepts(r.Header.Values("Accept"))
	if !jsonOK || !streamOK {
		return false
	}
	// Standard headers (2026-07-28): they must match the body.
	if r.Header.Get("Mcp-Method") != "tools/call" || r.Header.Get("Mcp-Name") != p.Name {
		return false
	}
	if len(p.Meta) == 0 {
		return false
	}
	h, ok := r.Context().Value(holdKey{}).(*hold)
	if !ok {
		return false
	}
	t, ok := h.snap.tools[p.Name]
	if !ok {
		return false // the go-sdk's registry answers a name it does not know
	}
	// A tool whose schema binds parameters to headers: the go-sdk checks
	// those headers.
	return !bytes.Contains(t.Manifest.InputSchema, []byte("x-mcp-header"))
}

// plainID reports whether id is one the go-sdk echoes byte for byte: an
// integer that fits an int64 without a sign trick, or a short string of
// characters JSON never escapes. Other ids (fractions, exponents,
// escapes, HTML characters the go-sdk's encoder escapes) go to the
// go-sdk.
func plainID(id json.RawMessage) bool {
	switch {
	case len(id) == 0 || len(id) > 130:
		return false
	case id[0] == '"':
		if len(id) < 2 || id[len(id)-1] != '"' {
			return false
		}
		for _, c := range id[1 : len(id)-1] {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' || c == '~') {
				return false
			}
		}
		return true
	}
	digits := id
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 || (digits[0] == '0' && len(id) > 1) {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// newProtocolMeta reports whether _meta is a complete, valid 2026-07-28
// triple for the header's version that asks for nothing streamed: the
// protocol version (equal to the header's), the client's capabilities
// (an object of the go-sdk's shape), its info if present, and no
// progress token or log level.
func newProtocolMeta(meta map[string]any, version string) bool {
	if meta == nil || version < statelessEra {
		return false
	}
	if v, ok := meta[mcp.MetaKeyProtocolVersion].(string); !ok || v != version {
		return false
	}
	if _, ok := meta["progressToken"]; ok {
		return false
	}
	if _, ok := meta["io.modelcontextprotocol/logLevel"]; ok { // mcp.MetaKeyLogLevel (deprecated, still served)
		return false
	}
	caps, ok := meta[mcp.MetaKeyClientCapabilities].(map[string]any)
	if !ok {
		return false
	}
	if len(caps) > 0 && !remarshals(caps, &clientCapabilities{}) {
		return false
	}
	if info, present := meta[mcp.MetaKeyClientInfo]; present {
		if m, ok := info.(map[string]any); !ok || (!allStrings(m) && !remarshals(m, &mcp.Implementation{})) {
			return false
		}
	}
	return true
}

// clientCapabilities has the shape of the go-sdk's clientCapabilitiesV2
// (unexported), which it decodes _meta's capabilities into.
type clientCapabilities struct {
	mcp.ClientCapabilities
	//lint:ignore SA1019 the go-sdk still decodes roots (deprecated in 2026-07-28)
	Roots *mcp.RootCapabilities `json:"roots,omitempty"`
}

// allStrings reports whether every value of m is a string and none is
// under icons (the one mcp.Implementation field that is not a string):
// such a map decodes into an mcp.Implementation, without remarshals.
func allStrings(m map[string]any) bool {
	for k, v := range m {
		if _, ok := v.(string); !ok || strings.EqualFold(k, "icons") {
			return false
		}
	}
	return true
}

// remarshals reports whether v decodes into into, as the go-sdk checks a
// _meta value.
func remarshals(v any, into any) bool {
	b, err := json.Marshal(v)
	return err == nil && json.Unmarshal(b, into) == nil
}

// accepts is the go-sdk's reading of Accept: whether it admits JSON and
// server-sent events.
func accepts(values []string) (jsonOK, streamOK bool) {
	for _, value := range values {
		for raw := range strings.SplitSeq(value, ",") {
			base, _, _ := strings.Cut(strings.TrimSpace(raw), ";")
			switch strings.ToLower(strings.TrimSpace(base)) {
			case "application/json", "application/*":
				jsonOK = true
			case "text/event-stream", "text/*":
				streamOK = true
			case "*/*":
				jsonOK, streamOK = true, true
			}
		}
	}
	return jsonOK, streamOK
}

// stampResult does to a result what the go-sdk does to every 2026-07-28
// result: the server's identity in _meta (unless the result has one);
// the result type is added by resultBody. A result with both content and
// input requests is the go-sdk's "server bug" error.
func stampResult(res *mcp.CallToolResult) error {
	if res == nil {
		return errors.New("host: nil tool result")
	}
	if res.InputRequests != nil && (len(res.Content) > 0 || res.StructuredContent != nil) {
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "server bug: result has both content and inputRequests"}
	}
	m := res.GetMeta()
	if m == nil {
		m = map[string]any{}
	}
	if _, ok := m[mcp.MetaKeyServerInfo]; !ok {
		m[mcp.MetaKeyServerInfo] = serverImpl
		res.SetMeta(m)
	}
	return nil
}

// resultBody is the JSON-RPC response carrying res, byte for byte what
// the go-sdk sends (its resultType is the last field of the result).
func resultBody(id json.RawMessage, res *mcp.CallToolResult) ([]byte, error) {
	if b, ok := textResultBody(id, res); ok {
		return b, nil
	}
	return marshalResultBody(id, res)
}

// marshalResultBody is resultBody through the go-sdk's encoder, for any
// result.
func marshalResultBody(id json.RawMessage, res *mcp.CallToolResult) ([]byte, error) {
	// MarshalJSON directly: json.Marshal would only compact and
	// HTML-escape its output again, which it already is.
	rb, err := res.MarshalJSON()
	if err != nil {
		return nil, err
	}
	rt := "complete"
	if res.InputRequests != nil {
		rt = "input_required"
	}
	b := make([]byte, 0, len(rb)+len(id)+64)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"result":`...)
	if len(rb) > 2 { // "{...}": not the empty object
		b = append(b, rb[:len(rb)-1]...)
		b = append(b, `,"resultType":"`...)
	} else {
		b = append(b, `{"resultType":"`...)
	}
	b = append(b, rt...)
	b = append(b, `"}}`...)
	return b, nil
}

// serverInfoMeta is the _meta stampResult gives a result that had none,
// as the go-sdk's encoder writes it.
var serverInfoMeta = sync.OnceValues(func() ([]byte, error) {
	return json.Marshal(mcp.Meta{mcp.MetaKeyServerInfo: serverImpl})
})

// textResultBody is resultBody for the result most tools give: one text
// content with nothing but its text, perhaps isError, and the _meta
// stampResult set; the same bytes, without the go-sdk's reflection over
// the result, its content and the _meta map (TestTextResultBody,
// FuzzTextResultBody compare the two). A result without _meta gets the
// bytes of its stamped form (directCalls then makes no _meta map). It
// reports false for any other result.
func textResultBody(id json.RawMessage, res *mcp.CallToolResult) ([]byte, bool) {
	if res.InputRequests != nil || res.RequestState != "" || res.StructuredContent != nil || len(res.Content) != 1 || len(res.Meta) > 1 {
		return nil, false
	}
	// Stamped (stampResult), _meta is exactly the server's info; a result
	// without _meta is written as its stamp would leave it.
	if si, ok := res.Meta[mcp.MetaKeyServerInfo].(*mcp.Implementation); len(res.Meta) != 0 && (!ok || si != serverImpl) {
		return nil, false
	}
	c, ok := res.Content[0].(*mcp.TextContent)
	if !ok || c == nil || len(c.Meta) != 0 || c.Annotations != nil {
		return nil, false
	}
	meta, err := serverInfoMeta()
	if err != nil {
		return nil, false
	}
	b := make([]byte, 0, len(id)+len(meta)+len(c.Text)+len(c.Text)/8+128)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"result":{"_meta":`...)
	b = append(b, meta...)
	b = append(b, `,"content":[{"type":"text","text":`...)
	b = jsonstr.Append(b, c.Text, true) // the go-sdk's escaping, exactly (json.Marshal's, HTML characters included)
	b = append(b, `}]`...)
	if res.IsError {
		b = append(b, `,"isError":true`...)
	}
	b = append(b, `,"resultType":"complete"}}`...)
	return b, true
}
