package host

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// stamped is a result as stampResult leaves it.
func stamped(t testing.TB, res *mcp.CallToolResult) *mcp.CallToolResult {
	if err := stampResult(res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestTextResultBody: the hand-written answer for a plain text result is
// byte for byte the go-sdk encoder's, and any other result is left to
// the encoder.
func TestTextResultBody(t *testing.T) {
	text := func(s string) []mcp.Content { return []mcp.Content{&mcp.TextContent{Text: s}} }
	for _, tc := range []struct {
		name  string
		res   *mcp.CallToolResult
		quick bool
	}{
		{"plain text", &mcp.CallToolResult{Content: text(`{"msg":"hi"}`)}, true},
		{"empty text", &mcp.CallToolResult{Content: text("")}, true},
		{"tool error", &mcp.CallToolResult{Content: text("no such file"), IsError: true}, true},
		{"HTML and line separators", &mcp.CallToolResult{Content: text("<b>&amp;</b>\u2028\u2029")}, true},
		{"control characters and quotes", &mcp.CallToolResult{Content: text("\x00\x01\b\f\n\r\t\"\\\x7f")}, true},
		{"invalid UTF-8", &mcp.CallToolResult{Content: text("a\xffb\xc3")}, true},
		{"no content", &mcp.CallToolResult{Content: []mcp.Content{}}, false},
		{"two contents", &mcp.CallToolResult{Content: append(text("a"), &mcp.TextContent{Text: "b"})}, false},
		{"content _meta", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "a", Meta: mcp.Meta{"k": 1}}}}, false},
		{"annotations", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "a", Annotations: &mcp.Annotations{Priority: 1}}}}, false},
		{"image", &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{Data: []byte("x"), MIMEType: "image/png"}}}, false},
		{"structured content", &mcp.CallToolResult{Content: text("{}"), StructuredContent: map[string]any{}}, false},
		{"result _meta of its own", &mcp.CallToolResult{Meta: mcp.Meta{"moat/x": "y"}, Content: text("a")}, false},
		{"request state", &mcp.CallToolResult{Content: text("a"), RequestState: "s"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Before the stamp: what directCalls tries first, which must
			// give the stamped result's bytes or nothing.
			unstamped := *tc.res
			early, earlyOK := textResultBody(json.RawMessage(`"req-1"`), &unstamped)
			res := stamped(t, tc.res)
			id := json.RawMessage(`"req-1"`)
			want, err := marshalResultBody(id, res)
			if err != nil {
				t.Fatal(err)
			}
			if earlyOK != (tc.quick && len(unstamped.Meta) == 0) || (earlyOK && !bytes.Equal(early, want)) {
				t.Fatalf("unstamped: %v %s\nwant %v %s", earlyOK, early, tc.quick, want)
			}
			got, ok := textResultBody(id, res)
			if ok != tc.quick {
				t.Fatalf("textResultBody took it: %v, want %v", ok, tc.quick)
			}
			if ok && !bytes.Equal(got, want) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			if all, err := resultBody(id, res); err != nil || !bytes.Equal(all, want) {
				t.Fatalf("resultBody: %s, %v\nwant %s", all, err, want)
			}
		})
	}
}

// FuzzTextResultBody: for any text and id, the hand-written answer is the
// go-sdk encoder's.
func FuzzTextResultBody(f *testing.F) {
	f.Add("hello", int64(7), false)
	f.Add("<script>\u2028\xff\x00", int64(-1), true)
	f.Fuzz(func(t *testing.T, s string, id int64, isError bool) {
		res := stamped(t, &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}, IsError: isError})
		rid, _ := json.Marshal(id)
		want, err := marshalResultBody(rid, res)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := textResultBody(rid, res)
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("%v\ngot  %s\nwant %s", ok, got, want)
		}
	})
}
