package main

import (
	"context"
	"fmt"
	"io"

	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/registry"
	"github.com/moatmcp/moat/internal/signature"
)

const pushUsage = `usage: moat push MANIFEST oci://HOST[:PORT]/REPO:TAG [--sign KEY]

Publishes a tool as one OCI artifact (docs/supply-chain.md): the manifest,
its module and the schema files it names, laid out relative to their
common folder. Prints the artifact's digest (sha256:…); name the tool by it
in a manifest: module = "oci://HOST/REPO@sha256:…". --sign signs the
artifact with a PEM private key (ECDSA P-256 or Ed25519) in a Sigstore
bundle that cosign can verify. Plain http only for loopback registries;
credentials from MOAT_REGISTRY_HOST/USERNAME/PASSWORD or ~/.docker/config.json.`

func cmdPush(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat push", stderr, pushUsage)
	signKey := fs.String("sign", "", "PEM private key to sign the artifact with")
	pos, code, ok := parseArgs(fs, args, 2, 2)
	if !ok {
		return code
	}
	t, err := manifest.Load(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	var signer *signature.Signer
	if *signKey != "" {
		if signer, err = signature.LoadSigner(*signKey); err != nil {
			fmt.Fprintf(stderr, "moat push: %v\n", err)
			return exitUsage
		}
	}
	a, err := registry.ArtifactOf(t)
	if err != nil {
		fmt.Fprintf(stderr, "moat push: %v\n", err)
		return exitUsage
	}
	o := &registry.Options{ValidateManifest: checkManifestLayer}
	d, err := registry.Push(ctx, pos[1], a, o)
	if err != nil {
		fmt.Fprintf(stderr, "moat push: %v\n", err)
		return exitUsage
	}
	ref, _ := registry.ParseReference(pos[1], true)
	byDigest := ref.WithDigest(d)
	if signer != nil {
		bundle, err := signature.Sign(signer, ref.Host+"/"+ref.Repository, d)
		if err == nil {
			err = registry.AttachSignature(ctx, byDigest.String(), bundle, o)
		}
		if err != nil {
			fmt.Fprintf(stderr, "moat push: pushed %s but signing failed: %v\n", byDigest, err)
			return exitUsage
		}
		fmt.Fprintf(stderr, "signed %s with %s (%s)\n", d, *signKey, signer.Public().Fingerprint())
	}
	fmt.Fprintf(stderr, "pushed %s\n", byDigest)
	fmt.Fprintln(stdout, d)
	return exitOK
}

// checkManifestLayer refuses a manifest layer that is not TOML, or not a
// tool manifest's TOML (an unknown key, a wrong type). Errors that depend
// on this machine (a missing mount folder or host variable, files the
// manifest names elsewhere) are not the layer's fault and pass: moat pull
// is for review, and moat serve loads the operator's own manifest.
func checkManifestLayer(data []byte) error { return manifest.CheckPublished(data) }
