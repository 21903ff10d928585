package state_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/state"
)

// TestParseURL: the URLs Open accepts, and the reasons it refuses others.
func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		tls       bool
		db        int
		err       string
	}{
		{"loopback", "redis://127.0.0.1:6379/3", false, 3, ""},
		{"tls", "rediss://redis.example.com:6380/0", true, 0, ""},
		{"no db", "redis://[::1]:6379", false, 0, ""},
		{"password", "redis://:pw@127.0.0.1:6379/0", false, 0, "never in the url"},
		{"query", "redis://127.0.0.1:6379/0?protocol=3", false, 0, "query or fragment"},
		{"scheme", "unix:///run/redis.sock", false, 0, "scheme"},
		{"empty", "", false, 0, "scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := state.ParseURL(tc.url)
			if tc.err != "" {
				if !errors.Is(err, state.ErrConfig) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want ErrConfig with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (o.TLSConfig != nil) != tc.tls || o.DB != tc.db {
				t.Fatalf("tls %v db %d; want %v %d", o.TLSConfig != nil, o.DB, tc.tls, tc.db)
			}
		})
	}
}

// TestReadPassword: from a file (first line), from the environment, and
// the errors, which never hold the password.
func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("MOAT_TEST_REDIS_PW", "from-env")
	t.Setenv("MOAT_TEST_EMPTY", "")
	for _, tc := range []struct {
		name, file, env, want, err string
	}{
		{"file with newline", write("a", "s3cret\n"), "", "s3cret", ""},
		{"file with crlf and more lines", write("b", "s3cret\r\nignored\n"), "", "s3cret", ""},
		{"env", "", "MOAT_TEST_REDIS_PW", "from-env", ""},
		{"none", "", "", "", ""},
		{"missing file", filepath.Join(dir, "nope"), "", "", "no such file"},
		{"empty file", write("c", "\n"), "", "", "empty"},
		{"huge file", write("d", strings.Repeat("x", 5000)), "", "", "longer than 4096 bytes"},
		{"unset env", "", "MOAT_TEST_UNSET_VAR", "", "is not set"},
		{"empty env", "", "MOAT_TEST_EMPTY", "", "is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := state.ReadPassword(tc.file, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
