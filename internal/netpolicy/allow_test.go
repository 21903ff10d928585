package netpolicy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParsePattern(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"api.github.com", "api.github.com", ""},
		{"API.GitHub.com", "api.github.com", ""},
		{"api.github.com:8443", "api.github.com:8443", ""},
		{"*.example.com", "*.example.com", ""},
		{"*.example.com:8443", "*.example.com:8443", ""},
		{"192.0.2.7", "192.0.2.7", ""},
		{"[2001:db8::1]", "[2001:db8::1]", ""},
		{"[2001:db8::1]:443", "[2001:db8::1]:443", ""},
		{"[::ffff:10.0.0.1]", "10.0.0.1", ""},
		{"", "", "empty host pattern"},
		{"*", "", "matches every host"},
		{"*.", "", "matches every host"},
		{"*:443", "", "matches every host"},
		{"a.*.com", "", "contains '*'"},
		{"*.192.0.2.7", "", "wildcard cannot apply to an IP"},
		{"2001:db8::1", "", "brackets"},
		{"[example.com]", "", "brackets hold only IPv6"},
		{"a.com:0", "", "not a number from 1 to 65535"},
		{"a.com:065", "", "not a number"},
		{"a.com:65536", "", "not a number"},
		{"a.com:+80", "", "not a number"},
		{"a.com.", "", "trailing dot"},
		{"a..com", "", "doubled"},
		{"-a.com", "", "starts or ends with '-'"},
		{"a b.com", "", "contains ' '"},
		{"exämple.com", "", "punycode"},
		{"127.1", "", "numeric label"},
		{"0x7f.1", "", "numeric label"},
		{"a.0x7f", "", "numeric label"},
		{"[fe80::1%eth0]", "", "zones"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePattern(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || p.String() != tc.want {
				t.Fatalf("got %q, %v; want %q", p.String(), err, tc.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	p := func(s string) *Policy {
		pol, err := New(Config{Allow: []string{s}, HTTPHosts: []string{"plain.test"}})
		if err != nil {
			t.Fatal(err)
		}
		return pol
	}
	for _, tc := range []struct {
		pattern, url string
		want         Kind
	}{
		{"api.github.com", "https://api.github.com/repos", 0},
		{"api.github.com", "https://API.GITHUB.COM/repos", 0},
		{"api.github.com", "https://api.github.com:443/x", 0},
		{"api.github.com", "https://api.github.com:8443/x", KindDeniedHost},
		{"api.github.com", "https://github.com/", KindDeniedHost},
		{"api.github.com", "https://api.github.com.evil.test/", KindDeniedHost},
		{"api.github.com", "https://evilapi.github.com/", KindDeniedHost},
		{"api.github.com", "http://api.github.com/", KindDeniedScheme},
		{"api.github.com:8443", "https://api.github.com:8443/", 0},
		{"api.github.com:8443", "https://api.github.com/", KindDeniedHost},
		{"*.example.com", "https://a.example.com/", 0},
		{"*.example.com", "https://a.b.example.com/", 0},
		{"*.example.com", "https://example.com/", KindDeniedHost},
		{"*.example.com", "https://aexample.com/", KindDeniedHost},
		{"plain.test", "http://plain.test/", 0},
		{"plain.test", "http://plain.test:8080/", KindDeniedHost},
		{"[2001:db8::1]", "https://[2001:db8::1]/", 0},
		{"[2001:db8::1]", "https://[2001:db8:0::1]/", 0},
		{"192.0.2.7", "https://[::ffff:192.0.2.7]/", 0},
		{"api.github.com", "https://user@api.github.com/", KindBadRequest},
		{"api.github.com", "https://api.github.com/\x00", KindBadRequest},
		{"api.github.com", "https://api.github.com/a\tb", KindBadRequest},
		{"api.github.com", "javascript:alert(1)", KindDeniedScheme},
		{"api.github.com", "https:api.github.com", KindBadRequest},
		{"api.github.com", "https://api.github.com" + strings.Repeat("/a", MaxURLBytes), KindBadRequest},
	} {
		t.Run(tc.pattern+" "+tc.url[:min(len(tc.url), 60)], func(t *testing.T) {
			if got := KindOf(p(tc.pattern).MatchAllowed(tc.url)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAddressClass(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"93.184.215.14", ""},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", ""},
		{"8.8.8.8", ""},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"10.0.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.0.1", "private"},
		{"fc00::1", "private"},
		{"169.254.0.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"169.254.169.254", "cloud metadata"},
		{"fd00:ec2::254", "cloud metadata"},
		{"::ffff:169.254.169.254", "cloud metadata"},
		{"100.64.0.0", "CGNAT"},
		{"100.100.100.200", "CGNAT"},
		{"224.0.0.251", "multicast"},
		{"239.255.255.255", "multicast"},
		{"ff05::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"0.0.0.1", "this network"},
		{"192.0.2.1", "documentation"},
		{"198.51.100.1", "documentation"},
		{"203.0.113.1", "documentation"},
		{"2001:db8::1", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"192.0.0.1", "IETF protocol assignments"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.0.0.1", "private"},
		{"::127.0.0.1", "IPv4-compatible"},
		{"64:ff9b::127.0.0.1", "loopback via NAT64"},
		{"64:ff9b::169.254.169.254", "cloud metadata via NAT64"},
		{"64:ff9b::8.8.8.8", ""},
		{"64:ff9b:1::1", "local NAT64"},
		{"2002:a9fe:a9fe::", "cloud metadata via 6to4"},
		{"2002:0808:0808::", ""},
		{"2001::1", "Teredo"},
		{"fec0::1", "site-local"},
		{"100::1", "discard-only"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if got := AddressClass(netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"127.0.0.1", "127.0.0.1/32", ""},
		{"::1", "::1/128", ""},
		{"::ffff:127.0.0.1", "127.0.0.1/32", ""},
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"fd00::/8", "fd00::/8", ""},
		{"10.0.0.1/8", "", "host bits set"},
		{"::ffff:10.0.0.0/104", "", "IPv4 form"},
		{"fe80::1%eth0", "", "zones"},
		{"localhost", "", "not an IP address"},
		{"10.0.0.0/33", "", "not an IP address"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePrefix(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || p.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", p, err, tc.want)
			}
		})
	}
}

// FuzzMatchAllowed checks the URL parser and the allowlist matcher: no
// panic, and whatever passes names an allowed host over an allowed scheme,
// with no userinfo or control characters in what would be sent.
func FuzzMatchAllowed(f *testing.F) {
	for _, s := range []string{
		"https://api.github.com/repos", "https://a.example.com:8443/x?y#z", "http://plain.test/",
		"https://user:pw@api.github.com/", "https://api.github.com\r\n/", "https://[::1]/", "https://127.1/",
		"https://api.github.com%2eevil.test/", "https://API.GITHUB.COM./", "//api.github.com/", "https://api.github.com:0443/",
	} {
		f.Add(s)
	}
	p, err := New(Config{Allow: []string{"api.github.com", "*.example.com:8443", "plain.test", "[2001:db8::1]"}, HTTPHosts: []string{"plain.test"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tg, err := parseURL(raw)
		if err != nil {
			if KindOf(err) == KindFailed {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		sent := tg.url.String()
		if strings.ContainsAny(sent, "\r\n\x00 ") || tg.url.User != nil {
			t.Fatalf("%q passed as %q", raw, sent)
		}
		if p.checkTarget(tg) != nil {
			return
		}
		host := tg.url.Hostname()
		switch {
		case host == "api.github.com" && tg.https && tg.port == 443,
			strings.HasSuffix(host, ".example.com") && tg.https && tg.port == 8443,
			host == "plain.test" && tg.port == 80,
			host == "2001:db8::1" && tg.https && tg.port == 443:
		default:
			t.Fatalf("%q passed the allowlist as host %q port %d", raw, host, tg.port)
		}
	})
}

// FuzzParsePattern: patterns that parse print back to a form that parses
// to the same pattern.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"api.github.com", "*.example.com:8443", "[::1]:80", "1.2.3.4", "*", "a.com:65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			return
		}
		q, err := ParsePattern(p.String())
		if err != nil || q != p {
			t.Fatalf("%q -> %q -> %v, %v", s, p.String(), q, err)
		}
	})
}
