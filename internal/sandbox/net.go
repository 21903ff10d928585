package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moatmcp/moat/internal/abi"

	"github.com/tetratelabs/wazero/api"

	"github.com/moatmcp/moat/internal/telemetry"
)

// HTTPDoer makes the outbound HTTP requests of a module granted [net]
// (internal/netpolicy implements the policy; the host adapts it). It is
// called on the guest's goroutine with the call's context, so the call's
// timeout and cancellation reach the request.
//
// An error may carry its ABI code (HTTPErr*) through a method
// Errno() uint32; errors without one are HTTPErrFailed, or HTTPErrTimeout
// once the call's context has ended. Errors never reach the guest as text.
type HTTPDoer interface {
	Do(ctx context.Context, req *HTTPRequest) (*HTTPResponse, error)
}

// HTTPFunc adapts a function to HTTPDoer.
type HTTPFunc func(ctx context.Context, req *HTTPRequest) (*HTTPResponse, error)

// Do calls f.
func (f HTTPFunc) Do(ctx context.Context, req *HTTPRequest) (*HTTPResponse, error) {
	return f(ctx, req)
}

// HTTPRequest is a guest's request as decoded from moat.http_request:
// unchecked beyond its JSON shape; the HTTPDoer applies the policy.
type HTTPRequest struct {
	Method string            // "GET" when the guest leaves it out
	URL    string            //
	Header map[string]string // as the guest wrote them
	Body   []byte
}

// HTTPResponse is what the guest gets back.
type HTTPResponse struct {
	Status int
	URL    string // after redirects
	Header map[string]string
	Body   []byte
}

// Error codes of moat.http_request and moat.http_response (ABI v1,
// docs/abi.md). 1–10 and 13 are the request's own failures and match
// internal/netpolicy's Kind values.
const (
	HTTPOK                  uint32 = 0
	HTTPErrBadRequest       uint32 = 1
	HTTPErrDeniedHost       uint32 = 2
	HTTPErrDeniedScheme     uint32 = 3
	HTTPErrDeniedMethod     uint32 = 4
	HTTPErrDeniedAddress    uint32 = 5
	HTTPErrDNS              uint32 = 6
	HTTPErrConnect          uint32 = 7
	HTTPErrTimeout          uint32 = 8
	HTTPErrRequestTooLarge  uint32 = 9
	HTTPErrResponseTooLarge uint32 = 10
	HTTPErrBufferTooSmall   uint32 = 11 // the response is kept; *resp_len_ptr holds its size: call http_response
	HTTPErrNoResponse       uint32 = 12 // http_response with no response kept
	HTTPErrFailed           uint32 = 13
	maxHTTPErrno                   = HTTPErrFailed
	maxHTTPRequestJSON             = 8 << 20 // the request document; the doer caps the body itself
	netGrant                       = "net"
	httpRequestImport              = abi.HTTPRequest
	httpResponseImport             = abi.HTTPResponse
)

// wireRequest is the request document a guest writes (ABI v1).
type wireRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"body"` // base64 (standard, padded)
}

// wireResponse is the response document the host writes.
type wireResponse struct {
	Status  int               `json:"status"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"body"` // base64
}

var errBadRequestDoc = errors.New("malformed http_request document")

// decodeHTTPRequest parses a guest's request document strictly: one JSON
// object, known fields only, url required.
func decodeHTTPRequest(b []byte) (*HTTPRequest, error) {
	if len(b) > maxHTTPRequestJSON {
		return nil, errBadRequestDoc
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireRequest
	if err := dec.Decode(&w); err != nil {
		return nil, errBadRequestDoc
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errBadRequestDoc
	}
	if w.URL == "" {
		return nil, errBadRequestDoc
	}
	if w.Method == "" {
		w.Method = "GET"
	}
	return &HTTPRequest{Method: w.Method, URL: w.URL, Header: w.Headers, Body: w.Body}, nil
}

func encodeHTTPResponse(r *HTTPResponse) ([]byte, error) {
	h := r.Header
	if h == nil {
		h = map[string]string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(wireResponse{Status: r.Status, URL: r.URL, Headers: h, Body: r.Body}); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// netState is one call's network state: the doer and the response kept
// after HTTPErrBufferTooSmall.
type netState struct {
	doer    HTTPDoer
	pending []byte
}

type netKey struct{}

// withNet gives the call's host functions the module's HTTPDoer (nil when
// not granted: the imports are then never linked).
func withNet(ctx context.Context, doer HTTPDoer) context.Context {
	if doer == nil {
		return ctx
	}
	return context.WithValue(ctx, netKey{}, &netState{doer: doer})
}

// httpErrno maps a doer's error to its ABI code.
func httpErrno(ctx context.Context, err error) uint32 {
	var coded interface{ Errno() uint32 }
	if errors.As(err, &coded) {
		if c := coded.Errno(); c >= HTTPErrBadRequest && c <= maxHTTPErrno && c != HTTPErrBufferTooSmall && c != HTTPErrNoResponse {
			return c
		}
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return HTTPErrTimeout
	}
	return HTTPErrFailed
}

// httpErrNames name the ABI error codes in spans (error.type).
var httpErrNames = [...]string{HTTPOK: "", HTTPErrBadRequest: "bad_request", HTTPErrDeniedHost: "denied_host",
	HTTPErrDeniedScheme: "denied_scheme", HTTPErrDeniedMethod: "denied_method", HTTPErrDeniedAddress: "denied_address",
	HTTPErrDNS: "dns", HTTPErrConnect: "connect", HTTPErrTimeout: "timeout", HTTPErrRequestTooLarge: "request_too_large",
	HTTPErrResponseTooLarge: "response_too_large", HTTPErrBufferTooSmall: "buffer_too_small", HTTPErrNoResponse: "no_response",
	HTTPErrFailed: "failed"}

func httpErrName(code uint32) string {
	if int(code) < len(httpErrNames) {
		return httpErrNames[code]
	}
	return "failed"
}

// moatHTTPRequest is moat.http_request(req_ptr, req_len, resp_ptr,
// resp_cap, resp_len_ptr i32) -> errno i32.
func moatHTTPRequest(ctx context.Context, mod api.Module, stack []uint64) {
	reqPtr, reqLen := stack[0], stack[1]
	respPtr, respCap, lenPtr := api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), api.DecodeU32(stack[4])
	st, _ := ctx.Value(netKey{}).(*netState)
	if st == nil { // unreachable: Load refuses the import without the grant
		stack[0] = api.EncodeU32(HTTPErrFailed)
		return
	}
	writeLen(mod, lenPtr, 0)
	st.pending = nil
	if api.DecodeU32(reqLen) > maxHTTPRequestJSON {
		stack[0] = api.EncodeU32(HTTPErrRequestTooLarge)
		return
	}
	req, err := decodeHTTPRequest(guestBytes(mod, httpRequestImport, reqPtr, reqLen))
	if err != nil {
		stack[0] = api.EncodeU32(HTTPErrBadRequest)
		return
	}
	// The request's client span, and its trace context for the host
	// contacted (internal/telemetry; nothing at all when not tracing).
	ctx, span := telemetry.StartHTTP(ctx, req.Method, req.URL)
	if span.Recording() {
		req.Header = telemetry.Inject(ctx, req.Header)
	}
	resp, err := st.doer.Do(ctx, req)
	if err != nil {
		code := httpErrno(ctx, err)
		span.EndHTTP(0, httpErrName(code))
		stack[0] = api.EncodeU32(code)
		return
	}
	span.EndHTTP(resp.Status, "")
	doc, err := encodeHTTPResponse(resp)
	if err != nil {
		stack[0] = api.EncodeU32(HTTPErrFailed)
		return
	}
	st.pending = doc
	stack[0] = api.EncodeU32(deliver(mod, st, respPtr, respCap, lenPtr))
}

// moatHTTPResponse is moat.http_response(resp_ptr, resp_cap, resp_len_ptr
// i32) -> errno i32: it delivers the response kept by the last
// http_request that returned HTTPErrBufferTooSmall.
func moatHTTPResponse(ctx context.Context, mod api.Module, stack []uint64) {
	respPtr, respCap, lenPtr := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	st, _ := ctx.Value(netKey{}).(*netState)
	if st == nil || st.pending == nil {
		writeLen(mod, lenPtr, 0)
		stack[0] = api.EncodeU32(HTTPErrNoResponse)
		return
	}
	stack[0] = api.EncodeU32(deliver(mod, st, respPtr, respCap, lenPtr))
}

// deliver writes the pending response if it fits, else keeps it and
// reports its size.
func deliver(mod api.Module, st *netState, ptr, capacity, lenPtr uint32) uint32 {
	n := uint32(len(st.pending))
	writeLen(mod, lenPtr, n)
	if n > capacity {
		return HTTPErrBufferTooSmall
	}
	if n > 0 && !mod.Memory().Write(ptr, st.pending) {
		panic(fmt.Errorf("moat.http_request: response buffer [%d, +%d) is outside memory", ptr, n))
	}
	st.pending = nil
	return HTTPOK
}

func writeLen(mod api.Module, ptr, n uint32) {
	if mem := mod.Memory(); mem == nil || !mem.WriteUint32Le(ptr, n) {
		panic(fmt.Errorf("moat.http_request: resp_len_ptr %d is outside memory", ptr))
	}
}
