package ratelimit

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{
		"", "unlimited", "0", "100/min", "10/s burst 20", "5000/hour burst 50",
		"1000000000/day burst 1000000000", "1000000001/s", "+1/s", "1/s burst", "10 / s",
		"1/s burst 1 burst 2", "\x00", "１/s", "10/s\u00a0burst 2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRate) {
				t.Fatalf("ParseRate(%q): error %v does not wrap ErrInvalidRate", s, err)
			}
			if r != (Rate{}) {
				t.Fatalf("ParseRate(%q): %#v returned with an error", s, r)
			}
			// Errors quote at most 64 bytes of input (escaped, so up to
			// 4 bytes each) and two 20-byte fragments.
			if len(err.Error()) > 600 || !utf8.ValidString(err.Error()) {
				t.Fatalf("ParseRate(%q): error of %d bytes: %q", s, len(err.Error()), err)
			}
			return
		}
		if strings.TrimSpace(s) == "" {
			if !r.IsZero() {
				t.Fatalf("ParseRate(%q) = %#v, want the zero Rate", s, r)
			}
			return
		}
		if !r.IsUnlimited() && (r.Burst() < 1 || limitOf(r) <= 0) {
			t.Fatalf("ParseRate(%q) = %#v: burst %d, limit %v", s, r, r.Burst(), limitOf(r))
		}
		again, err := ParseRate(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRate(%q) = %#v, but ParseRate(%q) = %#v, %v", s, r, r.String(), again, err)
		}
	})
}

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
