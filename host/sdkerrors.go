package host

import (
	"bytes"
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
		if !rw.rewrite {
			return
		}
		id := NewErrorID()
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

type errorRewriter struct {
	http.ResponseWriter
	status  int
	rewrite bool
	wrote   bool
	buf     bytes.Buffer
}

func (e *errorRewriter) WriteHeader(code int) {
	if e.wrote {
		return
	}
	e.wrote = true
	ct := e.Header().Get("Content-Type")
	if code >= 400 && (ct == "" || strings.HasPrefix(ct, "text/plain")) {
		e.rewrite, e.status = true, code
		return
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *errorRewriter) Write(b []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	if e.rewrite {
		if e.buf.Len() < 4<<10 {
			e.buf.Write(b)
		}
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

// Flush keeps server-sent events streaming through the wrapper.
func (e *errorRewriter) Flush() {
	if e.rewrite {
		return
	}
	if f, ok := e.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (e *errorRewriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }
