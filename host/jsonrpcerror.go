package host

import (
	"encoding/json"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/moatmcp/moat/internal/wire"
)

// writeJSONRPCError answers an HTTP request with one JSON-RPC error
// object (internal/wire, the one writer of such bodies): id is the
// request's id as the client sent it (null when it had none or it was
// malformed), the message a fixed text of ours.
func writeJSONRPCError(w http.ResponseWriter, status int, id json.RawMessage, e *jsonrpc.Error) {
	var data any
	if len(e.Data) > 0 {
		data = e.Data
	}
	wire.Write(w, status, id, wire.Error{Code: int(e.Code), Message: e.Message, Data: data})
}
