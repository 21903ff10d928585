package manifest

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	limits := []string{"memory", "timeout", "max_input", "max_output", "max_concurrency", "rate", "rate_all"}
	top := []string{"name", "title", "description", "module", "sha256", "result", "isolation", "required_scopes"}
	tests := []struct {
		name, key string
		allowed   []string
		want      string
	}{
		{"swapped letters", "memroy", limits, "memory"},
		{"missing letter", "timout", limits, "timeout"},
		{"extra letter", "rates", limits, "rate"},
		{"swapped short key", "nmae", top, "name"},
		{"wrong separator", "max-input", limits, "max_input"},
		{"long key two edits", "requird_scope", top, "required_scopes"},
		{"nothing near", "network", limits, ""},
		{"short key far", "x", limits, ""},
		{"three edits on a short key", "mdl", top, ""},
		{"over 64 bytes", strings.Repeat("m", 65), limits, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := suggest(tc.key, tc.allowed); got != tc.want {
				t.Errorf("suggest(%q) = %q, want %q", tc.key, got, tc.want)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "ab", 2}, {"memory", "memory", 0}, {"memroy", "memory", 1},
		{"kitten", "sitting", 3}, {"ab", "ba", 1}, {"abc", "ca", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestDidYouMean checks the suggestion in the messages of unknown manifest
// and config keys (issue 18).
func TestDidYouMean(t *testing.T) {
	dir := fixture(t)
	const base = "name = \"t\"\nmodule = \"m.wasm\"\n"
	for _, tc := range []struct {
		name, doc string
		config    bool
		want      string
	}{
		{"manifest limits", base + "[limits]\nmemroy = \"1MiB\"\n", false, `unknown field "memroy" (known fields in limits: memory, timeout, max_input, max_output, max_concurrency, rate, rate_all); did you mean "memory"?`},
		{"manifest top level", base + "isolaton = \"shared\"\n", false, `; did you mean "isolation"?`},
		{"manifest mount", base + "[[mount]]\nhost = \"data\"\ngest = \"/d\"\n", false, `unknown field "gest" (known fields in mount[0]: host, guest, mode); did you mean "guest"?`},
		{"manifest net header value", base + "[net]\nallow = [\"a.test\"]\n[[net.header]]\nhost = \"a.test\"\nname = \"A\"\nvalue = { enc = \"X\" }\n", false, `did you mean "env"?`},
		{"no suggestion", base + "[grants]\nnetwork = true\n", false, `unknown field "network" (known fields in grants: clock, random)`},
		{"config server", "[server]\nlisen = \"127.0.0.1:1\"\n", true, `did you mean "listen"?`},
		{"config sandbox", "[sandbox]\nmax_guest_memroy = \"1GiB\"\n", true, `did you mean "max_guest_memory"?`},
		{"config audit", "[audit]\non_failur = \"refuse\"\n", true, `did you mean "on_failure"?`},
		{"config section", "[rate_limit]\n", true, `did you mean "rate_limits"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.config {
				_, err = ParseConfig(filepath.Join(dir, "moat.toml"), []byte(tc.doc))
			} else {
				_, err = Parse(filepath.Join(dir, "t.toml"), []byte(tc.doc))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %s", err, tc.want)
			}
			if tc.name == "no suggestion" && strings.Contains(err.Error(), "did you mean") {
				t.Errorf("suggests for a key nothing is near: %v", err)
			}
		})
	}
}
