package bench

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MaxBareBody caps the bare handler's request body.
const MaxBareBody = 1 << 20

// Bare is the physical limit of a JSON-RPC call over HTTP on this
// machine: a plain net/http handler that decodes the request, echoes the
// tool's arguments as a text content and encodes the answer, and checks
// nothing else (an initialize and a notification get the least a
// 2025-11-25 client needs). Every row is compared with it.
func Bare() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Name      string          `json:"name"`
				Arguments json.RawMessage `json:"arguments"`
			} `json:"params"`
		}
		if r.Method == http.MethodDelete { // the end of a 2025-11-25 session
			w.WriteHeader(http.StatusNoContent)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBareBody))
		if err != nil || json.Unmarshal(body, &req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch {
		case len(req.ID) == 0: // a notification (notifications/initialized)
			w.WriteHeader(http.StatusAccepted)
			return
		case req.Method == "initialize": // the start of a 2025-11-25 session
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Mcp-Session-Id", "bare")
			w.Write([]byte(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"bare","version":"1"}}}`))
			return
		case req.Method != "tools/call":
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		type text struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		out, _ := json.Marshal(struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Result  struct {
				Content []text `json:"content"`
			} `json:"result"`
		}{JSONRPC: "2.0", ID: req.ID, Result: struct {
			Content []text `json:"content"`
		}{Content: []text{{Type: "text", Text: string(req.Params.Arguments)}}}})
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	})
}

// Native is the echo as a plain go-sdk tool named tool, served
// statelessly (as moat serves 2026-07-28 clients) or with sessions
// (stateless false), the baseline of "the same tool without a sandbox".
func Native(tool string, stateless bool) http.Handler {
	s := mcp.NewServer(&mcp.Implementation{Name: "native", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: tool, Description: "echo, in process"},
		func(_ context.Context, req *mcp.CallToolRequest, in struct {
			Msg string `json:"msg"`
		}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(req.Params.Arguments)}}}, nil, nil
		})
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: stateless})
}

// Serve serves h on a loopback port under /mcp (and /), and returns its
// base URL and a function that stops it.
func Serve(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), func() { srv.Close(); <-done }, nil
}
