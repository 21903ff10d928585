package signature

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func pemPrivate(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pemPublic(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// keys returns an ECDSA P-256 and an Ed25519 signer with their public keys.
func keys(t testing.TB) (ec, ed *Signer) {
	t.Helper()
	eck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	var err error
	if ec, err = ParseSigner("ec.pem", pemPrivate(t, eck)); err != nil {
		t.Fatal(err)
	}
	if ed, err = ParseSigner("ed.pem", pemPrivate(t, edk)); err != nil {
		t.Fatal(err)
	}
	return ec, ed
}

func TestSignVerify(t *testing.T) {
	ec, ed := keys(t)
	ec2, _ := keys(t)
	sign := func(s *Signer, d string) []byte {
		b, err := Sign(s, "127.0.0.1:5000/acme/echo", d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	garbage := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)
	cases := []struct {
		name    string
		bundles [][]byte
		keys    []PublicKey
		want    error
		signer  string
	}{
		{"ecdsa", [][]byte{sign(ec, digestA)}, []PublicKey{ec.Public()}, nil, "ec.pem"},
		{"ed25519", [][]byte{sign(ed, digestA)}, []PublicKey{ed.Public()}, nil, "ed.pem"},
		{"second key of two", [][]byte{sign(ed, digestA)}, []PublicKey{ec.Public(), ed.Public()}, nil, "ed.pem"},
		{"one good bundle among others", [][]byte{garbage, sign(ec2, digestA), sign(ec, digestA)}, []PublicKey{ec.Public()}, nil, "ec.pem"},
		{"unsigned", nil, []PublicKey{ec.Public()}, ErrUnsigned, ""},
		{"other key", [][]byte{sign(ec2, digestA)}, []PublicKey{ec.Public()}, ErrOtherKey, ""},
		{"other key type", [][]byte{sign(ed, digestA)}, []PublicKey{ec.Public()}, ErrOtherKey, ""},
		{"other digest", [][]byte{sign(ec, digestB)}, []PublicKey{ec.Public()}, ErrOtherDigest, ""},
		{"malformed", [][]byte{[]byte("{not json")}, []PublicKey{ec.Public()}, ErrBundle, ""},
		{"no trusted keys", [][]byte{sign(ec, digestA)}, nil, ErrOtherKey, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := Verify(c.bundles, digestA, c.keys)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify error = %v, want %v", err, c.want)
			}
			if c.want == nil && k.Name != c.signer {
				t.Fatalf("signed by %q, want %q", k.Name, c.signer)
			}
		})
	}
}

func TestBundleIsCosignShaped(t *testing.T) {
	ec, _ := keys(t)
	b, err := Sign(ec, "r/x", digestA)
	if err != nil {
		t.Fatal(err)
	}
	st, err := statementJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"predicate_type":"https://sigstore.dev/cosign/sign/v1"`, `"sha256":"` + strings.TrimPrefix(digestA, "sha256:") + `"`} {
		if !strings.Contains(strings.ReplaceAll(string(st), "predicateType", "predicate_type"), want) {
			t.Errorf("statement %s lacks %s", st, want)
		}
	}
	if !strings.Contains(string(b), `"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"`) || !strings.Contains(string(b), `"dsseEnvelope"`) {
		t.Errorf("bundle is not a v0.3 DSSE bundle: %s", b)
	}
}

func TestKeyParsing(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	eck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := []struct {
		name    string
		private bool
		data    []byte
		ok      bool
	}{
		{"ecdsa public", false, pemPublic(t, &eck.PublicKey), true},
		{"ecdsa private", true, pemPrivate(t, eck), true},
		{"rsa public refused", false, pemPublic(t, &rsaKey.PublicKey), false},
		{"rsa private refused", true, pemPrivate(t, rsaKey), false},
		{"p384 refused", false, pemPublic(t, &p384.PublicKey), false},
		{"not pem", false, []byte("hello"), false},
		{"private given as public", false, pemPrivate(t, eck), false},
		{"public given as private", true, pemPublic(t, &eck.PublicKey), false},
		{"encrypted private refused", true, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: []byte("x")}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.private {
				_, err = ParseSigner("k.pem", c.data)
			} else {
				_, err = ParsePublicKey("k.pem", c.data)
			}
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrKey)) {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
