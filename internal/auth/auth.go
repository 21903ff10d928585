// Package auth authenticates callers of moat's HTTP transport: API keys
// configured by hash, and OAuth 2.1 access tokens (JWTs) checked as a
// resource server per the MCP authorization spec (2025-11-25): RFC 9728
// protected resource metadata, RFC 8707 audience, RFC 6750 bearer tokens.
//
// It sits second in the call path, and again at the authorise step:
//
//	transport → authenticate → rate limit → MCP server → authorise → validate
//	→ sandbox → result → audit
//
// Authenticator.Middleware turns a request into a *Principal (or a 400, 401
// or 403 that names no internals), and Principal.MayUse is the authorise
// step's question: may this caller call this tool? stdio has no tokens: its
// principal (Method "local") comes from the config.
//
// Everything fails closed: no header, a header we can't parse, a JWKS we
// can't reach — all deny. Credentials never appear in errors, logs or
// Decisions.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Sentinel errors returned (wrapped) by Authenticator.Authenticate. The
// wrapping text is for the log; Middleware maps each to a status and a
// fixed client message (see docs/auth.md).
var (
	// ErrNoCredentials: no Authorization header. 401, no error code.
	ErrNoCredentials = errors.New("no credentials")
	// ErrWrongScheme: an Authorization header that is not Bearer (Basic,
	// Digest, …). 401, no error code (RFC 6750 §3.1: an unsupported method
	// is no bearer credentials).
	ErrWrongScheme = errors.New("authorization scheme is not bearer")
	// ErrMalformed: a Bearer header that does not parse: empty or oversized
	// token, characters outside RFC 6750's b64token, several Authorization
	// headers. 400 invalid_request.
	ErrMalformed = errors.New("malformed authorization header")
	// ErrTokenInQuery: a credential-like query parameter (access_token,
	// token, api_key, …). 400 invalid_request, whatever the header says:
	// the secret is already in someone's access log.
	ErrTokenInQuery = errors.New("credentials in the query string")
	// ErrMalformedQuery: a query string that does not parse cleanly (a ";"
	// separator, a bad %-escape, a control character, over maxQueryLen).
	// 400 invalid_request: what a lenient parser drops, another one may
	// read, so a credential could hide in it.
	ErrMalformedQuery = errors.New("malformed query string")
	// ErrInvalidToken: an unknown API key, a bad signature, a refused alg,
	// missing claims. 401 invalid_token.
	ErrInvalidToken = errors.New("invalid token")
	// ErrExpired: an expired API key or token. 401 invalid_token.
	ErrExpired = errors.New("credential expired")
	// ErrNotYetValid: nbf (or iat) in the future, beyond the leeway. 401.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrWrongIssuer: iss is not JWTConfig.Issuer. 401 invalid_token.
	ErrWrongIssuer = errors.New("wrong token issuer")
	// ErrWrongAudience: aud does not hold this resource. 401 invalid_token.
	ErrWrongAudience = errors.New("wrong token audience")
	// ErrUnknownKey: the token's kid is not in the JWKS, even after a
	// refetch. 401 invalid_token.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrJWKSUnavailable: the JWKS could not be fetched, so the token could
	// not be checked. 401 invalid_token; the cause is only in the log.
	ErrJWKSUnavailable = errors.New("jwks unavailable")
	// ErrInsufficientScope: authenticated, but without Config.RequiredScopes.
	// 403 insufficient_scope (returned by Middleware's checks, not by
	// Authenticate).
	ErrInsufficientScope = errors.New("insufficient scope")

	// ErrConfig wraps every configuration error from New and APIKey.Validate.
	ErrConfig = errors.New("invalid auth config")
)

// Config is the [auth] section of the server config.
type Config struct {
	// ResourceURL is the canonical URL of this server's MCP endpoint, e.g.
	// https://tools.example.com/mcp: the RFC 8707 resource identifier, the
	// default JWT audience, and the base of the RFC 9728 metadata URL.
	// Required with JWT; optional otherwise (empty = no metadata document
	// and no resource_metadata in challenges). Absolute, https (http for a
	// loopback host), no query or fragment.
	ResourceURL string
	// AuthorizationServers are issuer URLs listed in the metadata document.
	// Empty = JWT.Issuer when JWT is set, else none.
	AuthorizationServers []string
	// ScopesSupported are listed in the metadata document, and sent in the
	// 401 challenge's scope parameter when RequiredScopes is empty.
	// Empty = none.
	ScopesSupported []string
	// RequiredScopes must all be held by every principal to reach the
	// endpoint at all; a principal without them gets 403
	// insufficient_scope. Empty = none required (per-tool scopes are the
	// host's business, through Principal.MayUse).
	RequiredScopes []string
	// Keys are the accepted API keys. Empty = none.
	Keys []APIKey
	// JWT configures the OAuth 2.1 resource server. Nil = JWTs are refused.
	JWT *JWTConfig
}

// Options are the parts of an Authenticator that are not configuration.
// A nil *Options means all defaults.
type Options struct {
	// HTTPClient fetches JWKSURL. Nil = a new client with Go's default
	// transport. Either way, redirects are followed at most 3 times and only
	// to https (or loopback http) URLs.
	HTTPClient *http.Client
	// Now is the clock for expiry checks and JWKS refresh. Nil = time.Now.
	Now func() time.Time
	// OnDecision is called once per authentication attempt by Middleware
	// (for audit and failed-auth rate limits). Nil = not called. It must be
	// quick and safe for concurrent use.
	OnDecision func(r *http.Request, d Decision)
	// Record writes the audit record of a decision, after OnDecision. A
	// non-nil error means it could not be written, and the request is
	// refused with 503 whatever the decision was: an authentication that
	// leaves no trace must not let a request through (the audit log's
	// on_failure = "refuse"; return nil under "continue"). The client sees
	// an error id: ErrorID() of the error if it has that method (the
	// host's own id, already in its log), else a new one, logged with the
	// error to Logger. Nil = nothing to record.
	Record func(r *http.Request, d Decision) error
	// Logger receives JWKS fetch failures at New, and Record's errors
	// that carry no error id. Nil = slog.Default().
	Logger *slog.Logger
	// TokenExtra is copied into the Extra of every go-sdk TokenInfo that
	// Middleware hands on, next to the principal: how the host ties each
	// MCP request to the configuration that authenticated it. Nil = none.
	TokenExtra map[string]any
}

// Decision is the outcome of one authentication attempt, for the audit log.
// It never holds the credential.
type Decision struct {
	// OK is true when a principal was authenticated (and held RequiredScopes).
	OK bool
	// Method is MethodAPIKey or MethodJWT when the credential's shape said
	// which; "" when there was none or it had neither shape.
	Method string
	// PrincipalID is the principal's ID when OK, or when a known API key
	// was refused (expired); "" otherwise.
	PrincipalID string
	// Reason is a short, fixed, client-safe description; "" when OK.
	Reason string
	// Err is the full error for the log (it may name a JWKS URL or a claim
	// value, never a credential); nil when OK.
	Err error
	// Addr is the client's address: the host part of r.RemoteAddr.
	Addr string
}

// Authenticator checks requests against a Config. It is safe for
// concurrent use and immutable after New, except for its JWKS cache.
type Authenticator struct {
	cfg          Config
	keys         []storedKey
	jwt          *jwtVerifier
	now          func() time.Time
	onDecision   func(*http.Request, Decision)
	tokenExtra   map[string]any
	record       func(*http.Request, Decision) error
	logger       *slog.Logger
	metadataURL  string // "" without ResourceURL
	metadataPath string // path of metadataURL
	sdkLeeway    time.Duration
}

// New validates cfg and returns an Authenticator. With a JWKSURL it fetches
// the JWKS once, bounded by FetchTimeout; a failure there is logged, not
// returned (the issuer may be down while API keys should keep working), and
// tokens are refused with ErrJWKSUnavailable until a fetch succeeds.
// Configuration errors wrap ErrConfig.
func New(ctx context.Context, cfg Config, opts *Options) (*Authenticator, error) {
	if opts == nil {
		opts = &Options{}
	}
	a := &Authenticator{now: opts.Now, onDecision: opts.OnDecision, record: opts.Record, tokenExtra: maps.Clone(opts.TokenExtra)}
	if a.now == nil {
		a.now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	a.logger = logger

	if cfg.ResourceURL != "" {
		u, err := checkResourceURL(cfg.ResourceURL)
		if err != nil {
			return nil, fmt.Errorf("%w: resource_url: %v", ErrConfig, err)
		}
		cfg.ResourceURL = u.String()
		// RFC 9728 §3.1: the well-known segment goes between the host and
		// the resource's path.
		a.metadataPath = WellKnownPath + strings.TrimSuffix(u.Path, "/")
		a.metadataURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: a.metadataPath}).String()
	}
	for _, s := range slices.Concat(cfg.ScopesSupported, cfg.RequiredScopes) {
		if !validScope(s) {
			return nil, fmt.Errorf("%w: scope %q: not a scope token (RFC 6749 §3.3)", ErrConfig, s)
		}
	}
	for _, as := range cfg.AuthorizationServers {
		if _, err := checkResourceURL(as); err != nil {
			return nil, fmt.Errorf("%w: authorization server %q: %v", ErrConfig, as, err)
		}
	}

	seenID := map[string]bool{}
	seenHash := map[string]bool{}
	for i := range cfg.Keys {
		k := cfg.Keys[i]
		if err := k.Validate(); err != nil {
			return nil, err
		}
		if seenID[k.ID] {
			return nil, fmt.Errorf("%w: api key id %q appears twice", ErrConfig, k.ID)
		}
		if seenHash[k.Hash] {
			return nil, fmt.Errorf("%w: api key %q has the same hash as another key", ErrConfig, k.ID)
		}
		seenID[k.ID], seenHash[k.Hash] = true, true
		sum, _ := decodeHash(k.Hash)
		k.Tools, k.Scopes = slices.Clone(k.Tools), slices.Clone(k.Scopes)
		a.keys = append(a.keys, storedKey{key: k, sum: sum})
	}

	if cfg.JWT != nil {
		jc := *cfg.JWT
		cfg.JWT = &jc
		v, err := newJWTVerifier(ctx, &cfg, opts, a.now, logger)
		if err != nil {
			return nil, err
		}
		a.jwt = v
		a.sdkLeeway = v.leeway
		if len(cfg.AuthorizationServers) == 0 {
			cfg.AuthorizationServers = []string{jc.Issuer}
		}
	}
	a.cfg = cfg
	return a, nil
}

func newJWTVerifier(ctx context.Context, cfg *Config, opts *Options, now func() time.Time, logger *slog.Logger) (*jwtVerifier, error) {
	jc := cfg.JWT
	if jc.Issuer == "" {
		return nil, fmt.Errorf("%w: jwt: issuer is required", ErrConfig)
	}
	if cfg.ResourceURL == "" {
		return nil, fmt.Errorf("%w: jwt: resource_url is required (it is the token audience)", ErrConfig)
	}
	if jc.Audience == "" {
		jc.Audience = cfg.ResourceURL
	}
	v := &jwtVerifier{issuer: jc.Issuer, audience: jc.Audience, leeway: jc.Leeway, now: now}
	switch {
	case v.leeway == 0:
		v.leeway = 30 * time.Second
	case v.leeway < 0:
		v.leeway = 0
	}
	algs := jc.Algorithms
	if len(algs) == 0 {
		algs = defaultAlgorithms
	}
	for _, alg := range algs {
		if !slices.Contains(allowedAlgorithms, alg) {
			return nil, fmt.Errorf("%w: jwt: algorithm %q refused; allowed: %s", ErrConfig, alg, strings.Join(allowedAlgorithms, ", "))
		}
		v.algs = append(v.algs, jose.SignatureAlgorithm(alg))
	}

	j := &jwks{refresh: jc.Refresh, timeout: jc.FetchTimeout, now: now}
	if j.refresh <= 0 {
		j.refresh = 10 * time.Minute
	}
	if j.timeout <= 0 {
		j.timeout = 5 * time.Second
	}
	v.keys = j
	switch {
	case (jc.JWKSFile == "") == (jc.JWKSURL == ""):
		return nil, fmt.Errorf("%w: jwt: exactly one of jwks_file and jwks_url is required", ErrConfig)
	case jc.JWKSFile != "":
		keys, err := loadJWKSFile(jc.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("%w: jwt: jwks_file: %v", ErrConfig, err)
		}
		j.keys = keys
		return v, nil
	}
	u, err := url.Parse(jc.JWKSURL)
	if err != nil {
		return nil, fmt.Errorf("%w: jwt: jwks_url: %v", ErrConfig, err)
	}
	if err := checkFetchURL(u); err != nil {
		return nil, fmt.Errorf("%w: jwt: jwks_url: %v", ErrConfig, err)
	}
	j.url = u.String()
	client := &http.Client{}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient // a copy: the caller's client keeps its own redirect policy
		client = &c
	}
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		return checkFetchURL(req.URL)
	}
	j.client = client
	if _, err := j.refetch(ctx); err != nil {
		logger.Warn("auth: jwks fetch failed; tokens are refused until it succeeds", "err", err)
	}
	return v, nil
}

// checkResourceURL parses an absolute https URL (http for loopback) without
// query, fragment or user info, and lower-cases its scheme and host.
func checkResourceURL(s string) (*url.URL, error) {
	if strings.ContainsAny(s, "\"\\ \t\r\n") {
		return nil, errors.New("quotes, backslashes and spaces are not allowed")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("want an absolute URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || u.User != nil {
		return nil, errors.New("query, fragment and user info are not allowed")
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if err := checkFetchURL(u); err != nil {
		return nil, err
	}
	return u, nil
}

// maxTokenLen caps a bearer token: far above a real JWT, far below what a
// flood of giant headers could cost to hash or parse.
const maxTokenLen = 16 << 10

// queryCredentialNames are query parameters refused outright (compared
// case-insensitively): RFC 6750's access_token and the usual API-key names.
var queryCredentialNames = []string{
	"access_token", "token", "api_key", "apikey", "api-key", "key",
	"auth", "authorization", "bearer", "id_token",
}

// maxQueryLen caps the query string scanned for credentials; a longer one
// is refused (no MCP client sends one).
const maxQueryLen = 8 << 10

// checkQuery refuses a query string that carries a credential-like
// parameter or does not parse cleanly. It scans the raw query itself:
// url.Values drops a pair it cannot parse ("x=1;api_key=KEY" is one such
// pair to net/url, two to other servers and proxies), so checking only
// what r.URL.Query() returns would let a credential through.
func checkQuery(raw string) error {
	if raw == "" {
		return nil
	}
	if len(raw) > maxQueryLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrMalformedQuery, maxQueryLen)
	}
	// Every separator anyone uses, so that no reading of the query finds
	// a credential name this one missed.
	for pair := range strings.FieldsFuncSeq(raw, func(r rune) bool { return r == '&' || r == ';' }) {
		name, _, _ := strings.Cut(pair, "=")
		if decoded, err := url.QueryUnescape(name); err == nil {
			name = decoded
		}
		name = strings.TrimSuffix(strings.TrimSpace(name), "[]") // api_key[]=… is api_key to PHP and Rails
		for _, bad := range queryCredentialNames {
			if strings.EqualFold(name, bad) {
				return fmt.Errorf("%w: parameter %q", ErrTokenInQuery, bad)
			}
		}
	}
	if _, err := url.ParseQuery(raw); err != nil {
		// Not err's text: a bad escape's error quotes part of the query.
		return fmt.Errorf("%w: a \";\" separator or a bad %%-escape", ErrMalformedQuery)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: control character", ErrMalformedQuery)
		}
	}
	return nil
}

// Authenticate returns the principal behind r's Authorization header.
// Errors wrap one of the sentinel errors; their text never holds the
// credential. Authenticate does not check Config.RequiredScopes (Middleware
// does) and does not report a Decision.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	return a.authenticate(r, bearerToken)
}

// authenticate is Authenticate with the credential read by credential
// (bearerToken, or bearerOrBasic for a browser's sign-in).
func (a *Authenticator) authenticate(r *http.Request, credential func(http.Header) (string, error)) (*Principal, error) {
	if err := checkQuery(r.URL.RawQuery); err != nil {
		return nil, err
	}
	token, err := credential(r.Header)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(token, KeyPrefix) {
		return a.authenticateKey(token)
	}
	if strings.Count(token, ".") == 2 {
		if a.jwt == nil {
			return nil, fmt.Errorf("%w: a JWT, and no jwt is configured", ErrInvalidToken)
		}
		return a.jwt.verify(r.Context(), token)
	}
	return nil, fmt.Errorf("%w: neither an API key nor a JWT", ErrInvalidToken)
}

func (a *Authenticator) authenticateKey(secret string) (*Principal, error) {
	k := matchKey(a.keys, secret)
	if k == nil {
		return nil, fmt.Errorf("%w: unknown api key", ErrInvalidToken)
	}
	if !k.key.Expires.IsZero() && !a.now().Before(k.key.Expires) {
		return nil, &expiredKeyError{id: k.key.ID, at: k.key.Expires}
	}
	return &Principal{
		ID:      k.key.ID,
		Method:  MethodAPIKey,
		Scopes:  k.key.Scopes,
		Tools:   k.key.Tools,
		Expires: k.key.Expires,
		Rate:    k.key.Rate,
	}, nil
}

// bearerToken extracts the token of the one Authorization header in h:
// "Bearer" (any case), one or more spaces, a b64token (RFC 6750 §2.1).
func bearerToken(h http.Header) (string, error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", ErrNoCredentials
	case 1:
	default:
		// Proxies and servers disagree on which one counts.
		return "", fmt.Errorf("%w: %d Authorization headers", ErrMalformed, len(values))
	}
	v := strings.Trim(values[0], " \t")
	if v == "" {
		return "", ErrNoCredentials
	}
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrWrongScheme
	}
	token := strings.TrimLeft(rest, " ")
	if err := checkToken(token); err != nil {
		return "", err
	}
	return token, nil
}

// checkToken checks the form of a credential: not empty, at most
// maxTokenLen bytes, a b64token (what an API key and a JWT are).
func checkToken(token string) error {
	switch {
	case token == "":
		return fmt.Errorf("%w: empty bearer token", ErrMalformed)
	case len(token) > maxTokenLen:
		return fmt.Errorf("%w: bearer token longer than %d bytes", ErrMalformed, maxTokenLen)
	case !isB64Token(token):
		return fmt.Errorf("%w: bearer token is not a b64token", ErrMalformed)
	}
	return nil
}

// isB64Token reports whether s is 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
// / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// clientAddr is the host part of r.RemoteAddr (all of it if it has no port).
func clientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// expiredKeyError is ErrExpired for a known API key: the Decision names the
// key (its id, never its secret), so the host can end its sessions.
type expiredKeyError struct {
	id string
	at time.Time
}

func (e *expiredKeyError) Error() string {
	return fmt.Sprintf("%v: api key %q expired at %s", ErrExpired, e.id, e.at.UTC().Format(time.RFC3339))
}

func (e *expiredKeyError) Is(target error) bool { return target == ErrExpired }
