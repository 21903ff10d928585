package host

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/moatmcp/moat/internal/telemetry"
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

// quickHead is parseHead's single pass for the request that is served
// most: a 2026-07-28 tools/call. It decodes body once (decodeHead, exact
// keys) and _meta once, and reports false — head then undefined — for
// any request it cannot vouch for, which then takes the careful path
// (encoding/json, checkHead) as before. It vouches only where the careful
// path's checks cannot refuse: the version header is 2026-07-28 or later,
// every key of the body and of params is one the go-sdk reads, spelled
// exactly, without escapes and present once (plainKeys: then the careful
// path's case-insensitive encoding/json and the go-sdk's exact decoder
// see the same values), the method is tools/call with an id, params is an
// object with a non-empty string name, _meta an object, and nothing is
// nested deeper than maxQuickDepth. The header checks (headerMismatch)
// still run on what it decoded; FuzzQuickHead compares the two paths.
//
// body must be valid JSON (transport.Wrap checked it).
func quickHead(r *http.Request, body []byte, head *requestHead) bool {
	if r.Header.Get("Mcp-Protocol-Version") < statelessEra || !plainKeys(body) || !decodeHead(body, head) {
		return false
	}
	p := &head.Params
	if head.Method != "tools/call" || len(head.ID) == 0 || p.Name == "" || len(p.Meta) == 0 || p.Meta[0] != '{' {
		return false
	}
	var meta map[string]any
	if json.Unmarshal(p.Meta, &meta) != nil {
		return false
	}
	head.meta = meta
	head.trace = traceMeta(meta, p.Meta)
	return true
}

// traceMeta is what parseHead's careful path reads of _meta's trace
// context (encoding/json into telemetry.Meta, whose field names match
// case-insensitively), from the decoded map when no key could match.
func traceMeta(meta map[string]any, raw json.RawMessage) telemetry.Meta {
	for k := range meta {
		if strings.EqualFold(k, "traceparent") || strings.EqualFold(k, "tracestate") || strings.EqualFold(k, "baggage") {
			var tr telemetry.Meta
			_ = json.Unmarshal(raw, &tr) // a malformed trace context is ignored
			return tr
		}
	}
	return telemetry.Meta{}
}

// maxQuickDepth bounds the nesting quickHead takes (encoding/json refuses
// past 10000, the go-sdk past 1000); deeper requests take the careful
// path, which refuses them as before.
const maxQuickDepth = 256

// The keys plainKeys accepts: a JSON-RPC request's, and a plain
// tools/call's params (a multi-round-trip retry's inputResponses and
// requestState take the careful path).
var (
	requestKeys    = [...]string{"jsonrpc", "id", "method", "params"}
	callParamsKeys = [...]string{"_meta", "name", "arguments"}
)

// plainKeys reports whether body is an object whose keys are among
// requestKeys and, when params is an object, whose params' keys are among
// callParamsKeys: each spelled exactly, without escapes, at most once;
// and whose values nest no deeper than maxQuickDepth. body must be valid
// JSON: plainKeys only skips values, it does not check them.
func plainKeys(body []byte) bool {
	s := keyScanner{b: body}
	if !s.object(requestKeys[:], true) {
		return false
	}
	s.space()
	return s.i == len(s.b)
}

// keyScanner walks a valid JSON text's keys (plainKeys).
type keyScanner struct {
	b []byte
	i int
}

func (s *keyScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\r' || s.b[s.i] == '\n') {
		s.i++
	}
}

// object scans the object at s.i, whose keys must be among names, each
// once; with top, a "params" object is scanned with callParamsKeys.
func (s *keyScanner) object(names []string, top bool) bool {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	var seen uint
	for {
		s.space()
		key, ok := s.key()
		if !ok {
			return false
		}
		k := -1
		for j, n := range names {
			if string(key) == n {
				k = j
				break
			}
		}
		if k < 0 || seen&(1<<k) != 0 {
			return false
		}
		seen |= 1 << k
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		if top && names[k] == "params" && s.i < len(s.b) && s.b[s.i] == '{' {
			ok = s.object(callParamsKeys[:], false)
		} else {
			ok = s.skip()
		}
		if !ok {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// key reads a string without escapes at s.i.
func (s *keyScanner) key() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			return nil, false
		case '"':
			s.i = j + 1
			return s.b[start:j], true
		}
	}
	return nil, false
}

// str passes over the string at s.i.
func (s *keyScanner) str() bool {
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			j++
		case '"':
			s.i = j + 1
			return true
		}
	}
	return false
}

// skip passes over the value at s.i, refusing nesting deeper than
// maxQuickDepth.
func (s *keyScanner) skip() bool {
	depth := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			if !s.str() {
				return false
			}
		case '{', '[':
			if depth++; depth > maxQuickDepth {
				return false
			}
			s.i++
			continue
		case '}', ']':
			if depth == 0 {
				return true // the end of the object holding a number or literal
			}
			depth--
			s.i++
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return true
			}
			s.i++
			continue
		default:
			s.i++
			continue
		}
		if depth == 0 {
			return true
		}
	}
	return depth == 0
}
