package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/bytesize"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/sandbox"
)

// maxErrorText caps the text of a tool error taken from the guest's own
// stderr or stdout: enough for a message, not a dump.
const maxErrorText = 4 << 10

// result maps one finished instance to a CallToolResult, following ABI v1,
// and names the outcome for the audit log.
func (t *Tool) result(run *sandbox.Result) (*mcp.CallToolResult, audit.Outcome) {
	lim := t.Manifest.Limits
	switch run.Outcome {
	case sandbox.OutcomeOK:
		return t.success(run.Stdout)
	case sandbox.OutcomeExit:
		msg := tail(run.Stderr)
		if msg == "" {
			msg = tail(run.Stdout)
		}
		if msg == "" {
			msg = fmt.Sprintf("tool failed with exit code %d", run.ExitCode)
		}
		return toolError(msg), "tool_error"
	case sandbox.OutcomeTimeout:
		return toolError(fmt.Sprintf("tool stopped: it ran past its time limit of %s", lim.Timeout)), "timeout"
	case sandbox.OutcomeMemory:
		return toolError(fmt.Sprintf("tool stopped: it ran out of its memory limit of %s", bytesize.Format(lim.Memory))), "memory"
	case sandbox.OutcomeOutputOverflow:
		return toolError(fmt.Sprintf("tool stopped: its output passed the limit of %s", bytesize.Format(uint64(lim.MaxOutput)))), "output_overflow"
	case sandbox.OutcomeTrap:
		return toolError("tool crashed (WebAssembly trap)"), "trap"
	case sandbox.OutcomeCanceled:
		return toolError("call canceled"), "canceled"
	}
	return toolError("tool failed"), "tool_error"
}

// success maps the stdout of a tool that exited 0, per its result mode.
func (t *Tool) success(stdout []byte) (*mcp.CallToolResult, audit.Outcome) {
	switch t.Manifest.Result {
	case manifest.ResultJSON:
		v, err := oneJSONValue(stdout)
		if err != nil {
			return toolError("tool output is not one JSON value"), "bad_output"
		}
		if err := t.output.Validate(v); err != nil {
			return toolError("tool output does not match its output schema: " + err.Error()), "bad_output"
		}
		v = UnescapeHTML(v)
		return &mcp.CallToolResult{
			Content:           []mcp.Content{&mcp.TextContent{Text: string(v)}},
			StructuredContent: v,
		}, "ok"
	case manifest.ResultContent:
		res, err := decodeContentResult(stdout)
		if err != nil {
			return toolError("tool output is not a valid MCP tool result: " + err.Error()), "bad_output"
		}
		if t.output != nil && !res.IsError {
			sc, _ := res.StructuredContent.(json.RawMessage)
			if sc == nil {
				return toolError("tool output has no structuredContent but the tool declares an output schema"), "bad_output"
			}
			if err := t.output.Validate(sc); err != nil {
				return toolError("tool output does not match its output schema: " + err.Error()), "bad_output"
			}
		}
		if res.IsError {
			return res, "tool_error"
		}
		return res, "ok"
	}
	return textResult(validText(stdout)), "ok"
}

// textResult is a result of one text content, made in one allocation (it
// is what most calls return).
func textResult(text string) *mcp.CallToolResult {
	r := &struct {
		res     mcp.CallToolResult
		content [1]mcp.Content
		text    mcp.TextContent
	}{}
	r.text.Text = text
	r.content[0] = &r.text
	r.res.Content = r.content[:]
	return &r.res
}

// contentTypes are the content items a tool may return (MCP 2025-11-25,
// CallToolResult.content).
var contentTypes = map[string]bool{"text": true, "image": true, "audio": true, "resource": true, "resource_link": true}

// decodeContentResult decodes a "content" mode result strictly: only the
// three fields a tool may set, and only content types a tool may return.
func decodeContentResult(stdout []byte) (*mcp.CallToolResult, error) {
	v, err := oneJSONValue(stdout)
	if err != nil {
		// Not err: its text is encoding/json's, about guest bytes.
		return nil, errors.New("not one JSON value")
	}
	var wire struct {
		Content           []json.RawMessage `json:"content"`
		StructuredContent json.RawMessage   `json:"structuredContent,omitempty"`
		IsError           bool              `json:"isError,omitempty"`
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wire); err != nil {
		return nil, fmt.Errorf("expected {\"content\": [...], \"structuredContent\"?, \"isError\"?}")
	}
	for i, c := range wire.Content {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(c, &head); err != nil || !contentTypes[head.Type] {
			return nil, fmt.Errorf("content[%d]: unsupported content type", i)
		}
	}
	var res mcp.CallToolResult
	if err := json.Unmarshal(v, &res); err != nil {
		return nil, fmt.Errorf("content items are malformed")
	}
	if res.Content == nil {
		res.Content = []mcp.Content{}
	}
	if len(wire.StructuredContent) > 0 && string(wire.StructuredContent) != "null" {
		res.StructuredContent = wire.StructuredContent
	} else {
		res.StructuredContent = nil
	}
	return &res, nil
}

// oneJSONValue returns b if it holds exactly one JSON value (whitespace
// around it allowed).
func oneJSONValue(b []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

func toolError(msg string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: msg}}, IsError: true}
}

// tail returns the last maxErrorText bytes of b as valid UTF-8 text,
// trimmed, so a tool's own error message reaches the agent without
// flooding it.
func tail(b []byte) string {
	if len(b) > maxErrorText {
		b = b[len(b)-maxErrorText:]
		for len(b) > 0 && !utf8.RuneStart(b[0]) {
			b = b[1:]
		}
	}
	return strings.TrimSpace(validText(b))
}

// validText turns guest bytes into a string that is valid UTF-8, so a
// result never carries bytes a client's JSON parser rejects.
func validText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// UnescapeHTML rewrites the \u003c, \u003e and \u0026 escapes inside the
// strings of a valid JSON value as "<", ">" and "&". Go's encoding/json
// (and other encoders) write them for HTML's sake, but this JSON becomes
// the text content an LLM reads, where "\u003c" is noise and reads as
// something else than "<". The value means the same; any other escape is
// left as it is, so the rewrite is byte-for-byte otherwise. moat call uses
// it too, on the result it prints (the go-sdk's marshalling escapes).
func UnescapeHTML(v []byte) []byte {
	if !bytes.Contains(v, []byte(`\u00`)) {
		return v
	}
	out := make([]byte, 0, len(v))
	inString := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			out = append(out, c)
			continue
		}
		switch c {
		case '"':
			inString = false
			out = append(out, c)
		case '\\':
			if i+5 < len(v) && v[i+1] == 'u' {
				if r, ok := htmlEscapes[strings.ToLower(string(v[i+2:i+6]))]; ok {
					out = append(out, r)
					i += 5
					continue
				}
			}
			// Any other escape: copy it and the character it escapes, so
			// that an escaped quote or backslash is not taken for the end
			// of the string or the start of another escape.
			out = append(out, c)
			if i+1 < len(v) {
				i++
				out = append(out, v[i])
			}
		default:
			out = append(out, c)
		}
	}
	return out
}

// htmlEscapes are the escapes UnescapeHTML undoes.
var htmlEscapes = map[string]byte{"003c": '<', "003e": '>', "0026": '&'}
