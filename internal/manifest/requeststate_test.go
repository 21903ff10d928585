package manifest

import (
	"path/filepath"
	"testing"
	"time"
)

// TestRequestStateConfig: [request_state] as written → RequestStateConfig,
// and every bad input refused with the field and the reason.
func TestRequestStateConfig(t *testing.T) {
	dir := configFixture(t)
	file := filepath.Join(dir, "moat.toml")
	ok := []struct {
		name string
		toml string
		want RequestStateConfig
	}{
		{"absent: a key per process", "", RequestStateConfig{TTL: DefaultRequestStateTTL}},
		{"key file, relative", "[request_state]\nkey_file = \"secrets/mrtr.key\"\nttl = \"2m\"\n",
			RequestStateConfig{KeyFile: filepath.Join(dir, "secrets/mrtr.key"), TTL: 2 * time.Minute}},
		{"key env", "[request_state]\nkey_env = \"MOAT_REQUEST_STATE_KEY\"\n",
			RequestStateConfig{KeyEnv: "MOAT_REQUEST_STATE_KEY", TTL: DefaultRequestStateTTL}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(file, []byte(tc.toml))
			if err != nil {
				t.Fatal(err)
			}
			if c.RequestState != tc.want {
				t.Fatalf("RequestState = %+v; want %+v", c.RequestState, tc.want)
			}
		})
	}
	bad := []struct {
		name, toml, field string
		is                error
		msg               string
	}{
		{"both", "[request_state]\nkey_file = \"k\"\nkey_env = \"K\"\n", "request_state.key_env", ErrInvalid, "not both"},
		{"empty file", "[request_state]\nkey_file = \"\"\n", "request_state.key_file", ErrInvalid, "must not be empty"},
		{"bad env name", "[request_state]\nkey_env = \"A B\"\n", "request_state.key_env", ErrInvalid, "not an environment variable name"},
		{"ttl too short", "[request_state]\nttl = \"1s\"\n", "request_state.ttl", ErrInvalid, "out of bounds"},
		{"ttl too long", "[request_state]\nttl = \"48h\"\n", "request_state.ttl", ErrInvalid, "out of bounds"},
		{"a key inline", "[request_state]\nkey = \"00112233\"\n", "request_state.key", ErrUnknownField, `unknown field "key"`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(file, []byte(tc.toml))
			wantError(t, err, "", -1, tc.field, tc.is, tc.msg)
		})
	}
}
