package manifest

import "slices"

// ClientCapability names an MCP client capability a tool may require
// (client_capabilities): what the client must have declared, at
// initialize or in a 2026-07-28 request's _meta, for the tool to be
// called.
type ClientCapability string

// The client capabilities a tool can use through moat.input_request.
const (
	CapElicitation ClientCapability = "elicitation"
	CapSampling    ClientCapability = "sampling"
	CapRoots       ClientCapability = "roots"
)

// ClientCapabilityNames are the accepted spellings, in order.
var ClientCapabilityNames = []ClientCapability{CapElicitation, CapSampling, CapRoots}

// clientCaps decodes client_capabilities: known names, each once; sorted.
func (d *doc) clientCaps(names []string) ([]ClientCapability, error) {
	var out []ClientCapability
	for i, n := range names {
		c := ClientCapability(n)
		if !slices.Contains(ClientCapabilityNames, c) {
			return nil, d.errorf(indexPath("client_capabilities", i), ErrInvalid, `%q is not a client capability a tool can require: use "elicitation", "sampling" or "roots"`, n)
		}
		if slices.Contains(out, c) {
			return nil, d.errorf(indexPath("client_capabilities", i), ErrInvalid, "%q is listed twice", n)
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return out, nil
}
