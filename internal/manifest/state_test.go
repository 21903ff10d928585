package manifest

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStateConfig: [state] as written → StateConfig, and every bad input
// refused with the field and the reason.
func TestStateConfig(t *testing.T) {
	dir := configFixture(t)
	file := filepath.Join(dir, "moat.toml")
	ok := []struct {
		name string
		toml string
		want StateConfig
	}{
		{"absent: in-process", "", defaultState},
		{"loopback redis", "[state]\nurl = \"redis://127.0.0.1:6379/0\"\n",
			StateConfig{URL: "redis://127.0.0.1:6379/0", OnFailure: StateRefuse, Timeout: DefaultStateTimeout, Prefix: "moat:"}},
		{"localhost without db", "[state]\nurl = \"redis://localhost:6379\"\n",
			StateConfig{URL: "redis://localhost:6379", OnFailure: StateRefuse, Timeout: DefaultStateTimeout, Prefix: "moat:"}},
		{"remote over tls, everything set", "[state]\nurl = \"rediss://redis.internal:6380/2\"\npassword_file = \"certs/key.pem\"\non_failure = \"local\"\ntimeout = \"100ms\"\nprefix = \"moat-prod:\"\nreplica = \"moat-0\"\n",
			StateConfig{URL: "rediss://redis.internal:6380/2", PasswordFile: filepath.Join(dir, "certs/key.pem"), OnFailure: StateLocal, Timeout: 100 * time.Millisecond, Prefix: "moat-prod:", Replica: "moat-0"}},
		{"remote plaintext allowed", "[state]\nurl = \"redis://redis:6379/0\"\npassword_env = \"REDIS_PASSWORD\"\nallow_plaintext = true\n",
			StateConfig{URL: "redis://redis:6379/0", PasswordEnv: "REDIS_PASSWORD", OnFailure: StateRefuse, Timeout: DefaultStateTimeout, Prefix: "moat:", AllowPlaintext: true}},
		{"acl user without password", "[state]\nurl = \"redis://moat@127.0.0.1:6379/0\"\n",
			StateConfig{URL: "redis://moat@127.0.0.1:6379/0", OnFailure: StateRefuse, Timeout: DefaultStateTimeout, Prefix: "moat:"}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(file, []byte(tc.toml))
			if err != nil {
				t.Fatal(err)
			}
			if c.State != tc.want {
				t.Fatalf("State = %+v; want %+v", c.State, tc.want)
			}
		})
	}
	bad := []struct {
		name, toml, field string
		is                error
		msg               string
	}{
		{"password inline", "[state]\nurl = \"redis://:hunter2@127.0.0.1:6379/0\"\n", "state.url", ErrInvalid, "never in the url"},
		{"user and password inline", "[state]\nurl = \"redis://moat:hunter2@127.0.0.1:6379/0\"\n", "state.url", ErrInvalid, "never in the url"},
		{"plaintext remote", "[state]\nurl = \"redis://10.0.0.5:6379/0\"\n", "state.url", ErrInvalid, "use rediss://"},
		{"plaintext remote name", "[state]\nurl = \"redis://redis.internal:6379/0\"\n", "state.url", ErrInvalid, "allow_plaintext"},
		{"wrong scheme", "[state]\nurl = \"http://127.0.0.1:6379\"\n", "state.url", ErrInvalid, `scheme "http"`},
		{"no port", "[state]\nurl = \"redis://127.0.0.1/0\"\n", "state.url", ErrInvalid, "needs a host and a port"},
		{"bad port", "[state]\nurl = \"redis://127.0.0.1:70000/0\"\n", "state.url", ErrInvalid, "not a number from 1 to 65535"},
		{"db not a number", "[state]\nurl = \"redis://127.0.0.1:6379/zero\"\n", "state.url", ErrInvalid, "not a database number"},
		{"query options", "[state]\nurl = \"redis://127.0.0.1:6379/0?dial_timeout=1h\"\n", "state.url", ErrInvalid, "query or fragment"},
		{"too long", "[state]\nurl = \"redis://127.0.0.1:6379/" + strings.Repeat("0", 600) + "\"\n", "state.url", ErrInvalid, "longer than 512 bytes"},
		{"both passwords", "[state]\nurl = \"redis://127.0.0.1:6379/0\"\npassword_file = \"certs/key.pem\"\npassword_env = \"X\"\n", "state.password_env", ErrInvalid, "not both"},
		{"bad env name", "[state]\nurl = \"redis://127.0.0.1:6379/0\"\npassword_env = \"A B\"\n", "state.password_env", ErrInvalid, "not an environment variable name"},
		{"password without url", "[state]\npassword_env = \"X\"\n", "state.url", ErrMissing, "no url"},
		{"bad mode", "[state]\non_failure = \"open\"\n", "state.on_failure", ErrInvalid, `"open" is not a mode`},
		{"timeout too long", "[state]\ntimeout = \"1m\"\n", "state.timeout", ErrInvalid, "out of bounds"},
		{"timeout too short", "[state]\ntimeout = \"1ms\"\n", "state.timeout", ErrInvalid, "out of bounds"},
		{"bad prefix", "[state]\nprefix = \"moat prod\"\n", "state.prefix", ErrInvalid, "use 1 to 64"},
		{"bad replica", "[state]\nreplica = \"../x\"\n", "state.replica", ErrInvalid, "use 1 to 63"},
		{"unknown key", "[state]\nurls = \"x\"\n", "state.urls", ErrUnknownField, `unknown field "urls"`},
		{"wrong type", "[state]\nurl = 6379\n", "state.url", ErrType, "expected a string"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(file, []byte(tc.toml))
			wantError(t, err, "", -1, tc.field, tc.is, tc.msg)
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

// FuzzCheckRedisURL: whatever [state] url holds, the check neither panics
// nor accepts a URL carrying a password, and what it accepts the Redis
// client parses too (state.ParseURL, tested there).
func FuzzCheckRedisURL(f *testing.F) {
	for _, s := range []string{"redis://127.0.0.1:6379/0", "rediss://h:1", "redis://:pw@h:1/0", "redis://u:p@[::1]:6379", "redis://h:1/0?x=y", "redis://%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckRedisURL(s) != "" {
			return
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse", s)
		}
		if _, set := u.User.Password(); u.User != nil && set {
			t.Fatalf("accepted %q, which carries a password", s)
		}
		if u.Scheme != "redis" && u.Scheme != "rediss" {
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
	})
}
