package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
)

// File is one file of a tool artifact: its path relative to the
// publisher's manifest (the layer's org.opencontainers.image.title) and its
// bytes.
type File struct {
	Name string // slash-separated, relative, no "." or ".." elements
	Data []byte
}

// Artifact is a moat tool as published: the publisher's manifest, the
// module and the schema files it names, and the signature bundles attached
// to it.
//
// # Notes
//
//   - Every byte was checked against its digest before the Artifact was
//     returned; Digest is the artifact's (the OCI manifest's) digest, the one
//     signatures sign.
//   - Signatures are unverified bundles: internal/signature checks them.
type Artifact struct {
	Ref        Reference // by digest
	Digest     string    // "sha256:<hex>" of the OCI manifest
	Manifest   File      // the publisher's manifest (TOML)
	Module     File      // the WebAssembly module
	Schemas    []File    // input/output schema files the manifest names, in layer order
	Signatures [][]byte  // Sigstore bundles attached as referrers, unverified
}

// ModuleDigest returns "sha256:<hex>" of the module.
func (a *Artifact) ModuleDigest() string { return sha256Digest(a.Module.Data) }

// ManifestDigest returns "sha256:<hex>" of the publisher's manifest.
func (a *Artifact) ManifestDigest() string { return sha256Digest(a.Manifest.Data) }

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// files returns every file of a with its media type, in layer order.
func (a *Artifact) files() []layerFile {
	out := []layerFile{{MediaTypeManifest, a.Manifest}, {MediaTypeModule, a.Module}}
	for _, s := range a.Schemas {
		out = append(out, layerFile{MediaTypeSchema, s})
	}
	return out
}

type layerFile struct {
	mediaType string
	File
}

// capOf is the size cap of a layer media type.
func capOf(mediaType string) int64 {
	switch mediaType {
	case MediaTypeModule:
		return MaxModuleBytes
	case MediaTypeManifest:
		return MaxManifestBytes
	case MediaTypeSchema:
		return MaxSchemaBytes
	}
	return 0
}

// checkName refuses a layer title that could leave the folder it is
// written to, or collide with another on a case-insensitive disk.
func checkName(name string) error {
	switch {
	case name == "" || len(name) > maxNameBytes:
		return fmt.Errorf("%w: file name %q is empty or longer than %d bytes", ErrArtifactType, name, maxNameBytes)
	case !utf8.ValidString(name) || strings.ContainsAny(name, "\\\x00:"):
		return fmt.Errorf("%w: file name %q has a backslash, colon, NUL or invalid UTF-8", ErrArtifactType, name)
	case path.IsAbs(name) || path.Clean(name) != name || name == "." || name == ".." || strings.HasPrefix(name, "../"):
		return fmt.Errorf("%w: file name %q is not a clean relative path inside the tool's folder", ErrArtifactType, name)
	}
	for _, el := range strings.Split(name, "/") {
		if strings.HasPrefix(el, ".") {
			return fmt.Errorf("%w: file name %q has an element starting with a dot", ErrArtifactType, name)
		}
	}
	return nil
}

// check validates a's files as a publisher would: names, sizes, the
// manifest's text.
func (a *Artifact) check(validate func([]byte) error) error {
	if len(a.Schemas) > maxSchemas {
		return fmt.Errorf("%w: %d schema files (at most %d)", ErrArtifactType, len(a.Schemas), maxSchemas)
	}
	seen := map[string]bool{}
	for _, f := range a.files() {
		if err := checkName(f.Name); err != nil {
			return err
		}
		if k := strings.ToLower(f.Name); seen[k] {
			return fmt.Errorf("%w: file %q appears twice", ErrArtifactType, f.Name)
		} else {
			seen[k] = true
		}
		if int64(len(f.Data)) > capOf(f.mediaType) {
			return fmt.Errorf("%w: %s is %d bytes (at most %d)", ErrTooLarge, f.Name, len(f.Data), capOf(f.mediaType))
		}
	}
	return checkManifestText(a.Manifest.Data, validate)
}

// checkManifestText refuses a manifest layer that is not text, then runs
// the caller's validator.
func checkManifestText(data []byte, validate func([]byte) error) error {
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return fmt.Errorf("%w: not UTF-8 text", ErrManifestLayer)
	}
	if validate != nil {
		if err := validate(data); err != nil {
			return fmt.Errorf("%w: %w", ErrManifestLayer, err)
		}
	}
	return nil
}

// Push publishes a as one artifact at ref (a tag, or a digest that must
// then be the artifact's) and returns the artifact's digest. The manifest
// is reproducible: pushing the same files gives the same digest.
func Push(ctx context.Context, ref string, a *Artifact, o *Options) (string, error) {
	r, err := ParseReference(ref, true)
	if err != nil {
		return "", err
	}
	validate := (func([]byte) error)(nil)
	if o != nil {
		validate = o.ValidateManifest
	}
	if err := a.check(validate); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	repo, err := repository(r, o)
	if err != nil {
		return "", err
	}
	var layers []ocispec.Descriptor
	for _, f := range a.files() {
		d := ocispec.Descriptor{
			MediaType:   f.mediaType,
			Digest:      digest.FromBytes(f.Data),
			Size:        int64(len(f.Data)),
			Annotations: map[string]string{ocispec.AnnotationTitle: f.Name},
		}
		if err := pushBlob(ctx, repo, d, f.Data); err != nil {
			return "", err
		}
		layers = append(layers, d)
	}
	if err := pushBlob(ctx, repo, ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON.Data); err != nil {
		return "", err
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       layers,
	}
	body, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("registry: encode manifest: %w", err)
	}
	desc := ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(body), Size: int64(len(body)), ArtifactType: ArtifactType}
	if r.Digest != "" && r.Digest != desc.Digest.String() {
		return "", fmt.Errorf("%w: the artifact is %s, the reference names %s", ErrDigest, desc.Digest, r.Digest)
	}
	tag := r.Tag
	if tag == "" {
		tag = desc.Digest.String()
	}
	if err := repo.PushReference(ctx, desc, bytes.NewReader(body), tag); err != nil {
		return "", fmt.Errorf("%w: push manifest to %s: %w", ErrRegistry, r.Host, err)
	}
	return desc.Digest.String(), nil
}

// pushBlob uploads one blob unless the registry has it.
func pushBlob(ctx context.Context, repo *remote.Repository, d ocispec.Descriptor, data []byte) error {
	if ok, err := repo.Blobs().Exists(ctx, d); err == nil && ok {
		return nil
	}
	if err := repo.Blobs().Push(ctx, d, bytes.NewReader(data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("%w: push blob %s: %w", ErrRegistry, d.Digest, err)
	}
	return nil
}

// parseManifest checks that body is a moat tool artifact's OCI manifest
// and returns its layers by role.
func parseManifest(body []byte) (*ocispec.Manifest, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: the OCI manifest is not JSON: %w", ErrArtifactType, err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: media type %q is not an OCI image manifest", ErrArtifactType, m.MediaType)
	}
	if m.ArtifactType != ArtifactType {
		return nil, fmt.Errorf("%w: artifact type %q (want %s)", ErrArtifactType, m.ArtifactType, ArtifactType)
	}
	var nManifest, nModule, nSchema int
	for _, l := range m.Layers {
		switch l.MediaType {
		case MediaTypeManifest:
			nManifest++
		case MediaTypeModule:
			nModule++
		case MediaTypeSchema:
			nSchema++
		default:
			return nil, fmt.Errorf("%w: layer of media type %q", ErrArtifactType, l.MediaType)
		}
		if l.Digest.Algorithm() != digest.SHA256 || !validDigest(l.Digest.String()) {
			return nil, fmt.Errorf("%w: layer digest %q is not sha256", ErrArtifactType, l.Digest)
		}
		if l.Size < 0 || l.Size > capOf(l.MediaType) {
			return nil, fmt.Errorf("%w: layer %s of %d bytes (at most %d for %s)", ErrTooLarge, l.Digest, l.Size, capOf(l.MediaType), l.MediaType)
		}
		if err := checkName(l.Annotations[ocispec.AnnotationTitle]); err != nil {
			return nil, err
		}
	}
	if nManifest != 1 || nModule != 1 || nSchema > maxSchemas {
		return nil, fmt.Errorf("%w: %d manifest, %d module and %d schema layers (want 1, 1 and at most %d)", ErrArtifactType, nManifest, nModule, nSchema, maxSchemas)
	}
	return &m, nil
}

// assemble builds an Artifact from a checked manifest and the layer bytes
// read by get (which verifies them).
func assemble(ref Reference, m *ocispec.Manifest, get func(ocispec.Descriptor) ([]byte, error)) (*Artifact, error) {
	a := &Artifact{Ref: ref, Digest: ref.Digest}
	seen := map[string]bool{}
	for _, l := range m.Layers {
		data, err := get(l)
		if err != nil {
			return nil, err
		}
		f := File{Name: l.Annotations[ocispec.AnnotationTitle], Data: data}
		if k := strings.ToLower(f.Name); seen[k] {
			return nil, fmt.Errorf("%w: file %q appears twice", ErrArtifactType, f.Name)
		} else {
			seen[k] = true
		}
		switch l.MediaType {
		case MediaTypeManifest:
			a.Manifest = f
		case MediaTypeModule:
			a.Module = f
		case MediaTypeSchema:
			a.Schemas = append(a.Schemas, f)
		}
	}
	return a, nil
}

// readVerified reads exactly d.Size bytes from rc and checks their sha256.
func readVerified(rc io.Reader, d ocispec.Descriptor) ([]byte, error) {
	if d.Size < 0 {
		return nil, fmt.Errorf("%w: negative size", ErrArtifactType)
	}
	data, err := io.ReadAll(io.LimitReader(rc, d.Size+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrRegistry, d.Digest, err)
	}
	if int64(len(data)) != d.Size {
		return nil, fmt.Errorf("%w: %s is %d bytes, its descriptor says %d", ErrDigest, d.Digest, len(data), d.Size)
	}
	if got := digest.FromBytes(data); got != d.Digest {
		return nil, fmt.Errorf("%w: content is %s, expected %s", ErrDigest, got, d.Digest)
	}
	return data, nil
}
