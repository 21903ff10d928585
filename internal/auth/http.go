package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// WellKnownPath is where RFC 9728 protected resource metadata lives; a
// resource with a path gets it appended (…/oauth-protected-resource/mcp).
const WellKnownPath = "/.well-known/oauth-protected-resource"

// failure is how one sentinel error looks to a client.
type failure struct {
	status int
	code   string // RFC 6750 error code; "" = none (no credentials)
	reason string // fixed, client-safe: body, error_description, Decision.Reason
}

// failureOf is the one place that maps errors to HTTP: every error that is
// not one of ours is an invalid token, so nothing unexpected gets through.
func failureOf(err error) failure {
	switch {
	case errors.Is(err, ErrNoCredentials):
		return failure{http.StatusUnauthorized, "", "authentication required"}
	case errors.Is(err, ErrWrongScheme):
		return failure{http.StatusUnauthorized, "", "authentication required: use a Bearer token"}
	case errors.Is(err, ErrMalformed):
		return failure{http.StatusBadRequest, "invalid_request", "malformed Authorization header"}
	case errors.Is(err, ErrTokenInQuery):
		return failure{http.StatusBadRequest, "invalid_request", "credentials are accepted only in the Authorization header"}
	case errors.Is(err, ErrMalformedQuery):
		return failure{http.StatusBadRequest, "invalid_request", "malformed query string"}
	case errors.Is(err, ErrExpired):
		return failure{http.StatusUnauthorized, "invalid_token", "credential expired"}
	case errors.Is(err, ErrNotYetValid):
		return failure{http.StatusUnauthorized, "invalid_token", "token not yet valid"}
	case errors.Is(err, ErrWrongIssuer):
		return failure{http.StatusUnauthorized, "invalid_token", "token from an untrusted issuer"}
	case errors.Is(err, ErrWrongAudience):
		return failure{http.StatusUnauthorized, "invalid_token", "token not issued for this resource"}
	case errors.Is(err, ErrUnknownKey):
		return failure{http.StatusUnauthorized, "invalid_token", "token signed by an unknown key"}
	case errors.Is(err, ErrJWKSUnavailable):
		return failure{http.StatusUnauthorized, "invalid_token", "token could not be verified now; try again later"}
	case errors.Is(err, ErrInsufficientScope):
		return failure{http.StatusForbidden, "insufficient_scope", "insufficient scope"}
	}
	return failure{http.StatusUnauthorized, "invalid_token", "invalid token"}
}

// Reason returns the fixed, client-safe description of an error from
// Authenticate ("invalid token" for any error that is not ours).
func Reason(err error) string { return failureOf(err).reason }

// Challenge returns the WWW-Authenticate value for err, as Middleware sends
// it, e.g.
//
//	Bearer error="invalid_token", error_description="credential expired", resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="tools"
//
// For ErrInsufficientScope, scopes are the ones needed; otherwise they are
// ignored and the scope parameter is RequiredScopes, else ScopesSupported.
// All values are checked at New, so none needs escaping.
func (a *Authenticator) Challenge(err error, scopes []string) string {
	f := failureOf(err)
	var params []string
	if f.code != "" {
		params = append(params, `error="`+f.code+`"`, `error_description="`+f.reason+`"`)
	}
	if a.metadataURL != "" {
		params = append(params, `resource_metadata="`+a.metadataURL+`"`)
	}
	if !errors.Is(err, ErrInsufficientScope) {
		scopes = a.cfg.RequiredScopes
		if len(scopes) == 0 {
			scopes = a.cfg.ScopesSupported
		}
	}
	if len(scopes) > 0 {
		params = append(params, `scope="`+strings.Join(scopes, " ")+`"`)
	}
	if len(params) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(params, ", ")
}

// WriteError writes the response for err (from Authenticate, or
// ErrInsufficientScope with the scopes needed): status, WWW-Authenticate,
// and a one-line text body with the fixed reason.
func (a *Authenticator) WriteError(w http.ResponseWriter, err error, scopes []string) {
	f := failureOf(err)
	h := w.Header()
	h.Set("WWW-Authenticate", a.Challenge(err, scopes))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(f.status)
	_, _ = w.Write([]byte(f.reason + "\n"))
}

type verifiedKey struct{}

// Middleware authenticates every request before next sees it. On failure it
// answers 400, 401 or 403 (see WriteError) and next is not called. On
// success the request's context carries the *Principal (FromContext) and a
// go-sdk TokenInfo (sdkauth.TokenInfoFromContext) whose UserID is the
// principal's ID: the go-sdk's streamable handler copies that onto each MCP
// request (req.Extra.TokenInfo; see FromTokenInfo) and pins each session to
// its UserID.
//
// The TokenInfo can be put in a context only by the go-sdk's
// RequireBearerToken (its context key is unexported), so Middleware
// authenticates first, answers every failure itself, and then hands the
// already-verified TokenInfo to RequireBearerToken. See docs/auth.md.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return a.middleware(next, bearerToken, true)
}

// middleware is Middleware with the credential read by credential; forSDK
// hands the TokenInfo to the go-sdk (whose RequireBearerToken reads the
// Authorization header as Bearer itself), else the principal alone is put
// in the context (a request for a handler that is not the go-sdk's).
func (a *Authenticator) middleware(next http.Handler, credential func(http.Header) (string, error), forSDK bool) http.Handler {
	handOver := sdkauth.RequireBearerToken(
		func(ctx context.Context, _ string, _ *http.Request) (*sdkauth.TokenInfo, error) {
			if ti, ok := ctx.Value(verifiedKey{}).(*sdkauth.TokenInfo); ok {
				return ti, nil
			}
			return nil, sdkauth.ErrInvalidToken // unreachable: we verified first
		},
		&sdkauth.RequireBearerTokenOptions{
			ResourceMetadataURL: a.metadataURL,
			// API keys may have no expiry; expiry was checked already, with
			// the same leeway.
			AllowMissingExpiration: true,
			ClockSkew:              a.sdkLeeway,
		},
	)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.authenticate(r, credential)
		if err == nil {
			if missing := p.missingScopes(a.cfg.RequiredScopes); len(missing) > 0 {
				err = ErrInsufficientScope
			}
		}
		if rerr := a.report(r, p, err); rerr != nil {
			a.writeUnrecorded(w, rerr)
			return
		}
		if err != nil {
			a.WriteError(w, err, a.cfg.RequiredScopes)
			return
		}
		if !forSDK {
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
			return
		}
		ti := p.TokenInfo()
		for k, v := range a.tokenExtra {
			if k != principalExtraKey {
				ti.Extra[k] = v
			}
		}
		ctx := WithPrincipal(context.WithValue(r.Context(), verifiedKey{}, ti), p)
		handOver.ServeHTTP(w, r.WithContext(ctx))
	})
}

// report passes the decision to OnDecision and Record; the error is
// Record's: the decision could not be recorded.
func (a *Authenticator) report(r *http.Request, p *Principal, err error) error {
	if a.onDecision == nil && a.record == nil {
		return nil
	}
	d := Decision{OK: err == nil, Err: err, Addr: clientAddr(r)}
	if err != nil {
		d.Reason = failureOf(err).reason
	}
	var expired *expiredKeyError
	if p != nil {
		d.Method, d.PrincipalID = p.Method, p.ID
	} else if errors.As(err, &expired) {
		d.Method, d.PrincipalID = MethodAPIKey, expired.id
	} else if tok, terr := bearerToken(r.Header); terr == nil {
		if strings.HasPrefix(tok, KeyPrefix) {
			d.Method = MethodAPIKey
		} else if strings.Count(tok, ".") == 2 {
			d.Method = MethodJWT
		}
	}
	if a.onDecision != nil {
		a.onDecision(r, d)
	}
	if a.record != nil {
		return a.record(r, d)
	}
	return nil
}

// writeUnrecorded answers a request whose decision could not be recorded:
// 503, Retry-After, and an error id that finds the cause in the log.
func (a *Authenticator) writeUnrecorded(w http.ResponseWriter, err error) {
	var withID interface{ ErrorID() string }
	id := ""
	if errors.As(err, &withID) {
		id = withID.ErrorID()
	}
	if id == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
		a.logger.Error("auth: the decision could not be recorded; request refused", "error_id", id, "err", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte("service unavailable; error id " + id + "\n"))
}

// ResourceMetadataURL is the URL of the RFC 9728 metadata document, sent in
// challenges as resource_metadata; "" without Config.ResourceURL.
func (a *Authenticator) ResourceMetadataURL() string { return a.metadataURL }

// MetadataPaths are the paths to mount MetadataHandler at: WellKnownPath,
// and WellKnownPath + the path of ResourceURL when it has one (the form
// RFC 9728 and the MCP spec point clients at). Nil without ResourceURL.
func (a *Authenticator) MetadataPaths() []string {
	if a.metadataPath == "" {
		return nil
	}
	if a.metadataPath == WellKnownPath {
		return []string{WellKnownPath}
	}
	return []string{WellKnownPath, a.metadataPath}
}

// MetadataHandler serves the RFC 9728 protected resource metadata document
// (with the go-sdk's handler: GET and CORS preflight, any origin, since it
// is public). Without Config.ResourceURL it answers 404.
func (a *Authenticator) MetadataHandler() http.Handler {
	if a.metadataURL == "" {
		return http.NotFoundHandler()
	}
	md := &oauthex.ProtectedResourceMetadata{
		Resource:               a.cfg.ResourceURL,
		AuthorizationServers:   a.cfg.AuthorizationServers,
		ScopesSupported:        a.cfg.ScopesSupported,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "moat",
	}
	return sdkauth.ProtectedResourceMetadataHandler(md)
}
