// Package wire writes the JSON-RPC error responses moat sends on its own,
// before or around the go-sdk (refusals of the transport, the rate limits
// and caps, the audit and state gates, rewritten go-sdk errors). It is the
// one writer of those bodies, so that every one carries the request's id
// when it has one and nothing from the request or from Go: messages are
// fixed texts of ours.
package wire

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// maxIDBytes caps an id echoed to the client.
const maxIDBytes = 256

// ID returns id when it is a JSON-RPC request id (a JSON string or number,
// at most 256 bytes), else null: an id is echoed to the client, so only a
// well-formed one is.
func ID(id json.RawMessage) json.RawMessage {
	id = json.RawMessage(bytes.TrimSpace(id))
	if len(id) == 0 || len(id) > maxIDBytes || !json.Valid(id) {
		return json.RawMessage("null")
	}
	switch c := id[0]; {
	case c == '"', c == '-', c >= '0' && c <= '9':
		return id
	}
	return json.RawMessage("null")
}

// Error is the error object of a response.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// Body is the JSON of a response to the request with id (see ID) that
// carries e:
//
//	{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"…"}}
func Body(id json.RawMessage, e Error) []byte {
	b, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   Error           `json:"error"`
	}{"2.0", ID(id), e})
	if err != nil { // Data that does not marshal: never sent half-made
		b, _ = json.Marshal(struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Error   Error           `json:"error"`
		}{"2.0", ID(id), Error{Code: e.Code, Message: e.Message}})
	}
	return b
}

// Write answers an HTTP request with status and Body(id, e), as
// application/json, not to be sniffed or cached.
func Write(w http.ResponseWriter, status int, id json.RawMessage, e Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	w.Write(Body(id, e))
}
