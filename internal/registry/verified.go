package registry

import (
	"context"
	"errors"

	"github.com/moatmcp/moat/internal/signature"
)

// FetchVerified is what the manifest loader calls for
// module = "oci://HOST/REPO@sha256:…": Fetch (from the cache when it can),
// then, when keys is not empty (the manifest's signed_by), a signature by
// one of them over exactly this digest. If the cached signatures verify
// under no key, the registry is asked once for signatures added since the
// artifact was cached; a registry outage then leaves the first error.
//
// It returns the verified artifact and the key that signed it (nil when
// keys is empty). Errors wrap this package's sentinels or signature's
// (ErrUnsigned, ErrOtherKey, ErrOtherDigest, ErrBundle).
func FetchVerified(ctx context.Context, ref, cacheDir string, keys []signature.PublicKey, o *Options) (*Artifact, *signature.PublicKey, error) {
	a, err := Fetch(ctx, ref, cacheDir, o)
	if err != nil || len(keys) == 0 {
		return a, nil, err
	}
	k, verr := signature.Verify(a.Signatures, a.Digest, keys)
	if verr == nil {
		return a, &k, nil
	}
	if !errors.Is(verr, signature.ErrUnsigned) && !errors.Is(verr, signature.ErrOtherKey) && !errors.Is(verr, signature.ErrOtherDigest) && !errors.Is(verr, signature.ErrBundle) {
		return nil, nil, verr
	}
	sigs, err := FetchSignatures(ctx, a.Ref.String(), cacheDir, o)
	if err != nil || len(sigs) == len(a.Signatures) {
		return nil, nil, verr
	}
	k, err = signature.Verify(sigs, a.Digest, keys)
	if err != nil {
		return nil, nil, err
	}
	a.Signatures = sigs
	return a, &k, nil
}
