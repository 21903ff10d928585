package console

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/manifest"
)

var testNow = time.Date(2026, 11, 29, 12, 30, 0, 0, time.UTC)

func get(t *testing.T, h http.Handler, method, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestHeaders: every response, pages, the stylesheet, a 404 and a refused
// method, carries the exact security headers.
func TestHeaders(t *testing.T) {
	h := Handler(&Source{Now: func() time.Time { return testNow }})
	for _, tc := range []struct {
		name, method, target string
		status               int
		ctype                string
	}{
		{"index", "GET", "/console", 200, "text/html; charset=utf-8"},
		{"tools", "GET", "/console/tools", 200, "text/html; charset=utf-8"},
		{"access", "GET", "/console/access", 200, "text/html; charset=utf-8"},
		{"activity", "GET", "/console/activity", 200, "text/html; charset=utf-8"},
		{"reloads", "GET", "/console/reloads", 200, "text/html; charset=utf-8"},
		{"css", "GET", "/console/static/console.css", 200, "text/css; charset=utf-8"},
		{"head", "HEAD", "/console/tools", 200, "text/html; charset=utf-8"},
		{"unknown page", "GET", "/console/nope", 404, "text/plain; charset=utf-8"},
		{"post refused", "POST", "/console/tools", 405, "text/plain; charset=utf-8"},
		{"delete refused", "DELETE", "/console", 405, "text/plain; charset=utf-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := get(t, h, tc.method, tc.target)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			want := map[string]string{
				"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Cache-Control":           "no-store",
				"X-Frame-Options":         "DENY",
				"Content-Type":            tc.ctype,
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestNoScriptNoForm: the pages carry no script, no form, no external
// asset, no inline style (the CSP would block them anyway).
func TestNoScriptNoForm(t *testing.T) {
	a := NewActivity(func() time.Time { return testNow })
	a.Call("emit", "ok", 3*time.Millisecond)
	h := Handler(&Source{Activity: a, Now: func() time.Time { return testNow }})
	for _, p := range []string{"/console/tools", "/console/access", "/console/activity", "/console/reloads"} {
		_, body := get(t, h, "GET", p)
		for _, bad := range []string{"<script", "<form", "http://", "https://", "style=", "<iframe", "onload", "onerror"} {
			if strings.Contains(strings.ReplaceAll(body, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
	}
}

// hostile are strings an attacker may get into a tool description, a
// JWT subject, an audit field or a reload error.
var hostile = []string{
	"<script>alert(1)</script>",
	`"><img src=x onerror=alert(2)>`,
	"evil\x1b[31mred\x00nul\u202eright-to-left\r\nforged line",
	"javascript:alert(3)",
}

// TestHostileTextEscaped: hostile text in every field the console shows
// is HTML-escaped and control characters are made visible.
func TestHostileTextEscaped(t *testing.T) {
	a := NewActivity(func() time.Time { return testNow })
	var caps []Capability
	var rs []Reload
	for i, s := range hostile {
		a.Call(s, s, time.Millisecond)
		a.Refused(Refusal{Principal: s, Tool: s, Reason: s, Client: s})
		caps = append(caps, Capability{Name: fmt.Sprintf("t%d", i), Description: s, Hosts: []string{s}, Secrets: []string{s},
			Mounts: []Mount{{Host: s, Guest: s, Mode: "ro"}}, Approval: "held", HeldDiff: s, Module: s, SignedBy: []string{s}})
		rs = append(rs, Reload{At: testNow, Error: s, Changes: []string{s}})
	}
	tools := make([]*manifest.Tool, len(hostile))
	for i := range hostile {
		tools[i] = &manifest.Tool{Name: fmt.Sprintf("t%d", i)}
	}
	cfg := manifest.DefaultConfig()
	for _, s := range hostile {
		cfg.Auth.Keys = append(cfg.Auth.Keys, manifest.KeyConfig{ID: s, Tools: []string{s}, Scopes: []string{s}})
	}
	h := Handler(&Source{
		Tools:    func() []Capability { return caps },
		Access:   func() Access { return AccessMatrix(cfg, tools, testNow) },
		Activity: a,
		Reloads:  func() []Reload { return rs },
		Audit:    func() AuditState { return AuditState{File: hostile[0], Verified: hostile[2]} },
		Now:      func() time.Time { return testNow },
	})
	for _, p := range []string{"/console/tools", "/console/access", "/console/activity", "/console/reloads"} {
		t.Run(p, func(t *testing.T) {
			resp, body := get(t, h, "GET", p)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for _, bad := range []string{"<script>", "<img", "\x1b", "\x00", "\u202e", "forged line\r"} {
				if strings.Contains(body, bad) {
					t.Errorf("page contains %q unescaped", bad)
				}
			}
			for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", `\u001b`, `\u202e`} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
	}
}

// TestVisible: control and format characters become \u escapes; other
// text is unchanged.
func TestVisible(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "hello", "hello"},
		{"escape", "a\x1bb", `a\u001bb`},
		{"nul", "a\x00", `a\u0000`},
		{"bidi", "a\u202eb", `a\u202eb`},
		{"zero width", "a\u200bb", `a\u200bb`},
		{"newline kept", "a\nb", "a\nb"},
		{"carriage return", "a\rb", `a\u000db`},
		{"invalid utf8", "a\xffb", `a\ufffdb`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Visible(tc.in); got != tc.want {
				t.Fatalf("Visible(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestPagination: 5,000 tools and 5,000 principals are shown a bounded
// page at a time; page numbers out of range or malformed are clamped.
func TestPagination(t *testing.T) {
	const n = 5000
	caps := make([]Capability, n)
	tools := make([]*manifest.Tool, n)
	cfg := manifest.DefaultConfig()
	for i := range n {
		name := fmt.Sprintf("tool%05d", i)
		caps[i] = Capability{Name: name, Approval: "approved"}
		tools[i] = &manifest.Tool{Name: name}
		cfg.Auth.Keys = append(cfg.Auth.Keys, manifest.KeyConfig{ID: fmt.Sprintf("key%05d", i), Tools: []string{"*"}})
	}
	cfg.Auth.Local = manifest.LocalConfig{}
	acc := AccessMatrix(cfg, tools, testNow)
	h := Handler(&Source{Tools: func() []Capability { return caps }, Access: func() Access { return acc }})
	for _, tc := range []struct {
		name, target       string
		first, last, count string
		rows               int
	}{
		{"tools first", "/console/tools", "tool00000", "tool00099", "1–100 of 5000", 100},
		{"tools middle", "/console/tools?page=3", "tool00200", "tool00299", "201–300 of 5000", 100},
		{"tools last", "/console/tools?page=50", "tool04900", "tool04999", "4901–5000 of 5000", 100},
		{"tools past the end", "/console/tools?page=999999999", "tool04900", "tool04999", "4901–5000 of 5000", 100},
		{"tools malformed", "/console/tools?page=-1%3Cx", "tool00000", "tool00099", "1–100 of 5000", 100},
		{"access first", "/console/access", "key00000", "key00049", "1–50 of 5000", 50},
		{"access rows and cols", "/console/access?page=2&cols=3", "key00050", "key00099", "51–75 of 5000", 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, body := get(t, h, "GET", tc.target)
			if len(body) > 256<<10 {
				t.Fatalf("page is %d bytes: not bounded", len(body))
			}
			for _, want := range []string{tc.first, tc.last, tc.count} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if got := strings.Count(body, "<tr>") + strings.Count(body, "<tr id="); got != tc.rows+1 {
				t.Errorf("%d rows (with the header), want %d", got, tc.rows+1)
			}
		})
	}
}

// TestAccessMatrix: cells follow auth.Principal.MayUse: globs, required
// scopes ("scope" when granted by name only), expired keys (nothing).
func TestAccessMatrix(t *testing.T) {
	cfg := manifest.DefaultConfig()
	cfg.Auth.Keys = []manifest.KeyConfig{
		{ID: "all", Tools: []string{"*"}, Scopes: []string{"admin"}},
		{ID: "glob", Tools: []string{"read_*"}},
		{ID: "old", Tools: []string{"*"}, Expires: testNow.Add(-time.Hour)},
	}
	cfg.Auth.JWT = &manifest.JWTConfig{Issuer: "https://issuer.example"}
	cfg.Auth.Local = manifest.LocalConfig{}
	tools := []*manifest.Tool{{Name: "write_file", RequiredScopes: []string{"files:write"}}, {Name: "read_file"}}
	a := AccessMatrix(cfg, tools, testNow)
	f := a.Filled()
	got := map[string]string{}
	for _, p := range f.Principals {
		got[p.ID] = strings.Join(p.May, ",")
	}
	want := map[string]string{
		"all":                            "yes,scope",
		"glob":                           "yes,",
		"old":                            ",",
		"jwt:* (https://issuer.example)": "yes,scope",
	}
	if strings.Join(f.Tools, ",") != "read_file,write_file" {
		t.Fatalf("tools %v", f.Tools)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q, want %q", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("principals %v", got)
	}
}

// TestActivityBounded: an hour of hostile traffic with unbounded tool
// names keeps at most MaxSeries series a minute and MaxRefusals refusals;
// minutes older than an hour drop out.
func TestActivityBounded(t *testing.T) {
	now := testNow
	a := NewActivity(func() time.Time { return now })
	for i := range MaxSeries + 500 {
		a.Call(fmt.Sprintf("t%d", i), "ok", time.Duration(i)*time.Millisecond)
	}
	for i := range MaxRefusals + 50 {
		a.Refused(Refusal{Reason: fmt.Sprintf("r%d", i), Principal: strings.Repeat("p", 10000)})
	}
	v := a.Snapshot()
	if len(v.Tools) != MaxSeries+1 {
		t.Errorf("%d series, want %d", len(v.Tools), MaxSeries+1)
	}
	if len(v.Refusals) != MaxRefusals || v.Refusals[0].Reason != fmt.Sprintf("r%d", MaxRefusals+49) {
		t.Errorf("%d refusals, newest %q", len(v.Refusals), v.Refusals[0].Reason)
	}
	if len(v.Refusals[0].Principal) > 300 {
		t.Errorf("a refusal field is %d bytes", len(v.Refusals[0].Principal))
	}
	if last := v.PerMinute[len(v.PerMinute)-1]; last.OK != MaxSeries+500 {
		t.Errorf("this minute: %d ok", last.OK)
	}
	now = now.Add(61 * time.Minute)
	v = a.Snapshot()
	if len(v.Tools) != 0 || len(v.PerMinute) != Minutes {
		t.Errorf("after an hour: %d series, %d minutes", len(v.Tools), len(v.PerMinute))
	}
}

// TestPercentiles: percentiles are read from the latency buckets.
func TestPercentiles(t *testing.T) {
	a := NewActivity(func() time.Time { return testNow })
	for i := range 100 {
		d := 3 * time.Millisecond
		if i >= 95 {
			d = 400 * time.Millisecond
		}
		a.Call("emit", "ok", d)
	}
	a.Call("slow", "timeout", 2*time.Minute)
	v := a.Snapshot()
	want := []ToolActivity{{"emit", "ok", 100, 5, 5, 500}, {"slow", "timeout", 1, -1, -1, -1}}
	if fmt.Sprint(v.Tools) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", v.Tools, want)
	}
}

// FuzzHostileText: whatever a tool's description or a refusal's fields
// hold, the page has no markup from it and no control character but
// newline and tab.
func FuzzHostileText(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			t.Skip("an empty field leaves out its element: nothing to compare")
		}
		a := NewActivity(func() time.Time { return testNow })
		a.Refused(Refusal{Principal: s, Reason: s})
		a.Call(s, s, time.Millisecond)
		caps := []Capability{{Name: "t", Description: s, Hosts: []string{s}, HeldDiff: s, Approval: "held"}}
		h := Handler(&Source{Tools: func() []Capability { return caps }, Activity: a, Now: func() time.Time { return testNow }})
		for _, p := range []string{"/console/tools", "/console/activity"} {
			_, body := get(t, h, "GET", p)
			// The description's markup is escaped: the page has exactly
			// the tags the template writes, whatever s holds.
			_, empty := get(t, Handler(&Source{Tools: func() []Capability {
				return []Capability{{Name: "t", Description: "x", Hosts: []string{"x"}, HeldDiff: "x", Approval: "held"}}
			}, Activity: func() *Activity {
				b := NewActivity(func() time.Time { return testNow })
				b.Refused(Refusal{Principal: "x", Reason: "x"})
				b.Call("x", "x", time.Millisecond)
				return b
			}(), Now: func() time.Time { return testNow }}), "GET", p)
			if strings.Count(body, "<") != strings.Count(empty, "<") {
				t.Fatalf("%s: %d tags with %q, %d without", p, strings.Count(body, "<"), s, strings.Count(empty, "<"))
			}
			if i := strings.IndexFunc(body, func(r rune) bool { return r != '\n' && r != '\t' && invisible(r) }); i >= 0 {
				t.Fatalf("%s: control character at %d with %q", p, i, s)
			}
		}
	})
}
