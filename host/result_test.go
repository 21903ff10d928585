package host

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestUnescapeHTML(t *testing.T) {
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
