package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/testclock"

	jose "github.com/go-jose/go-jose/v4"
)

func newURLAuth(t *testing.T, url string, clk *testclock.Clock) *Authenticator {
	t.Helper()
	a, err := New(context.Background(), Config{
		ResourceURL: testResource,
		JWT:         &JWTConfig{Issuer: testIssuer, JWKSURL: url},
	}, &Options{Now: clk.Now, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func authJWT(a *Authenticator, token string) (*Principal, error) {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return a.Authenticate(r)
}

func TestJWKSURL(t *testing.T) {
	k := signingKeys(t)
	clk := testclock.New(time.Unix(1_800_000_000, 0))
	srv := newJWKSServer(t, jwksJSON(t, jwk(k.rsa, "rsa1", "RS256")))
	a := newURLAuth(t, srv.URL+"/jwks.json", clk)
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("fetches at New = %d, want 1", got)
	}

	type step struct {
		name    string
		advance time.Duration
		token   string
		want    error // nil = authenticated
		hits    int32 // fetches so far
	}
	rotated := mint(t, k.rsa2, jose.RS256, "rsa2", claims(clk.Now().Add(31*time.Second)))
	steps := []step{
		{name: "known kid, cached", token: mint(t, k.rsa, jose.RS256, "rsa1", claims(clk.Now())), hits: 1},
		// The issuer rotates to rsa2; within 30s of the last fetch an
		// unknown kid does not make us fetch again.
		{name: "unknown kid within 30s: no refetch", advance: 10 * time.Second, token: rotated, want: ErrUnknownKey, hits: 1},
		{name: "unknown kid after 30s: refetch picks up the rotation", advance: 21 * time.Second, token: rotated, hits: 2},
		{name: "old kid gone after rotation", token: mint(t, k.rsa, jose.RS256, "rsa1", claims(clk.Now().Add(31*time.Second))), want: ErrUnknownKey, hits: 2},
		{name: "stale after Refresh: refetched on the next token", advance: 11 * time.Minute, token: mint(t, k.rsa2, jose.RS256, "rsa2", claims(clk.Now().Add(31*time.Second+11*time.Minute))), hits: 3},
	}
	for i, s := range steps {
		if i == 2 {
			srv.set(jwksJSON(t, jwk(k.rsa2, "rsa2", "RS256")))
		}
		clk.Advance(s.advance)
		p, err := authJWT(a, s.token)
		if !errors.Is(err, s.want) || (s.want == nil && (p == nil || p.ID != "jwt:alice")) {
			t.Errorf("%s: Authenticate = %+v, %v; want %v", s.name, p, err, s.want)
		}
		if got := srv.hits.Load(); got != s.hits {
			t.Errorf("%s: fetches = %d, want %d", s.name, got, s.hits)
		}
	}
}

func TestJWKSUnreachable(t *testing.T) {
	// A closed loopback port: connection refused, quickly and offline.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/jwks.json"
	ln.Close()

	clk := testclock.New(time.Now())
	var decisions []Decision
	a, err := New(context.Background(), Config{
		ResourceURL: testResource,
		JWT:         &JWTConfig{Issuer: testIssuer, JWKSURL: url},
	}, &Options{Now: clk.Now, Logger: quietLogger, OnDecision: func(_ *http.Request, d Decision) { decisions = append(decisions, d) }})
	if err != nil {
		t.Fatalf("New with an unreachable JWKS = %v, want the Authenticator (tokens refused later)", err)
	}
	token := mint(t, signingKeys(t).rsa, jose.RS256, "rsa1", claims(clk.Now()))
	if _, err := authJWT(a, token); !errors.Is(err, ErrJWKSUnavailable) {
		t.Fatalf("err = %v, want ErrJWKSUnavailable", err)
	}

	clk.Advance(time.Minute) // past the refetch interval: tries again, fails again
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	a.Middleware(whoami).ServeHTTP(w, r)
	wantCh := `Bearer error="invalid_token", error_description="token could not be verified now; try again later", resource_metadata="` + testMetadata + `"`
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != wantCh || w.Body.String() != "token could not be verified now; try again later\n" {
		t.Errorf("got %d %q %q", w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	if len(decisions) != 1 {
		t.Fatalf("%d decisions", len(decisions))
	}
	d := decisions[0]
	// The log gets the cause; the client and Reason do not.
	if !errors.Is(d.Err, ErrJWKSUnavailable) || !strings.Contains(d.Err.Error(), "connection refused") {
		t.Errorf("decision.Err = %v, want the fetch error", d.Err)
	}
	if d.Reason != "token could not be verified now; try again later" || strings.Contains(w.Body.String(), "127.0.0.1") {
		t.Errorf("reason %q / body %q leak internals", d.Reason, w.Body.String())
	}
}

func TestJWKSFetchRefusals(t *testing.T) {
	k := signingKeys(t)
	good := jwksJSON(t, jwk(k.rsa, "rsa1", "RS256"))
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string // in the fetch error
	}{
		{"status 500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, "status 500"},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", maxJWKSBytes) + `"}`))
		}, "larger than"},
		{"not json", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }, "jwks:"},
		{"only a symmetric key", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[{"kty":"oct","kid":"rsa1","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`))
		}, "no usable signing key"},
		{"redirect to plain http elsewhere", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://jwks.example.com/keys", http.StatusFound)
		}, "http is allowed only for a loopback host"},
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		}, "too many redirects"},
		{"good", func(w http.ResponseWriter, r *http.Request) { w.Write(good) }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			clk := testclock.New(time.Now())
			a := newURLAuth(t, srv.URL+"/k", clk)
			_, err := authJWT(a, mint(t, k.rsa, jose.RS256, "rsa1", claims(clk.Now())))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			_, _, lastErr := a.jwt.keys.snapshot()
			if !errors.Is(err, ErrJWKSUnavailable) || lastErr == nil || !strings.Contains(lastErr.Error(), tc.wantErr) {
				t.Errorf("err = %v, last fetch error = %v; want ErrJWKSUnavailable after %q", err, lastErr, tc.wantErr)
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	k := signingKeys(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		doc  string
		kids []string // usable keys kept
	}{
		{"public keys", string(defaultJWKS(t)), []string{"rsa1", "ec1", "ed1"}},
		{"private key: public half kept", string(mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk(k.ec, "ecpriv", "ES256")}})), []string{"ecpriv"}},
		{"enc key skipped", string(mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: k.ec.Public(), KeyID: "e", Use: "sig"}, {Key: k.ed.Public(), KeyID: "enc", Use: "enc"}}})), []string{"e"}},
		{"oct and junk skipped", `{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"},{"kty":"nope"},42,` +
			string(mustJSON(t, jose.JSONWebKey{Key: k.ed.Public(), KeyID: "ed1"})) + `]}`, []string{"ed1"}},
		{"rsa under 2048 bits skipped", string(jwksJSON(t, jwk(weak, "weak", "RS256"))), nil},
		{"empty", `{"keys":[]}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := parseJWKS([]byte(tc.doc))
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.KeyID)
				if !k.IsPublic() {
					t.Errorf("kept a private key %q", k.KeyID)
				}
			}
			if strings.Join(kids, ",") != strings.Join(tc.kids, ",") || (err != nil) != (len(tc.kids) == 0) {
				t.Errorf("kids = %q, err = %v; want %q", kids, err, tc.kids)
			}
		})
	}
}

// TestJWKSConcurrentUnknownKid: a burst of tokens with a new kid makes one
// fetch, not one per request, and all of them see the rotated key.
func TestJWKSConcurrentUnknownKid(t *testing.T) {
	k := signingKeys(t)
	clk := testclock.New(time.Unix(1_800_000_000, 0))
	srv := newJWKSServer(t, jwksJSON(t, jwk(k.rsa, "rsa1", "RS256")))
	a := newURLAuth(t, srv.URL, clk)
	srv.set(jwksJSON(t, jwk(k.rsa, "rsa1", "RS256"), jwk(k.ec, "ec2", "ES256")))
	clk.Advance(time.Minute)
	token := mint(t, k.ec, jose.ES256, "ec2", claims(clk.Now()))
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			_, err := authJWT(a, token)
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Errorf("err = %v", err)
		}
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("fetches = %d, want 2 (New, then one refetch)", got)
	}
}

// TestJWKSWaitEndsWithCaller: a request that finds a JWKS fetch in flight
// waits for it without a lock, so its own context ends the wait: a hung
// issuer holds up only the fetch (bounded by its timeout), never the
// callers that gave up.
func TestJWKSWaitEndsWithCaller(t *testing.T) {
	t.Parallel()
	k := signingKeys(t)
	clk := testclock.New(time.Unix(1_800_000_000, 0))
	doc := jwksJSON(t, jwk(k.rsa, "rsa1", "RS256"))
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) > 1 { // New's fetch answers; the refetch hangs until released
			entered <- struct{}{}
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before srv.Close: the hung handler returns
	a := newURLAuth(t, srv.URL, clk)
	clk.Advance(time.Minute)
	token := mint(t, k.ec, jose.ES256, "ec2", claims(clk.Now())) // an unknown kid: refetch

	go authJWT(a, token) // fetches, and hangs until the test ends
	<-entered            // the fetch is in flight

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	waited := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(r)
		waited <- err
	}()
	bound := time.NewTimer(60 * time.Second) // a wait under a lock hangs; not a timing assertion
	defer bound.Stop()
	select {
	case err := <-waited:
		if !errors.Is(err, ErrJWKSUnavailable) || !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("waiting caller: err = %v, want ErrJWKSUnavailable: context canceled", err)
		}
	case <-bound.C:
		t.Fatal("a caller whose context ended still waits for another's fetch")
	}
}
