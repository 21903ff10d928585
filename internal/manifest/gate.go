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
	// Quotas is quotas = {...}: this key's own quotas, [quotas] for the
	// fields it leaves out; nil = [quotas] as it is.
	Quotas *QuotaConfig
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
	PerPrincipal         Rate // per_principal: tool calls per principal
	PerPrincipalRequests Rate // per_principal_requests: the ceiling on raw requests per principal, of any kind
	PerPrincipalTool     Rate
	PerTool              Rate
	FailedAuthPerAddr    Rate
	MaxEntries           int
	IdleTTL              time.Duration
	ConcurrencyWait      time.Duration
}

var scopeToken = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]{1,128}$`) // RFC 6749 scope-token
var keyID = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)
var keyHash = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// authTable is [auth].
type authTable struct {
	ResourceURL          *string    `toml:"resource_url"`
	AuthorizationServers []string   `toml:"authorization_servers" max:"256"`
	ScopesSupported      []string   `toml:"scopes_supported" max:"256"`
	Keys                 []keyTable `toml:"keys" want:"an array of tables ([[auth.keys]])" max:"4096"`
	JWT                  *jwtTable  `toml:"jwt"`
	Local                localTable `toml:"local"`
}

// keyTable is one [[auth.keys]].
type keyTable struct {
	ID     *string  `toml:"id"`
	Hash   *string  `toml:"hash"`
	Tools  []string `toml:"tools" max:"256"`
	Scopes []string `toml:"scopes" max:"256"`
	// Expires is a TOML offset date-time or an RFC 3339 string; any,
	// because go-toml hands a date-time only to a time.Time, and a local
	// date-time (no offset) must be refused rather than read in the
	// server's zone.
	Expires any          `toml:"expires"`
	Rate    Rate         `toml:"rate"`
	Quotas  *quotasTable `toml:"quotas"`
}

// jwtTable is [auth.jwt].
type jwtTable struct {
	Issuer     string    `toml:"issuer"`
	Audience   string    `toml:"audience"`
	JWKSFile   *string   `toml:"jwks_file"`
	JWKSURL    string    `toml:"jwks_url"`
	Algorithms []string  `toml:"algorithms" max:"16"`
	Leeway     *Duration `toml:"leeway"`
}

// localTable is [auth.local].
type localTable struct {
	Tools  *[]string `toml:"tools" max:"256"`
	Scopes []string  `toml:"scopes" max:"256"`
}

// rateLimitsTable is [rate_limits].
type rateLimitsTable struct {
	PerPrincipal         Rate      `toml:"per_principal"`
	PerPrincipalRequests Rate      `toml:"per_principal_requests"`
	PerPrincipalTool     Rate      `toml:"per_principal_tool"`
	PerTool              Rate      `toml:"per_tool"`
	FailedAuthPerAddr    Rate      `toml:"failed_auth_per_addr"`
	MaxEntries           *int64    `toml:"max_entries"`
	IdleTTL              *Duration `toml:"idle_ttl"`
	ConcurrencyWait      *Duration `toml:"concurrency_wait"`
}

// scopes checks a list of OAuth scopes.
func (d *doc) scopes(field string, s []string) ([]string, error) {
	for i, v := range s {
		if !scopeToken.MatchString(v) {
			return nil, d.errorf(indexPath(field, i), ErrInvalid, "%q is not a valid OAuth scope (printable ASCII, no spaces or quotes)", v)
		}
	}
	return s, nil
}

func (d *doc) authConfig(c *Config, at *authTable, dir string) error {
	a := &c.Auth
	if at.ResourceURL != nil {
		s := *at.ResourceURL
		u, perr := url.Parse(s)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return d.errorf("auth.resource_url", ErrInvalid, "%q must be an absolute http(s) URL without query or fragment, e.g. https://tools.example.com/mcp", s)
		}
		a.ResourceURL = s
	}
	a.AuthorizationServers = at.AuthorizationServers
	var err error
	if a.ScopesSupported, err = d.scopes("auth.scopes_supported", at.ScopesSupported); err != nil {
		return err
	}

	seen := map[string]bool{}
	for i, kt := range at.Keys {
		f := indexPath("auth.keys", i)
		var k KeyConfig
		if kt.ID == nil || !keyID.MatchString(*kt.ID) {
			return d.errorf(joinPath(f, "id"), ErrInvalid, "required: 1–64 characters of A-Z a-z 0-9 _ . @ -")
		}
		id := *kt.ID
		if seen[id] {
			return d.errorf(joinPath(f, "id"), ErrInvalid, "key id %q is used twice", id)
		}
		seen[id] = true
		k.ID = id
		if kt.Hash == nil || !keyHash.MatchString(*kt.Hash) {
			// Never echo the value: an operator may have pasted the key itself.
			return d.errorf(joinPath(f, "hash"), ErrInvalid, `required: "sha256:" and 64 lower-case hex digits, as "moat keys new" prints it (never the key itself)`)
		}
		k.Hash = *kt.Hash
		k.Tools = kt.Tools
		if k.Scopes, err = d.scopes(joinPath(f, "scopes"), kt.Scopes); err != nil {
			return err
		}
		switch x := kt.Expires.(type) {
		case nil:
		case time.Time:
			k.Expires = x
		case string:
			t, perr := time.Parse(time.RFC3339, x)
			if perr != nil {
				return d.errorf(joinPath(f, "expires"), ErrInvalid, "%q is not an RFC 3339 time such as 2027-01-31T00:00:00Z", x)
			}
			k.Expires = t
		default:
			return d.wrongType(joinPath(f, "expires"), "an RFC 3339 date-time", x)
		}
		k.Rate = kt.Rate
		if kt.Quotas != nil {
			q, err := d.quotaConfig(joinPath(f, "quotas"), kt.Quotas, c.Quotas)
			if err != nil {
				return err
			}
			k.Quotas = &q
		}
		a.Keys = append(a.Keys, k)
	}

	if jt := at.JWT; jt != nil {
		j := &JWTConfig{Issuer: jt.Issuer, Audience: jt.Audience, JWKSURL: jt.JWKSURL, Algorithms: jt.Algorithms}
		if j.Issuer == "" {
			return d.errorf("auth.jwt.issuer", ErrMissing, "required: the authorization server's issuer identifier")
		}
		if j.Audience == "" {
			j.Audience = a.ResourceURL
		}
		if a.ResourceURL == "" {
			return d.errorf("auth.resource_url", ErrMissing, "required with [auth.jwt]: the canonical URL of this server's MCP endpoint")
		}
		switch {
		case jt.JWKSFile != nil && j.JWKSURL != "":
			return d.errorf("auth.jwt.jwks_url", ErrInvalid, "give jwks_file or jwks_url, not both")
		case jt.JWKSFile != nil:
			if j.JWKSFile, err = d.existingFile("auth.jwt.jwks_file", *jt.JWKSFile, dir); err != nil {
				return err
			}
		case j.JWKSURL == "":
			return d.errorf("auth.jwt.jwks_url", ErrMissing, "required with [auth.jwt]: jwks_url or jwks_file")
		}
		for i, alg := range j.Algorithms {
			switch alg {
			case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
			default:
				return d.errorf(indexPath("auth.jwt.algorithms", i), ErrInvalid, "%q is not allowed: use an asymmetric algorithm (RS*, PS*, ES*, EdDSA); none and HS* are refused", alg)
			}
		}
		if j.Leeway, err = d.duration("auth.jwt.leeway", jt.Leeway, 0, 0, 5*time.Minute); err != nil {
			return err
		}
		a.JWT = j
	}

	if at.Local.Tools != nil {
		a.Local.Tools = *at.Local.Tools
	}
	if a.Local.Scopes, err = d.scopes("auth.local.scopes", at.Local.Scopes); err != nil {
		return err
	}
	return nil
}

func (d *doc) rateConfig(c *Config, rt *rateLimitsTable) error {
	r := &c.Rates
	r.PerPrincipal, r.PerPrincipalRequests, r.PerPrincipalTool, r.PerTool, r.FailedAuthPerAddr = rt.PerPrincipal, rt.PerPrincipalRequests, rt.PerPrincipalTool, rt.PerTool, rt.FailedAuthPerAddr
	n, err := d.integer("rate_limits.max_entries", rt.MaxEntries, 0, 100, 10_000_000)
	if err != nil {
		return err
	}
	r.MaxEntries = int(n)
	if r.IdleTTL, err = d.duration("rate_limits.idle_ttl", rt.IdleTTL, 0, time.Second, 24*time.Hour); err != nil {
		return err
	}
	if r.ConcurrencyWait, err = d.duration("rate_limits.concurrency_wait", rt.ConcurrencyWait, 0, 0, time.Minute); err != nil {
		return err
	}
	return nil
}

func (d *doc) opsConfig(c *Config, f *configFile, dir string) error {
	if s := f.Audit.File; s != nil && *s != "" {
		if *s == "-" {
			c.AuditFile = "-"
		} else {
			c.AuditFile = resolve(dir, *s)
		}
	}
	if s := f.Audit.OnFailure; s != nil {
		switch m := AuditFailureMode(*s); m {
		case AuditRefuse, AuditContinue:
			c.AuditOnFailure = m
		default:
			return d.errorf("audit.on_failure", ErrInvalid, `%q is not a mode: use "refuse" (the default: a call whose audit record cannot be written fails) or "continue"`, *s)
		}
	}
	if s := f.Metrics.Listen; s != nil {
		if msg := checkListen(*s); msg != "" {
			return d.errorf("metrics.listen", ErrInvalid, "%s", msg)
		}
		c.MetricsListen = *s
	}
	return nil
}
