package sealed

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// clock is a fake clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newSealer(t testing.TB, key []byte, purpose string, c *clock) *Sealer {
	t.Helper()
	s, err := New(key, &Options{Purpose: purpose, Now: c.now, MaxToken: 1024})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	key := bytes.Repeat([]byte{7}, KeySize)
	s := newSealer(t, key, "moat test", c)
	tok, err := s.Seal([]byte("hello"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name    string
		sealer  *Sealer
		token   string
		advance time.Duration
		want    string
		err     error
	}{
		{name: "round trip", sealer: s, token: tok, want: "hello"},
		{name: "just before expiry", sealer: s, token: tok, advance: time.Minute - time.Second, want: "hello"},
		{name: "at expiry", sealer: s, token: tok, advance: time.Minute, err: ErrExpired},
		{name: "expired and tampered is tampered", sealer: s, token: flip(len(tok) - 3), advance: time.Hour, err: ErrTampered},
		{name: "tampered ciphertext", sealer: s, token: flip(len(tok) - 3), err: ErrTampered},
		{name: "tampered expiry", sealer: s, token: flip(5), err: ErrTampered},
		{name: "tampered nonce", sealer: s, token: flip(20), err: ErrTampered},
		{name: "appended text", sealer: s, token: tok + "-TAMPERED", err: ErrMalformed},
		{name: "other key", sealer: newSealer(t, bytes.Repeat([]byte{8}, KeySize), "moat test", c), token: tok, err: ErrTampered},
		{name: "other purpose", sealer: newSealer(t, key, "moat other", c), token: tok, err: ErrTampered},
		{name: "empty", sealer: s, token: "", err: ErrMalformed},
		{name: "not base64", sealer: s, token: "!!!!", err: ErrMalformed},
		{name: "too short", sealer: s, token: tok[:20], err: ErrMalformed},
		{name: "oversized", sealer: s, token: strings.Repeat("A", 1025), err: ErrTooLarge},
		{name: "other version", sealer: s, token: "Ag" + tok[2:], err: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.t = time.Unix(1_800_000_000, 0).Add(tc.advance)
			got, err := tc.sealer.Open(tc.token)
			if !errors.Is(err, tc.err) || string(got) != tc.want {
				t.Fatalf("Open = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), tc.token[:min(len(tc.token), 16)]) && len(tc.token) > 8 {
				t.Fatalf("error repeats the token: %v", err)
			}
		})
	}
}

func TestSealLimits(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	s := newSealer(t, make([]byte, KeySize), "", c)
	if _, err := s.Seal(make([]byte, 1024), time.Minute); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Seal over MaxToken: %v", err)
	}
	if _, err := New(make([]byte, 16), nil); !errors.Is(err, ErrKeySize) {
		t.Fatalf("New with a 16-byte key: %v", err)
	}
	a, _ := s.Seal([]byte("same"), time.Minute)
	b, _ := s.Seal([]byte("same"), time.Minute)
	if a == b {
		t.Fatal("two seals of one message are equal: the nonce is not random")
	}
	if exp, ok := Expiry(a); !ok || !exp.Equal(c.t.Add(time.Minute)) {
		t.Fatalf("Expiry = %v, %v", exp, ok)
	}
}

// FuzzOpen: no input makes Open panic, and nothing opens but a message
// this key sealed (every fuzz worker seals the same one, with its own
// nonce).
func FuzzOpen(f *testing.F) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	s := newSealer(f, make([]byte, KeySize), "fuzz", c)
	tok, _ := s.Seal([]byte(`{"v":1}`), time.Minute)
	f.Add(tok)
	f.Add("")
	f.Add(tok + "-TAMPERED")
	f.Add(tok[:len(tok)-1])
	f.Fuzz(func(t *testing.T, in string) {
		msg, err := s.Open(in)
		if err == nil && string(msg) != `{"v":1}` {
			t.Fatalf("Open(%q) = %q without error", in, msg)
		}
	})
}
