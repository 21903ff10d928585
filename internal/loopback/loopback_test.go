package loopback

import (
	"strings"
	"testing"
)

func TestHost(t *testing.T) {
	cases := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST", true},
		{"LocalHost", true},
		{"localhost.", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"[::1]", true},
		{"::ffff:127.0.0.1", true},
		{"", false},
		{"0.0.0.0", false},
		{"::", false},
		{"[::]", false},
		{"10.0.0.1", false},
		{"192.168.1.1", false},
		{"localhost.example.com", false},
		{"mylocalhost", false},
		{"localhost:8080", false},
		{"127.0.0.1:80", false},
		{"fe80::1%lo", false},
		{"::1%lo", false},
		{"[::1", false},
		{"::ffff:10.0.0.1", false},
		{"127.0.0.1.", false},
		{strings.Repeat("a", 300), false},
	}
	for _, c := range cases {
		if got := Host(c.host); got != c.want {
			t.Errorf("Host(%q) = %v, want %v", c.host, got, c.want)
		}
	}
}

func FuzzHost(f *testing.F) {
	for _, s := range []string{"localhost", "127.0.0.1", "[::1]", "::ffff:127.0.0.1", "0.0.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Host(s)
		// Whatever the spelling, the answer does not depend on case or
		// on brackets around an address.
		if Host(strings.ToUpper(s)) != got && !strings.ContainsAny(s, "%") {
			t.Errorf("Host(%q) = %v but Host(upper) differs", s, got)
		}
		if got && strings.Contains(s, ":") && !strings.HasPrefix(s, "[") && Host("["+s+"]") != got {
			t.Errorf("Host(%q) = %v but the bracketed form differs", s, got)
		}
	})
}
