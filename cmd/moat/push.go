package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moatmcp/moat/host/manifest"
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
	a, err := artifactOf(t)
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

// artifactOf gathers the files of a loaded tool: its manifest, module and
// schema files, named relative to the folder that holds them all, so that
// the manifest's own relative paths still point at them after moat pull.
func artifactOf(t *manifest.Tool) (*registry.Artifact, error) {
	manifestData, err := os.ReadFile(t.File)
	if err != nil {
		return nil, err
	}
	if t.ModuleRef != "" {
		return nil, fmt.Errorf("%s: module is already %s: push the manifest whose module is a file", t.File, t.ModuleRef)
	}
	skim, err := manifest.ParseSkim(manifestData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.File, err)
	}
	paths := []string{t.File, t.ModulePath}
	for _, p := range []string{skim.InputSchemaFile, skim.OutputSchemaFile} {
		if p != "" {
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(t.File), p)
			}
			paths = append(paths, filepath.Clean(p))
		}
	}
	root := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for !strings.HasPrefix(p, root+string(filepath.Separator)) && root != filepath.Dir(root) {
			root = filepath.Dir(root)
		}
	}
	rel := func(p string) (string, error) {
		r, err := filepath.Rel(root, p)
		if err != nil {
			return "", err
		}
		return filepath.ToSlash(r), nil
	}
	read := func(p string) (registry.File, error) {
		name, err := rel(p)
		if err != nil {
			return registry.File{}, err
		}
		data, err := os.ReadFile(p)
		return registry.File{Name: name, Data: data}, err
	}
	a := &registry.Artifact{}
	if a.Manifest.Name, err = rel(t.File); err != nil {
		return nil, err
	}
	a.Manifest.Data = manifestData
	// The module as loaded (and checked) by manifest.Load, not re-read.
	if a.Module.Name, err = rel(t.ModulePath); err != nil {
		return nil, err
	}
	a.Module.Data = t.Wasm
	for _, p := range paths[2:] {
		f, err := read(p)
		if err != nil {
			return nil, err
		}
		a.Schemas = append(a.Schemas, f)
	}
	return a, nil
}

// checkManifestLayer refuses a manifest layer that is not TOML, or not a
// tool manifest's TOML (an unknown key, a wrong type). Errors that depend
// on this machine (a missing mount folder or host variable, files the
// manifest names elsewhere) are not the layer's fault and pass: moat pull
// is for review, and moat serve loads the operator's own manifest.
func checkManifestLayer(data []byte) error { return manifest.CheckPublished(data) }
