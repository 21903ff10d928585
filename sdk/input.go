package sdk

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Asking the client for input mid-call (ABI v1, moat.input_request,
// docs/abi.md). A tool asks; the host gets the answer from the MCP client
// — a form the user fills in (elicitation), an LLM completion (sampling),
// the client's roots — and the call returns it.
//
// The host may not have the answer yet. With an MCP 2026-07-28 client it
// then ends the tool where it asked, returns the question to the client
// (an input_required result), and runs the tool again from the start with
// the answer when the client retries. So a tool that asks must ask the
// same questions, in the same order, every time it runs with the same
// arguments, and do nothing it cannot repeat before its last question
// (write after asking, not before). Asking something else on a rerun ends
// the call with an error.

// Input error codes (moat.input_request). An *InputError carries one.
const (
	InputErrBadRequest  = 1  // the request is malformed: keys, methods, too many or too large
	InputErrUnsupported = 2  // the client cannot answer: it did not declare the capability
	InputErrFailed      = 13 // the client did not answer (an error, a timeout)
	inputErrBufferSmall = 11
)

// InputError is a request the host refused or the client could not
// answer. Keys lists, for InputErrUnsupported, the requests the client
// cannot answer (ask again without them, or do without).
type InputError struct {
	Code uint32
	Keys []string
}

func (e *InputError) Error() string {
	switch e.Code {
	case InputErrBadRequest:
		return "input: the request is malformed"
	case InputErrUnsupported:
		return "input: the client cannot answer " + strings.Join(e.Keys, ", ")
	case InputErrFailed:
		return "input: the client did not answer"
	}
	return fmt.Sprintf("input: the request failed (code %d)", e.Code)
}

// Is makes errors.Is(err, &InputError{Code: InputErrUnsupported}) work.
func (e *InputError) Is(target error) bool {
	t, ok := target.(*InputError)
	return ok && t.Code == e.Code
}

// InputRequest is one request of a round: an MCP method
// ("elicitation/create", "sampling/createMessage", "roots/list") and its
// params, as the MCP specification defines them.
type InputRequest struct {
	Method string `json:"method"`
	Params any    `json:"params"`
}

// Ask sends one round of requests, by key (1 to 8 keys of letters, digits,
// _ . -), and returns the client's results by the same keys, as the MCP
// specification defines them (ElicitResult, CreateMessageResult,
// ListRootsResult). Every key of a round is answered, or the call fails.
func Ask(reqs map[string]InputRequest) (map[string]json.RawMessage, error) {
	return asker(hostInput).ask(reqs)
}

// asker is the host import that asks the client (hostInput in a tool); the
// functions of this file are its methods so that tests give them a stand-in
// without replacing package state.
type asker func(req []byte) ([]byte, uint32)

func (a asker) ask(reqs map[string]InputRequest) (map[string]json.RawMessage, error) {
	doc, err := json.Marshal(reqs)
	if err != nil {
		return nil, &InputError{Code: InputErrBadRequest}
	}
	resp, code := a(doc)
	if code == InputErrUnsupported {
		e := &InputError{Code: code}
		_ = json.Unmarshal(resp, &e.Keys)
		return nil, e
	}
	if code != 0 {
		return nil, &InputError{Code: code}
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(resp, &out); err != nil {
		return nil, &InputError{Code: InputErrFailed}
	}
	return out, nil
}

// Elicitation is the user's answer to a form: Action is "accept" (Content
// holds the fields), "decline" or "cancel".
type Elicitation struct {
	Action  string         `json:"action"`
	Content map[string]any `json:"content,omitempty"`
}

// Elicit asks the user to fill in a form: message says why, schema is a
// JSON Schema of a flat object of strings, numbers, booleans and enums
// (MCP's requestedSchema). key names the request; it must differ from the
// tool's other requests.
//
//	ans, err := sdk.Elicit("name", "What is your name?", map[string]any{
//		"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}},
//		"required": []string{"name"}})
func Elicit(key, message string, schema any) (*Elicitation, error) {
	return asker(hostInput).elicit(key, message, schema)
}

func (a asker) elicit(key, message string, schema any) (*Elicitation, error) {
	got, err := a.ask(map[string]InputRequest{key: {Method: "elicitation/create", Params: map[string]any{"message": message, "requestedSchema": schema}}})
	if err != nil {
		return nil, err
	}
	var e Elicitation
	if err := json.Unmarshal(got[key], &e); err != nil {
		return nil, &InputError{Code: InputErrFailed}
	}
	return &e, nil
}

// Confirm asks the user a yes/no question (a form with one boolean field,
// "confirm"); true only if the user accepted the form and ticked it.
func Confirm(key, message string) (bool, error) {
	return asker(hostInput).confirm(key, message)
}

func (a asker) confirm(key, message string) (bool, error) {
	e, err := a.elicit(key, message, map[string]any{
		"type":       "object",
		"properties": map[string]any{"confirm": map[string]any{"type": "boolean", "title": "Confirm", "default": false}},
		"required":   []string{"confirm"},
	})
	if err != nil {
		return false, err
	}
	ok, _ := e.Content["confirm"].(bool)
	return e.Action == "accept" && ok, nil
}

// Sample asks the client's LLM to answer prompt, in at most maxTokens
// tokens, and returns the text of its answer.
func Sample(key, prompt string, maxTokens int) (string, error) {
	return asker(hostInput).sample(key, prompt, maxTokens)
}

func (a asker) sample(key, prompt string, maxTokens int) (string, error) {
	got, err := a.ask(map[string]InputRequest{key: {Method: "sampling/createMessage", Params: map[string]any{
		"messages":  []any{map[string]any{"role": "user", "content": map[string]any{"type": "text", "text": prompt}}},
		"maxTokens": maxTokens,
	}}})
	if err != nil {
		return "", err
	}
	return sampleText(got[key]), nil
}

// sampleText is the text of a CreateMessageResult, whose content is one
// block or (with tools) an array of them.
func sampleText(raw json.RawMessage) string {
	var one struct {
		Content json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(raw, &one)
	type block struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	var b block
	if json.Unmarshal(one.Content, &b) == nil && b.Type != "" {
		return b.Text
	}
	var bs []block
	_ = json.Unmarshal(one.Content, &bs)
	var sb strings.Builder
	for _, b := range bs {
		sb.WriteString(b.Text)
	}
	return sb.String()
}

// Root is one of the client's roots: a file:// URI and an optional name.
type Root struct {
	URI  string `json:"uri"`
	Name string `json:"name,omitempty"`
}

// Roots asks the client for its roots.
func Roots(key string) ([]Root, error) {
	return asker(hostInput).roots(key)
}

func (a asker) roots(key string) ([]Root, error) {
	got, err := a.ask(map[string]InputRequest{key: {Method: "roots/list", Params: map[string]any{}}})
	if err != nil {
		return nil, err
	}
	var r struct {
		Roots []Root `json:"roots"`
	}
	if err := json.Unmarshal(got[key], &r); err != nil {
		return nil, &InputError{Code: InputErrFailed}
	}
	return r.Roots, nil
}
