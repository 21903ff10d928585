package auth

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBasicPassword: the Basic credential a browser sends is read as its
// password, and nothing else is.
func TestBasicPassword(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, value, want string
		ok                bool
	}{
		{"user and key", "Basic " + b64("ops:moat_abc"), "moat_abc", true},
		{"no user", "Basic " + b64(":moat_abc"), "moat_abc", true},
		{"lower-case scheme", "basic " + b64("x:moat_abc"), "moat_abc", true},
		{"colon in password", "Basic " + b64("x:a:b"), "a:b", true},
		{"bearer", "Bearer moat_abc", "", false},
		{"no colon", "Basic " + b64("moat_abc"), "", false},
		{"empty password", "Basic " + b64("ops:"), "", false},
		{"space in password", "Basic " + b64("ops:a b"), "", false},
		{"newline in password", "Basic " + b64("ops:a\r\nX-Evil: 1"), "", false},
		{"not base64", "Basic !!!", "", false},
		{"no credential", "Basic", "", false},
		{"too long", "Basic " + b64("x:"+strings.Repeat("a", 9<<10)), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := BasicPassword(tc.value)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("BasicPassword(%q) = %q, %v; want %q, %v", tc.value, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzBasicPassword: any header value is either refused or yields a
// password fit for a bearer header: bounded, without control characters
// or spaces.
func FuzzBasicPassword(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("ops:moat_abc")))
	f.Add("Basic !!!")
	f.Add("basic Og==")
	f.Fuzz(func(t *testing.T, value string) {
		pass, ok := BasicPassword(value)
		if !ok {
			if pass != "" {
				t.Fatalf("refused with a password %q", pass)
			}
			return
		}
		if pass == "" || len(pass) > MaxBasicBytes || strings.ContainsAny(pass, " \t\r\n\x00\x7f") {
			t.Fatalf("password %q", pass)
		}
	})
}

// TestMiddlewareBasic: the console's middleware takes an API key as a
// Basic password (and as a bearer token) and judges it exactly as a bearer
// token; /mcp's Middleware takes Bearer alone. A malformed Basic value is
// a 400, a wrong key a 401, and the request reaching the handler carries
// the header as the client sent it.
func TestMiddlewareBasic(t *testing.T) {
	secret, hash, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(t.Context(), Config{Keys: []APIKey{{ID: "ops", Hash: hash, Tools: []string{"*"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, value string
		basic       bool // MiddlewareBasic, else Middleware
		status      int
	}{
		{"Basic, console", "Basic " + b64("operator:"+secret), true, 200},
		{"Bearer, console", "Bearer " + secret, true, 200},
		{"Basic, /mcp", "Basic " + b64("operator:"+secret), false, 401},
		{"Basic with a wrong key", "Basic " + b64("operator:moat_wrong"), true, 401},
		{"Basic without a password", "Basic " + b64("operator:"), true, 400},
		{"Basic not base64", "Basic !!!", true, 400},
		{"no credential", "", true, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen string
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if p, ok := FromContext(r.Context()); !ok || p.ID != "ops" {
					t.Errorf("handler reached without the principal")
				}
				seen = r.Header.Get("Authorization")
			})
			h := a.Middleware(next)
			if tc.basic {
				h = a.MiddlewareBasic(next)
			}
			req := httptest.NewRequest("GET", "/console", nil)
			if tc.value != "" {
				req.Header.Set("Authorization", tc.value)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 200 && seen != tc.value {
				t.Fatalf("the handler saw Authorization %q; want the client's %q", seen, tc.value)
			}
			if strings.Contains(rec.Body.String(), secret) {
				t.Fatal("the answer echoes the credential")
			}
		})
	}
}
