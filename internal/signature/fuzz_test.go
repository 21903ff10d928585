package signature

import "testing"

// FuzzVerify feeds untrusted bundles (from a registry or the cache) to
// Verify: it must never accept one, nor panic.
func FuzzVerify(f *testing.F) {
	ec, _ := keysForFuzz(f)
	good, err := Sign(ec, "r/x", digestA)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	other, _ := keysForFuzz(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Verify([][]byte{b}, digestA, []PublicKey{other.Public()}); err == nil {
			t.Fatalf("accepted a bundle under a key that signed nothing: %q", b)
		}
	})
}

func keysForFuzz(f *testing.F) (*Signer, *Signer) { return keys(f) }
