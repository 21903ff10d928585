package host

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestElicitedContentValidated: a client's answer to a tool's elicitation
// is checked against the requestedSchema the tool asked with before the
// tool sees it, in both eras: content of the wrong type, without a
// required field, too large or not an object never reaches the guest
// (save_file writes nothing); the call is a tool error with an error id,
// and the audit record (outcome invalid_input) says which answer and
// where, never the content.
func TestElicitedContentValidated(t *testing.T) {
	confirm := &mcp.ElicitParams{Message: "Replace?", RequestedSchema: map[string]any{
		"type": "object", "required": []any{"confirm"},
		"properties": map[string]any{"confirm": map[string]any{"type": "boolean"}},
	}}
	huge := `{"confirm":true,"junk":"` + strings.Repeat("A", maxElicitedContent) + `"}`
	t.Run("checkElicited", func(t *testing.T) {
		for _, tc := range []struct {
			name, answer string
			want         string // the answer the guest sees; "" when refused
			kind, path   string // the refusal
		}{
			{"valid", `{"action":"accept","content":{"confirm":true}}`, `{"action":"accept","content":{"confirm":true}}`, "", ""},
			{"wrong type", `{"action":"accept","content":{"confirm":"yes"}}`, "", "schema", "/confirm"},
			{"missing required", `{"action":"accept","content":{}}`, "", "schema", "/confirm"},
			{"accept without content", `{"action":"accept"}`, "", "schema", "/confirm"},
			{"extra huge content", `{"action":"accept","content":` + huge + `}`, "", "too_large", ""},
			{"content an array", `{"action":"accept","content":[true]}`, "", "not_object", ""},
			{"content a string", `{"action":"accept","content":"yes"}`, "", "not_object", ""},
			{"answer not an object", `"accept"`, "", "malformed", ""},
			{"answer null", `null`, "", "malformed", ""},
			{"keys in other case: read as the guest's decoder would", `{"ACTION":"accept","Content":{"confirm":"yes"}}`, "", "schema", "/confirm"},
			{"content spelled otherwise with decline: dropped", `{"action":"decline","CONTENT":{"confirm":"yes"}}`, `{"action":"decline"}`, "", ""},
			{"_meta kept", `{"action":"accept","content":{"confirm":false},"_meta":{"k":1}}`, `{"action":"accept","content":{"confirm":false},"_meta":{"k":1}}`, "", ""},
			{"decline", `{"action":"decline"}`, `{"action":"decline"}`, "", ""},
			{"decline with content: dropped", `{"action":"decline","content":{"confirm":"<b>"}}`, `{"action":"decline"}`, "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, prob := checkElicited("overwrite", confirm, json.RawMessage(tc.answer))
				switch {
				case tc.kind == "" && (prob != nil || string(got) != tc.want):
					t.Fatalf("got %s, %+v; want %s", got, prob, tc.want)
				case tc.kind != "" && (prob == nil || prob.kind != tc.kind || prob.path != tc.path || prob.key != "overwrite" || got != nil):
					t.Fatalf("got %s, %+v; want a %s refusal at %q", got, prob, tc.kind, tc.path)
				case prob != nil && (strings.Contains(prob.reason(), "yes") || strings.Contains(prob.reason(), "AAAA")):
					t.Fatalf("the audit reason carries the content: %s", prob.reason())
				}
			})
		}
	})
	t.Run("a schema that does not compile is the tool's bad request", func(t *testing.T) {
		bad := mcp.InputRequestMap{"k": &mcp.ElicitParams{Message: "?", RequestedSchema: map[string]any{"type": 5}}}
		if checkElicitSchemas(bad) == nil {
			t.Fatal("accepted")
		}
	})

	ts, tk, scratch := mrtrServer(t, nil)
	key := tk["writer"].secret
	args := `{"path":"notes.txt","content":"new notes\n"}`
	unchanged := func(t *testing.T) {
		t.Helper()
		if b, _ := os.ReadFile(filepath.Join(scratch, "notes.txt")); string(b) != "old notes\n" {
			t.Fatalf("the tool acted on a refused answer: %q", b)
		}
	}
	lastRecord := func(t *testing.T) string {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(ts.auditText()), "\n")
		return lines[len(lines)-1]
	}
	t.Run("2026-07-28", func(t *testing.T) {
		for _, tc := range []struct {
			name, content string
			wantText      string // the tool error's start; "" = refused with -32602 before the tool ran
			wantReason    string
		}{
			{"wrong type", `{"confirm":"yes"}`, `tool save_file: the answer to its request for input "overwrite" does not match the schema it asked with at /confirm: `, `elicited content for \"overwrite\" refused: schema at /confirm`},
			{"missing required", `{}`, `tool save_file: the answer to its request for input "overwrite" does not match the schema it asked with at /confirm: `, `elicited content for \"overwrite\" refused: schema at /confirm`},
			{"extra huge content", huge, `tool save_file: the answer to its request for input "overwrite" is larger than 32768 bytes; the tool did not see it (error id `, `elicited content for \"overwrite\" refused: too_large`},
			{"non-object", `"yes"`, "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r, raw := callStateless(t, ts.url, key, "save_file", args, "", elicitCaps)
				if r.Result.RequestState == "" {
					t.Fatalf("first call: %s", raw)
				}
				r2, raw := callStateless(t, ts.url, key, "save_file", args,
					withState(`,"inputResponses":{"overwrite":{"action":"accept","content":`+tc.content+`}}`, r.Result.RequestState), elicitCaps)
				unchanged(t)
				if tc.wantText == "" {
					if r2.Error == nil || r2.Error.Code != -32602 || !strings.Contains(r2.Error.Message, "(error id ") || strings.Contains(raw, "yes") {
						t.Fatalf("non-object content: %s", raw)
					}
					return
				}
				if r2.Error != nil || !r2.Result.IsError || len(r2.Result.Content) != 1 || !strings.HasPrefix(r2.Result.Content[0].Text, tc.wantText) ||
					!strings.Contains(r2.Result.Content[0].Text, "(error id ") {
					t.Fatalf("got %s; want a tool error starting %q", raw, tc.wantText)
				}
				rec := lastRecord(t)
				if !strings.Contains(rec, `"outcome":"invalid_input"`) || !strings.Contains(rec, `"reason":"`+tc.wantReason) || !strings.Contains(rec, `"error_id":"`) ||
					strings.Contains(rec, "AAAA") || strings.Contains(rec, `"yes"`) {
					t.Fatalf("audit record: %s", rec)
				}
			})
		}
		// valid: the file is replaced.
		r, _ := callStateless(t, ts.url, key, "save_file", args, "", elicitCaps)
		r2, raw := callStateless(t, ts.url, key, "save_file", args, withState(confirmYes, r.Result.RequestState), elicitCaps)
		if r2.Result.IsError || r2.Result.ResultType != "complete" {
			t.Fatalf("valid answer: %s", raw)
		}
		if err := os.WriteFile(filepath.Join(scratch, "notes.txt"), []byte("old notes\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	// A 2025-11-25 session's client is asked by the host itself; the go-sdk
	// checks the content first (sdkerrors.go reads its verdict: this pins
	// it), moat's check after.
	t.Run("2025-11-25 session", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			content    map[string]any
			wantText   string
			wantReason string
		}{
			{"wrong type", map[string]any{"confirm": "yes"}, `tool save_file: the answer to its request for input "overwrite" does not match the schema it asked with; the tool did not see it (error id `, `elicited content for \"overwrite\" refused: schema"`},
			{"missing required", map[string]any{}, `tool save_file: the answer to its request for input "overwrite" does not match the schema it asked with; the tool did not see it (error id `, `elicited content for \"overwrite\" refused: schema"`},
			{"extra huge content", map[string]any{"confirm": true, "junk": strings.Repeat("A", maxElicitedContent)}, `tool save_file: the answer to its request for input "overwrite" is larger than 32768 bytes; the tool did not see it (error id `, `elicited content for \"overwrite\" refused: too_large"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := mcp.NewClient(&mcp.Implementation{Name: "elicit-test", Version: "1"}, &mcp.ClientOptions{
					ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
						return &mcp.ElicitResult{Action: "accept", Content: tc.content}, nil
					},
				})
				cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
					Endpoint: ts.url + "/mcp", HTTPClient: &http.Client{Transport: bearer{key, http.DefaultTransport}},
				}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
				if err != nil {
					t.Fatal(err)
				}
				defer cs.Close()
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "save_file", Arguments: map[string]any{"path": "notes.txt", "content": "new notes\n"}})
				if err != nil {
					t.Fatal(err)
				}
				unchanged(t)
				if text := res.Content[0].(*mcp.TextContent).Text; !res.IsError || !strings.HasPrefix(text, tc.wantText) {
					t.Fatalf("got %q (isError %v); want %q…", text, res.IsError, tc.wantText)
				}
				rec := lastRecord(t)
				if !strings.Contains(rec, `"outcome":"invalid_input"`) || !strings.Contains(rec, `"reason":"`+tc.wantReason) || strings.Contains(rec, "AAAA") {
					t.Fatalf("audit record: %s", rec)
				}
			})
		}
	})
}

// FuzzCheckElicited: whatever a client answers, checkElicited does not
// panic, and an answer it lets through with action accept has content
// that is an object of at most maxElicitedContent bytes with a boolean
// confirm (the schema asked with).
func FuzzCheckElicited(f *testing.F) {
	for _, s := range []string{
		`{"action":"accept","content":{"confirm":true}}`, `{"action":"accept","content":{"confirm":"x"}}`,
		`{"action":"accept","content":[1]}`, `{"action":"decline","content":{}}`, `{"action":"accept"}`, `null`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	p := &mcp.ElicitParams{Message: "?", RequestedSchema: map[string]any{
		"type": "object", "required": []any{"confirm"},
		"properties": map[string]any{"confirm": map[string]any{"type": "boolean"}},
	}}
	f.Fuzz(func(t *testing.T, answer []byte) {
		got, prob := checkElicited("k", p, answer)
		if prob != nil {
			if got != nil || prob.key != "k" {
				t.Fatalf("refused with an answer: %s %+v", got, prob)
			}
			return
		}
		var res struct {
			Action  string                     `json:"action"`
			Content map[string]json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(got, &res); err != nil {
			t.Fatalf("passed an answer that is not an object: %s", got)
		}
		if res.Action != "accept" {
			if res.Content != nil {
				t.Fatalf("content kept without accept: %s", got)
			}
			return
		}
		if c := res.Content["confirm"]; string(c) != "true" && string(c) != "false" {
			t.Fatalf("passed content whose confirm is %s: %s", c, got)
		}
	})
}
