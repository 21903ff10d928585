package ratelimit

import (
	"strings"
	"testing"
)

func FuzzAddrKey(f *testing.F) {
	for _, s := range []string{"192.0.2.1:80", "[::ffff:1.2.3.4]:5", "[fe80::1%eth0]:1", "2001:db8::1", "", "@", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := AddrKey(s)
		// The longest key is a /64 such as "ffff:ffff:ffff:ffff::/64": an
		// attacker cannot make keys longer, whatever the address.
		if len(k) > len("ffff:ffff:ffff:ffff::/64") {
			t.Fatalf("AddrKey(%q) = %q: too long", s, k)
		}
		if k != "other" && AddrKey(k) != k && !strings.HasSuffix(k, "/64") {
			t.Fatalf("AddrKey(%q) = %q, not stable", s, k)
		}
	})
}
