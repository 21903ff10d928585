package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// JWTConfig configures the OAuth 2.1 resource server: which access tokens
// (JWTs, RFC 9068 style) this server accepts.
type JWTConfig struct {
	// Issuer must equal the token's iss exactly. Required.
	Issuer string
	// Audience must equal the token's aud (a string, or one element of an
	// array): this server's canonical resource URL (RFC 8707). Empty =
	// Config.ResourceURL.
	Audience string
	// JWKSFile is a JWKS document read once, at New. Exactly one of JWKSFile
	// and JWKSURL is required.
	JWKSFile string
	// JWKSURL is fetched at New and again on demand (see Refresh). https
	// only; http is allowed for a loopback host.
	JWKSURL string
	// Algorithms accepted in a token's alg header. Empty = RS256, ES256,
	// EdDSA. Allowed values: RS256/384/512, PS256/384/512, ES256/384/512,
	// EdDSA. "none" and HS* are refused: a resource server holds no shared
	// secret, and HMAC with a public key as secret is a forgery.
	Algorithms []string
	// Leeway tolerated on exp, nbf and iat, for clock skew. Zero = 30s;
	// negative = none.
	Leeway time.Duration
	// Refresh is how old a fetched JWKS may get before it is fetched again
	// (on the next token, no background goroutine). Zero = 10m. An unknown
	// kid also triggers a fetch; either kind at most once per 30s.
	Refresh time.Duration
	// FetchTimeout bounds one JWKS fetch. Zero = 5s. The body is capped at
	// 1 MiB.
	FetchTimeout time.Duration
}

var defaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}

var allowedAlgorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA",
}

// jwtVerifier checks access tokens. Safe for concurrent use.
type jwtVerifier struct {
	issuer   string
	audience string
	algs     []jose.SignatureAlgorithm
	leeway   time.Duration
	keys     *jwks
	now      func() time.Time
}

// extraClaims are the claims beyond RFC 7519's registered ones that we read.
type extraClaims struct {
	Scope any `json:"scope"` // RFC 8693 / 9068: space-separated string
	Scp   any `json:"scp"`   // Okta/Azure style: array of strings (or a string)
}

// verify checks token and returns the principal it names. Errors wrap one of
// the sentinel errors; their text is for the log, never the token itself.
func (v *jwtVerifier) verify(ctx context.Context, token string) (*Principal, error) {
	tok, err := jwt.ParseSigned(token, v.algs)
	if err != nil {
		// Covers alg "none", HS*, anything not in the allowlist, and
		// syntax: go-jose refuses them before any key is touched.
		return nil, fmt.Errorf("%w: parse: %v", ErrInvalidToken, err)
	}
	if len(tok.Headers) != 1 {
		return nil, fmt.Errorf("%w: want exactly one signature", ErrInvalidToken)
	}
	h := tok.Headers[0]
	key, err := v.keys.key(ctx, h.KeyID, h.Algorithm)
	if err != nil {
		return nil, err
	}
	var claims jwt.Claims
	var extra extraClaims
	// key.Key is a bare public key (never a JWKS or []byte), so go-jose
	// verifies with exactly that key and the alg we already allowed.
	if err := tok.Claims(key.Key, &claims, &extra); err != nil {
		return nil, fmt.Errorf("%w: signature or claims: %v", ErrInvalidToken, err)
	}
	if claims.Issuer != v.issuer {
		return nil, fmt.Errorf("%w: iss %q", ErrWrongIssuer, truncate(claims.Issuer, 128))
	}
	if !claims.Audience.Contains(v.audience) {
		return nil, fmt.Errorf("%w: aud %q", ErrWrongAudience, truncate(strings.Join(claims.Audience, " "), 128))
	}
	if claims.Expiry == nil {
		// An access token without an end is a credential forever.
		return nil, fmt.Errorf("%w: no exp", ErrInvalidToken)
	}
	if claims.Subject == "" {
		return nil, fmt.Errorf("%w: no sub", ErrInvalidToken)
	}
	err = claims.ValidateWithLeeway(jwt.Expected{Time: v.now()}, v.leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return nil, fmt.Errorf("%w: exp %s", ErrExpired, claims.Expiry.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrNotValidYet):
		return nil, fmt.Errorf("%w: nbf %s", ErrNotYetValid, claims.NotBefore.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, fmt.Errorf("%w: iat in the future", ErrNotYetValid)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	scopes, err := tokenScopes(extra)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return &Principal{
		ID:      "jwt:" + claims.Subject,
		Method:  MethodJWT,
		Scopes:  scopes,
		Tools:   []string{"*"},
		Expires: claims.Expiry.Time(),
	}, nil
}

// maxScopes caps the scope tokens one token may carry.
const maxScopes = 256

// tokenScopes merges the scope (space-separated string) and scp (array of
// strings, or a string) claims, dropping duplicates and keeping order.
//
// A scope string is split on single spaces only (RFC 6749 §3.3: scope =
// scope-token *( SP scope-token )), and every token must be an RFC 6749
// scope-token. A token whose scope holds a tab, a newline, another
// Unicode space, a control character or an empty token (two spaces) is
// refused whole: splitting on any whitespace would read "x\tadmin" as
// the admin scope, which the issuer never granted.
func tokenScopes(c extraClaims) ([]string, error) {
	var out []string
	add := func(claim, s string) error {
		if !validScope(s) {
			return fmt.Errorf("%s: %q is not a scope token (RFC 6749 §3.3)", claim, s)
		}
		if len(out) >= maxScopes {
			return fmt.Errorf("%s: more than %d scopes", claim, maxScopes)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
		return nil
	}
	for _, claim := range []struct {
		name string
		v    any
	}{{"scope", c.Scope}, {"scp", c.Scp}} {
		switch v := claim.v.(type) {
		case nil:
		case string:
			if v == "" {
				continue
			}
			for _, s := range strings.Split(v, " ") {
				if err := add(claim.name, s); err != nil {
					return nil, err
				}
			}
		case []any:
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s: want strings", claim.name)
				}
				if err := add(claim.name, s); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("%s: want a string or an array of strings", claim.name)
		}
	}
	return out, nil
}
