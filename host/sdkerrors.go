package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// sdkErrors rewrites the go-sdk's plain-text HTTP errors (http.Error with
// texts such as "malformed payload: <Go error>") into JSON-RPC error
// bodies with a fixed message and an error id; the SDK's own text goes to
// the operator log under that id. Clients never see a Go error string, and
// always get JSON.
func sdkErrors(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &errorRewriter{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		if rw.jsonErr {
			rewriteJSONError(log, w, rw.status, rw.buf.Bytes(), headOf(r).ID)
			return
		}
		if !rw.rewrite {
			return
		}
		id := newErrorID()
		text := strings.TrimSpace(rw.buf.String())
		log.Warn("mcp transport refused a request", "error_id", id, "status", rw.status, "detail", text)
		var code int64 = -32600
		msg := strings.ToLower(http.StatusText(rw.status))
		switch {
		case strings.Contains(text, "not handled") || strings.Contains(text, "unsupported method"):
			code, msg = -32601, "method not found"
		case rw.status == http.StatusNotFound:
			code, msg = -32001, "session not found"
		case rw.status >= 500:
			code, msg = -32603, "internal error"
		}
		writeJSONRPCError(w, rw.status, headOf(r).ID, &jsonrpc.Error{Code: code, Message: fmt.Sprintf("%s (error id %s)", msg, id)})
	})
}

// sdkMessages are the fixed texts that replace the go-sdk's own messages
// in the JSON-RPC errors it writes itself, by code: those messages echo
// header and body values (an Mcp-Param-* header's value, a version).
var sdkMessages = map[int64]string{
	codeHeaderMismatch: "header mismatch: an Mcp-* header does not match the request body",
	-32022:             "unsupported protocol version",
}

// rewriteJSONError writes body, a JSON-RPC error response the go-sdk wrote
// with status, with its message replaced by a fixed text and an error id
// when its code is one of sdkMessages (the id and data kept); any other
// error body goes out as it came, and a body that is not one is replaced
// (with reqID, the request's id).
func rewriteJSONError(log *slog.Logger, w http.ResponseWriter, status int, body []byte, reqID json.RawMessage) {
	var resp struct {
		ID    json.RawMessage `json:"id"`
		Error *struct {
			Code    int64           `json:"code"`
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Error == nil {
		// Not the error body it should be (or cut at the buffer's cap):
		// not sent half-made.
		id := newErrorID()
		log.Warn("mcp transport answered an unexpected error body", "error_id", id, "status", status, "bytes", len(body))
		writeJSONRPCError(w, status, reqID, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: fmt.Sprintf("%s (error id %s)", strings.ToLower(http.StatusText(status)), id)})
		return
	}
	if msg, ok := sdkMessages[resp.Error.Code]; ok {
		id := newErrorID()
		log.Debug("mcp transport refused a request", "error_id", id, "status", status, "detail", resp.Error.Message)
		writeJSONRPCError(w, status, resp.ID, &jsonrpc.Error{Code: resp.Error.Code, Message: fmt.Sprintf("%s (error id %s)", msg, id), Data: resp.Error.Data})
		return
	}
	w.WriteHeader(status)
	w.Write(body)
}

type errorRewriter struct {
	http.ResponseWriter
	status  int
	rewrite bool // a plain-text error: rewritten whole
	jsonErr bool // a JSON error of the go-sdk's own: its message rewritten
	wrote   bool
	buf     bytes.Buffer
}

func (e *errorRewriter) WriteHeader(code int) {
	if e.wrote {
		return
	}
	e.wrote = true
	ct := e.Header().Get("Content-Type")
	switch {
	case code >= 400 && (ct == "" || strings.HasPrefix(ct, "text/plain")):
		e.rewrite, e.status = true, code
		return
	case code >= 400 && strings.HasPrefix(ct, "application/json"):
		e.jsonErr, e.status = true, code
		return
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *errorRewriter) Write(b []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	if e.rewrite || e.jsonErr {
		if e.buf.Len() < 64<<10 {
			e.buf.Write(b)
		}
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

// Flush keeps server-sent events streaming through the wrapper.
func (e *errorRewriter) Flush() {
	if e.rewrite || e.jsonErr {
		return
	}
	if f, ok := e.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (e *errorRewriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// sdkElicitContentText is how the go-sdk (v1.8.0, ServerSession.Elicit)
// says a client's elicitation content does not match the requestedSchema:
// it checks the content itself before returning, and says so only in its
// error's text. Pinned by TestElicitedContentValidated (its 2025-11-25
// session cases fail when the text changes: they expect invalid_input).
const sdkElicitContentText = "elicitation result content does not match requested schema"

// sdkElicitContentMismatch reports whether err, from
// ServerSession.Elicit, is the go-sdk refusing the client's content as
// not matching the schema (mrtr.go reports it like its own check does).
// This file is the only place that reads the go-sdk's error texts.
func sdkElicitContentMismatch(err error) bool {
	return err != nil && strings.Contains(err.Error(), sdkElicitContentText)
}
