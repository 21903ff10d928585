package host

import (
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/auth"
)

// TestDevKey: the key made when no key is configured is made and printed
// once, kept across reloads (gets), and carries each get's scopes.
func TestDevKey(t *testing.T) {
	t.Parallel()
	var d devKey
	var notice strings.Builder
	first, err := d.get(&notice, []string{"admin"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := d.get(&notice, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != "dev" || first.Hash == "" || first.Hash != second.Hash || strings.Join(first.Tools, ",") != "*" {
		t.Errorf("keys %+v, %+v: want one dev key with every tool", first, second)
	}
	if strings.Join(first.Scopes, ",") != "admin" || len(second.Scopes) != 0 {
		t.Errorf("scopes %q, %q; want [admin], []", first.Scopes, second.Scopes)
	}
	out := notice.String()
	if n := strings.Count(out, "Authorization: Bearer "+auth.KeyPrefix); n != 1 {
		t.Errorf("the key was printed %d times, want once:\n%s", n, out)
	}
}
