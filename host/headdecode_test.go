package host

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// quickCall is a plain 2026-07-28 tools/call, as the bench and most
// clients send it.
const quickCall = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"emit","arguments":{"msg":"hi"},` + newEraMeta + `}}`

// TestPlainKeys: the key scan quickHead relies on accepts only the
// request keys, each once, spelled exactly, and bounded nesting.
func TestPlainKeys(t *testing.T) {
	deep := strings.Repeat("[", maxQuickDepth+1) + strings.Repeat("]", maxQuickDepth+1)
	for _, tc := range []struct {
		name, body string
		want       bool
	}{
		{"plain call", quickCall, true},
		{"empty object", `{}`, true},
		{"whitespace everywhere", " { \"id\" : 1 , \"params\" : { \"name\" : \"x\" , \"arguments\" : [ 1 , { } ] } } \n", true},
		{"params not an object", `{"id":1,"params":"x"}`, true},
		{"literals at the ends", `{"id":null,"jsonrpc":true,"method":-1.5e3}`, true},
		{"strings with escapes and braces", `{"id":"a\"}","params":{"name":"\\","arguments":"{["}}`, true},
		{"nesting at the bound", `{"params":{"arguments":` + strings.Repeat("[", maxQuickDepth) + strings.Repeat("]", maxQuickDepth) + `}}`, true},
		{"nesting past the bound", `{"params":{"arguments":` + deep + `}}`, false},
		{"key of another case", `{"Method":"tools/call"}`, false},
		{"params key of another case", `{"params":{"Name":"x"}}`, false},
		{"unknown key", `{"id":1,"extra":1}`, false},
		{"duplicate key", `{"id":1,"id":2}`, false},
		{"duplicate params key", `{"params":{"name":"a","name":"b"}}`, false},
		{"escaped key", `{"n\u0061me":1}`, false},
		{"escaped params key", `{"params":{"n\u0061me":"x"}}`, false},
		{"multi-round-trip retry", `{"params":{"name":"x","requestState":"s"}}`, false},
		{"input responses", `{"params":{"name":"x","inputResponses":{}}}`, false},
		{"not an object", `[1]`, false},
		{"trailing value", `{} {}`, false},
		{"truncated", `{"id":1`, false},
		{"empty", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := plainKeys([]byte(tc.body)); got != tc.want {
				t.Fatalf("plainKeys(%s) = %v, want %v", tc.body, got, tc.want)
			}
		})
	}
}

// TestQuickHeadVouches: which requests take the one-decode path.
func TestQuickHeadVouches(t *testing.T) {
	call := func(old, new string) string { return strings.Replace(quickCall, old, new, 1) }
	for _, tc := range []struct {
		name, body, version string
		want                bool
	}{
		{"plain call", quickCall, "2026-07-28", true},
		{"2025-11-25 era", quickCall, "2025-11-25", false},
		{"no version header", quickCall, "", false},
		{"other method", call(`"tools/call"`, `"tools/list"`), "2026-07-28", false},
		{"notification", call(`"id":7,`, ``), "2026-07-28", false},
		{"empty name", call(`"name":"emit"`, `"name":""`), "2026-07-28", false},
		{"name a number", call(`"name":"emit"`, `"name":7`), "2026-07-28", false},
		{"no _meta", call(","+newEraMeta, ""), "2026-07-28", false},
		{"_meta not an object", call(newEraMeta, `"_meta":[]`), "2026-07-28", false},
		{"key of another case", call(`"method"`, `"METHOD"`), "2026-07-28", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/mcp", nil)
			if tc.version != "" {
				r.Header.Set("Mcp-Protocol-Version", tc.version)
			}
			var head requestHead
			if got := quickHead(r, []byte(tc.body), &head); got != tc.want {
				t.Fatalf("quickHead = %v, want %v", got, tc.want)
			}
		})
	}
}

// errorIDs are the random error ids in refusals.
var errorIDs = regexp.MustCompile(`error id [^)]*\)`)

// headOutcome runs one of parseHead's two paths on body and says what it
// did: the refusal it wrote, or the head it filled.
func headOutcome(t testing.TB, quick bool, hdr map[string]string, body string) (refused bool, answer string, head requestHead, vouched bool) {
	r := httptest.NewRequest("POST", "/mcp", strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	log := slog.New(slog.DiscardHandler)
	if quick {
		if !quickHead(r, []byte(body), &head) {
			return false, "", head, false
		}
		refused = quickRefused(log, w, r, &head)
	} else {
		refused = carefulHead(log, w, r, []byte(body), &head)
	}
	answer = http.StatusText(w.Code) + " " + errorIDs.ReplaceAllString(w.Body.String(), "error id X)")
	return refused, answer, head, true
}

// FuzzQuickHead: wherever quickHead vouches for a request, the careful
// path (every check of head.go) refuses it exactly when the quick path
// does, with the same answer, and otherwise reads the same head.
func FuzzQuickHead(f *testing.F) {
	f.Add(quickCall, "2026-07-28", "tools/call", "emit")
	f.Add(quickCall, "2026-07-28", "tools/call", "other")
	f.Add(quickCall, "2026-07-28", "", "emit")
	f.Add(quickCall, "2025-11-25", "tools/call", "emit")
	f.Add(strings.Replace(quickCall, `"2026-07-28"`, `"2027-01-01"`, 1), "2026-07-28", "tools/call", "emit")
	f.Add(strings.Replace(quickCall, `"_meta":{`, `"_meta":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","TraceState":5,`, 1), "2026-07-28", "tools/call", "emit")
	f.Add(`{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"emit","_meta":{"io.modelcontextprotocol/protocolVersion":7}}}`, "2026-07-28", "tools/call", "emit")
	f.Add(`{"id":1,"method":"tools/call","params":{"name":"emit","arguments":null,"_meta":{}}}`, "2026-07-28", "tools/call", "emit")
	f.Fuzz(func(t *testing.T, body, version, method, name string) {
		if !json.Valid([]byte(body)) || strings.ContainsAny(version+method+name, "\r\n\x00") {
			return // transport.Wrap refuses what is not JSON; net/http, bad header values
		}
		hdr := map[string]string{"Mcp-Protocol-Version": version, "Mcp-Method": method, "Mcp-Name": name}
		qRefused, qAnswer, qHead, vouched := headOutcome(t, true, hdr, body)
		if !vouched {
			return
		}
		cRefused, cAnswer, cHead, _ := headOutcome(t, false, hdr, body)
		if qRefused != cRefused || (qRefused && qAnswer != cAnswer) {
			t.Fatalf("%s\nquick: refused %v %s\ncareful: refused %v %s", body, qRefused, qAnswer, cRefused, cAnswer)
		}
		if qRefused {
			return
		}
		qHead.meta = nil
		if !reflect.DeepEqual(qHead, cHead) {
			t.Fatalf("%s\nquick head %+v\ncareful head %+v", body, qHead, cHead)
		}
	})
}
