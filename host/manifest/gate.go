package manifest

import (
	"net/url"
	"regexp"
	"time"
)

// AuthConfig is [auth] in moat.toml: who may call, and how they prove it.
// See docs/auth.md.
type AuthConfig struct {
	ResourceURL          string   // resource_url: the canonical URL of the MCP endpoint (RFC 8707 audience); required with [auth.jwt]
	AuthorizationServers []string // authorization_servers: for the protected resource metadata
	ScopesSupported      []string // scopes_supported
	Keys                 []KeyConfig
	JWT                  *JWTConfig // [auth.jwt]; nil = no JWT
	Local                LocalConfig
}

// KeyConfig is one [[auth.keys]] entry. Only the key's hash is stored.
type KeyConfig struct {
	ID      string    // id: shown in logs and the audit trail
	Hash    string    // hash: "sha256:<64 hex>", as `moat keys new` prints it
	Tools   []string  // tools: names or globs (path.Match) the key may call; empty = none
	Scopes  []string  // scopes
	Expires time.Time // expires: RFC 3339; zero = never
	Rate    Rate      // rate: this key's own per-principal rate; zero = the server default
}

// JWTConfig is [auth.jwt]: an OAuth 2.1 resource server.
type JWTConfig struct {
	Issuer     string        // issuer: exact iss
	Audience   string        // audience: default resource_url
	JWKSFile   string        // jwks_file (relative to the config)
	JWKSURL    string        // jwks_url
	Algorithms []string      // algorithms: default RS256, ES256, EdDSA
	Leeway     time.Duration // leeway: default 30s
}

// LocalConfig is [auth.local]: the principal of a stdio session, which has
// no token (the MCP spec leaves stdio to the process's own environment).
type LocalConfig struct {
	Tools  []string // tools: default ["*"] — a local user runs their own tools
	Scopes []string // scopes
}

// RateConfig is [rate_limits]; every rate is written like "600/min" or
// "10/s burst 20" (docs/ratelimit.md). Zero fields take the defaults.
type RateConfig struct {
	PerPrincipal      Rate
	PerPrincipalTool  Rate
	PerTool           Rate
	FailedAuthPerAddr Rate
	MaxEntries        int
	IdleTTL           time.Duration
	ConcurrencyWait   time.Duration
}

var scopeToken = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]{1,128}$`) // RFC 6749 scope-token
var keyID = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)
var keyHash = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func (d *doc) scopes(t table, key string) ([]string, error) {
	s, err := d.strings(t, key, maxListEntries)
	if err != nil {
		return nil, err
	}
	for i, v := range s {
		if !scopeToken.MatchString(v) {
			return nil, d.errorf(indexPath(t.field(key), i), ErrInvalid, "%q is not a valid OAuth scope (printable ASCII, no spaces or quotes)", v)
		}
	}
	return s, nil
}

func (d *doc) rate(t table, key string) (Rate, error) {
	s, ok, err := d.str(t, key)
	if err != nil || !ok {
		return Rate{}, err
	}
	r, err := ParseRate(s)
	if err != nil {
		return r, d.errorf(t.field(key), ErrInvalid, "%q: write a rate like \"600/min\", \"10/s burst 20\" or \"unlimited\"", s)
	}
	return r, nil
}

func (d *doc) duration(t table, key string, min, max time.Duration) (time.Duration, bool, error) {
	v, ok := t.m[key]
	if !ok {
		return 0, false, nil
	}
	f := t.field(key)
	s, isStr := v.(string)
	if !isStr {
		return 0, false, d.wrongType(f, `a duration such as "30s"`, v)
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, false, d.errorf(f, ErrInvalid, `%q is not a duration: write e.g. "30s" or "10m"`, s)
	}
	if dur < min || dur > max {
		return 0, false, d.errorf(f, ErrInvalid, "%s is out of bounds: must be between %s and %s", dur, min, max)
	}
	return dur, true, nil
}

func (d *doc) authConfig(c *Config, root table, dir string) error {
	at, _, err := d.sub(root, "auth")
	if err != nil {
		return err
	}
	if err := d.strict(at, "resource_url", "authorization_servers", "scopes_supported", "keys", "jwt", "local"); err != nil {
		return err
	}
	a := &c.Auth
	if s, ok, err := d.str(at, "resource_url"); err != nil {
		return err
	} else if ok {
		u, perr := url.Parse(s)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return d.errorf(at.field("resource_url"), ErrInvalid, "%q must be an absolute http(s) URL without query or fragment, e.g. https://tools.example.com/mcp", s)
		}
		a.ResourceURL = s
	}
	if a.AuthorizationServers, err = d.strings(at, "authorization_servers", maxListEntries); err != nil {
		return err
	}
	if a.ScopesSupported, err = d.scopes(at, "scopes_supported"); err != nil {
		return err
	}

	if v, ok := at.m["keys"]; ok {
		arr, isArr := v.([]any)
		if !isArr {
			return d.wrongType(at.field("keys"), "an array of tables ([[auth.keys]])", v)
		}
		if len(arr) > 4096 {
			return d.errorf(at.field("keys"), ErrTooLarge, "%d keys; the limit is 4096", len(arr))
		}
		seen := map[string]bool{}
		for i, e := range arr {
			f := indexPath(at.field("keys"), i)
			m, isTable := e.(map[string]any)
			if !isTable {
				return d.wrongType(f, "a table with id and hash", e)
			}
			kt := table{path: f, m: m}
			if err := d.strict(kt, "id", "hash", "tools", "scopes", "expires", "rate"); err != nil {
				return err
			}
			var k KeyConfig
			id, ok, err := d.str(kt, "id")
			if err != nil {
				return err
			}
			if !ok || !keyID.MatchString(id) {
				return d.errorf(kt.field("id"), ErrInvalid, "required: 1–64 characters of A-Z a-z 0-9 _ . @ -")
			}
			if seen[id] {
				return d.errorf(kt.field("id"), ErrInvalid, "key id %q is used twice", id)
			}
			seen[id] = true
			k.ID = id
			h, ok, err := d.str(kt, "hash")
			if err != nil {
				return err
			}
			if !ok || !keyHash.MatchString(h) {
				// Never echo the value: an operator may have pasted the key itself.
				return d.errorf(kt.field("hash"), ErrInvalid, `required: "sha256:" and 64 lower-case hex digits, as "moat keys new" prints it (never the key itself)`)
			}
			k.Hash = h
			if k.Tools, err = d.strings(kt, "tools", maxListEntries); err != nil {
				return err
			}
			if k.Scopes, err = d.scopes(kt, "scopes"); err != nil {
				return err
			}
			if v, ok := kt.m["expires"]; ok {
				switch x := v.(type) {
				case time.Time:
					k.Expires = x
				case string:
					t, perr := time.Parse(time.RFC3339, x)
					if perr != nil {
						return d.errorf(kt.field("expires"), ErrInvalid, "%q is not an RFC 3339 time such as 2027-01-31T00:00:00Z", x)
					}
					k.Expires = t
				default:
					return d.wrongType(kt.field("expires"), "an RFC 3339 date-time", v)
				}
			}
			if k.Rate, err = d.rate(kt, "rate"); err != nil {
				return err
			}
			a.Keys = append(a.Keys, k)
		}
	}

	if jt, ok, err := d.sub(at, "jwt"); err != nil {
		return err
	} else if ok {
		if err := d.strict(jt, "issuer", "audience", "jwks_file", "jwks_url", "algorithms", "leeway"); err != nil {
			return err
		}
		j := &JWTConfig{}
		if j.Issuer, ok, err = d.str(jt, "issuer"); err != nil {
			return err
		} else if !ok || j.Issuer == "" {
			return d.errorf(jt.field("issuer"), ErrMissing, "required: the authorization server's issuer identifier")
		}
		if j.Audience, _, err = d.str(jt, "audience"); err != nil {
			return err
		}
		if j.Audience == "" {
			j.Audience = a.ResourceURL
		}
		if a.ResourceURL == "" {
			return d.errorf(at.field("resource_url"), ErrMissing, "required with [auth.jwt]: the canonical URL of this server's MCP endpoint")
		}
		file, hasFile, err := d.str(jt, "jwks_file")
		if err != nil {
			return err
		}
		if j.JWKSURL, _, err = d.str(jt, "jwks_url"); err != nil {
			return err
		}
		switch {
		case hasFile && j.JWKSURL != "":
			return d.errorf(jt.field("jwks_url"), ErrInvalid, "give jwks_file or jwks_url, not both")
		case hasFile:
			if j.JWKSFile, err = d.existingFile(jt, "jwks_file", file, dir); err != nil {
				return err
			}
		case j.JWKSURL == "":
			return d.errorf(jt.field("jwks_url"), ErrMissing, "required with [auth.jwt]: jwks_url or jwks_file")
		}
		if j.Algorithms, err = d.strings(jt, "algorithms", 16); err != nil {
			return err
		}
		for i, alg := range j.Algorithms {
			switch alg {
			case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
			default:
				return d.errorf(indexPath(jt.field("algorithms"), i), ErrInvalid, "%q is not allowed: use an asymmetric algorithm (RS*, PS*, ES*, EdDSA); none and HS* are refused", alg)
			}
		}
		if lw, ok, err := d.duration(jt, "leeway", 0, 5*time.Minute); err != nil {
			return err
		} else if ok {
			j.Leeway = lw
		}
		a.JWT = j
	}

	lt, _, err := d.sub(at, "local")
	if err != nil {
		return err
	}
	if err := d.strict(lt, "tools", "scopes"); err != nil {
		return err
	}
	if a.Local.Tools, err = d.strings(lt, "tools", maxListEntries); err != nil {
		return err
	}
	if _, ok := lt.m["tools"]; !ok {
		a.Local.Tools = []string{"*"}
	}
	if a.Local.Scopes, err = d.scopes(lt, "scopes"); err != nil {
		return err
	}
	return nil
}

func (d *doc) rateConfig(c *Config, root table) error {
	rt, _, err := d.sub(root, "rate_limits")
	if err != nil {
		return err
	}
	if err := d.strict(rt, "per_principal", "per_principal_tool", "per_tool", "failed_auth_per_addr", "max_entries", "idle_ttl", "concurrency_wait"); err != nil {
		return err
	}
	r := &c.Rates
	for key, dst := range map[string]*Rate{
		"per_principal": &r.PerPrincipal, "per_principal_tool": &r.PerPrincipalTool,
		"per_tool": &r.PerTool, "failed_auth_per_addr": &r.FailedAuthPerAddr,
	} {
		if *dst, err = d.rate(rt, key); err != nil {
			return err
		}
	}
	if v, ok := rt.m["max_entries"]; ok {
		n, isInt := v.(int64)
		if !isInt {
			return d.wrongType(rt.field("max_entries"), "an integer", v)
		}
		if n < 100 || n > 10_000_000 {
			return d.errorf(rt.field("max_entries"), ErrInvalid, "%d is out of bounds: must be between 100 and 10000000", n)
		}
		r.MaxEntries = int(n)
	}
	if r.IdleTTL, _, err = d.duration(rt, "idle_ttl", time.Second, 24*time.Hour); err != nil {
		return err
	}
	if r.ConcurrencyWait, _, err = d.duration(rt, "concurrency_wait", 0, time.Minute); err != nil {
		return err
	}
	return nil
}

func (d *doc) opsConfig(c *Config, root table, dir string) error {
	at, _, err := d.sub(root, "audit")
	if err != nil {
		return err
	}
	if err := d.strict(at, "file"); err != nil {
		return err
	}
	if s, ok, err := d.str(at, "file"); err != nil {
		return err
	} else if ok && s != "" {
		if s == "-" {
			c.AuditFile = "-"
		} else {
			c.AuditFile = resolve(dir, s)
		}
	}
	mt, _, err := d.sub(root, "metrics")
	if err != nil {
		return err
	}
	if err := d.strict(mt, "listen"); err != nil {
		return err
	}
	if s, ok, err := d.str(mt, "listen"); err != nil {
		return err
	} else if ok {
		if msg := checkListen(s); msg != "" {
			return d.errorf(mt.field("listen"), ErrInvalid, "%s", msg)
		}
		c.MetricsListen = s
	}
	return nil
}

// requiredScopes reads a tool's required_scopes.
func (d *doc) requiredScopes(root table) ([]string, error) {
	return d.scopes(root, "required_scopes")
}
