package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/moatmcp/moat/internal/ratelimit"
)

// KeyPrefix starts every API key secret. It tells a key from a JWT at a
// glance (a JWT is three dot-separated parts) and makes leaked keys easy
// for secret scanners to find.
const KeyPrefix = "moat_"

// hashPrefix starts APIKey.Hash: the algorithm is named so that it can change.
const hashPrefix = "sha256:"

// APIKey is one configured API key. The config holds only the hash of the
// secret; the secret itself is shown once by `moat keys new`.
type APIKey struct {
	// ID names the key in logs, audit records and rate-limit tables. Required:
	// 1–64 of A-Z a-z 0-9 . _ -, unique, and not "local".
	ID string
	// Hash is "sha256:" + 64 lower-case hex digits of the secret. Required.
	Hash string
	// Tools the key may call: exact names or path.Match globs. Empty = none.
	Tools []string
	// Scopes the key holds (checked against a tool's required_scopes).
	// Empty = none.
	Scopes []string
	// Expires is when the key stops working. Zero = never.
	Expires time.Time
	// Rate overrides the per-principal rate limit, e.g. "10/s". Zero = the
	// default. Opaque here; internal/ratelimit parses it.
	Rate ratelimit.Rate
}

// Validate reports what is wrong with k, wrapping ErrConfig; nil if nothing.
// It never mentions the hash.
func (k *APIKey) Validate() error {
	if !validKeyID(k.ID) {
		return fmt.Errorf("%w: api key id %q: want 1-64 of A-Z a-z 0-9 . _ - (and not %q)", ErrConfig, k.ID, MethodLocal)
	}
	if _, err := decodeHash(k.Hash); err != nil {
		return fmt.Errorf("%w: api key %q: %v", ErrConfig, k.ID, err)
	}
	for _, t := range k.Tools {
		if err := validToolPattern(t); err != nil {
			return fmt.Errorf("%w: api key %q: %v", ErrConfig, k.ID, err)
		}
	}
	for _, s := range k.Scopes {
		if !validScope(s) {
			return fmt.Errorf("%w: api key %q: scope %q: not a scope token (RFC 6749 §3.3)", ErrConfig, k.ID, s)
		}
	}
	return nil
}

// NewKey returns a fresh API key secret ("moat_" + 43 base64url characters
// encoding 32 random bytes) and its hash for the config ("sha256:<hex>").
//
// A fast hash is enough: the secret has 256 bits of entropy, so there is no
// dictionary to try and no point in a slow password hash.
func NewKey() (secret, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("new api key: %w", err)
	}
	secret = KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashKey(secret), nil
}

// HashKey returns the config hash of an API key secret: "sha256:<hex>".
func HashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hashPrefix + hex.EncodeToString(sum[:])
}

func decodeHash(h string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	hexPart, ok := strings.CutPrefix(h, hashPrefix)
	if !ok {
		return sum, fmt.Errorf("hash: want %q followed by 64 hex digits", hashPrefix)
	}
	if len(hexPart) != 2*sha256.Size || strings.ToLower(hexPart) != hexPart {
		return sum, fmt.Errorf("hash: want %q followed by 64 lower-case hex digits", hashPrefix)
	}
	if _, err := hex.Decode(sum[:], []byte(hexPart)); err != nil {
		return sum, fmt.Errorf("hash: want %q followed by 64 lower-case hex digits", hashPrefix)
	}
	return sum, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 64 || id == MethodLocal {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validToolPattern refuses empty, non-printable-ASCII and malformed globs:
// a pattern that can never match is a config mistake worth reporting.
func validToolPattern(t string) error {
	if t == "" || len(t) > 128 {
		return fmt.Errorf("tool pattern %q: want 1-128 characters", t)
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' || t[i] == '"' {
			return fmt.Errorf("tool pattern %q: want printable ASCII without spaces or quotes", t)
		}
	}
	if _, err := path.Match(t, ""); err != nil {
		return fmt.Errorf("tool pattern %q: %v", t, err)
	}
	return nil
}

// validScope reports whether s is an RFC 6749 scope-token: 1*( %x21 /
// %x23-5B / %x5D-7E ). That also keeps it safe inside a quoted-string of a
// WWW-Authenticate header.
func validScope(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// storedKey is an APIKey ready for matching.
type storedKey struct {
	key APIKey
	sum [sha256.Size]byte
}

// matchKey returns the key whose hash is the sha256 of secret, or nil.
// Every stored hash is compared, in constant time, whatever matches: the
// time taken depends on the number of keys, not on the secret.
func matchKey(keys []storedKey, secret string) *storedKey {
	sum := sha256.Sum256([]byte(secret))
	var found *storedKey
	for i := range keys {
		if subtle.ConstantTimeCompare(sum[:], keys[i].sum[:]) == 1 {
			found = &keys[i]
		}
	}
	return found
}

// Snippet returns k as the TOML to paste into moat.toml's [auth] section:
//
//	[[auth.keys]]
//	id      = "ci"
//	hash    = "sha256:…"
//	tools   = ["echo", "fs_*"]
//	scopes  = ["files"]
//	expires = 2026-06-01T00:00:00Z
//	rate    = "10/s"
//
// Empty fields are left out. It does not validate k (see Validate).
func (k *APIKey) Snippet() string {
	var b strings.Builder
	b.WriteString("[[auth.keys]]\n")
	fmt.Fprintf(&b, "id      = %s\n", tomlString(k.ID))
	fmt.Fprintf(&b, "hash    = %s\n", tomlString(k.Hash))
	list := func(name string, vs []string) {
		if len(vs) == 0 {
			return
		}
		q := make([]string, len(vs))
		for i, v := range vs {
			q[i] = tomlString(v)
		}
		fmt.Fprintf(&b, "%-7s = [%s]\n", name, strings.Join(q, ", "))
	}
	list("tools", k.Tools)
	list("scopes", k.Scopes)
	if !k.Expires.IsZero() {
		fmt.Fprintf(&b, "expires = %s\n", k.Expires.UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	if !k.Rate.IsZero() {
		fmt.Fprintf(&b, "rate    = %s\n", tomlString(k.Rate.String()))
	}
	return b.String()
}

// tomlString quotes s as a TOML basic string. Non-printable characters are
// written as \uXXXX, which TOML and JSON read alike.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
