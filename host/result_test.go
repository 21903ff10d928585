package host

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/sandbox"
	"github.com/moatmcp/moat/internal/schema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestUnescapeHTML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"go's escapes", `{"a":"\u003ca\u0026b\u003e"}`, `{"a":"<a&b>"}`},
		{"upper-case hex", `"\u003C\u003E"`, `"<>"`},
		{"nothing to do", `{"a":1}`, `{"a":1}`},
		{"other escapes kept", `"\u00e9\n\"\u2028"`, `"\u00e9\n\"\u2028"`},
		{"escaped backslash before u003c", `"\\u003c"`, `"\\u003c"`},
		{"escaped quote then escape", `["\"","\u0026"]`, `["\"","&"]`},
		{"keys too", `{"\u003ck\u003e":true}`, `{"<k>":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := UnescapeHTML([]byte(tc.in))
			if string(got) != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			// The value is the same.
			var a, b any
			if json.Unmarshal([]byte(tc.in), &a) != nil || json.Unmarshal(got, &b) != nil {
				t.Fatal("not JSON")
			}
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Fatalf("the value changed: %s → %s", ja, jb)
			}
		})
	}
}

// FuzzUnescapeHTML: on any JSON value the rewrite keeps the value.
func FuzzUnescapeHTML(f *testing.F) {
	for _, s := range []string{`"\u003c"`, `{"\\":"\\u003c\u0026"}`, `["\"\u003e"]`, `1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var a any
		if json.Unmarshal([]byte(s), &a) != nil {
			return
		}
		var b any
		if err := json.Unmarshal(UnescapeHTML([]byte(s)), &b); err != nil {
			t.Fatalf("%q became invalid: %v", s, err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("%q: the value changed", s)
		}
	})
}

// TestTextResultNotHTMLEscaped: a tool's JSON written with HTML escapes
// reaches the agent's text content with <, > and & as they are.
func TestTextResultNotHTMLEscaped(t *testing.T) {
	t.Parallel()
	const outSchema = "\n[output_schema]\ntype = \"object\"\n[output_schema.properties.s]\ntype = \"string\"\n"
	tool := loadTool(t, guests["hostfixture"], "name = \"emit\"\n"+outSchema)
	res, _, err := tool.Call(context.Background(), json.RawMessage(`{"stdout":"{\"s\":\"\\u003ca\\u0026b\\u003e\"}"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	text, ok := res.Content[0].(*mcp.TextContent)
	if !ok || text.Text != `{"s":"<a&b>"}` {
		t.Fatalf("content %#v, want the text {\"s\":\"<a&b>\"}", res.Content[0])
	}
}

// FuzzGuestOutput: whatever bytes a guest writes to stdout and stderr, in
// every result mode and for every way a run can end, the host makes a
// result that encodes as JSON, holds only valid UTF-8 text, keeps a tool
// error's text to its cap, and names an outcome the metrics know.
func FuzzGuestOutput(f *testing.F) {
	for _, seed := range []string{"", "hello", `{"a":1}`, `{"content":[{"type":"text","text":"x"}],"structuredContent":{"a":1}}`,
		"\xff\xfe", `{"content":[{"type":"image","data":"!!"}]}`, `[1,2]`, `{"a":"\u003c"} {"b":2}`} {
		f.Add([]byte(seed), []byte("oops\xff"), uint8(0), uint8(0))
	}
	out, err := schema.CompileOutput(json.RawMessage(`{"type":"object","properties":{"a":{"type":"integer"}}}`))
	if err != nil {
		f.Fatal(err)
	}
	modes := []manifest.ResultMode{manifest.ResultText, manifest.ResultJSON, manifest.ResultContent}
	outcomes := []sandbox.Outcome{sandbox.OutcomeOK, sandbox.OutcomeExit, sandbox.OutcomeTimeout, sandbox.OutcomeMemory,
		sandbox.OutcomeOutputOverflow, sandbox.OutcomeTrap, sandbox.OutcomeCanceled}
	f.Fuzz(func(t *testing.T, stdout, stderr []byte, mode, how uint8) {
		tool := &Tool{Manifest: &manifest.Tool{Name: "t", Result: modes[int(mode)%len(modes)], Limits: manifest.DefaultLimits()}}
		// result = "json" always has an output schema (LoadTool refuses it
		// without one); "content" may have one.
		if tool.Manifest.Result == manifest.ResultJSON || (tool.Manifest.Result == manifest.ResultContent && mode%2 == 0) {
			tool.output = out
		}
		res, outcome := tool.result(&sandbox.Result{Outcome: outcomes[int(how)%len(outcomes)], Stdout: stdout, Stderr: stderr, ExitCode: 3})
		if res == nil || !slices.Contains(audit.CallOutcomes, outcome) {
			t.Fatalf("result %v, outcome %q", res, outcome)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("result does not encode: %v", err)
		}
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				if !utf8.ValidString(tc.Text) {
					t.Fatalf("invalid UTF-8 text %q", tc.Text)
				}
				if res.IsError && outcome != "ok" && outcome != "tool_error" && len(tc.Text) > maxErrorText+200 {
					t.Fatalf("host error text of %d bytes", len(tc.Text))
				}
			}
		}
	})
}
