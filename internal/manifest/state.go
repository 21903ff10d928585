package manifest

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moatmcp/moat/internal/loopback"
)

// StateConfig is [state]: where the limits shared by replicas live
// (internal/state, docs/scale.md). The zero value (no URL) keeps everything
// in this process's memory.
type StateConfig struct {
	// URL is [state] url: redis://HOST:PORT/DB or rediss://HOST:PORT/DB
	// (TLS); "" (the default) means in-process state, nothing to run.
	URL string
	// PasswordFile is [state] password_file: a file whose first line is
	// the Redis password; "" = none. Absolute.
	PasswordFile string
	// PasswordEnv is [state] password_env: the environment variable that
	// holds the password; "" = none. At most one of the two is set.
	PasswordEnv string
	// OnFailure is [state] on_failure: what requests get while Redis is
	// unreachable; default StateRefuse.
	OnFailure StateFailureMode
	// Timeout is [state] timeout: the bound on one Redis operation;
	// default DefaultStateTimeout.
	Timeout time.Duration
	// Prefix is [state] prefix: the start of every key moat writes;
	// default "moat:".
	Prefix string
	// Replica is [state] replica: this replica's name in audit records
	// and logs; "" means the host name.
	Replica string
	// AllowPlaintext is [state] allow_plaintext: accept a redis:// URL
	// whose host is not loopback (a private network); default false,
	// which requires rediss:// there.
	AllowPlaintext bool
}

// StateFailureMode is [state] on_failure.
type StateFailureMode string

const (
	// StateRefuse (the default) refuses requests with 503 and an error id
	// while Redis is unreachable, and /readyz answers 503.
	StateRefuse StateFailureMode = "refuse"
	// StateLocal falls back to each replica's own in-process limits.
	StateLocal StateFailureMode = "local"
)

// Bounds of [state].
const (
	DefaultStateTimeout = 250 * time.Millisecond
	minStateTimeout     = 10 * time.Millisecond
	maxStateTimeout     = 5 * time.Second
	maxStateURL         = 512
)

// stateTable is [state].
type stateTable struct {
	URL            *string   `toml:"url"`
	PasswordFile   *string   `toml:"password_file"`
	PasswordEnv    *string   `toml:"password_env"`
	OnFailure      *string   `toml:"on_failure"`
	Timeout        *Duration `toml:"timeout"`
	Prefix         *string   `toml:"prefix"`
	Replica        *string   `toml:"replica"`
	AllowPlaintext bool      `toml:"allow_plaintext"`
}

var (
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	replicaName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	keyPrefix   = regexp.MustCompile(`^[A-Za-z0-9:._{}-]{1,64}$`)
)

// defaultState is [state] when absent: in-process state.
var defaultState = StateConfig{OnFailure: StateRefuse, Timeout: DefaultStateTimeout, Prefix: "moat:"}

func (d *doc) stateConfig(c *Config, t *stateTable, dir string) error {
	s := defaultState
	if t.URL != nil && *t.URL != "" {
		if msg := CheckRedisURL(*t.URL); msg != "" {
			return d.errorf("state.url", ErrInvalid, "%s", msg)
		}
		if IsPlaintextRemote(*t.URL) && !t.AllowPlaintext {
			return d.errorf("state.url", ErrInvalid, "%q is plain redis:// to a host that is not loopback: the password and every principal's id would cross the network in the clear; use rediss:// (TLS), or set allow_plaintext = true for a private network you trust", *t.URL)
		}
		s.URL = *t.URL
	}
	if t.PasswordFile != nil && t.PasswordEnv != nil {
		return d.errorf("state.password_env", ErrInvalid, "set password_file or password_env, not both")
	}
	if p := t.PasswordFile; p != nil {
		if *p == "" {
			return d.errorf("state.password_file", ErrInvalid, "must not be empty")
		}
		s.PasswordFile = resolve(dir, *p)
	}
	if e := t.PasswordEnv; e != nil {
		if !envName.MatchString(*e) {
			return d.errorf("state.password_env", ErrInvalid, "%q is not an environment variable name", *e)
		}
		s.PasswordEnv = *e
	}
	if (s.PasswordFile != "" || s.PasswordEnv != "") && s.URL == "" {
		return d.errorf("state.url", ErrMissing, "a password is set but no url: set url = \"redis://HOST:PORT/DB\"")
	}
	if m := t.OnFailure; m != nil {
		switch mode := StateFailureMode(*m); mode {
		case StateRefuse, StateLocal:
			s.OnFailure = mode
		default:
			return d.errorf("state.on_failure", ErrInvalid, `%q is not a mode: use "refuse" (the default: 503 while Redis is unreachable) or "local" (each replica's own limits meanwhile)`, *m)
		}
	}
	var err error
	if s.Timeout, err = d.duration("state.timeout", t.Timeout, DefaultStateTimeout, minStateTimeout, maxStateTimeout); err != nil {
		return err
	}
	if p := t.Prefix; p != nil {
		if !keyPrefix.MatchString(*p) {
			return d.errorf("state.prefix", ErrInvalid, "%q: use 1 to 64 letters, digits and : . _ - { }", *p)
		}
		s.Prefix = *p
	}
	if r := t.Replica; r != nil {
		if !replicaName.MatchString(*r) {
			return d.errorf("state.replica", ErrInvalid, "%q: use 1 to 63 letters, digits and . _ -, starting with a letter or digit", *r)
		}
		s.Replica = *r
	}
	s.AllowPlaintext = t.AllowPlaintext
	c.State = s
	return nil
}

// CheckRedisURL returns what is wrong with a [state] url, or "": scheme
// redis or rediss, a host and a port, an optional database number as the
// path, and no password (it belongs in password_file or password_env),
// query or fragment.
func CheckRedisURL(raw string) string {
	if len(raw) > maxStateURL {
		return fmt.Sprintf("longer than %d bytes", maxStateURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Sprintf("%q is not a URL: write redis://HOST:PORT/DB", raw)
	}
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss":
		return fmt.Sprintf("scheme %q: use redis:// or rediss:// (TLS)", u.Scheme)
	case u.User != nil && hasPassword(u.User):
		return "the url carries a password: put it in password_file or password_env, never in the url"
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(raw, "?") || strings.HasSuffix(raw, "#"):
		return "the url has a query or fragment: write redis://HOST:PORT/DB"
	case u.Hostname() == "" || u.Port() == "":
		return "the url needs a host and a port, e.g. redis://127.0.0.1:6379/0"
	}
	if h := u.Hostname(); net.ParseIP(h) == nil && !isHostname(h) {
		return fmt.Sprintf("%q is not an IP address or host name", h)
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != u.Port() {
		return fmt.Sprintf("port %q is not a number from 1 to 65535", u.Port())
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 || n > 1023 || strconv.Itoa(n) != db {
			return fmt.Sprintf("path %q is not a database number", u.Path)
		}
	}
	return ""
}

func hasPassword(u *url.Userinfo) bool {
	_, set := u.Password()
	return set
}

// IsPlaintextRemote reports whether raw is a redis:// (not rediss://) URL
// whose host is not a loopback address or "localhost": its traffic,
// password included, would cross a network in the clear.
func IsPlaintextRemote(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" {
		return false
	}
	return !loopback.Host(u.Hostname())
}
