package netpolicy

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/moatmcp/moat/internal/manifest"
)

// MaxURLBytes caps a request URL, including every redirect's Location.
const MaxURLBytes = 8 << 10

// Pattern is one allowlist entry: "api.github.com", "api.github.com:8443",
// "*.example.com", "192.0.2.7" or "[2001:db8::1]:443". It is
// manifest.HostPattern, so a manifest is checked at load with the rules the
// policy applies; see there for its semantics.
type Pattern = manifest.HostPattern

// ParsePattern parses one allowlist entry (manifest.ParseHostPattern).
func ParsePattern(s string) (Pattern, error) { return manifest.ParseHostPattern(s) }

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
	host, port, err := manifest.SplitHostPort(u.Host)
	if err != nil {
		return nil, errorf(KindBadRequest, "URL host or port is malformed")
	}
	if t.host, err = manifest.CanonicalHost(host); err != nil {
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
