package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/moatmcp/moat/internal/ratelimit"
)

// fixture is an Authenticator over two API keys and a JWKS file, and the
// decisions it reported.
type fixture struct {
	a         *Authenticator
	now       time.Time
	secret    string // k1: tools echo and fs_*, scope files
	expired   string // old: expired an hour ago
	mu        sync.Mutex
	decisions []Decision
}

func newFixture(t testing.TB, mutate func(*Config)) *fixture {
	t.Helper()
	// Real time, not a fake clock: the go-sdk's RequireBearerToken checks
	// TokenInfo.Expiration against time.Now.
	f := &fixture{now: time.Now()}
	var h1, h2 string
	var err error
	if f.secret, h1, err = NewKey(); err != nil {
		t.Fatal(err)
	}
	if f.expired, h2, err = NewKey(); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		ResourceURL:     testResource,
		ScopesSupported: []string{"tools:call"},
		Keys: []APIKey{
			{ID: "k1", Hash: h1, Tools: []string{"echo", "fs_*"}, Scopes: []string{"files"}, Rate: ratelimit.MustParseRate("10/s")},
			{ID: "old", Hash: h2, Tools: []string{"*"}, Expires: f.now.Add(-time.Hour)},
		},
		JWT: &JWTConfig{
			Issuer:   testIssuer,
			JWKSFile: writeFile(t, "jwks.json", defaultJWKS(t)),
		},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	f.a, err = New(context.Background(), cfg, &Options{
		Now:    func() time.Time { return f.now },
		Logger: quietLogger,
		OnDecision: func(_ *http.Request, d Decision) {
			f.mu.Lock()
			f.decisions = append(f.decisions, d)
			f.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// whoami answers 200 with what a handler behind Middleware can see.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := FromContext(r.Context())
	ti := sdkauth.TokenInfoFromContext(r.Context())
	var fromTI string
	if tp, ok := FromTokenInfo(ti); ok {
		fromTI = tp.ID
	}
	fmt.Fprintf(w, "ok=%v id=%s method=%s scopes=%s tools=%s userid=%s fromti=%s",
		ok, p.ID, p.Method, strings.Join(p.Scopes, ","), strings.Join(p.Tools, ","), ti.UserID, fromTI)
})

func challenge(code, desc string) string {
	if code == "" {
		return `Bearer resource_metadata="` + testMetadata + `", scope="tools:call"`
	}
	return `Bearer error="` + code + `", error_description="` + desc + `", resource_metadata="` + testMetadata + `", scope="tools:call"`
}

func TestMiddleware(t *testing.T) {
	f := newFixture(t, nil)
	k := signingKeys(t)
	now := f.now
	with := func(edit func(map[string]any)) map[string]any {
		c := claims(now)
		edit(c)
		return c
	}
	rs := func(c map[string]any) string { return mint(t, k.rsa, jose.RS256, "rsa1", c) }
	good := rs(claims(now))
	hdr := func(v string) http.Header { return http.Header{"Authorization": {v}} }

	const (
		ok401     = 401
		malformed = "malformed Authorization header"
	)
	tests := []struct {
		name       string
		query      string
		header     http.Header
		status     int
		challenge  string // "" = no WWW-Authenticate
		body       string
		decMethod  string
		decID      string
		credential string // must not appear in the Decision's error
	}{
		{name: "missing header", header: http.Header{},
			status: ok401, challenge: challenge("", ""), body: "authentication required\n"},
		{name: "blank header", header: hdr("   "),
			status: ok401, challenge: challenge("", ""), body: "authentication required\n"},
		{name: "wrong scheme basic", header: hdr("Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
			status: ok401, challenge: challenge("", ""), body: "authentication required: use a Bearer token\n"},
		{name: "scheme glued to token", header: hdr("Bearer" + f.secret),
			status: ok401, challenge: challenge("", ""), body: "authentication required: use a Bearer token\n"},
		{name: "empty bearer", header: hdr("Bearer"),
			status: 400, challenge: challenge("invalid_request", malformed), body: malformed + "\n"},
		{name: "bearer and spaces", header: hdr("Bearer    "),
			status: 400, challenge: challenge("invalid_request", malformed), body: malformed + "\n"},
		{name: "two fields", header: hdr("Bearer " + f.secret + " extra"),
			status: 400, challenge: challenge("invalid_request", malformed), body: malformed + "\n", decMethod: "", credential: f.secret},
		{name: "quote in token", header: hdr(`Bearer abc"def`),
			status: 400, challenge: challenge("invalid_request", malformed), body: malformed + "\n"},
		{name: "padding in the middle", header: hdr("Bearer ab=cd"),
			status: 400, challenge: challenge("invalid_request", malformed), body: malformed + "\n"},
		{name: "oversized token", header: hdr("Bearer " + strings.Repeat("a", maxTokenLen+1)),
			status: 400, challenge: challenge("invalid_request", malformed), body: malformed + "\n"},
		{name: "two authorization headers", header: http.Header{"Authorization": {"Bearer " + f.secret, "Bearer " + f.secret}},
			status: 400, challenge: challenge("invalid_request", malformed), body: malformed + "\n", credential: f.secret},
		{name: "token in query only", query: "access_token=" + f.secret, header: http.Header{},
			status: 400, challenge: challenge("invalid_request", "credentials are accepted only in the Authorization header"),
			body: "credentials are accepted only in the Authorization header\n", credential: f.secret},
		{name: "api key in query beside a valid header", query: "API_KEY=" + f.secret, header: hdr("Bearer " + f.secret),
			status: 400, challenge: challenge("invalid_request", "credentials are accepted only in the Authorization header"),
			body: "credentials are accepted only in the Authorization header\n", decMethod: MethodAPIKey, credential: f.secret},
		{name: "jwt in query as token", query: "token=" + good, header: http.Header{},
			status: 400, challenge: challenge("invalid_request", "credentials are accepted only in the Authorization header"),
			body: "credentials are accepted only in the Authorization header\n", credential: good},
		// Bad input: url.Query() drops a pair with ";", so the credential
		// after it used to pass unseen.
		{name: "api key after a semicolon", query: "x=1;api_key=" + f.secret, header: http.Header{},
			status: 400, challenge: challenge("invalid_request", "credentials are accepted only in the Authorization header"),
			body: "credentials are accepted only in the Authorization header\n", credential: f.secret},
		{name: "escaped credential name after a semicolon", query: "x=1;api%5Fkey=" + f.secret, header: http.Header{},
			status: 400, challenge: challenge("invalid_request", "credentials are accepted only in the Authorization header"),
			body: "credentials are accepted only in the Authorization header\n", credential: f.secret},
		{name: "credential name with brackets", query: "access_token[]=" + f.secret, header: http.Header{},
			status: 400, challenge: challenge("invalid_request", "credentials are accepted only in the Authorization header"),
			body: "credentials are accepted only in the Authorization header\n", credential: f.secret},
		{name: "semicolon in an innocent query", query: "x=1;y=2", header: hdr("Bearer " + f.secret),
			status: 400, challenge: challenge("invalid_request", "malformed query string"),
			body: "malformed query string\n", decMethod: MethodAPIKey},
		{name: "bad escape in the query", query: "x=%zz", header: hdr("Bearer " + f.secret),
			status: 400, challenge: challenge("invalid_request", "malformed query string"),
			body: "malformed query string\n", decMethod: MethodAPIKey},
		{name: "oversized query", query: "x=" + strings.Repeat("a", maxQueryLen), header: hdr("Bearer " + f.secret),
			status: 400, challenge: challenge("invalid_request", "malformed query string"),
			body: "malformed query string\n", decMethod: MethodAPIKey},
		{name: "unknown api key", header: hdr("Bearer moat_" + strings.Repeat("A", 43)),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodAPIKey, credential: "moat_" + strings.Repeat("A", 43)},
		{name: "api key with one character changed", header: hdr("Bearer " + f.secret[:len(f.secret)-1] + flip(f.secret[len(f.secret)-1])),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodAPIKey},
		{name: "expired api key", header: hdr("Bearer " + f.expired),
			status: ok401, challenge: challenge("invalid_token", "credential expired"), body: "credential expired\n", decMethod: MethodAPIKey, decID: "old", credential: f.expired},
		{name: "neither key nor jwt", header: hdr("Bearer abcdef"),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n"},
		{name: "key prefix with jwt shape", header: hdr("Bearer moat_a.b.c"),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodAPIKey},
		{name: "valid api key", header: hdr("Bearer " + f.secret),
			status: 200, body: "ok=true id=k1 method=api_key scopes=files tools=echo,fs_* userid=k1 fromti=k1", decMethod: MethodAPIKey, decID: "k1"},
		{name: "valid api key, lower-case scheme, two spaces", header: hdr("bearer  " + f.secret),
			status: 200, body: "ok=true id=k1 method=api_key scopes=files tools=echo,fs_* userid=k1 fromti=k1", decMethod: MethodAPIKey, decID: "k1"},

		{name: "jwt RS256", header: hdr("Bearer " + good),
			status: 200, body: "ok=true id=jwt:alice method=jwt scopes=tools:call,files:read tools=* userid=jwt:alice fromti=jwt:alice", decMethod: MethodJWT, decID: "jwt:alice"},
		{name: "jwt ES256", header: hdr("Bearer " + mint(t, k.ec, jose.ES256, "ec1", claims(now))),
			status: 200, body: "ok=true id=jwt:alice method=jwt scopes=tools:call,files:read tools=* userid=jwt:alice fromti=jwt:alice", decMethod: MethodJWT, decID: "jwt:alice"},
		{name: "jwt EdDSA", header: hdr("Bearer " + mint(t, k.ed, jose.EdDSA, "ed1", claims(now))),
			status: 200, body: "ok=true id=jwt:alice method=jwt scopes=tools:call,files:read tools=* userid=jwt:alice fromti=jwt:alice", decMethod: MethodJWT, decID: "jwt:alice"},
		{name: "jwt audience array containing ours", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["aud"] = []string{"https://other.example.com", testResource} }))),
			status: 200, body: "ok=true id=jwt:alice method=jwt scopes=tools:call,files:read tools=* userid=jwt:alice fromti=jwt:alice", decMethod: MethodJWT, decID: "jwt:alice"},
		{name: "jwt expired within leeway", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() }))),
			status: 200, body: "ok=true id=jwt:alice method=jwt scopes=tools:call,files:read tools=* userid=jwt:alice fromti=jwt:alice", decMethod: MethodJWT, decID: "jwt:alice"},
		{name: "jwt scp array and scope merged", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scp"] = []string{"files:read", "admin"} }))),
			status: 200, body: "ok=true id=jwt:alice method=jwt scopes=tools:call,files:read,admin tools=* userid=jwt:alice fromti=jwt:alice", decMethod: MethodJWT, decID: "jwt:alice"},
		{name: "jwt scp only", header: hdr("Bearer " + rs(with(func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"a", "b"} }))),
			status: 200, body: "ok=true id=jwt:alice method=jwt scopes=a,b tools=* userid=jwt:alice fromti=jwt:alice", decMethod: MethodJWT, decID: "jwt:alice"},
		// Bad input: scopes used to be split on any whitespace, so a tab
		// granted the scope after it.
		{name: "jwt scope with a tab", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scope"] = "x\tadmin" }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt scope with a newline", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scope"] = "x\nadmin" }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt scope with a no-break space", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scope"] = "x\u00a0admin" }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt scope with two spaces", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scope"] = "x  admin" }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt scope with a leading space", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scope"] = " admin" }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt scope with a control character", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scope"] = "x\x01admin" }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt scp element with a tab", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scp"] = []string{"x\tadmin"} }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt scp element with a space", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scp"] = []string{"x admin"} }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt empty scope", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scope"] = "" }))),
			status: 200, body: "ok=true id=jwt:alice method=jwt scopes= tools=* userid=jwt:alice fromti=jwt:alice", decMethod: MethodJWT, decID: "jwt:alice"},
		{name: "jwt scp of numbers", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["scp"] = []int{1, 2} }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},

		{name: "jwt bad signature", header: hdr("Bearer " + mint(t, k.rsa2, jose.RS256, "rsa1", claims(now))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt payload swapped", header: hdr("Bearer " + swapPayload(good, rs(with(func(c map[string]any) { c["sub"] = "mallory" })))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt alg none", header: hdr("Bearer " + forge(t, map[string]any{"alg": "none", "kid": "rsa1"}, claims(now), nil)),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt HS256 keyed with the RSA public key PEM", header: hdr("Bearer " + forge(t, map[string]any{"alg": "HS256", "kid": "rsa1"}, claims(now), hmacWithPublicKey(&k.rsa.PublicKey, "pem"))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt HS256 keyed with the RSA public key DER", header: hdr("Bearer " + forge(t, map[string]any{"alg": "HS256", "kid": "rsa1"}, claims(now), hmacWithPublicKey(&k.rsa.PublicKey, "der"))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt HS256 keyed with the RSA modulus, no kid", header: hdr("Bearer " + forge(t, map[string]any{"alg": "HS256"}, claims(now), hmacWithPublicKey(&k.rsa.PublicKey, "n"))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt alg not in allowlist (PS256)", header: hdr("Bearer " + mint(t, k.rsa, jose.PS256, "rsa1", claims(now))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt alg does not fit the kid's key", header: hdr("Bearer " + mint(t, k.rsa, jose.RS256, "ec1", claims(now))),
			status: ok401, challenge: challenge("invalid_token", "token signed by an unknown key"), body: "token signed by an unknown key\n", decMethod: MethodJWT},
		{name: "jwt expired", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }))),
			status: ok401, challenge: challenge("invalid_token", "credential expired"), body: "credential expired\n", decMethod: MethodJWT},
		{name: "jwt not yet valid", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }))),
			status: ok401, challenge: challenge("invalid_token", "token not yet valid"), body: "token not yet valid\n", decMethod: MethodJWT},
		{name: "jwt issued in the future", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }))),
			status: ok401, challenge: challenge("invalid_token", "token not yet valid"), body: "token not yet valid\n", decMethod: MethodJWT},
		{name: "jwt without exp", header: hdr("Bearer " + rs(with(func(c map[string]any) { delete(c, "exp") }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt without sub", header: hdr("Bearer " + rs(with(func(c map[string]any) { delete(c, "sub") }))),
			status: ok401, challenge: challenge("invalid_token", "invalid token"), body: "invalid token\n", decMethod: MethodJWT},
		{name: "jwt wrong issuer", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["iss"] = "https://evil.example.com" }))),
			status: ok401, challenge: challenge("invalid_token", "token from an untrusted issuer"), body: "token from an untrusted issuer\n", decMethod: MethodJWT},
		{name: "jwt wrong audience", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["aud"] = "https://tools.example.com/other" }))),
			status: ok401, challenge: challenge("invalid_token", "token not issued for this resource"), body: "token not issued for this resource\n", decMethod: MethodJWT},
		{name: "jwt audience array without ours", header: hdr("Bearer " + rs(with(func(c map[string]any) { c["aud"] = []string{"https://a.example.com", "https://tools.example.com"} }))),
			status: ok401, challenge: challenge("invalid_token", "token not issued for this resource"), body: "token not issued for this resource\n", decMethod: MethodJWT},
		{name: "jwt unknown kid", header: hdr("Bearer " + mint(t, k.rsa2, jose.RS256, "rsa2", claims(now))),
			status: ok401, challenge: challenge("invalid_token", "token signed by an unknown key"), body: "token signed by an unknown key\n", decMethod: MethodJWT},
		{name: "jwt without kid", header: hdr("Bearer " + mint(t, k.rsa, jose.RS256, "", claims(now))),
			status: ok401, challenge: challenge("invalid_token", "token signed by an unknown key"), body: "token signed by an unknown key\n", decMethod: MethodJWT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.mu.Lock()
			f.decisions = nil
			f.mu.Unlock()
			target := "/mcp"
			if tc.query != "" {
				target += "?" + tc.query
			}
			r := httptest.NewRequest(http.MethodPost, target, nil)
			r.RemoteAddr = "192.0.2.7:5555"
			r.Header = tc.header
			w := httptest.NewRecorder()
			f.a.Middleware(whoami).ServeHTTP(w, r)

			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate =\n  %s\nwant\n  %s", got, tc.challenge)
			}
			if got := w.Body.String(); got != tc.body {
				t.Errorf("body = %q, want %q", got, tc.body)
			}
			if tc.status != 200 {
				for h, want := range map[string]string{"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
					if got := w.Header().Get(h); got != want {
						t.Errorf("%s = %q, want %q", h, got, want)
					}
				}
			}

			f.mu.Lock()
			ds := f.decisions
			f.mu.Unlock()
			if len(ds) != 1 {
				t.Fatalf("%d decisions, want 1", len(ds))
			}
			d := ds[0]
			wantReason := strings.TrimSuffix(tc.body, "\n")
			if tc.status == 200 {
				wantReason = ""
			}
			if d.OK != (tc.status == 200) || d.Method != tc.decMethod || d.PrincipalID != tc.decID || d.Reason != wantReason || d.Addr != "192.0.2.7" {
				t.Errorf("decision = %+v, want OK=%v Method=%q PrincipalID=%q Reason=%q Addr=192.0.2.7",
					d, tc.status == 200, tc.decMethod, tc.decID, wantReason)
			}
			if (d.Err == nil) != d.OK {
				t.Errorf("decision.Err = %v with OK=%v", d.Err, d.OK)
			}
			if tc.credential != "" && d.Err != nil && strings.Contains(d.Err.Error(), tc.credential) {
				t.Errorf("decision.Err holds the credential: %v", d.Err)
			}
		})
	}
}

// flip changes one base64url character into another.
func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// swapPayload puts the claims of other under the header and signature of tok.
func swapPayload(tok, other string) string {
	a := strings.Split(tok, ".")
	b := strings.Split(other, ".")
	return a[0] + "." + b[1] + "." + a[2]
}

func TestRequiredScopes(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RequiredScopes = []string{"tools:call"} })
	k := signingKeys(t)
	c := claims(f.now)
	c["scope"] = "files:read"
	tests := []struct {
		name      string
		token     string
		status    int
		challenge string
		body      string
	}{
		{"jwt with the scope", mint(t, k.rsa, jose.RS256, "rsa1", claims(f.now)), 200, "",
			"ok=true id=jwt:alice method=jwt scopes=tools:call,files:read tools=* userid=jwt:alice fromti=jwt:alice"},
		{"jwt without the scope", mint(t, k.rsa, jose.RS256, "rsa1", c), 403,
			`Bearer error="insufficient_scope", error_description="insufficient scope", resource_metadata="` + testMetadata + `", scope="tools:call"`,
			"insufficient scope\n"},
		{"api key without the scope", f.secret, 403,
			`Bearer error="insufficient_scope", error_description="insufficient scope", resource_metadata="` + testMetadata + `", scope="tools:call"`,
			"insufficient scope\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			w := httptest.NewRecorder()
			f.a.Middleware(whoami).ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("WWW-Authenticate") != tc.challenge || w.Body.String() != tc.body {
				t.Errorf("got %d %q %q\nwant %d %q %q", w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String(), tc.status, tc.challenge, tc.body)
			}
		})
	}
}

func TestChallengeWithoutResourceURL(t *testing.T) {
	_, h, _ := NewKey()
	a, err := New(context.Background(), Config{Keys: []APIKey{{ID: "k", Hash: h}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{ErrNoCredentials, "Bearer"},
		{ErrExpired, `Bearer error="invalid_token", error_description="credential expired"`},
		{errors.New("something else"), `Bearer error="invalid_token", error_description="invalid token"`},
	} {
		if got := a.Challenge(tc.err, nil); got != tc.want {
			t.Errorf("Challenge(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if a.MetadataPaths() != nil || a.ResourceMetadataURL() != "" {
		t.Errorf("MetadataPaths = %q, ResourceMetadataURL = %q; want none", a.MetadataPaths(), a.ResourceMetadataURL())
	}
	w := httptest.NewRecorder()
	a.MetadataHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, WellKnownPath, nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("metadata status = %d, want 404", w.Code)
	}
}

func TestAuthenticateErrors(t *testing.T) {
	// The sentinel each outcome wraps, for callers that don't use Middleware.
	f := newFixture(t, nil)
	k := signingKeys(t)
	c := claims(f.now)
	c["aud"] = "https://elsewhere.example.com"
	tests := []struct {
		name   string
		header string
		want   error
	}{
		{"none", "", ErrNoCredentials},
		{"basic", "Basic eA==", ErrWrongScheme},
		{"empty", "Bearer", ErrMalformed},
		{"unknown key", "Bearer moat_x", ErrInvalidToken},
		{"expired key", "Bearer " + f.expired, ErrExpired},
		{"wrong audience", "Bearer " + mint(t, k.rsa, jose.RS256, "rsa1", c), ErrWrongAudience},
		{"unknown kid", "Bearer " + mint(t, k.rsa, jose.RS256, "nope", claims(f.now)), ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			p, err := f.a.Authenticate(r)
			if !errors.Is(err, tc.want) || p != nil {
				t.Errorf("Authenticate = %v, %v; want nil, %v", p, err, tc.want)
			}
		})
	}
}

func TestJWTWithoutJWTConfig(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.JWT = nil })
	r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+mint(t, signingKeys(t).rsa, jose.RS256, "rsa1", claims(f.now)))
	if _, err := f.a.Authenticate(r); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("err = %v, want ErrInvalidToken", err)
	}
}

func TestCheckQuery(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      error
	}{
		{"empty", "", nil},
		{"plain", "a=1&b=two", nil},
		{"name only", "flag", nil},
		{"empty pairs", "a=1&&b=2", nil},
		{"credential value under another name", "x=api_key", nil},
		{"access_token", "access_token=abc", ErrTokenInQuery},
		{"upper case", "ID_TOKEN=abc", ErrTokenInQuery},
		{"after a semicolon", "x=1;api_key=abc", ErrTokenInQuery},
		{"before a semicolon", "key=abc;x=1", ErrTokenInQuery},
		{"escaped name", "x=1&%61ccess_token=abc", ErrTokenInQuery},
		{"escaped name after a semicolon", "x=1;api%2Dkey=abc", ErrTokenInQuery},
		{"plus-padded name", "token+=abc", ErrTokenInQuery},
		{"brackets", "bearer[]=abc", ErrTokenInQuery},
		{"name without a value", "x=1;token", ErrTokenInQuery},
		{"semicolon only", "x=1;y=2", ErrMalformedQuery},
		{"bad escape", "x=%zz", ErrMalformedQuery},
		{"bad escape in a name", "%zz=1", ErrMalformedQuery},
		{"control character", "x=\x01", ErrMalformedQuery},
		{"too long", strings.Repeat("a", maxQueryLen+1), ErrMalformedQuery},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkQuery(tc.raw)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("checkQuery(%q) = %v, want %v", tc.raw, err, tc.want)
			}
		})
	}
}

// idErr is a Record error that carries the host's error id.
type idErr struct{ id string }

func (e idErr) Error() string   { return "audit: write: no space left on device" }
func (e idErr) ErrorID() string { return e.id }

// TestRecordFailureRefuses: when the decision cannot be recorded (the
// audit log is failing, on_failure = "refuse"), the request is refused with
// 503 and an error id, successful authentication or not, and the handler
// never runs.
func TestRecordFailureRefuses(t *testing.T) {
	f := newFixture(t, nil)
	var recorded []Decision
	var recordErr error
	a, err := New(context.Background(), f.a.cfg, &Options{
		Now:    func() time.Time { return f.now },
		Logger: quietLogger,
		Record: func(_ *http.Request, d Decision) error {
			recorded = append(recorded, d)
			return recordErr
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		header    string
		recordErr error
		status    int
		body      string // exact, or a prefix when it ends in "…"
	}{
		{"recorded, valid key", "Bearer " + f.secret, nil, 200, "ok=true id=k1 method=api_key scopes=files tools=echo,fs_* userid=k1 fromti=k1"},
		{"recorded, bad key", "Bearer moat_" + strings.Repeat("A", 43), nil, 401, "invalid token\n"},
		{"not recorded, valid key", "Bearer " + f.secret, idErr{"abc123"}, 503, "service unavailable; error id abc123\n"},
		{"not recorded, bad key", "Bearer moat_" + strings.Repeat("A", 43), idErr{"abc124"}, 503, "service unavailable; error id abc124\n"},
		{"not recorded, no id of its own", "Bearer " + f.secret, errors.New("disk full"), 503, "service unavailable; error id …"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recorded, recordErr = nil, tc.recordErr
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Header.Set("Authorization", tc.header)
			w := httptest.NewRecorder()
			a.Middleware(whoami).ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			if prefix, ok := strings.CutSuffix(tc.body, "…"); ok {
				if got := w.Body.String(); !strings.HasPrefix(got, prefix) || len(got) != len(prefix)+12+1 {
					t.Errorf("body = %q, want %q and a 12-digit id", got, prefix)
				}
			} else if got := w.Body.String(); got != tc.body {
				t.Errorf("body = %q, want %q", got, tc.body)
			}
			if tc.status == 503 && w.Header().Get("Retry-After") != "1" {
				t.Errorf("Retry-After = %q, want 1", w.Header().Get("Retry-After"))
			}
			if len(recorded) != 1 {
				t.Errorf("%d decisions recorded, want 1", len(recorded))
			}
		})
	}
}
