package main

import (
	"context"
	"fmt"
	"io"

	"github.com/moatmcp/moat/internal/registry"
	"github.com/moatmcp/moat/internal/signature"
)

const pullUsage = `usage: moat pull oci://HOST[:PORT]/REPO(:TAG|@sha256:…) DIR [--key PUB]...

Writes a published tool's files into DIR (created; must be empty) for
review: the manifest, module and schema files at their published paths,
and its signature bundles under DIR/.signatures/. Every file is checked
against its digest. With --key (repeatable), the artifact must carry a
signature by one of these PEM public keys. A tag is allowed here; moat
serve accepts only digests.`

func cmdPull(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat pull", stderr, pullUsage)
	var keyFiles stringList
	fs.Var(&keyFiles, "key", "PEM public key the artifact must be signed by (repeatable)")
	pos, code, ok := parseArgs(fs, args, 2, 2)
	if !ok {
		return code
	}
	var keys []signature.PublicKey
	for _, f := range keyFiles {
		k, err := signature.LoadPublicKey(f)
		if err != nil {
			fmt.Fprintf(stderr, "moat pull: %v\n", err)
			return exitUsage
		}
		keys = append(keys, k)
	}
	a, err := registry.Pull(ctx, pos[0], &registry.Options{AllowTag: true, ValidateManifest: checkManifestLayer})
	if err != nil {
		fmt.Fprintf(stderr, "moat pull: %v\n", err)
		return exitUsage
	}
	if len(keys) > 0 {
		k, err := signature.Verify(a.Signatures, a.Digest, keys)
		if err != nil {
			fmt.Fprintf(stderr, "moat pull: %s: %v\n", a.Ref, err)
			return exitUsage
		}
		fmt.Fprintf(stderr, "signature: verified with %s (%s)\n", k.Name, k.Fingerprint())
	}
	if err := a.WriteDir(pos[1]); err != nil {
		fmt.Fprintf(stderr, "moat pull: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s\n", a.Ref)
	fmt.Fprintf(stdout, "  manifest %s %s\n", a.Manifest.Name, a.ManifestDigest())
	fmt.Fprintf(stdout, "  module   %s %s\n", a.Module.Name, a.ModuleDigest())
	for _, s := range a.Schemas {
		fmt.Fprintf(stdout, "  schema   %s\n", s.Name)
	}
	fmt.Fprintf(stdout, "  signatures %d (unverified unless --key)\n", len(a.Signatures))
	return exitOK
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
