package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mintRS256 signs a JWT with the standard library alone: an independent
// implementation, so the test checks moat's verifier rather than sharing
// its library.
func mintRS256(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestServeJWT is the OAuth resource server end to end: moat on loopback,
// a JWKS served on loopback, tokens minted with a test key, a client
// calling through.
func TestServeJWT(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":%q,"e":%q}]}`,
		base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()))
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, jwks)
	}))
	defer jwksSrv.Close()

	// A manifest folder with read_file requiring a scope.
	dir := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(tree, "manifests/read_file.toml"))
	manifest := strings.Replace(string(b), `name        = "read_file"`, "name = \"read_file\"\nrequired_scopes = [\"files:read\"]", 1)
	manifest = strings.ReplaceAll(manifest, `"../tools/`, `"`+filepath.Join(tree, "tools")+`/`)
	manifest = strings.ReplaceAll(manifest, `"../testdata/`, `"`+filepath.Join(tree, "testdata")+`/`)
	os.WriteFile(filepath.Join(dir, "read_file.toml"), []byte(manifest), 0o644)
	const resource = "https://tools.example.test/mcp"
	cfg := filepath.Join(t.TempDir(), "moat.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[tools]
dirs = [%q]
[auth]
resource_url = %q
scopes_supported = ["files:read"]
[auth.jwt]
issuer = "https://issuer.test"
jwks_url = %q
`, dir, resource, jwksSrv.URL)), 0o644)
	url, stop, _ := startServe(t, "--config", cfg, "--listen", "127.0.0.1:0")
	defer stop()

	now := time.Now().Unix()
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{"iss": "https://issuer.test", "aud": resource, "sub": "alice", "exp": now + 300, "iat": now, "scope": "files:read"}
		for k, v := range over {
			c[k] = v
		}
		return c
	}
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"notes/todo.txt","start_line":1,"end_line":1}}}`
	for _, tc := range []struct {
		name       string
		token      string
		wantStatus int
		wantHeader string // substring of WWW-Authenticate
		wantBody   string
	}{
		{"valid token", mintRS256(t, key, "k1", claims(nil)), 200, "", `- write the manifest docs`},
		{"wrong audience", mintRS256(t, key, "k1", claims(map[string]any{"aud": "https://other.test/mcp"})), 401, `error="invalid_token"`, ""},
		{"expired", mintRS256(t, key, "k1", claims(map[string]any{"exp": now - 3600})), 401, `error="invalid_token"`, ""},
		{"unknown kid", mintRS256(t, key, "k2", claims(nil)), 401, `error="invalid_token"`, ""},
		{"missing scope", mintRS256(t, key, "k1", claims(map[string]any{"scope": "other"})), 403, `scope="files:read"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			do := func(body, session string) *http.Response {
				req, _ := http.NewRequest("POST", url+"/mcp", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Authorization", "Bearer "+tc.token)
				if session != "" {
					req.Header.Set("Mcp-Session-Id", session)
					req.Header.Set("MCP-Protocol-Version", "2025-11-25")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				return resp
			}
			resp := do(initialize, "")
			resp.Body.Close()
			if resp.StatusCode != 200 {
				if resp.StatusCode != tc.wantStatus || !strings.Contains(resp.Header.Get("WWW-Authenticate"), tc.wantHeader) {
					t.Fatalf("initialize: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				}
				if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `resource_metadata="`) {
					t.Fatalf("challenge without resource_metadata: %q", resp.Header.Get("WWW-Authenticate"))
				}
				return
			}
			resp = do(call, resp.Header.Get("Mcp-Session-Id"))
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || !strings.Contains(resp.Header.Get("WWW-Authenticate"), tc.wantHeader) || !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("call: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
		})
	}

	// RFC 9728 metadata, at the path-suffixed well-known URL, without a token.
	resp, err := http.Get(url + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if resp.StatusCode != 200 || meta.Resource != resource || len(meta.AuthorizationServers) != 1 || meta.AuthorizationServers[0] != "https://issuer.test" {
		t.Fatalf("metadata: %d %+v", resp.StatusCode, meta)
	}

	// The console, with a JWT: the admin scope opens it, its absence does not.
	for _, tc := range []struct {
		scope string
		want  int
	}{{"files:read admin", 200}, {"files:read", 403}} {
		req, _ := http.NewRequest("GET", url+"/console", nil)
		req.Header.Set("Authorization", "Bearer "+mintRS256(t, key, "k1", claims(map[string]any{"scope": tc.scope})))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || (tc.want == 200 && !strings.Contains(string(body), "read_file")) {
			t.Fatalf("console with scope %q: %d %.200s", tc.scope, resp.StatusCode, body)
		}
	}
}
