package host

import (
	"encoding/json"

	sjson "github.com/segmentio/encoding/json"
)

// headParams is what the stages and the direct tools/call path
// (fastcall.go) need of a request's params.
type headParams struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	// Meta is the request's _meta, as sent: fastcall.go decodes it
	// (into an mcp.Meta, as the go-sdk does) only for the requests it
	// may answer; segmentio makes every map with room for 64 keys.
	Meta json.RawMessage `json:"_meta"`
	// InputResponses and RequestState are the retry of a multi-round-trip
	// call (MCP 2026-07-28): left to the go-sdk.
	InputResponses json.RawMessage `json:"inputResponses"`
	RequestState   json.RawMessage `json:"requestState"`
}

// decodeHead decodes a JSON-RPC request's head from body in one pass,
// with the go-sdk's own JSON library (segmentio/encoding) and flags: keys
// match exactly, not case-insensitively as encoding/json would, so that
// the head says what the go-sdk will read from the same bytes. It reports
// false (head then undefined) when body is not an object of the expected
// shape, e.g. params that are not an object or an id of the wrong type;
// parseHead then takes the careful path.
//
// segmentio/encoding is already in the build as the go-sdk's JSON
// decoder; it is used here only, and only through sjson.Parse (its
// Decoder allocates a 32 KiB buffer per value).
func decodeHead(body []byte, head *requestHead) bool {
	rest, err := sjson.Parse(body, head, sjson.DontMatchCaseInsensitiveStructFields)
	if err != nil || len(trimSpace(rest)) != 0 {
		return false
	}
	head.exact = true
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
