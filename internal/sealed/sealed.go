// Package sealed seals small messages that a server hands to a client and
// must get back unchanged: authenticated encryption (XChaCha20-Poly1305)
// with an expiry, so that the client can neither read nor alter what it
// carries, nor use it after it lapsed. moat seals the requestState of a
// multi-round-trip tool call (MCP 2026-07-28 input_required results) with
// it: host/mrtr.go → sealed → the client → sealed → host/mrtr.go.
//
// A token is base64url (unpadded) of
//
//	version (1 byte, 1) | expiry (8 bytes, Unix seconds, big-endian) | nonce (24 bytes) | ciphertext+tag
//
// Version and expiry are authenticated as additional data, together with
// the Sealer's purpose, so a token sealed for one purpose does not open
// for another even under the same key.
//
// Only this package imports golang.org/x/crypto/chacha20poly1305.
//
// # Guarantees
//
//   - Open checks the size before decoding, authenticates before it reads
//     the expiry, and reports one sentinel error per cause: ErrTooLarge,
//     ErrMalformed, ErrTampered (any change, or another key or purpose),
//     ErrExpired. The errors carry no token bytes.
//   - Nonces are random and 192 bits long, so one key may seal as many
//     tokens as any fleet of replicas will ever make.
//   - A Sealer is immutable and safe for concurrent use.
//
// # Notes
//
//   - A token is not single-use: replay protection, if wanted, is the
//     caller's (moat keeps a nonce of its own inside the message).
package sealed

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the size of a key: 32 bytes.
const KeySize = chacha20poly1305.KeySize

// DefaultMaxToken is the default limit on a token's length (Options.MaxToken).
const DefaultMaxToken = 64 << 10

const (
	version    = 1
	headerSize = 1 + 8 // version, expiry
	nonceSize  = chacha20poly1305.NonceSizeX
	overhead   = headerSize + nonceSize + chacha20poly1305.Overhead
)

// Errors of Open (and of New for a bad key).
var (
	ErrTooLarge  = errors.New("sealed token too large")
	ErrMalformed = errors.New("sealed token malformed")
	ErrTampered  = errors.New("sealed token does not authenticate")
	ErrExpired   = errors.New("sealed token expired")
	ErrKeySize   = errors.New("sealing key must be 32 bytes")
)

// Options configure a Sealer. nil means all defaults.
type Options struct {
	// Purpose is bound into every token as additional data; a token opens
	// only under the purpose it was sealed for. "" is a purpose too.
	Purpose string
	// MaxToken is the longest token Open accepts, in bytes of its text;
	// 0 means DefaultMaxToken. Seal refuses to make a longer one.
	MaxToken int
	// Now is the clock of expiry; nil means time.Now.
	Now func() time.Time
}

// Sealer seals and opens tokens under one key.
//
//	s, _ := sealed.New(key, &sealed.Options{Purpose: "moat mrtr v1"})
//	tok, _ := s.Seal(msg, 10*time.Minute)
//	msg, err := s.Open(tok) // errors.Is(err, sealed.ErrExpired) after 10 minutes
type Sealer struct {
	aead    cipher.AEAD
	purpose []byte
	max     int
	now     func() time.Time
}

// New makes a Sealer with key (KeySize bytes; copied).
func New(key []byte, opts *Options) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w, got %d", ErrKeySize, len(key))
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Sealer{aead: aead, purpose: []byte(o.Purpose), max: o.MaxToken, now: o.Now}
	if s.max <= 0 {
		s.max = DefaultMaxToken
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// NewKey returns a random key, for a process that has none configured.
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	return k
}

// Seal encrypts msg into a token that opens until ttl from now.
func (s *Sealer) Seal(msg []byte, ttl time.Duration) (string, error) {
	if base64.RawURLEncoding.EncodedLen(overhead+len(msg)) > s.max {
		return "", fmt.Errorf("%w: %d bytes of message, limit %d bytes of token", ErrTooLarge, len(msg), s.max)
	}
	buf := make([]byte, headerSize+nonceSize, overhead+len(msg))
	buf[0] = version
	binary.BigEndian.PutUint64(buf[1:headerSize], uint64(s.now().Add(ttl).Unix()))
	nonce := buf[headerSize : headerSize+nonceSize]
	_, _ = rand.Read(nonce)
	buf = s.aead.Seal(buf, nonce, msg, s.additional(buf[:headerSize]))
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open returns the message of token, or why not (the package's sentinel
// errors).
func (s *Sealer) Open(token string) ([]byte, error) {
	if len(token) > s.max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(token), s.max)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < overhead {
		return nil, ErrMalformed
	}
	if raw[0] != version {
		return nil, ErrMalformed
	}
	header, nonce, box := raw[:headerSize], raw[headerSize:headerSize+nonceSize], raw[headerSize+nonceSize:]
	msg, err := s.aead.Open(nil, nonce, box, s.additional(header))
	if err != nil {
		return nil, ErrTampered
	}
	exp := int64(binary.BigEndian.Uint64(header[1:]))
	if !s.now().Before(time.Unix(exp, 0)) {
		return nil, ErrExpired
	}
	return msg, nil
}

// Expiry is when token lapses, read without authenticating it: only for
// logs and for sizing a replay record after Open succeeded.
func Expiry(token string) (time.Time, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < overhead || raw[0] != version {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(raw[1:headerSize])), 0), true
}

func (s *Sealer) additional(header []byte) []byte {
	ad := make([]byte, 0, len(header)+len(s.purpose))
	return append(append(ad, header...), s.purpose...)
}
