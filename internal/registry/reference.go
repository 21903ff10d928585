package registry

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	orasreg "oras.land/oras-go/v2/registry"
)

// Sentinel errors. Every error of this package wraps one of them (or a
// context error), so callers classify failures with errors.Is.
var (
	// ErrReference is a reference that is not oci://HOST[:PORT]/REPO:TAG or
	// oci://HOST[:PORT]/REPO@sha256:HEX.
	ErrReference = errors.New("invalid OCI reference")
	// ErrTag is a reference by tag where a digest is required.
	ErrTag = errors.New("a tag is not a digest")
	// ErrDigest is content whose sha256 is not the one that names it.
	ErrDigest = errors.New("digest mismatch")
	// ErrArtifactType is an artifact that is not a moat tool, or not laid
	// out as one (wrong layers, a layer of another media type).
	ErrArtifactType = errors.New("not a moat tool artifact")
	// ErrTooLarge is a layer, manifest or signature over its cap.
	ErrTooLarge = errors.New("too large")
	// ErrManifestLayer is a manifest layer that is not a valid manifest.
	ErrManifestLayer = errors.New("invalid manifest layer")
	// ErrInsecure is a plain-http registry that is not on loopback, or a
	// redirect to another host.
	ErrInsecure = errors.New("insecure registry access refused")
	// ErrInsecureCacheDir is a cache folder others could write to (a
	// symlink, group- or world-writable, or owned by another user).
	ErrInsecureCacheDir = errors.New("insecure cache folder")
	// ErrCache is a cache entry that cannot be used: missing, tampered or
	// not a regular file.
	ErrCache = errors.New("bad cache entry")
	// ErrRegistry is a registry that failed a request.
	ErrRegistry = errors.New("registry request failed")
	// ErrCredentials is a credential configuration that cannot be used.
	ErrCredentials = errors.New("registry credentials")
)

// Scheme prefixes every reference moat accepts.
const Scheme = "oci://"

// Reference is a parsed oci:// reference.
type Reference struct {
	Host       string // host[:port], e.g. "ghcr.io" or "127.0.0.1:5000"
	Repository string // e.g. "acme/read-file"
	Tag        string // "" when Digest is set
	Digest     string // "sha256:<64 lower-case hex>", "" for a tag
}

// String returns the reference in its oci:// form.
func (r Reference) String() string {
	if r.Digest != "" {
		return Scheme + r.Host + "/" + r.Repository + "@" + r.Digest
	}
	return Scheme + r.Host + "/" + r.Repository + ":" + r.Tag
}

// WithDigest returns r naming digest d instead of its tag.
func (r Reference) WithDigest(d string) Reference {
	r.Tag, r.Digest = "", d
	return r
}

// ParseReference parses oci://HOST[:PORT]/REPO:TAG or
// oci://HOST[:PORT]/REPO@sha256:HEX. A tag is refused with ErrTag unless
// allowTag; a digest must be sha256 in lower-case hex. A reference with both
// a tag and a digest is refused: which one would be meant is ambiguous.
func ParseReference(s string, allowTag bool) (Reference, error) {
	if len(s) > 1024 {
		return Reference{}, fmt.Errorf("%w: longer than 1024 bytes", ErrReference)
	}
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Reference{}, fmt.Errorf("%w: %q does not start with %s", ErrReference, s, Scheme)
	}
	r, err := orasreg.ParseReference(rest)
	if err != nil {
		return Reference{}, fmt.Errorf("%w: %q: %w", ErrReference, s, err)
	}
	if r.Reference == "" {
		return Reference{}, fmt.Errorf("%w: %q names no tag or digest", ErrReference, s)
	}
	if at := strings.Index(rest, "@"); at >= 0 && strings.Contains(rest[strings.LastIndex(rest[:at], "/")+1:at], ":") {
		return Reference{}, fmt.Errorf("%w: %q has both a tag and a digest", ErrReference, s)
	}
	ref := Reference{Host: r.Registry, Repository: r.Repository}
	if err := r.ValidateReferenceAsDigest(); err == nil {
		d := r.Reference
		if !validDigest(d) {
			return Reference{}, fmt.Errorf("%w: %q: only sha256 digests in lower-case hex are accepted", ErrReference, s)
		}
		ref.Digest = d
		return ref, nil
	}
	if !allowTag {
		return Reference{}, fmt.Errorf("%w: %q names a tag; name the artifact by digest (oci://%s/%s@sha256:…), which moat push prints", ErrTag, s, r.Registry, r.Repository)
	}
	ref.Tag = r.Reference
	return ref, nil
}

// validDigest reports whether d is "sha256:" and 64 lower-case hex digits.
func validDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isLoopback reports whether host (host[:port]) names the loopback
// interface: localhost, 127.0.0.0/8 or ::1. Only such a registry may be
// reached over plain http.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
