package console

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moatmcp/moat/internal/bytesize"

	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/manifest"
)

// Capability is one tool's row of the capability table: what it may
// touch. It holds names only: never a secret's value.
type Capability struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Mounts      []Mount  `json:"mounts"`
	Hosts       []string `json:"hosts"`   // [net] allow; plain-http hosts are marked "http://"
	Methods     []string `json:"methods"` // [net] methods
	Secrets     []string `json:"secrets"` // env variable and network header names, never values
	Limits      Limits   `json:"limits"`
	Isolation   string   `json:"isolation"`
	Scopes      []string `json:"required_scopes"`
	Clock       bool     `json:"clock"`
	Random      bool     `json:"random"`
	Module      string   `json:"module"` // the OCI reference, or "file"
	SHA256      string   `json:"sha256"`
	Pinned      bool     `json:"pinned"`
	Digest      string   `json:"digest"`
	SignedBy    []string `json:"signed_by"`
	// Approval is "approved" (serving as moat.lock approved it, or no
	// lock), "held" (a change waits for `moat approve`; the approved
	// version serves, if any) or "held, not serving".
	Approval string `json:"approval"`
	// HeldDiff is the readable diff of the held update; "" when not held.
	HeldDiff string `json:"held_diff,omitempty"`
}

// Mount is one folder grant.
type Mount struct {
	Host  string `json:"host"`
	Guest string `json:"guest"`
	Mode  string `json:"mode"` // "ro" or "rw"
}

// Limits are a tool's resource limits, as text.
type Limits struct {
	Memory      string `json:"memory"`
	Timeout     string `json:"timeout"`
	MaxInput    int64  `json:"max_input"`
	MaxOutput   int64  `json:"max_output"`
	Concurrency int    `json:"max_concurrency"`
	Rate        string `json:"rate,omitempty"`
	RateAll     string `json:"rate_all,omitempty"`
}

// Capabilities is the capability table of tools, sorted by name. held
// maps the tools moat.lock holds to their diff; serving says which of
// them still serve an approved version (nil: all of tools serve).
func Capabilities(tools []*manifest.Tool, held map[string]string, serving map[string]bool) []Capability {
	out := make([]Capability, 0, len(tools)+len(held))
	seen := map[string]bool{}
	for _, t := range tools {
		seen[t.Name] = true
		out = append(out, capabilityOf(t, held))
	}
	for name, diff := range held {
		if !seen[name] && (serving == nil || !serving[name]) {
			out = append(out, Capability{Name: name, Approval: "held, not serving", HeldDiff: diff,
				Mounts: []Mount{}, Hosts: []string{}, Methods: []string{}, Secrets: []string{}, Scopes: []string{}, SignedBy: []string{}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func capabilityOf(t *manifest.Tool, held map[string]string) Capability {
	c := Capability{
		Name: t.Name, Description: t.Description,
		Mounts: []Mount{}, Hosts: []string{}, Methods: []string{}, Secrets: []string{},
		Isolation: string(t.Isolation), Scopes: append([]string{}, t.RequiredScopes...),
		Clock: t.Clock, Random: t.Random, Module: "file", SHA256: t.SHA256, Pinned: t.Pinned, Digest: t.Digest,
		SignedBy: append([]string{}, t.SignedBy...), Approval: "approved",
		Limits: Limits{
			Memory: bytesize.Format(uint64(t.Limits.Memory)), Timeout: t.Limits.Timeout.String(),
			MaxInput: t.Limits.MaxInput, MaxOutput: t.Limits.MaxOutput, Concurrency: t.Limits.MaxConcurrency,
			Rate: t.Limits.Rate.String(), RateAll: t.Limits.RateAll.String(),
		},
	}
	if t.ModuleRef != "" {
		c.Module = t.ModuleRef
	}
	for _, m := range t.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		c.Mounts = append(c.Mounts, Mount{Host: m.Host, Guest: m.Guest, Mode: mode})
	}
	for _, e := range t.Env {
		c.Secrets = append(c.Secrets, "env "+e.Name)
	}
	if n := t.Net; n != nil {
		c.Hosts = append(c.Hosts, n.Allow...)
		for _, h := range n.HTTPHosts {
			c.Hosts = append(c.Hosts, "http://"+h)
		}
		c.Methods = append(c.Methods, n.Methods...)
		for _, h := range n.Headers {
			c.Secrets = append(c.Secrets, "header "+h.Name+" for "+h.Host+" ("+h.From+")")
		}
	}
	if diff, ok := held[t.Name]; ok {
		c.Approval, c.HeldDiff = "held", diff
	}
	return c
}

// Principal is one row of the access matrix: a configured credential.
type Principal struct {
	ID      string   `json:"id"`
	Method  string   `json:"method"` // "api_key", "jwt" (any token of the issuer) or "local" (stdio)
	Tools   []string `json:"tools"`  // names or globs
	Scopes  []string `json:"scopes"`
	Expires string   `json:"expires,omitempty"` // RFC 3339; "" = never
	Expired bool     `json:"expired,omitempty"`
	Rate    string   `json:"rate"` // its own rate, or the server's per_principal ("default")
	// May are the tools (of the matrix's columns, in order) it may call:
	// "yes", "scope" (granted by name, but it lacks a required scope:
	// refused with 403 insufficient_scope) or "" (not granted). Filled
	// only by Access.Filled or for a page (Access.Window): a whole matrix
	// of thousands × thousands is never held by the console.
	May []string `json:"may,omitempty"`

	grant *auth.Principal // nil: may use nothing (expired)
}

// Access is the principals × tools matrix, its cells computed on demand.
type Access struct {
	Tools      []string    `json:"tools"`
	Principals []Principal `json:"principals"`

	scopes [][]string // each tool's required scopes, by column
}

// Cell is what principal i may do with tool j: "yes", "scope" or "".
// The rule is auth.Principal.MayUse's, the one the server applies.
func (a *Access) Cell(i, j int) string {
	g := a.Principals[i].grant
	switch {
	case g.MayUse(a.Tools[j], a.scopes[j]):
		return "yes"
	case g.MayUse(a.Tools[j], nil):
		return "scope"
	}
	return ""
}

// Window is principals [plo, phi) × tools [clo, chi), cells filled.
func (a *Access) Window(plo, phi, clo, chi int) Access {
	w := Access{Tools: a.Tools[clo:chi], Principals: make([]Principal, 0, phi-plo), scopes: a.scopes[clo:chi]}
	for i := plo; i < phi; i++ {
		p := a.Principals[i]
		p.May = make([]string, 0, chi-clo)
		for j := clo; j < chi; j++ {
			p.May = append(p.May, a.Cell(i, j))
		}
		w.Principals = append(w.Principals, p)
	}
	return w
}

// Filled is the whole matrix with every cell: for `moat check --access`.
func (a *Access) Filled() Access { return a.Window(0, len(a.Principals), 0, len(a.Tools)) }

// AccessMatrix is who may call which of tools under cfg: each API key,
// the JWT issuer's tokens (tools gated by scopes alone, so a cell says
// "scope" where a token needs a scope) and the stdio principal.
func AccessMatrix(cfg *manifest.Config, tools []*manifest.Tool, now time.Time) Access {
	byName := slices.Clone(tools)
	sort.Slice(byName, func(i, j int) bool { return byName[i].Name < byName[j].Name })
	a := Access{Tools: make([]string, 0, len(byName)), Principals: []Principal{}, scopes: make([][]string, 0, len(byName))}
	for _, t := range byName {
		a.Tools = append(a.Tools, t.Name)
		a.scopes = append(a.scopes, t.RequiredScopes)
	}
	add := func(p Principal) {
		if p.Tools == nil {
			p.Tools = []string{}
		}
		if p.Scopes == nil {
			p.Scopes = []string{}
		}
		a.Principals = append(a.Principals, p)
	}
	def := "default"
	if r := cfg.Rates.PerPrincipal.String(); r != "" {
		def = r + " (default)"
	}
	keys := slices.Clone(cfg.Auth.Keys)
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	for _, k := range keys {
		p := Principal{ID: k.ID, Method: auth.MethodAPIKey, Tools: slices.Clone(k.Tools), Scopes: slices.Clone(k.Scopes), Rate: def}
		if r := k.Rate.String(); r != "" {
			p.Rate = r
		}
		if !k.Expires.IsZero() {
			p.Expires = k.Expires.UTC().Format(time.RFC3339)
			p.Expired = !now.Before(k.Expires)
		}
		if !p.Expired { // an expired key is refused at authentication
			p.grant = &auth.Principal{Tools: p.Tools, Scopes: p.Scopes}
		}
		add(p)
	}
	if j := cfg.Auth.JWT; j != nil {
		// A token may carry any scope the issuer grants: the cell says
		// "scope" where the tool needs one, "yes" where it needs none.
		add(Principal{ID: "jwt:* (" + j.Issuer + ")", Method: auth.MethodJWT, Tools: []string{"*"}, Rate: def, grant: &auth.Principal{Tools: []string{"*"}}})
	}
	if l := cfg.Auth.Local; len(l.Tools) > 0 {
		add(Principal{ID: "local (stdio)", Method: auth.MethodLocal, Tools: slices.Clone(l.Tools), Scopes: slices.Clone(l.Scopes), Rate: "none (stdio)",
			grant: &auth.Principal{Tools: l.Tools, Scopes: l.Scopes}})
	}
	return a
}

// joinOr is strings.Join, or dash for none.
func joinOr(s []string, sep string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, sep)
}
