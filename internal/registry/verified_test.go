package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/moatmcp/moat/internal/signature"
)

func signer(t *testing.T, name string) *signature.Signer {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	s, err := signature.ParseSigner(name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFetchVerified(t *testing.T) {
	_, host := newFake(t)
	pub, stranger := signer(t, "publisher.pub"), signer(t, "stranger")
	signed := push(t, host, tool())
	other := tool()
	other.Manifest.Data = append(other.Manifest.Data, "# another build\n"...)
	unsigned, err := Push(context.Background(), "oci://"+host+"/acme/echo:v2", other, opts())
	if err != nil {
		t.Fatal(err)
	}
	attach := func(s *signature.Signer, over, onto string) {
		b, err := signature.Sign(s, host+"/acme/echo", over)
		if err != nil {
			t.Fatal(err)
		}
		if err := AttachSignature(context.Background(), "oci://"+host+"/acme/echo@"+onto, b, opts()); err != nil {
			t.Fatal(err)
		}
	}
	attach(pub, signed, signed)
	keys := []signature.PublicKey{pub.Public()}
	ref := func(d string) string { return "oci://" + host + "/acme/echo@" + d }

	cache := t.TempDir() + "/c"
	a, k, err := FetchVerified(context.Background(), ref(signed), cache, keys, opts())
	if err != nil || k == nil || k.Name != "publisher.pub" || a.Digest != signed {
		t.Fatalf("signed: %v, %v", k, err)
	}
	if _, _, err := FetchVerified(context.Background(), ref(unsigned), cache, keys, opts()); !errors.Is(err, signature.ErrUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
	if _, k, err := FetchVerified(context.Background(), ref(unsigned), cache, nil, opts()); err != nil || k != nil {
		t.Fatalf("no signed_by: %v, %v", k, err)
	}
	attach(stranger, unsigned, unsigned)
	if _, _, err := FetchVerified(context.Background(), ref(unsigned), cache, keys, opts()); !errors.Is(err, signature.ErrOtherKey) {
		t.Fatalf("stranger's signature: %v", err)
	}
	attach(pub, signed, unsigned) // a real signature, moved to another artifact
	if _, _, err := FetchVerified(context.Background(), ref(unsigned), cache, keys, opts()); !errors.Is(err, signature.ErrOtherDigest) {
		t.Fatalf("moved signature: %v", err)
	}
	// Signed after it was cached: found on the registry, then cached.
	attach(pub, unsigned, unsigned)
	if _, k, err := FetchVerified(context.Background(), ref(unsigned), cache, keys, opts()); err != nil || k == nil {
		t.Fatalf("signed later: %v", err)
	}
	gone := "oci://127.0.0.1:1/acme/echo@" + unsigned
	if _, k, err := FetchVerified(context.Background(), gone, cache, keys, opts()); err != nil || k == nil {
		t.Fatalf("signed later, registry gone: %v", err)
	}
}
