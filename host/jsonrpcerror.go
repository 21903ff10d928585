package host

import (
	"encoding/json"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/moatmcp/moat/host/ratelimit"
)

// writeJSONRPCError answers an HTTP request with one JSON-RPC error
// object: id is the request's id as the client sent it (null when it had
// none or it was malformed), the message a fixed text of ours.
func writeJSONRPCError(w http.ResponseWriter, status int, id json.RawMessage, e *jsonrpc.Error) {
	body, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   *jsonrpc.Error  `json:"error"`
	}{"2.0", ratelimit.ValidID(id), e})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
