package manifest

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// This file holds the grammar of a [net] grant: host patterns, IP blocks,
// methods and header names, as a manifest writes them. It lives here, and
// internal/netpolicy (which enforces grants) uses it, so that a manifest is
// checked at load with the same rules the policy applies, without this
// package importing the runtime.

// HostPattern is one allowlist entry: "api.github.com", "api.github.com:8443",
// "*.example.com", "*.example.com:8443", "192.0.2.7" or "[2001:db8::1]:443".
//
// # Notes
//
//   - Without a port a pattern matches only the scheme's default port (443
//     for https, 80 for http): granting a host does not grant its other
//     services.
//   - "*.example.com" matches any name below example.com (a.example.com,
//     a.b.example.com), not example.com itself: list both if both are meant.
//   - Names are compared lower-case. A bare "*" is not a pattern: list
//     hosts.
type HostPattern struct {
	host     string // lower-case name or canonical IP; for a wildcard, the suffix without "*."
	wildcard bool
	port     uint16 // 0: the scheme's default port
}

// ParseHostPattern parses one allowlist entry ([net] allow, http_hosts,
// [[net.header]] host).
func ParseHostPattern(s string) (HostPattern, error) {
	if s == "" {
		return HostPattern{}, fmt.Errorf("empty host pattern")
	}
	if len(s) > 300 {
		return HostPattern{}, fmt.Errorf("host pattern is %d bytes long; the limit is 300", len(s))
	}
	host, port, err := SplitHostPort(s)
	if err != nil {
		return HostPattern{}, err
	}
	var p HostPattern
	p.port = port
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		p.wildcard = true
		host = rest
	}
	if host == "*" || host == "" {
		return HostPattern{}, fmt.Errorf("%q matches every host: list the hosts the tool needs", s)
	}
	canon, err := CanonicalHost(host)
	if err != nil {
		return HostPattern{}, fmt.Errorf("%q: %w", s, err)
	}
	if p.wildcard {
		if _, err := netip.ParseAddr(canon); err == nil {
			return HostPattern{}, fmt.Errorf("%q: a wildcard cannot apply to an IP address", s)
		}
	}
	p.host = canon
	return p, nil
}

// String returns the pattern in its canonical form.
func (p HostPattern) String() string {
	h := p.host
	if a, err := netip.ParseAddr(h); err == nil && a.Is6() {
		h = "[" + h + "]"
	}
	if p.wildcard {
		h = "*." + h
	}
	if p.port != 0 {
		h += ":" + strconv.Itoa(int(p.port))
	}
	return h
}

// Match reports whether the canonical host (as CanonicalHost returns it)
// and port, reached with a scheme whose default port is defaultPort, fall
// under p.
func (p HostPattern) Match(host string, port, defaultPort uint16) bool {
	want := p.port
	if want == 0 {
		want = defaultPort
	}
	if port != want {
		return false
	}
	if p.wildcard {
		return strings.HasSuffix(host, "."+p.host)
	}
	return host == p.host
}

// SplitHostPort splits "host", "host:port", "[v6]" or "[v6]:port". A port
// must be 1–65535, written in decimal without a sign or leading zeros.
func SplitHostPort(s string) (host string, port uint16, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, fmt.Errorf("%q: missing ']'", s)
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
				return "", 0, fmt.Errorf("%q: brackets hold only IPv6 addresses", s)
			}
			return host, 0, nil
		}
		if rest[0] != ':' {
			return "", 0, fmt.Errorf("%q: unexpected text after ']'", s)
		}
		port, err := parsePort(rest[1:])
		if err != nil {
			return "", 0, fmt.Errorf("%q: %w", s, err)
		}
		return host, port, nil
	}
	if strings.Count(s, ":") > 1 {
		return "", 0, fmt.Errorf("%q: write IPv6 addresses in brackets, e.g. [2001:db8::1]", s)
	}
	h, ps, found := strings.Cut(s, ":")
	if !found {
		return s, 0, nil
	}
	port, err = parsePort(ps)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", s, err)
	}
	return h, port, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return uint16(n), nil
}

// CanonicalHost returns host lower-cased if it is a DNS name, or the
// canonical text of an IP address. It refuses what could be read two ways:
// a zone, percent-encoding, non-ASCII (write the punycode form), a trailing
// dot, and names whose last label is numeric — "127.1", "0x7f.1" and
// "2130706433" are IPv4 addresses to inet_aton, which a system resolver may
// use, while the allowlist would see a name.
func CanonicalHost(host string) (string, error) {
	if host == "" {
		return "", fmt.Errorf("empty host")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("IPv6 zones are not allowed")
		}
		return a.Unmap().String(), nil
	}
	if len(host) > 253 {
		return "", fmt.Errorf("host name is %d bytes long; the limit is 253", len(host))
	}
	host = strings.ToLower(host)
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" {
			return "", fmt.Errorf("empty label in host name (a leading, doubled or trailing dot)")
		}
		if len(l) > 63 {
			return "", fmt.Errorf("a host name label is over 63 bytes")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("host name contains %q: use letters, digits, '-', '_' and '.' (punycode for other scripts)", rune(c))
			}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("a host name label starts or ends with '-'")
		}
	}
	last := labels[len(labels)-1]
	numeric := true
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			numeric = false
		}
	}
	if numeric || strings.HasPrefix(last, "0x") {
		return "", fmt.Errorf("host name ends in a numeric label: write IPv4 addresses in dotted decimal")
	}
	return host, nil
}

// ParseIPPrefix parses an allow_ips entry: an IP address ("127.0.0.1",
// "::1") or a CIDR block ("10.0.0.0/8"). A block must be written with its
// host bits zero, so "10.0.0.1/8" is refused as ambiguous.
func ParseIPPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR block", s)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("%q has host bits set: write %s", s, p.Masked())
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%q: write IPv4 blocks in IPv4 form", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR block", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// hopByHop are the headers of one connection, not of the message (RFC
// 9110 7.6.1): never forwarded either way.
var hopByHop = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
}

// IsHopByHop reports whether the canonical header name is a hop-by-hop
// header (RFC 9110 7.6.1): never forwarded, never injected.
func IsHopByHop(canonical string) bool { return hopByHop[canonical] }

// managedHeaders are set by the HTTP client from the request itself.
var managedHeaders = map[string]bool{
	"Host":           true,
	"Content-Length": true,
}

// IsClientManaged reports whether the canonical header name is one the
// HTTP client sets from the request itself (Host, Content-Length).
func IsClientManaged(canonical string) bool { return managedHeaders[canonical] }

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// CheckHeaderName accepts an RFC 9110 field name of at most 256 bytes.
func CheckHeaderName(name string) error {
	if len(name) > 256 || !isToken(name) {
		return fmt.Errorf("%q is not a valid header name", name)
	}
	return nil
}

// CheckHeaderValue refuses control characters other than tab — above all
// CR, LF and NUL, which would split or end the header. The error never
// quotes the value.
func CheckHeaderValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("header value contains control character %#x", c)
		}
	}
	return nil
}

// CheckMethod accepts an HTTP method token. CONNECT and TRACE are refused:
// one opens a tunnel, the other echoes the request (and its secrets) back.
func CheckMethod(m string) error {
	if m == "" || len(m) > 32 || !isToken(m) {
		return fmt.Errorf("%q is not an HTTP method", m)
	}
	if m != strings.ToUpper(m) {
		return fmt.Errorf("%q: write methods in upper case", m)
	}
	if m == http.MethodConnect || m == http.MethodTrace {
		return fmt.Errorf("%s is never allowed", m)
	}
	return nil
}

// CheckInjectedHeaderName refuses, for a [[net.header]], a header the HTTP
// client sets itself or that only means something to one connection: the
// host could not send it as written.
func CheckInjectedHeaderName(name string) error {
	if err := CheckHeaderName(name); err != nil {
		return err
	}
	c := http.CanonicalHeaderKey(name)
	if IsHopByHop(c) || IsClientManaged(c) {
		return fmt.Errorf("%s is set by the HTTP client and cannot be injected", name)
	}
	return nil
}
