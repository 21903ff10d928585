package auth

import (
	"slices"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/moatmcp/moat/internal/ratelimit"
)

// TestSnippet: what `moat keys new` prints is TOML that decodes back to the
// same key, quoting included.
func TestSnippet(t *testing.T) {
	_, h, _ := NewKey()
	tests := []struct {
		name string
		key  APIKey
		want string
	}{
		{"minimal", APIKey{ID: "ci", Hash: h}, "[[auth.keys]]\nid      = \"ci\"\nhash    = \"" + h + "\"\n"},
		{"everything", APIKey{ID: "ci", Hash: h, Tools: []string{"echo", `fs_\*`}, Scopes: []string{"files", "net:read"},
			Expires: time.Date(2026, 6, 1, 12, 30, 0, 999, time.FixedZone("x", 3600)), Rate: ratelimit.MustParseRate("10/s")},
			"[[auth.keys]]\nid      = \"ci\"\nhash    = \"" + h + "\"\ntools   = [\"echo\", \"fs_\\\\*\"]\nscopes  = [\"files\", \"net:read\"]\nexpires = 2026-06-01T11:30:00Z\nrate    = \"10/s\"\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.key.Snippet()
			if got != tc.want {
				t.Fatalf("Snippet =\n%s\nwant\n%s", got, tc.want)
			}
			var doc struct {
				Auth struct {
					Keys []struct {
						ID      string    `toml:"id"`
						Hash    string    `toml:"hash"`
						Tools   []string  `toml:"tools"`
						Scopes  []string  `toml:"scopes"`
						Expires time.Time `toml:"expires"`
						Rate    string    `toml:"rate"`
					} `toml:"keys"`
				} `toml:"auth"`
			}
			if err := toml.Unmarshal([]byte(got), &doc); err != nil {
				t.Fatal(err)
			}
			k := doc.Auth.Keys[0]
			back := APIKey{ID: k.ID, Hash: k.Hash, Tools: k.Tools, Scopes: k.Scopes, Expires: k.Expires}
			if k.Rate != "" {
				var err error
				if back.Rate, err = ratelimit.ParseRate(k.Rate); err != nil {
					t.Fatal(err)
				}
			}
			if back.ID != tc.key.ID || back.Hash != tc.key.Hash || back.Rate != tc.key.Rate ||
				!slices.Equal(back.Tools, tc.key.Tools) || !slices.Equal(back.Scopes, tc.key.Scopes) ||
				!back.Expires.Equal(tc.key.Expires.Truncate(time.Second)) {
				t.Errorf("decoded %+v, want %+v", back, tc.key)
			}
			if err := back.Validate(); err != nil {
				t.Errorf("decoded key does not validate: %v", err)
			}
		})
	}
}
