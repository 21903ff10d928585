package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/host/auth"
	"github.com/moatmcp/moat/host/manifest"
	"github.com/moatmcp/moat/host/ratelimit"
)

// rateConfig turns [rate_limits] and the manifests' own rates into the
// limiter's config; zero fields keep the defaults.
func rateConfig(c manifest.RateConfig, tools []*host.Tool) ratelimit.Config {
	rc := ratelimit.Config{
		PerPrincipal:      c.PerPrincipal,
		PerPrincipalTool:  c.PerPrincipalTool,
		PerTool:           c.PerTool,
		FailedAuthPerAddr: c.FailedAuthPerAddr,
		MaxEntries:        c.MaxEntries,
		IdleTTL:           c.IdleTTL,
		ConcurrencyWait:   c.ConcurrencyWait,
		Tools:             toolRates(tools),
	}
	return rc
}

// toolRates is the manifests' own rates (limits.rate, limits.rate_all),
// by tool; a reload hands the new set to the limiter.
func toolRates(tools []*host.Tool) map[string]ratelimit.ToolRates {
	rates := map[string]ratelimit.ToolRates{}
	for _, t := range tools {
		l := t.Manifest.Limits
		if !l.Rate.IsZero() || !l.RateAll.IsZero() {
			rates[t.Name()] = ratelimit.ToolRates{PerPrincipalTool: l.Rate, PerTool: l.RateAll}
		}
	}
	return rates
}

// authConfig turns [auth] into the authenticator's config.
func authConfig(c manifest.AuthConfig) auth.Config {
	ac := auth.Config{
		ResourceURL:          c.ResourceURL,
		AuthorizationServers: c.AuthorizationServers,
		ScopesSupported:      c.ScopesSupported,
	}
	for _, k := range c.Keys {
		key := auth.APIKey{ID: k.ID, Hash: k.Hash, Tools: k.Tools, Scopes: k.Scopes, Expires: k.Expires}
		if !k.Rate.IsZero() {
			key.Rate = k.Rate.String()
		}
		ac.Keys = append(ac.Keys, key)
	}
	if j := c.JWT; j != nil {
		ac.JWT = &auth.JWTConfig{Issuer: j.Issuer, Audience: j.Audience, JWKSFile: j.JWKSFile, JWKSURL: j.JWKSURL, Algorithms: j.Algorithms, Leeway: j.Leeway}
	}
	return ac
}

// setUpAuth decides how HTTP callers are authenticated. Never silently
// open: with no keys and no JWT configured on a loopback address, it makes a
// key for this run and prints it once (like a notebook token); on any other
// address it refuses to start. --no-auth is loopback-only and loud.
func setUpAuth(ctx context.Context, cfg *manifest.Config, noAuth bool, h *host.Host, limiter *ratelimit.Limiter, log *slog.Logger, stderr io.Writer) (*auth.Authenticator, *auth.Principal, error) {
	loopback := isLoopbackListen(cfg.Listen)
	if noAuth {
		if !loopback {
			return nil, nil, fmt.Errorf("--no-auth is refused on %s: it is only allowed on a loopback address", cfg.Listen)
		}
		fmt.Fprintln(stderr, "moat: WARNING: --no-auth: every local process can call every tool, with no key. For development only.")
		return nil, &auth.Principal{ID: "anonymous", Method: "none", Tools: []string{"*"}}, nil
	}
	ac := authConfig(cfg.Auth)
	if len(ac.Keys) == 0 && ac.JWT == nil {
		if !loopback {
			return nil, nil, fmt.Errorf("no API keys or [auth.jwt] configured: refusing to serve %s without authentication (see docs/auth.md; `moat keys new` makes a key)", cfg.Listen)
		}
		secret, hash, err := auth.NewKey()
		if err != nil {
			return nil, nil, err
		}
		ac.Keys = []auth.APIKey{{ID: "dev", Hash: hash, Tools: []string{"*"}, Scopes: cfg.Auth.ScopesSupported}}
		// Shown once, to the operator's terminal, like a notebook token;
		// never written to the log or the audit trail.
		fmt.Fprintf(stderr, "moat: no keys configured; a key for this run only (all tools):\n\n    Authorization: Bearer %s\n\n", secret)
	}
	authn, err := auth.New(ctx, ac, &auth.Options{
		Logger: log,
		OnDecision: func(r *http.Request, d auth.Decision) {
			h.AuthDecision(r, d)
			if !d.OK && limiter != nil {
				limiter.AuthFailed(d.Addr)
			}
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return authn, nil, nil
}

// localPrincipal is the principal of a stdio session: the MCP spec leaves
// stdio's credentials to the environment, so it comes from [auth.local].
func localPrincipal(c manifest.LocalConfig) *auth.Principal {
	return &auth.Principal{ID: "local", Method: auth.MethodLocal, Tools: c.Tools, Scopes: c.Scopes}
}

func isLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
