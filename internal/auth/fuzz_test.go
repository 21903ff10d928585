package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzAuthorizationHeader: any Authorization value never panics and never
// authenticates unless it carries the real key, or a real token's signed
// header and claims (base64 lets a few signature strings decode to the
// same bytes, which is not a forgery).
func FuzzAuthorizationHeader(f *testing.F) {
	fx := newFixture(f, nil)
	k := signingKeys(f)
	token := mint(f, k.rsa, jose.RS256, "rsa1", claims(fx.now))
	signed := token[:strings.LastIndexByte(token, '.')+1]
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "bearer " + fx.secret, "Bearer " + fx.secret, "Bearer " + fx.expired,
		"Bearer " + token, "Basic " + fx.secret, "Bearer " + token + "=", "Bearer a.b.c", "Bearer moat_",
		"Bearer " + forge(f, map[string]any{"alg": "none"}, claims(fx.now), nil),
		"Bearer " + forge(f, map[string]any{"alg": "HS256", "kid": "rsa1"}, claims(fx.now), hmacWithPublicKey(&k.rsa.PublicKey, "pem")),
		"Bearer \x00", "Bearer\t" + fx.secret, "BEARER  " + fx.secret + "  ",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r.Header["Authorization"] = []string{value}
		p, err := fx.a.Authenticate(r)
		if err != nil {
			if p != nil {
				t.Fatalf("principal %q with error %v", p.ID, err)
			}
			for _, secret := range []string{fx.secret, fx.expired, token[len(signed):]} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error holds a credential: %v", err)
				}
			}
			return
		}
		tok, terr := bearerToken(r.Header)
		if terr != nil {
			t.Fatalf("authenticated %q but the header does not parse: %v", p.ID, terr)
		}
		switch {
		case p.ID == "k1" && tok == fx.secret:
		case p.ID == "jwt:alice" && strings.HasPrefix(tok, signed):
		default:
			t.Fatalf("authenticated %q from a header that is neither the key nor the token", p.ID)
		}
	})
}

// FuzzParseJWKS: a JWKS fetched from the network never panics the parser,
// and whatever it keeps is a public, asymmetric signing key.
func FuzzParseJWKS(f *testing.F) {
	f.Add(defaultJWKS(f))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := parseJWKS(doc)
		if err == nil && len(keys) == 0 {
			t.Fatal("no error and no keys")
		}
		for _, k := range keys {
			if !k.IsPublic() || !k.Valid() || (k.Use != "" && k.Use != "sig") {
				t.Fatalf("kept an unusable key: kid %q", k.KeyID)
			}
		}
	})
}

// FuzzQuery: checkQuery accepts a query only if it parses cleanly and no
// reading of it, with "&" or ";" as the separator, names a credential.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{"", "a=1", "x=1;api_key=k", "access_token=t", "%zz", "a=1&&b", "api%5Fkey=1", "key[]=1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if checkQuery(raw) != nil {
			return
		}
		if _, err := url.ParseQuery(raw); err != nil {
			t.Fatalf("accepted %q, which net/url cannot parse: %v", raw, err)
		}
		for _, q := range []string{raw, strings.ReplaceAll(raw, ";", "&")} {
			vs, _ := url.ParseQuery(q)
			for name := range vs {
				for _, bad := range queryCredentialNames {
					if strings.EqualFold(strings.TrimSpace(name), bad) {
						t.Fatalf("accepted %q, which names %q", raw, name)
					}
				}
			}
		}
	})
}

// FuzzTokenScopes: a scope claim is accepted only if it is scope-tokens
// joined by single spaces, and then exactly those tokens are granted.
func FuzzTokenScopes(f *testing.F) {
	for _, seed := range []string{"", "a", "a b", "x\tadmin", "x\nadmin", "a  b", " a", "a ", "x\u00a0admin", "a\x00b", `a"b`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, scope string) {
		got, err := tokenScopes(extraClaims{Scope: scope})
		if err != nil {
			return
		}
		for _, s := range got {
			if !validScope(s) {
				t.Fatalf("%q granted %q, not a scope-token", scope, s)
			}
		}
		if scope != "" && strings.Join(got, " ") != scope && len(got) == len(strings.Split(scope, " ")) {
			t.Fatalf("%q granted %q", scope, got)
		}
		for _, s := range got {
			if !slices.Contains(strings.Split(scope, " "), s) {
				t.Fatalf("%q granted %q, which it does not name", scope, s)
			}
		}
	})
}
