package host

// Elicited content is untrusted input for the guest: what a client (or the
// person behind it) typed into the form a tool asked for with
// moat.input_request. Before a tool sees an answer, its content is
// checked against the requestedSchema the tool asked with — by
// internal/schema, the one owner of JSON Schema in moat — in both eras
// (replay.ask runs it on every replayed round, whether the answers came
// in a 2026-07-28 retry's inputResponses or from a session's client). A
// mismatch ends the call with a tool error and an error id; the audit
// record says which answer failed and where (outcome invalid_input), never
// the content.

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/schema"
)

// maxElicitedContent is the largest elicited content (the JSON of one
// answer's content) a tool is given, in bytes: a form's fields, not a
// document.
const maxElicitedContent = 32 << 10

// errElicitSchema is a tool's requestedSchema that internal/schema does not
// compile: the tool's request is malformed (InputErrBadRequest).
var errElicitSchema = errors.New("elicitation: requestedSchema does not compile")

// elicitProblem is an answer refused before the guest saw it.
type elicitProblem struct {
	key  string // the request's key
	kind string // too_large, not_object, schema, malformed
	path string // JSON Pointer into the content, for schema
	msg  string // internal/schema's reason, for schema (meant for the agent)
}

// reason is the audit record's reason: which answer, what kind of
// problem, where; never the content.
func (p *elicitProblem) reason() string {
	r := fmt.Sprintf("elicited content for %q refused: %s", p.key, p.kind)
	if p.path != "" {
		r += " at " + capText(p.path)
	}
	return r
}

// message is the client's tool error text (without the error id).
func (p *elicitProblem) message(tool string) string {
	switch p.kind {
	case "too_large":
		return fmt.Sprintf("tool %s: the answer to its request for input %q is larger than %d bytes; the tool did not see it", tool, p.key, maxElicitedContent)
	case "not_object":
		return fmt.Sprintf("tool %s: the answer to its request for input %q is not a JSON object; the tool did not see it", tool, p.key)
	case "schema":
		if p.msg == "" { // the go-sdk's check refused it: no detail of ours
			break
		}
		where := ""
		if p.path != "" {
			where = " at " + capText(p.path)
		}
		return fmt.Sprintf("tool %s: the answer to its request for input %q does not match the schema it asked with%s: %s; the tool did not see it", tool, p.key, where, p.msg)
	}
	return fmt.Sprintf("tool %s: the answer to its request for input %q does not match the schema it asked with; the tool did not see it", tool, p.key)
}

// capText bounds a JSON Pointer into the client's content (its keys are
// the client's text) in a message.
func capText(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// compileElicitSchema compiles an elicitation's requestedSchema; nil for
// none (a "url" elicitation has none).
func compileElicitSchema(p *mcp.ElicitParams) (*schema.Schema, error) {
	if p.RequestedSchema == nil {
		return nil, nil
	}
	raw, err := json.Marshal(p.RequestedSchema)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errElicitSchema, err)
	}
	sch, err := schema.CompileInput(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errElicitSchema, err)
	}
	return sch, nil
}

// checkElicitSchemas reports whether every elicitation of reqs has a
// requestedSchema that compiles: checked when the tool asks, so that a
// bad schema is the tool's error, not the client's.
func checkElicitSchemas(reqs mcp.InputRequestMap) error {
	for _, r := range reqs {
		if p, ok := r.(*mcp.ElicitParams); ok {
			if _, err := compileElicitSchema(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkAnswers returns the answers of a replayed round as the guest may
// see them: each elicitation's answer checked against its requestedSchema
// (checkElicited). Other kinds pass as they are. reqs is the round's ask,
// the same document the answers were given to (replay.ask matched it).
func checkAnswers(reqs mcp.InputRequestMap, answers map[string]json.RawMessage) (map[string]json.RawMessage, *elicitProblem) {
	keys := slices.Sorted(maps.Keys(reqs))
	out := make(map[string]json.RawMessage, len(answers))
	for k, v := range answers {
		out[k] = v
	}
	for _, k := range keys {
		p, ok := reqs[k].(*mcp.ElicitParams)
		if !ok {
			continue
		}
		checked, prob := checkElicited(k, p, answers[k])
		if prob != nil {
			return nil, prob
		}
		out[k] = checked
	}
	return out, nil
}

// checkElicited checks one elicitation answer (an ElicitResult's JSON):
// with action "accept", its content must be a JSON object of at most
// maxElicitedContent bytes that matches p's requestedSchema (no content
// counts as {}); with any other action the content, which the spec allows
// only with accept, is dropped. The answer the guest gets is written
// again from what was checked (action, content, _meta), so that no
// spelling of a key (JSON decoders differ on case and duplicates) can
// carry content past the check.
func checkElicited(key string, p *mcp.ElicitParams, answer json.RawMessage) (json.RawMessage, *elicitProblem) {
	var res struct {
		Action  string          `json:"action"`
		Content json.RawMessage `json:"content,omitempty"`
		Meta    json.RawMessage `json:"_meta,omitempty"`
	}
	if t := strings.TrimSpace(string(answer)); t == "" || t[0] != '{' || json.Unmarshal(answer, &res) != nil {
		return nil, &elicitProblem{key: key, kind: "malformed"}
	}
	if res.Action != "accept" {
		res.Content = nil
	} else {
		if len(res.Content) > maxElicitedContent {
			return nil, &elicitProblem{key: key, kind: "too_large"}
		}
		switch t := strings.TrimSpace(string(res.Content)); {
		case t == "" || t == "null":
			res.Content = json.RawMessage("{}")
		case t[0] != '{':
			return nil, &elicitProblem{key: key, kind: "not_object"}
		}
		sch, err := compileElicitSchema(p)
		if err != nil {
			return nil, &elicitProblem{key: key, kind: "schema"} // checked when asked: not reached
		}
		if sch != nil {
			if err := sch.Validate(res.Content); err != nil {
				var ve *schema.ValidationError
				if errors.As(err, &ve) {
					return nil, &elicitProblem{key: key, kind: "schema", path: ve.Path, msg: ve.Msg}
				}
				return nil, &elicitProblem{key: key, kind: "schema"}
			}
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, &elicitProblem{key: key, kind: "malformed"}
	}
	return b, nil
}
