package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/moatmcp/moat/internal/privatedir"
)

// Layout of a cache folder (docs/supply-chain.md):
//
//	CACHE/sha256/<hex>/manifest.json          the OCI manifest, whose sha256 is <hex>
//	CACHE/sha256/<hex>/blobs/<layer hex>      each layer
//	CACHE/sha256/<hex>/signatures/<hex>.json  each signature bundle, named by its sha256
//
// An entry is written whole into a temporary folder and renamed into place,
// so a crash never leaves half an entry under its digest.
const (
	cacheManifest = "manifest.json"
	cacheBlobs    = "blobs"
	cacheSigs     = "signatures"
)

// DefaultCacheDir is the cache folder moat uses when the config names
// none: "moat/oci" in the user's cache folder ($XDG_CACHE_HOME or
// ~/.cache on Linux).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("registry: no user cache folder: %w", err)
	}
	return filepath.Join(d, "moat", "oci"), nil
}

// Fetch returns the artifact ref names by digest (a tag is refused: ErrTag),
// from cacheDir when it holds it, else from the registry, storing it in
// cacheDir. Every file read from the cache is checked against its digest
// again, so a cache entry changed on disk is refused (ErrCache), never
// served; remove its folder to fetch it anew.
//
// Once an artifact is cached, Fetch needs no registry: a registry outage
// never stops a restart.
func Fetch(ctx context.Context, ref, cacheDir string, o *Options) (*Artifact, error) {
	r, err := ParseReference(ref, false)
	if err != nil {
		return nil, err
	}
	if err := prepareCacheDir(cacheDir); err != nil {
		return nil, err
	}
	entry := entryDir(cacheDir, r.Digest)
	if _, err := os.Lstat(entry); err == nil {
		return loadEntry(entry, r, o)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	a, body, err := pullRemote(ctx, r, o)
	if err != nil {
		return nil, err
	}
	if err := storeEntry(cacheDir, entry, a, body); err != nil {
		return nil, err
	}
	return a, nil
}

// FetchSignatures asks the registry again for the signatures of a cached
// artifact and adds the new ones to its cache entry: for an artifact
// signed after it was first fetched. It returns every signature the entry
// then holds. The lead caller uses it only when the cached signatures do
// not verify, so a registry outage costs nothing when they do.
func FetchSignatures(ctx context.Context, ref, cacheDir string, o *Options) ([][]byte, error) {
	r, err := ParseReference(ref, false)
	if err != nil {
		return nil, err
	}
	if err := prepareCacheDir(cacheDir); err != nil {
		return nil, err
	}
	entry := entryDir(cacheDir, r.Digest)
	a, err := loadEntry(entry, r, o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	repo, err := repository(r, o)
	if err != nil {
		return nil, err
	}
	body, err := os.ReadFile(filepath.Join(entry, cacheManifest))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCache, err)
	}
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(r.Digest), Size: int64(len(body))}
	sigs, err := signatures(ctx, repo, subject)
	if err != nil {
		return nil, err
	}
	sigDir := filepath.Join(entry, cacheSigs)
	for _, s := range sigs {
		name := filepath.Join(sigDir, hexSum(s)+".json")
		if _, err := os.Lstat(name); err == nil {
			continue
		}
		if err := writeAtomic(sigDir, name, s); err != nil {
			return nil, err
		}
		a.Signatures = append(a.Signatures, s)
	}
	return a.Signatures, nil
}

func entryDir(cacheDir, d string) string {
	return filepath.Join(cacheDir, "sha256", strings.TrimPrefix(d, "sha256:"))
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// storeEntry writes a into a temporary folder beside entry and renames it
// into place. Losing a race to another moat storing the same entry is
// fine: both wrote the same verified bytes.
func storeEntry(cacheDir, entry string, a *Artifact, body []byte) error {
	parent := filepath.Dir(entry)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("%w: create %s: %w", ErrCache, parent, err)
	}
	if err := checkPrivateDir(parent); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCache, err)
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{cacheBlobs, cacheSigs} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o700); err != nil {
			return fmt.Errorf("%w: %w", ErrCache, err)
		}
	}
	write := func(name string, data []byte) error {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return fmt.Errorf("%w: write %s: %w", ErrCache, name, err)
		}
		return nil
	}
	if err := write(filepath.Join(tmp, cacheManifest), body); err != nil {
		return err
	}
	for _, f := range a.files() {
		if err := write(filepath.Join(tmp, cacheBlobs, hexSum(f.Data)), f.Data); err != nil {
			return err
		}
	}
	for _, s := range a.Signatures {
		if err := write(filepath.Join(tmp, cacheSigs, hexSum(s)+".json"), s); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, entry); err != nil {
		if _, statErr := os.Lstat(entry); statErr == nil {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrCache, err)
	}
	return nil
}

// writeAtomic writes data to name through a temporary file in dir.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCache, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("%w: %w", ErrCache, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrCache, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("%w: %w", ErrCache, err)
	}
	return nil
}

// loadEntry reads a cache entry and checks it as if it came from the
// registry: the OCI manifest against the digest that names the entry, each
// layer against its descriptor, each signature against its file name.
func loadEntry(entry string, r Reference, o *Options) (*Artifact, error) {
	for _, d := range []string{entry, filepath.Join(entry, cacheBlobs), filepath.Join(entry, cacheSigs)} {
		if err := checkPrivateDir(d); err != nil {
			if errors.Is(err, ErrInsecureCacheDir) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %w (remove the folder to fetch it again)", ErrCache, entry, err)
		}
	}
	body, err := readCached(filepath.Join(entry, cacheManifest), maxOCIManifest)
	if err != nil {
		return nil, err
	}
	if d := "sha256:" + hexSum(body); d != r.Digest {
		return nil, fmt.Errorf("%w: %s: the cached manifest is %s, not %s (tampered on disk? remove the folder to fetch it again)", ErrCache, entry, d, r.Digest)
	}
	m, err := parseManifest(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCache, entry, err)
	}
	a, err := assemble(r, m, func(l ocispec.Descriptor) ([]byte, error) {
		data, err := readCached(filepath.Join(entry, cacheBlobs, l.Digest.Encoded()), l.Size)
		if err != nil {
			return nil, err
		}
		if int64(len(data)) != l.Size || "sha256:"+hexSum(data) != l.Digest.String() {
			return nil, fmt.Errorf("%w: %s: layer %s differs from its digest (tampered on disk? remove the folder to fetch it again)", ErrCache, entry, l.Digest)
		}
		return data, nil
	})
	if err != nil {
		return nil, err
	}
	if err := checkManifestText(a.Manifest.Data, validator(o)); err != nil {
		return nil, err
	}
	sigDir := filepath.Join(entry, cacheSigs)
	names, err := os.ReadDir(sigDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCache, err)
	}
	for _, n := range names {
		if strings.HasPrefix(n.Name(), ".") || len(a.Signatures) >= maxSignatures {
			continue
		}
		s, err := readCached(filepath.Join(sigDir, n.Name()), MaxSignatureBytes)
		if err != nil {
			return nil, err
		}
		if hexSum(s)+".json" != n.Name() {
			return nil, fmt.Errorf("%w: %s: signature %s differs from its digest", ErrCache, entry, n.Name())
		}
		a.Signatures = append(a.Signatures, s)
	}
	return a, nil
}

// readCached reads a regular file (not a symlink) of at most max bytes.
func readCached(name string, max int64) ([]byte, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCache, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrCache, name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCache, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCache, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCache, name, max)
	}
	return data, nil
}

// prepareCacheDir creates dir (mode 0700) if missing and checks that only
// we can write to it, as internal/sandbox does for the compile cache: the
// cache decides which module runs, so a folder someone else can write to
// would let them choose it. (Digests are checked at every load as well;
// the folder check keeps others from even trying.)
func prepareCacheDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("%w: no cache folder", ErrCache)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w: create %s: %w", ErrCache, dir, err)
	}
	if err := checkPrivateDir(dir); err != nil {
		return err
	}
	sub := filepath.Join(dir, "sha256")
	if err := os.Mkdir(sub, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: create %s: %w", ErrCache, sub, err)
	}
	return checkPrivateDir(sub)
}

// checkPrivateDir refuses dir unless it is private to us
// (internal/privatedir owns the rule).
func checkPrivateDir(dir string) error {
	return privatedir.CheckAs(dir, ErrInsecureCacheDir, ErrCache)
}
