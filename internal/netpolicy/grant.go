package netpolicy

import "github.com/moatmcp/moat/internal/manifest"

// ConfigFor returns the configuration of a policy enforcing a tool's [net]
// grant, as manifest.Load checked it. The resolver, TLS roots and the
// request callback are the host's to add.
func ConfigFor(g *manifest.NetGrant) Config {
	c := Config{
		Allow: g.Allow, Methods: g.Methods, HTTPHosts: g.HTTPHosts, AllowIPs: g.AllowIPs,
		MaxRequest: g.MaxRequest, MaxResponse: g.MaxResponse, Timeout: g.Timeout, MaxRedirects: g.MaxRedirects,
	}
	for _, h := range g.Headers {
		c.Headers = append(c.Headers, Header{Host: h.Host, Name: h.Name, Value: string(h.Value)})
	}
	return c
}
