package auth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// BenchmarkAuthenticate is the cost per request of each credential kind.
// API keys: every stored hash is compared, so the cost grows with the
// number of keys.
func BenchmarkAuthenticate(b *testing.B) {
	k := signingKeys(b)
	for _, n := range []int{1, 100} {
		f := newFixture(b, func(c *Config) {
			for i := range n - 1 {
				_, h, _ := NewKey()
				c.Keys = append(c.Keys, APIKey{ID: fmt.Sprintf("k%d", i+2), Hash: h})
			}
		})
		b.Run(fmt.Sprintf("api_key/keys=%d", len(f.a.keys)), func(b *testing.B) { benchAuth(b, f.a, f.secret) })
	}
	f := newFixture(b, nil)
	b.Run("jwt/RS256", func(b *testing.B) { benchAuth(b, f.a, mint(b, k.rsa, jose.RS256, "rsa1", claims(f.now))) })
	b.Run("jwt/ES256", func(b *testing.B) { benchAuth(b, f.a, mint(b, k.ec, jose.ES256, "ec1", claims(f.now))) })
	b.Run("jwt/EdDSA", func(b *testing.B) { benchAuth(b, f.a, mint(b, k.ed, jose.EdDSA, "ed1", claims(f.now))) })
}

func benchAuth(b *testing.B, a *Authenticator, token string) {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
