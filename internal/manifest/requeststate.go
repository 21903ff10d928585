package manifest

import "time"

// RequestStateConfig is [request_state]: the key that seals the
// requestState of multi-round-trip tool calls (MCP 2026-07-28
// input_required results; host/mrtr.go, internal/sealed). The key itself
// is never written in moat.toml: it comes from a file or an environment
// variable, so that every replica can share it. The zero value (no key)
// means a random key per process: a call must then finish on the replica
// that started it, and a restart ends every call waiting for input.
type RequestStateConfig struct {
	// KeyFile is [request_state] key_file: a file whose first line is the
	// 32-byte key as 64 hex digits or in base64; "" = none. Absolute.
	KeyFile string
	// KeyEnv is [request_state] key_env: the environment variable holding
	// the key, encoded the same way; "" = none. At most one of the two is
	// set.
	KeyEnv string
	// TTL is [request_state] ttl: how long a client has to answer a
	// tool's questions and retry; default DefaultRequestStateTTL.
	TTL time.Duration
}

// Bounds of [request_state] ttl.
const (
	DefaultRequestStateTTL = 10 * time.Minute
	minRequestStateTTL     = 10 * time.Second
	maxRequestStateTTL     = 24 * time.Hour
)

// requestStateTable is [request_state].
type requestStateTable struct {
	KeyFile *string   `toml:"key_file"`
	KeyEnv  *string   `toml:"key_env"`
	TTL     *Duration `toml:"ttl"`
}

func (d *doc) requestStateConfig(c *Config, t *requestStateTable, dir string) error {
	rs := RequestStateConfig{}
	if t.KeyFile != nil && t.KeyEnv != nil {
		return d.errorf("request_state.key_env", ErrInvalid, "set key_file or key_env, not both")
	}
	if p := t.KeyFile; p != nil {
		if *p == "" {
			return d.errorf("request_state.key_file", ErrInvalid, "must not be empty")
		}
		rs.KeyFile = resolve(dir, *p)
	}
	if e := t.KeyEnv; e != nil {
		if !envName.MatchString(*e) {
			return d.errorf("request_state.key_env", ErrInvalid, "%q is not an environment variable name", *e)
		}
		rs.KeyEnv = *e
	}
	var err error
	if rs.TTL, err = d.duration("request_state.ttl", t.TTL, DefaultRequestStateTTL, minRequestStateTTL, maxRequestStateTTL); err != nil {
		return err
	}
	c.RequestState = rs
	return nil
}
