package host

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
)

// cancelOnDisconnect stops a tools/call whose HTTP request went away before
// its answer. For protocol versions before 2026-07-28 the go-sdk keeps such
// calls running, so that a client could resume the stream; moat keeps no
// event store, so nothing can resume, and a guest would otherwise burn its
// whole timeout for nobody. It tells the session the call was cancelled,
// exactly as a client's notifications/cancelled would.
func cancelOnDisconnect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := headOf(r)
		if msg.Method != "tools/call" || r.Header.Get("Mcp-Session-Id") == "" || len(msg.ID) == 0 || string(msg.ID) == "null" {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
		if r.Context().Err() == nil {
			return // answered: the server cancels the context only after this returns
		}
		note, _ := json.Marshal(map[string]any{
			"jsonrpc": "2.0",
			"method":  "notifications/cancelled",
			"params":  map[string]any{"requestId": msg.ID, "reason": "the HTTP request went away"},
		})
		// Same session and credentials (the context's values), not its cancellation.
		req, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), http.MethodPost, r.URL.String(), bytes.NewReader(note))
		if err != nil {
			return
		}
		for _, h := range []string{"Mcp-Session-Id", "Mcp-Protocol-Version", "Authorization", clientAddrHeader} {
			if v := r.Header.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.RemoteAddr = r.RemoteAddr
		req.Host = r.Host
		next.ServeHTTP(discard{h: http.Header{}}, req)
	})
}

// discard is a ResponseWriter for the host's own internal requests.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
func (d discard) Flush()                      {}
