package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
)

// Pull reads the artifact at ref from its registry, verifying every digest,
// and returns it with the signature bundles attached to it. A tag is
// resolved (and so refused unless o.AllowTag); the returned Ref and Digest
// name what was read.
func Pull(ctx context.Context, ref string, o *Options) (*Artifact, error) {
	allow := o != nil && o.AllowTag
	r, err := ParseReference(ref, allow)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	a, _, err := pullRemote(ctx, r, o)
	return a, err
}

// pullRemote reads and checks the artifact and its signatures; it also
// returns the OCI manifest's bytes (for the cache).
func pullRemote(ctx context.Context, r Reference, o *Options) (*Artifact, []byte, error) {
	repo, err := repository(r, o)
	if err != nil {
		return nil, nil, err
	}
	want := r.Digest
	if want == "" {
		want = r.Tag
	}
	desc, rc, err := repo.FetchReference(ctx, want)
	if err != nil {
		return nil, nil, remoteErr(r, "fetch manifest", err)
	}
	defer rc.Close()
	if desc.Size > maxOCIManifest {
		return nil, nil, fmt.Errorf("%w: OCI manifest of %d bytes", ErrTooLarge, desc.Size)
	}
	if r.Digest != "" && desc.Digest.String() != r.Digest {
		return nil, nil, fmt.Errorf("%w: the registry answered %s for %s", ErrDigest, desc.Digest, r.Digest)
	}
	if desc.MediaType != "" && desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, nil, fmt.Errorf("%w: %s is a %q, not an OCI image manifest", ErrArtifactType, r, desc.MediaType)
	}
	body, err := readVerified(rc, desc)
	if err != nil {
		return nil, nil, err
	}
	m, err := parseManifest(body)
	if err != nil {
		return nil, nil, err
	}
	r = r.WithDigest(desc.Digest.String())
	a, err := assemble(r, m, func(l ocispec.Descriptor) ([]byte, error) {
		rc, err := repo.Blobs().Fetch(ctx, l)
		if err != nil {
			return nil, remoteErr(r, "fetch layer "+l.Digest.String(), err)
		}
		defer rc.Close()
		return readVerified(rc, l)
	})
	if err != nil {
		return nil, nil, err
	}
	if err := checkManifestText(a.Manifest.Data, validator(o)); err != nil {
		return nil, nil, err
	}
	a.Signatures, err = signatures(ctx, repo, desc)
	if err != nil {
		return nil, nil, err
	}
	return a, body, nil
}

func validator(o *Options) func([]byte) error {
	if o == nil {
		return nil
	}
	return o.ValidateManifest
}

// remoteErr wraps an oras error: context errors stay visible to
// errors.Is, everything else is ErrRegistry, ErrInsecure kept.
func remoteErr(r Reference, what string, err error) error {
	switch {
	case errors.Is(err, ErrInsecure):
		return fmt.Errorf("%s: %s: %w", r, what, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %s: %s: %w", ErrRegistry, r, what, err)
	case errors.Is(err, errdef.ErrSizeExceedsLimit):
		return fmt.Errorf("%w: %s: %s: %w", ErrTooLarge, r, what, err)
	}
	return fmt.Errorf("%w: %s: %s: %w", ErrRegistry, r, what, err)
}

// signatures reads the Sigstore bundles attached to subject, through the
// referrers API or its tag-schema fallback (sha256-<hex>), at most
// maxSignatures of them. A referrer that is not a well-formed bundle
// manifest for this subject is skipped: it cannot make an artifact
// verify, and one stray referrer must not hide the others.
func signatures(ctx context.Context, repo *remote.Repository, subject ocispec.Descriptor) ([][]byte, error) {
	var descs []ocispec.Descriptor
	err := repo.Referrers(ctx, subject, SignatureArtifactType, func(rs []ocispec.Descriptor) error {
		for _, d := range rs {
			if len(descs) < maxSignatures {
				descs = append(descs, d)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("%w: list signatures of %s: %w", ErrRegistry, subject.Digest, err)
	}
	var out [][]byte
	for _, d := range descs {
		if d.MediaType != ocispec.MediaTypeImageManifest || d.Size > maxOCIManifest {
			continue
		}
		rc, err := repo.Manifests().Fetch(ctx, d)
		if err != nil {
			continue
		}
		body, err := readVerified(rc, d)
		rc.Close()
		if err != nil {
			continue
		}
		l, ok := bundleLayer(body, subject.Digest)
		if !ok {
			continue
		}
		brc, err := repo.Blobs().Fetch(ctx, l)
		if err != nil {
			continue
		}
		b, err := readVerified(brc, l)
		brc.Close()
		if err == nil {
			out = append(out, b)
		}
	}
	return out, nil
}

// bundleLayer returns the bundle layer of a signature referrer manifest
// whose subject is subject.
func bundleLayer(body []byte, subject digest.Digest) (ocispec.Descriptor, bool) {
	var m ocispec.Manifest
	if json.Unmarshal(body, &m) != nil || m.ArtifactType != SignatureArtifactType || m.Subject == nil || m.Subject.Digest != subject || len(m.Layers) != 1 {
		return ocispec.Descriptor{}, false
	}
	l := m.Layers[0]
	if l.MediaType != SignatureArtifactType || l.Size < 0 || l.Size > MaxSignatureBytes || !validDigest(l.Digest.String()) {
		return ocispec.Descriptor{}, false
	}
	return l, true
}

// AttachSignature stores bundle (a Sigstore bundle, internal/signature's
// output) as a referrer of the artifact ref names by digest, the way cosign
// attaches bundles: an OCI manifest of artifactType SignatureArtifactType
// whose subject is the artifact. On a registry without the referrers API
// (docker-registry 2.8) oras-go also updates the referrers tag
// sha256-<hex>, as the distribution spec's fallback says.
func AttachSignature(ctx context.Context, ref string, bundle []byte, o *Options) error {
	r, err := ParseReference(ref, false)
	if err != nil {
		return err
	}
	if len(bundle) > MaxSignatureBytes {
		return fmt.Errorf("%w: signature bundle of %d bytes", ErrTooLarge, len(bundle))
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	repo, err := repository(r, o)
	if err != nil {
		return err
	}
	subject, err := repo.Resolve(ctx, r.Digest)
	if err != nil {
		return remoteErr(r, "resolve", err)
	}
	if subject.Digest.String() != r.Digest {
		return fmt.Errorf("%w: the registry answered %s for %s", ErrDigest, subject.Digest, r.Digest)
	}
	subject = ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	ld := ocispec.Descriptor{
		MediaType: SignatureArtifactType,
		Digest:    digest.FromBytes(bundle),
		Size:      int64(len(bundle)),
	}
	ld.Annotations = map[string]string{ocispec.AnnotationTitle: ld.Digest.Algorithm().String() + "-" + ld.Digest.Encoded() + ".sigstore.json"}
	if err := pushBlob(ctx, repo, ld, bundle); err != nil {
		return err
	}
	if err := pushBlob(ctx, repo, ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON.Data); err != nil {
		return err
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: SignatureArtifactType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       []ocispec.Descriptor{ld},
		Subject:      &subject,
		Annotations:  map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"},
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("registry: encode signature manifest: %w", err)
	}
	d := ocispec.Descriptor{MediaType: m.MediaType, ArtifactType: m.ArtifactType, Digest: digest.FromBytes(body), Size: int64(len(body)), Annotations: m.Annotations}
	if err := repo.Manifests().Push(ctx, d, bytes.NewReader(body)); err != nil {
		return remoteErr(r, "push signature", err)
	}
	return nil
}

// WriteDir writes a's files under dir for review: the manifest, module and
// schemas at their names, and the signature bundles as
// .signatures/<n>.sigstore.json. dir is created if missing and must be
// empty: nothing is overwritten, and no write leaves dir (os.Root).
func (a *Artifact) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("registry: create %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("registry: open %s: %w", dir, err)
	}
	defer root.Close()
	f, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("registry: open %s: %w", dir, err)
	}
	names, err := f.Readdirnames(1)
	f.Close()
	if err != nil && err != io.EOF {
		return fmt.Errorf("registry: read %s: %w", dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("registry: %s is not empty", dir)
	}
	write := func(name string, data []byte) error {
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("registry: create %s in %s: %w", d, dir, err)
			}
		}
		w, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("registry: write %s in %s: %w", name, dir, err)
		}
		if _, err := w.Write(data); err != nil {
			w.Close()
			return fmt.Errorf("registry: write %s in %s: %w", name, dir, err)
		}
		return w.Close()
	}
	for _, f := range a.files() {
		if err := write(f.Name, f.Data); err != nil {
			return err
		}
	}
	for i, b := range a.Signatures {
		if err := write(fmt.Sprintf(".signatures/%d.sigstore.json", i+1), b); err != nil {
			return err
		}
	}
	return nil
}
