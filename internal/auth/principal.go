package auth

import (
	"context"
	"path"
	"slices"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/moatmcp/moat/internal/ratelimit"
)

// Authentication methods, the values of Principal.Method.
const (
	MethodAPIKey = "api_key"
	MethodJWT    = "jwt"
	MethodLocal  = "local"
)

// principalExtraKey is the TokenInfo.Extra key that carries the *Principal.
// The go-sdk copies the TokenInfo of the HTTP request onto every MCP request
// (req.Extra.TokenInfo), so that is how a tool handler finds its caller.
const principalExtraKey = "moat.principal"

// Principal is an authenticated caller and what it was granted.
//
// # Notes
//
//   - Treat a Principal as immutable once authenticated: it is shared by
//     every request of a session.
//   - A zero Principal may use nothing: no Tools, no Scopes.
type Principal struct {
	// ID names the caller: the API key's id, "jwt:" + the token's sub, or
	// "local" for stdio. Never a credential.
	ID string
	// Method is MethodAPIKey, MethodJWT or MethodLocal.
	Method string
	// Scopes granted: an API key's configured scopes, or a JWT's scope/scp
	// claims. Empty = none.
	Scopes []string
	// Tools the caller may call: exact names or path.Match globs ("*" is
	// every tool). Empty = none. JWT principals get ["*"]: their tools are
	// gated by scopes alone (a tool's required_scopes).
	Tools []string
	// Expires is when the credential stops being accepted. Zero = never.
	Expires time.Time
	// Rate is an optional per-principal rate override, such as an API
	// key's own rate. The zero Rate = the default.
	Rate ratelimit.Rate
}

// MayUse reports whether p may call tool: tool matches one of p.Tools and p
// holds every one of requiredScopes. A nil Principal may use nothing.
func (p *Principal) MayUse(tool string, requiredScopes []string) bool {
	if p == nil || tool == "" {
		return false
	}
	return p.Granted(tool) && len(p.missingScopes(requiredScopes)) == 0
}

// Granted reports whether one of p's tool patterns (exact names or
// path.Match globs) names tool, scopes aside: moat's one matcher of tool
// grants. MayUse adds the scopes; the HTTP stack uses Granted alone to
// tell "not yours" from "yours, but the token lacks a scope".
func (p *Principal) Granted(tool string) bool {
	if p == nil {
		return false
	}
	for _, pat := range p.Tools {
		if pat == "*" || pat == tool {
			return true
		}
		// A malformed pattern matches nothing (and is refused in config).
		if ok, err := path.Match(pat, tool); err == nil && ok {
			return true
		}
	}
	return false
}

// missingScopes returns the scopes in required that p does not hold, in
// order; nil when it holds them all.
func (p *Principal) missingScopes(required []string) []string {
	var missing []string
	for _, s := range required {
		if !slices.Contains(p.Scopes, s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// TokenInfo returns p as a go-sdk TokenInfo: UserID is p.ID (the go-sdk pins
// a session to it), Extra["moat.principal"] is p itself.
func (p *Principal) TokenInfo() *sdkauth.TokenInfo {
	return &sdkauth.TokenInfo{
		Scopes:     p.Scopes,
		Expiration: p.Expires,
		UserID:     p.ID,
		Extra:      map[string]any{principalExtraKey: p},
	}
}

// FromTokenInfo returns the Principal carried in ti (see Principal.TokenInfo).
// ok is false when ti is nil or carries none, or when its UserID does not
// name the carried principal.
func FromTokenInfo(ti *sdkauth.TokenInfo) (p *Principal, ok bool) {
	if ti == nil {
		return nil, false
	}
	p, ok = ti.Extra[principalExtraKey].(*Principal)
	if !ok || p == nil || p.ID != ti.UserID {
		return nil, false
	}
	return p, true
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx that carries p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal in ctx: the one put there by
// WithPrincipal, else the one inside a go-sdk TokenInfo in ctx.
func FromContext(ctx context.Context) (*Principal, bool) {
	if p, ok := ctx.Value(principalKey{}).(*Principal); ok && p != nil {
		return p, true
	}
	return FromTokenInfo(sdkauth.TokenInfoFromContext(ctx))
}
