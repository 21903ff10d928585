// Package loopback is moat's one answer to "does this host name stay on
// this machine?". Four places ask it: the HTTP transport (which listen
// addresses and Host headers count as local, for DNS-rebinding protection),
// the JWT settings (http:// JWKS only on loopback), and the state-store
// config (a plaintext redis:// URL only on loopback). They used to answer
// it three different ways, disagreeing on "LOCALHOST" and "localhost.".
//
// It is a leaf: it imports only the standard library, so the config
// vocabulary (internal/manifest) may use it.
package loopback

import (
	"net/netip"
	"strings"
)

// Host reports whether host names this machine's loopback interface:
// "localhost" in any case, with or without the root's trailing dot, or a
// loopback IP address (127.0.0.0/8, ::1, and IPv4 loopback mapped into
// IPv6), optionally in brackets. A port is not allowed: split it off first.
// Empty, unspecified (0.0.0.0, ::), zoned and every other address are not
// loopback: unspecified listens on every interface.
func Host(host string) bool {
	if len(host) > 255 {
		return false
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return false
	}
	return ip.Unmap().IsLoopback()
}
