package netpolicy

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxURLBytes caps a request URL, including every redirect's Location.
const MaxURLBytes = 8 << 10

// Pattern is one allowlist entry: "api.github.com", "api.github.com:8443",
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
type Pattern struct {
	host     string // lower-case name or canonical IP; for a wildcard, the suffix without "*."
	wildcard bool
	port     uint16 // 0: the scheme's default port
}

// ParsePattern parses one allowlist entry.
func ParsePattern(s string) (Pattern, error) {
	if s == "" {
		return Pattern{}, fmt.Errorf("empty host pattern")
	}
	if len(s) > 300 {
		return Pattern{}, fmt.Errorf("host pattern is %d bytes long; the limit is 300", len(s))
	}
	host, port, err := splitHostPort(s)
	if err != nil {
		return Pattern{}, err
	}
	var p Pattern
	p.port = port
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		p.wildcard = true
		host = rest
	}
	if host == "*" || host == "" {
		return Pattern{}, fmt.Errorf("%q matches every host: list the hosts the tool needs", s)
	}
	canon, err := canonicalHost(host)
	if err != nil {
		return Pattern{}, fmt.Errorf("%q: %w", s, err)
	}
	if p.wildcard {
		if _, err := netip.ParseAddr(canon); err == nil {
			return Pattern{}, fmt.Errorf("%q: a wildcard cannot apply to an IP address", s)
		}
	}
	p.host = canon
	return p, nil
}

// String returns the pattern in its canonical form.
func (p Pattern) String() string {
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

// Match reports whether the canonical host (as canonicalHost returns it)
// and port, reached with a scheme whose default port is defaultPort, fall
// under p.
func (p Pattern) Match(host string, port, defaultPort uint16) bool {
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

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port". A port
// must be 1–65535, written in decimal without a sign or leading zeros.
func splitHostPort(s string) (host string, port uint16, err error) {
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

// canonicalHost returns host lower-cased if it is a DNS name, or the
// canonical text of an IP address. It refuses what could be read two ways:
// a zone, percent-encoding, non-ASCII (write the punycode form), a trailing
// dot, and names whose last label is numeric — "127.1", "0x7f.1" and
// "2130706433" are IPv4 addresses to inet_aton, which a system resolver may
// use, while the allowlist would see a name.
func canonicalHost(host string) (string, error) {
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

// target is a vetted request URL.
type target struct {
	url         *url.URL
	host        string // canonical host
	port        uint16 // explicit or the scheme's default
	defaultPort uint16
	https       bool
}

// hostPort returns "host:port" as it is logged and compared between hops.
func (t *target) hostPort() string {
	h := t.host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return h + ":" + strconv.Itoa(int(t.port))
}

// parseURL parses and checks a request URL's shape: absolute http or https,
// a host, no userinfo, no control characters or spaces, at most
// MaxURLBytes. It does not apply the allowlist (see Policy.checkTarget).
// The fragment is dropped: it is never sent.
func parseURL(raw string) (*target, error) {
	if len(raw) > MaxURLBytes {
		return nil, errorf(KindBadRequest, "URL is %d bytes long; the limit is %d", len(raw), MaxURLBytes)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f {
			return nil, errorf(KindBadRequest, "URL contains a control character or space")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errorf(KindBadRequest, "URL does not parse")
	}
	t := &target{url: u}
	switch u.Scheme {
	case "https":
		t.defaultPort, t.https = 443, true
	case "http":
		t.defaultPort = 80
	default:
		return nil, errorf(KindDeniedScheme, "scheme %q: only http and https are supported", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, errorf(KindBadRequest, "URL has no host")
	}
	if u.User != nil {
		return nil, errorf(KindBadRequest, "URL contains userinfo (user:password@); send credentials in a header")
	}
	host, port, err := splitHostPort(u.Host)
	if err != nil {
		return nil, errorf(KindBadRequest, "URL host or port is malformed")
	}
	if t.host, err = canonicalHost(host); err != nil {
		return nil, errorf(KindBadRequest, "URL host: %v", err)
	}
	t.port = port
	if port == 0 {
		t.port = t.defaultPort
	}
	// Send exactly the host that was checked, in its canonical spelling.
	u.Host = t.host
	if strings.Contains(t.host, ":") {
		u.Host = "[" + t.host + "]"
	}
	if port != 0 {
		u.Host += ":" + strconv.Itoa(int(port))
	}
	u.Fragment, u.RawFragment = "", ""
	return t, nil
}
