package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
)

func TestMayUse(t *testing.T) {
	p := &Principal{ID: "k", Tools: []string{"echo", "fs_*", "net_[ab]"}, Scopes: []string{"files", "net"}}
	jwtP := &Principal{ID: "jwt:a", Tools: []string{"*"}, Scopes: []string{"tools:call"}}
	tests := []struct {
		name     string
		p        *Principal
		tool     string
		required []string
		want     bool
	}{
		{"exact name", p, "echo", nil, true},
		{"glob", p, "fs_read", []string{"files"}, true},
		{"glob, empty suffix", p, "fs_", nil, true},
		{"character class", p, "net_a", []string{"net"}, true},
		{"character class miss", p, "net_c", nil, false},
		{"not granted", p, "shell", nil, false},
		{"prefix of a granted name", p, "ech", nil, false},
		{"granted name as prefix", p, "echo2", nil, false},
		{"missing one required scope", p, "fs_read", []string{"files", "admin"}, false},
		{"all required scopes", p, "fs_read", []string{"net", "files"}, true},
		{"empty tool name", p, "", nil, false},
		{"star: any tool, scope held", jwtP, "anything/at all", []string{"tools:call"}, true},
		{"star: scope missing", jwtP, "echo", []string{"files"}, false},
		{"no tools", &Principal{ID: "z", Scopes: []string{"files"}}, "echo", nil, false},
		{"nil principal", nil, "echo", nil, false},
		{"malformed pattern matches no other name", &Principal{Tools: []string{"fs_["}}, "fs_x", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.MayUse(tc.tool, tc.required); got != tc.want {
				t.Errorf("MayUse(%q, %q) = %v, want %v", tc.tool, tc.required, got, tc.want)
			}
		})
	}
}

func TestContext(t *testing.T) {
	p := &Principal{ID: "k1", Method: MethodAPIKey, Scopes: []string{"s"}, Expires: time.Unix(1e9, 0)}
	if _, ok := FromContext(context.Background()); ok {
		t.Error("FromContext(empty) found a principal")
	}
	if got, ok := FromContext(WithPrincipal(context.Background(), p)); !ok || got != p {
		t.Errorf("FromContext(WithPrincipal) = %v, %v", got, ok)
	}
	ti := p.TokenInfo()
	if ti.UserID != "k1" || ti.Expiration != p.Expires || strings.Join(ti.Scopes, ",") != "s" {
		t.Errorf("TokenInfo = %+v", ti)
	}
	if got, ok := FromTokenInfo(ti); !ok || got != p {
		t.Errorf("FromTokenInfo = %v, %v", got, ok)
	}
	for name, bad := range map[string]*sdkauth.TokenInfo{
		"nil":              nil,
		"no extra":         {UserID: "k1"},
		"wrong type":       {UserID: "k1", Extra: map[string]any{principalExtraKey: "k1"}},
		"UserID mismatch":  {UserID: "someone", Extra: map[string]any{principalExtraKey: p}},
		"nil principal":    {UserID: "", Extra: map[string]any{principalExtraKey: (*Principal)(nil)}},
		"other extra only": {UserID: "k1", Extra: map[string]any{"x": p}},
	} {
		if got, ok := FromTokenInfo(bad); ok || got != nil {
			t.Errorf("FromTokenInfo(%s) = %v, %v; want nothing", name, got, ok)
		}
	}
	// Through Middleware, the principal is found both ways; FromContext
	// also finds it when only the go-sdk's TokenInfo is there.
	f := newFixture(t, nil)
	var fromSDK *Principal
	h := f.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fromSDK, _ = FromTokenInfo(sdkauth.TokenInfoFromContext(r.Context()))
	}))
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+f.secret)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if fromSDK == nil || fromSDK.ID != "k1" || fromSDK.Rate.String() != "10/s" {
		t.Errorf("principal from the go-sdk TokenInfo = %+v", fromSDK)
	}
}

func TestNewKey(t *testing.T) {
	re := regexp.MustCompile(`^moat_[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for range 100 {
		secret, hash, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(secret) {
			t.Fatalf("secret has the wrong shape (len %d)", len(secret))
		}
		if b, err := base64.RawURLEncoding.DecodeString(secret[len(KeyPrefix):]); err != nil || len(b) != 32 {
			t.Fatalf("secret does not encode 32 bytes: %v", err)
		}
		if hash != HashKey(secret) || !strings.HasPrefix(hash, "sha256:") || len(hash) != 7+64 {
			t.Fatalf("hash %q", hash)
		}
		if _, err := decodeHash(hash); err != nil {
			t.Fatal(err)
		}
		if seen[secret] {
			t.Fatal("repeated secret")
		}
		seen[secret] = true
	}
	// A known vector, so a change of hashing is caught.
	if got := HashKey("moat_test"); got != "sha256:99d9f22991d1a0252b1a67068b2f21fc07cd3b43093bd977ece838aafd1f86af" {
		t.Errorf("HashKey = %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	_, h, _ := NewKey()
	_, h2, _ := NewKey()
	jwks := writeFile(t, "jwks.json", defaultJWKS(t))
	okJWT := func(edit func(*JWTConfig)) *JWTConfig {
		j := &JWTConfig{Issuer: testIssuer, JWKSFile: jwks}
		edit(j)
		return j
	}
	tests := []struct {
		name string
		cfg  Config
		want string // in the error
	}{
		{"key id empty", Config{Keys: []APIKey{{Hash: h}}}, `api key id ""`},
		{"key id local", Config{Keys: []APIKey{{ID: "local", Hash: h}}}, `api key id "local"`},
		{"key id with colon", Config{Keys: []APIKey{{ID: "jwt:alice", Hash: h}}}, `api key id "jwt:alice"`},
		{"key hash missing", Config{Keys: []APIKey{{ID: "k"}}}, `api key "k": hash: want "sha256:"`},
		{"key hash upper case", Config{Keys: []APIKey{{ID: "k", Hash: strings.ToUpper(h)}}}, `api key "k": hash`},
		{"key hash short", Config{Keys: []APIKey{{ID: "k", Hash: h[:40]}}}, `api key "k": hash`},
		{"key hash not hex", Config{Keys: []APIKey{{ID: "k", Hash: "sha256:" + strings.Repeat("z", 64)}}}, `api key "k": hash`},
		{"duplicate id", Config{Keys: []APIKey{{ID: "k", Hash: h}, {ID: "k", Hash: h2}}}, `api key id "k" appears twice`},
		{"duplicate hash", Config{Keys: []APIKey{{ID: "a", Hash: h}, {ID: "b", Hash: h}}}, `api key "b" has the same hash`},
		{"bad tool glob", Config{Keys: []APIKey{{ID: "k", Hash: h, Tools: []string{"fs_["}}}}, `tool pattern "fs_["`},
		{"tool with space", Config{Keys: []APIKey{{ID: "k", Hash: h, Tools: []string{"a b"}}}}, `tool pattern "a b"`},
		{"bad key scope", Config{Keys: []APIKey{{ID: "k", Hash: h, Scopes: []string{`a"b`}}}}, `scope "a\"b"`},
		{"bad supported scope", Config{ScopesSupported: []string{"a b"}}, `scope "a b"`},
		{"resource url http non-loopback", Config{ResourceURL: "http://tools.example.com/mcp"}, "resource_url: http is allowed only for a loopback host"},
		{"resource url relative", Config{ResourceURL: "/mcp"}, "resource_url: want an absolute URL"},
		{"resource url with fragment", Config{ResourceURL: "https://h/mcp#x"}, "resource_url: query, fragment"},
		{"resource url with query", Config{ResourceURL: "https://h/mcp?a=b"}, "resource_url: query, fragment"},
		{"resource url with quote", Config{ResourceURL: `https://h/m"cp`}, "resource_url: quotes"},
		{"authorization server not a URL", Config{AuthorizationServers: []string{"issuer"}}, `authorization server "issuer"`},
		{"jwt without resource url", Config{JWT: okJWT(func(*JWTConfig) {})}, "resource_url is required"},
		{"jwt without issuer", Config{ResourceURL: testResource, JWT: okJWT(func(j *JWTConfig) { j.Issuer = "" })}, "issuer is required"},
		{"jwt alg none", Config{ResourceURL: testResource, JWT: okJWT(func(j *JWTConfig) { j.Algorithms = []string{"none"} })}, `algorithm "none" refused`},
		{"jwt alg HS256", Config{ResourceURL: testResource, JWT: okJWT(func(j *JWTConfig) { j.Algorithms = []string{"RS256", "HS256"} })}, `algorithm "HS256" refused`},
		{"jwt no jwks", Config{ResourceURL: testResource, JWT: okJWT(func(j *JWTConfig) { j.JWKSFile = "" })}, "exactly one of jwks_file and jwks_url"},
		{"jwt both jwks", Config{ResourceURL: testResource, JWT: okJWT(func(j *JWTConfig) { j.JWKSURL = "https://issuer.example.com/jwks" })}, "exactly one of jwks_file and jwks_url"},
		{"jwt jwks file missing", Config{ResourceURL: testResource, JWT: okJWT(func(j *JWTConfig) { j.JWKSFile = jwks + ".missing" })}, "jwks_file"},
		{"jwt jwks file without usable keys", Config{ResourceURL: testResource, JWT: okJWT(func(j *JWTConfig) { j.JWKSFile = writeFile(t, "e.json", []byte(`{"keys":[]}`)) })}, "no usable signing key"},
		{"jwt jwks url plain http", Config{ResourceURL: testResource, JWT: okJWT(func(j *JWTConfig) { j.JWKSFile, j.JWKSURL = "", "http://issuer.example.com/jwks" })}, "jwks_url: http is allowed only for a loopback host"},
		{"jwt jwks url ftp", Config{ResourceURL: testResource, JWT: okJWT(func(j *JWTConfig) { j.JWKSFile, j.JWKSURL = "", "ftp://issuer.example.com/jwks" })}, `jwks_url: scheme "ftp"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(context.Background(), tc.cfg, &Options{Logger: quietLogger})
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) || a != nil {
				t.Errorf("New = %v, %v; want ErrConfig with %q", a, err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), h[7:]) || strings.Contains(err.Error(), h2[7:])) {
				t.Errorf("error holds a key hash: %v", err)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ScopesSupported = []string{"tools:call", "files:read"} })
	if got := strings.Join(f.a.MetadataPaths(), " "); got != WellKnownPath+" "+WellKnownPath+"/mcp" {
		t.Errorf("MetadataPaths = %q", got)
	}
	if f.a.ResourceMetadataURL() != testMetadata {
		t.Errorf("ResourceMetadataURL = %q", f.a.ResourceMetadataURL())
	}
	mux := http.NewServeMux()
	for _, p := range f.a.MetadataPaths() {
		mux.Handle(p, f.a.MetadataHandler())
	}
	const want = `{"resource":"https://tools.example.com/mcp","authorization_servers":["https://issuer.example.com"],"scopes_supported":["tools:call","files:read"],"bearer_methods_supported":["header"],"resource_name":"moat"}` + "\n"
	for _, p := range f.a.MetadataPaths() {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p, nil))
		if w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s = %d %q %q\nwant 200 %q", p, w.Code, w.Header(), w.Body.String(), want)
		}
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, WellKnownPath, nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST metadata = %d, want 405", w.Code)
	}

	// A resource at the root has one path; explicit authorization servers
	// replace the issuer.
	g := newFixture(t, func(c *Config) {
		c.ResourceURL = "https://Tools.Example.com/"
		c.JWT.Audience = "https://tools.example.com/"
		c.AuthorizationServers = []string{"https://as.example.com"}
		c.ScopesSupported = nil
	})
	if got := strings.Join(g.a.MetadataPaths(), " "); got != WellKnownPath {
		t.Errorf("root MetadataPaths = %q", got)
	}
	w = httptest.NewRecorder()
	g.a.MetadataHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, WellKnownPath, nil))
	const wantRoot = `{"resource":"https://tools.example.com/","authorization_servers":["https://as.example.com"],"bearer_methods_supported":["header"],"resource_name":"moat"}` + "\n"
	if w.Body.String() != wantRoot {
		t.Errorf("root metadata = %q\nwant %q", w.Body.String(), wantRoot)
	}
	if g.a.ResourceMetadataURL() != "https://tools.example.com"+WellKnownPath {
		t.Errorf("root ResourceMetadataURL = %q", g.a.ResourceMetadataURL())
	}
}
