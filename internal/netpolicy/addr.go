package netpolicy

import (
	"net/netip"

	"github.com/moatmcp/moat/internal/manifest"
)

// deniedRange is an address block no request may reach unless allow_ips
// grants it, with the class name errors and the audit log use.
type deniedRange struct {
	prefix netip.Prefix
	class  string
}

// deniedRanges lists what is refused beyond the netip predicates checked
// in AddressClass. IPv4 forms embedded in IPv6 (mapped, NAT64, 6to4) are
// unwrapped and checked as IPv4 before this list is consulted.
var deniedRanges = func() []deniedRange {
	var out []deniedRange
	for _, r := range []struct{ cidr, class string }{
		{"169.254.169.254/32", "cloud metadata"},
		{"fd00:ec2::254/128", "cloud metadata"},
		{"0.0.0.0/8", "this network"},
		{"100.64.0.0/10", "CGNAT"}, // also Alibaba's metadata, 100.100.100.200
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.0.2.0/24", "documentation"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"198.18.0.0/15", "benchmarking"},
		{"240.0.0.0/4", "reserved"}, // includes 255.255.255.255, broadcast
		{"::/96", "IPv4-compatible"},
		{"100::/64", "discard-only"},
		{"2001::/32", "Teredo"}, // embeds an obfuscated IPv4 address
		{"2001:10::/28", "ORCHID"},
		{"2001:20::/28", "ORCHID"},
		{"2001:db8::/32", "documentation"},
		{"3fff::/20", "documentation"},
		{"64:ff9b:1::/48", "local NAT64"},
		{"fec0::/10", "site-local"},
	} {
		out = append(out, deniedRange{netip.MustParsePrefix(r.cidr), r.class})
	}
	return out
}()

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// AddressClass returns why a is refused — "loopback", "private",
// "link-local", "cloud metadata", "CGNAT", "multicast", "unspecified",
// "broadcast", "documentation"… — or "" for a public unicast address.
// IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
// addresses are judged by the IPv4 address they carry, so no IPv6 spelling
// reaches a refused IPv4 address.
func AddressClass(a netip.Addr) string {
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			if c := AddressClass(netip.AddrFrom4([4]byte(b[12:16]))); c != "" {
				return c + " via NAT64"
			}
		case sixToFour.Contains(a):
			if c := AddressClass(netip.AddrFrom4([4]byte(b[2:6]))); c != "" {
				return c + " via 6to4"
			}
		}
	}
	for _, r := range deniedRanges {
		if r.prefix.Contains(a) && r.class == "cloud metadata" {
			return r.class
		}
	}
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	}
	for _, r := range deniedRanges {
		if r.prefix.Contains(a) {
			return r.class
		}
	}
	return ""
}

// ParsePrefix parses an allow_ips entry: an IP address or a CIDR block
// with its host bits zero (manifest.ParseIPPrefix).
func ParsePrefix(s string) (netip.Prefix, error) { return manifest.ParseIPPrefix(s) }
