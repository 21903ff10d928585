package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/moatmcp/moat/internal/loopback"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// maxJWKSBytes caps a JWKS document, from a file or a URL.
	maxJWKSBytes = 1 << 20
	// minRefetchInterval bounds how often an unknown kid (which any caller
	// can put in a token) makes us fetch the JWKS again.
	minRefetchInterval = 30 * time.Second
	// minRSABits refuses RSA keys too small to trust.
	minRSABits = 2048
)

// jwks is a JWKS read from a file once, or fetched from a URL and cached:
// refetched on demand when older than refresh, or when a token names an
// unknown kid, at most once per minRefetchInterval. No background goroutine.
type jwks struct {
	url     string // "" = file, loaded once
	client  *http.Client
	timeout time.Duration
	refresh time.Duration
	now     func() time.Time

	mu        sync.Mutex // guards the fields below; never held across a fetch
	keys      []jose.JSONWebKey
	fetched   time.Time     // last successful fetch
	attempted time.Time     // last fetch attempt
	lastErr   error         // last fetch error, for the log
	inflight  chan struct{} // closed when the fetch in flight ends; nil when none
}

// loadJWKSFile reads and parses a JWKS file.
func loadJWKSFile(name string) ([]jose.JSONWebKey, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxJWKSBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(b)
}

// parseJWKS keeps the keys of a JWKS document that can verify signatures:
// public (or the public half of a private key), asymmetric, RSA ≥ 2048 bits,
// use "sig" or unset. Symmetric ("oct") keys are never used: that is the
// HMAC-with-a-public-key confusion. Keys this package cannot parse are
// skipped rather than failing the whole set, so one exotic key at the
// issuer does not lock everyone out; a set with no usable key is an error.
func parseJWKS(b []byte) ([]jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub := k.Public()
		if !pub.Valid() || !pub.IsPublic() {
			continue // symmetric, or unparseable
		}
		switch key := pub.Key.(type) {
		case *rsa.PublicKey:
			if key.N.BitLen() < minRSABits {
				continue
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			continue
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no usable signing key")
	}
	return keys, nil
}

// fetch gets the JWKS from j.url; the whole exchange is bounded by j.timeout.
func (j *jwks) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, j.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks %s: status %d", j.url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", j.url, err)
	}
	if len(b) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks %s: larger than %d bytes", j.url, maxJWKSBytes)
	}
	keys, err := parseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", j.url, err)
	}
	return keys, nil
}

// refetch fetches the JWKS unless an attempt was made in the last
// minRefetchInterval. tried reports whether it fetched; err is that fetch's
// error. One fetch at a time: a caller that finds one in flight waits for
// it (or for its own ctx) without holding a lock, and then reads the keys
// it got.
func (j *jwks) refetch(ctx context.Context) (tried bool, err error) {
	now := j.now()
	j.mu.Lock()
	if wait := j.inflight; wait != nil {
		j.mu.Unlock()
		select {
		case <-wait:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	if !j.attempted.IsZero() && now.Sub(j.attempted) < minRefetchInterval {
		j.mu.Unlock()
		return false, nil
	}
	j.attempted = now
	done := make(chan struct{})
	j.inflight = done
	j.mu.Unlock()
	// The fetch serves every caller waiting for it, not only this
	// request: a client hanging up must not cancel it.
	keys, err := j.fetch(context.WithoutCancel(ctx))
	j.mu.Lock()
	defer j.mu.Unlock()
	j.inflight = nil
	close(done)
	if err != nil {
		j.lastErr = err
		return true, err
	}
	j.keys, j.fetched, j.lastErr = keys, j.now(), nil
	return true, nil
}

func (j *jwks) snapshot() (keys []jose.JSONWebKey, fetched time.Time, lastErr error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.keys, j.fetched, j.lastErr
}

// key returns the key to verify a token whose header names kid and alg.
// Errors wrap ErrUnknownKey or ErrJWKSUnavailable.
func (j *jwks) key(ctx context.Context, kid, alg string) (jose.JSONWebKey, error) {
	keys, fetched, lastErr := j.snapshot()
	var fetchErr error
	tried := false
	// refetch, then look again whoever fetched: a request that waited while
	// another one fetched must see the new keys.
	refetch := func() {
		var t bool
		t, fetchErr = j.refetch(ctx)
		tried = true
		keys, _, lastErr = j.snapshot()
		if !t && fetchErr == nil {
			// Someone else tried within the last 30s; if that failed, we
			// could not look either.
			fetchErr = lastErr
		}
	}
	if j.url != "" && (len(keys) == 0 || j.now().Sub(fetched) >= j.refresh) {
		refetch()
	}
	if k, ok := selectKey(keys, kid, alg); ok {
		return k, nil
	}
	if j.url != "" && !tried {
		refetch()
		if k, ok := selectKey(keys, kid, alg); ok {
			return k, nil
		}
	}
	switch {
	case fetchErr != nil:
		// We could not look: the kid may well be a new, valid key.
		return jose.JSONWebKey{}, fmt.Errorf("%w: %v", ErrJWKSUnavailable, fetchErr)
	case len(keys) == 0:
		return jose.JSONWebKey{}, fmt.Errorf("%w: no keys yet (last error: %v)", ErrJWKSUnavailable, lastErr)
	}
	return jose.JSONWebKey{}, fmt.Errorf("%w: kid %q", ErrUnknownKey, truncate(kid, 64))
}

// selectKey picks the key named by kid that fits alg. A token without a kid
// is accepted only when exactly one key fits, so it can't pick among keys.
func selectKey(keys []jose.JSONWebKey, kid, alg string) (jose.JSONWebKey, bool) {
	var found []jose.JSONWebKey
	for _, k := range keys {
		if k.KeyID != kid || !keyFitsAlg(k, alg) {
			continue
		}
		found = append(found, k)
	}
	if len(found) == 1 || (kid != "" && len(found) > 1) {
		return found[0], true
	}
	return jose.JSONWebKey{}, false
}

// keyFitsAlg reports whether k may verify alg: the key's own alg, if it
// declares one, must match, and the key type must be the algorithm's.
func keyFitsAlg(k jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch k.Key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256", "ES384", "ES512":
			return true
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// checkFetchURL refuses a JWKS URL (or a redirect target) that is not https,
// except http to a loopback host (tests, a local issuer).
func checkFetchURL(u *url.URL) error {
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return errors.New("no host")
		}
		return nil
	case "http":
		if loopback.Host(u.Hostname()) {
			return nil
		}
		return errors.New("http is allowed only for a loopback host; use https")
	}
	return fmt.Errorf("scheme %q: want https", u.Scheme)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
