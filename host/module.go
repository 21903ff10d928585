package host

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/registry"
	"github.com/moatmcp/moat/internal/signature"
)

// resolveModule returns m with its module when the manifest names one in a
// registry (module = "oci://HOST/REPO@sha256:…"): the artifact, fetched
// once into the private content-addressed cache and re-verified from it at
// every load (so a registry outage never stops a restart), and, with
// signed_by, a valid signature by one of those keys over exactly that
// digest. A manifest with a module file is returned as it is. m is not
// changed: the result is a copy.
func resolveModule(ctx context.Context, m *manifest.Tool) (*manifest.Tool, error) {
	if m.ModuleRef == "" || m.Wasm != nil {
		return m, nil
	}
	cacheDir, err := registry.DefaultCacheDir()
	if err != nil {
		return nil, fmt.Errorf("%s: module: %w", m.File, err)
	}
	var keys []signature.PublicKey
	for _, p := range m.SignedBy {
		k, err := signature.LoadPublicKey(p)
		if err != nil {
			return nil, fmt.Errorf("%s: signed_by: %w", m.File, err)
		}
		keys = append(keys, k)
	}
	a, _, err := registry.FetchVerified(ctx, m.ModuleRef, cacheDir, keys, &registry.Options{ValidateManifest: manifest.CheckPublished})
	if err != nil {
		return nil, fmt.Errorf("%s: module %s: %w", m.File, m.ModuleRef, err)
	}
	resolved := *m
	resolved.Wasm = a.Module.Data
	resolved.SHA256 = strings.TrimPrefix(a.ModuleDigest(), "sha256:")
	return &resolved, nil
}

// ApprovalHold says why moat serve would hold t for approval (the readable
// diff against moat.lock), or "" when it would serve it: no moat.lock in
// its manifest's folder, or t as approved (or only narrowed). moat check
// shows it.
func ApprovalHold(t *Tool) (string, error) {
	locks, err := loadLocks([]string{filepath.Dir(t.Manifest.File)})
	if err != nil {
		return "", err
	}
	lock := locks[filepath.Dir(t.Manifest.File)]
	if lock == nil {
		return "", nil
	}
	return approvalHold(lock, t.Manifest, nil), nil
}
