// Package signature signs and verifies moat tool artifacts with Sigstore
// bundles, in-process (sigstore-go; no cosign or other program is run).
//
// It sits beside internal/registry on the load path: `moat push --sign KEY`
// calls Sign on the artifact's digest and internal/registry attaches the
// bundle to the artifact as an OCI referrer; the manifest loader reads the
// bundles back (registry.Fetch, from the cache) and calls Verify with the
// keys the manifest's signed_by names. A tool whose artifact no key signed
// does not load.
//
// # Format, and why
//
// A signature is a Sigstore bundle (v0.3 JSON) holding a DSSE envelope
// over an in-toto statement whose subject is the artifact's OCI manifest
// digest and whose predicate type is cosign's
// "https://sigstore.dev/cosign/sign/v1": what cosign 3 itself writes for
// `cosign sign --key`, attached the way cosign attaches bundles
// (specs/BUNDLE_SPEC.md in cosign), so `cosign verify --key publisher.pub
// --insecure-ignore-tlog` can check it. We chose the bundle over cosign's
// older `sha256-<hex>.sig` simple-signing tag because it is the format
// Sigstore standardised (one self-describing file, verified by a maintained
// library rather than by matching a layout), and its referrers-tag
// fallback works on registries without the referrers API, docker-registry
// 2.8 included. Keys are the publisher's own (ECDSA P-256 or Ed25519, PEM);
// no transparency log or certificate authority is involved, so nothing
// leaves the machine when signing or verifying.
//
// # Guarantees
//
//   - Verify accepts a bundle only if its signature verifies under one of
//     the given keys and its statement's subject is exactly the expected
//     digest; a bundle for another digest or by another key never counts.
//   - Errors say why nothing verified: ErrUnsigned, ErrOtherKey,
//     ErrOtherDigest, ErrBundle.
package signature

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Sentinel errors: every error of Verify wraps one of them.
var (
	// ErrUnsigned is an artifact with no signature bundle at all.
	ErrUnsigned = errors.New("artifact is not signed")
	// ErrOtherKey is an artifact whose signatures verify under none of the
	// trusted keys.
	ErrOtherKey = errors.New("signed by another key")
	// ErrOtherDigest is a signature by a trusted key over another digest:
	// a bundle copied from another artifact.
	ErrOtherDigest = errors.New("signature over another digest")
	// ErrBundle is a signature that is not a well-formed Sigstore bundle.
	ErrBundle = errors.New("malformed signature bundle")
	// ErrKey is a key file that is not a usable PEM key: unreadable, not
	// PEM, or not ECDSA P-256 or Ed25519.
	ErrKey = errors.New("unusable key")
)

// PredicateType is the in-toto predicate type of a signature: cosign's,
// for a plain "this artifact is signed" statement.
const PredicateType = "https://sigstore.dev/cosign/sign/v1"

// maxKeyFileBytes caps a PEM key file.
const maxKeyFileBytes = 64 << 10

// PublicKey is one trusted key: its file (for messages) and the key.
type PublicKey struct {
	Name string // where the key came from, e.g. the signed_by path
	Key  crypto.PublicKey
	hint string
}

// LoadPublicKey reads a PEM public key (PKIX "PUBLIC KEY"): ECDSA P-256 or
// Ed25519.
func LoadPublicKey(path string) (PublicKey, error) {
	data, err := readCapped(path)
	if err != nil {
		return PublicKey{}, err
	}
	return ParsePublicKey(path, data)
}

// ParsePublicKey is LoadPublicKey on bytes; name is used in messages.
func ParsePublicKey(name string, pemData []byte) (PublicKey, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemData)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: %s: not a PEM public key", ErrKey, name)
	}
	if err := checkAlgorithm(pub); err != nil {
		return PublicKey{}, fmt.Errorf("%w: %s: %w", ErrKey, name, err)
	}
	h, err := keyHint(pub)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: %s: %w", ErrKey, name, err)
	}
	return PublicKey{Name: name, Key: pub, hint: h}, nil
}

// Fingerprint returns "sha256:<hex>" of the key's PKIX encoding, to name
// it in logs.
func (k PublicKey) Fingerprint() string {
	der, err := x509.MarshalPKIXPublicKey(k.Key)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(s[:])
}

func checkAlgorithm(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return errors.New("ECDSA keys must be on P-256")
		}
		return nil
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("%T keys are not accepted (use ECDSA P-256 or Ed25519)", pub)
}

// keyHint is the Sigstore key hint: base64 of the sha256 of the PKIX key.
func keyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(s[:]), nil
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, path, err)
	}
	defer f.Close()
	buf := make([]byte, maxKeyFileBytes+1)
	n, _ := f.Read(buf)
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil || m == 0 {
			break
		}
	}
	if n > maxKeyFileBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrKey, path, maxKeyFileBytes)
	}
	return buf[:n], nil
}

// Signer is a loaded private key.
type Signer struct {
	Name   string
	signer crypto.Signer
	alg    sigsig.AlgorithmDetails
	hint   string
}

// LoadSigner reads a PEM private key (PKCS#8 "PRIVATE KEY", or SEC 1 "EC
// PRIVATE KEY"), unencrypted: ECDSA P-256 or Ed25519. Cosign's own
// encrypted key format is not read; `openssl genpkey` makes a usable key.
func LoadSigner(path string) (*Signer, error) {
	data, err := readCapped(path)
	if err != nil {
		return nil, err
	}
	return ParseSigner(path, data)
}

// ParseSigner is LoadSigner on bytes; name is used in messages and never
// the key's bytes.
func ParseSigner(name string, pemData []byte) (*Signer, error) {
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(pemData, cryptoutils.SkipPassword)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not an unencrypted PEM private key", ErrKey, name)
	}
	cs, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not a signing key", ErrKey, name)
	}
	if err := checkAlgorithm(cs.Public()); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, name, err)
	}
	details := protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
	if _, ok := cs.Public().(ed25519.PublicKey); ok {
		details = protocommon.PublicKeyDetails_PKIX_ED25519
	}
	alg, err := sigsig.GetAlgorithmDetails(details)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, name, err)
	}
	h, err := keyHint(cs.Public())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, name, err)
	}
	return &Signer{Name: name, signer: cs, alg: alg, hint: h}, nil
}

// Public returns the signer's public key.
func (s *Signer) Public() PublicKey {
	return PublicKey{Name: s.Name, Key: s.signer.Public(), hint: s.hint}
}

// keypair adapts a Signer to sigstore-go's sign.Keypair.
type keypair struct{ s *Signer }

var _ sign.Keypair = keypair{}

func (k keypair) GetHashAlgorithm() protocommon.HashAlgorithm { return k.s.alg.GetProtoHashType() }
func (k keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.s.alg.GetSignatureAlgorithm()
}
func (k keypair) GetHint() []byte { return []byte(k.s.hint) }
func (k keypair) GetKeyAlgorithm() string {
	if _, ok := k.s.signer.Public().(ed25519.PublicKey); ok {
		return "ED25519"
	}
	return "ECDSA"
}
func (k keypair) GetPublicKey() crypto.PublicKey { return k.s.signer.Public() }
func (k keypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(k.s.signer.Public())
	return string(b), err
}

// SignData signs data: ECDSA over its sha256, Ed25519 over the data itself
// (pure Ed25519, as sigstore-go's own keypair does).
func (k keypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	hf := k.s.alg.GetHashType()
	toSign := data
	if hf != crypto.Hash(0) {
		h := hf.New()
		h.Write(data)
		toSign = h.Sum(nil)
	}
	sig, err := k.s.signer.Sign(rand.Reader, toSign, hf)
	if err != nil {
		return nil, nil, err
	}
	return sig, toSign, nil
}

// Sign returns a Sigstore bundle (JSON) signing the artifact digest
// ("sha256:<hex>") of the artifact named name (its repository, e.g.
// "127.0.0.1:5000/acme/echo").
func Sign(s *Signer, name, digest string) ([]byte, error) {
	hexDigest, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hexDigest) != 64 {
		return nil, fmt.Errorf("signature: %q is not a sha256 digest", digest)
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Name: name, Digest: map[string]string{"sha256": hexDigest}}},
		PredicateType: PredicateType,
		Predicate:     &structpb.Struct{Fields: map[string]*structpb.Value{}},
	}
	payload, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("signature: encode statement: %w", err)
	}
	b, err := sign.Bundle(&sign.DSSEData{Data: payload, PayloadType: "application/vnd.in-toto+json"}, keypair{s}, sign.BundleOptions{})
	if err != nil {
		return nil, fmt.Errorf("signature: sign: %w", err)
	}
	out, err := protojson.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("signature: encode bundle: %w", err)
	}
	return out, nil
}

// Verify checks bundles against digest ("sha256:<hex>") and returns the
// first trusted key that signed it. With no key to trust it fails: a caller
// that wants no signature check does not call Verify.
func Verify(bundles [][]byte, digest string, keys []PublicKey) (PublicKey, error) {
	hexDigest, ok := strings.CutPrefix(digest, "sha256:")
	raw, err := hex.DecodeString(hexDigest)
	if !ok || err != nil || len(raw) != sha256.Size {
		return PublicKey{}, fmt.Errorf("signature: %q is not a sha256 digest", digest)
	}
	if len(keys) == 0 {
		return PublicKey{}, fmt.Errorf("%w: no trusted key given", ErrOtherKey)
	}
	if len(bundles) == 0 {
		return PublicKey{}, fmt.Errorf("%w: %s has no signature", ErrUnsigned, digest)
	}
	var (
		otherDigest, malformed bool
		lastMalformed          error
	)
	for _, data := range bundles {
		var b bundle.Bundle
		if err := b.UnmarshalJSON(data); err != nil {
			malformed, lastMalformed = true, err
			continue
		}
		for _, k := range keys {
			err := verifyOne(&b, k, verify.WithArtifactDigest("sha256", raw))
			if err == nil {
				return k, nil
			}
			// Classify only: would this key's signature hold for some
			// other digest? Then the bundle was made for another
			// artifact. The acceptance above never skips the digest.
			if verifyOne(&b, k, verify.WithoutArtifactUnsafe()) == nil {
				otherDigest = true
			}
		}
	}
	switch {
	case otherDigest:
		return PublicKey{}, fmt.Errorf("%w: a trusted key signed another artifact, not %s", ErrOtherDigest, digest)
	case malformed && len(bundles) == 1:
		return PublicKey{}, fmt.Errorf("%w: %w", ErrBundle, lastMalformed)
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	return PublicKey{}, fmt.Errorf("%w: none of %d signature(s) of %s verifies under %s", ErrOtherKey, len(bundles), digest, strings.Join(names, ", "))
}

// verifyOne verifies b under key k alone with the artifact policy art,
// and checks the statement is a cosign signature statement.
func verifyOne(b *bundle.Bundle, k PublicKey, art verify.ArtifactPolicyOption) error {
	v, err := sigsig.LoadVerifier(k.Key, crypto.SHA256)
	if err != nil {
		return err
	}
	tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(v, timeZero, timeZero), nil
	})
	sev, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
	if err != nil {
		return err
	}
	res, err := sev.Verify(b, verify.NewPolicy(art, verify.WithKey()))
	if err != nil {
		return err
	}
	if res.Statement == nil || res.Statement.GetPredicateType() != PredicateType {
		return fmt.Errorf("%w: not a signature statement (predicate type %q)", ErrBundle, res.Statement.GetPredicateType())
	}
	return nil
}

// timeZero: keys given to Verify have no validity period of their own.
var timeZero = zeroTime()

// statementJSON is used by tests to look inside a bundle.
func statementJSON(bundleJSON []byte) ([]byte, error) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, err
	}
	env, err := b.Envelope()
	if err != nil {
		return nil, err
	}
	st, err := env.Statement()
	if err != nil {
		return nil, err
	}
	return json.Marshal(st)
}
