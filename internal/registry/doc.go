// Package registry publishes moat tools to OCI registries and brings them
// back: one tool is one OCI artifact holding its module, the publisher's
// manifest and its schema files, each a layer of its own media type.
//
// It sits before the call path, beside internal/manifest: `moat push` and
// `moat pull` use it directly (ArtifactOf gathers a loaded tool's files for
// a push), and the manifest loader uses Fetch to turn a
// module reference by digest (module = "oci://HOST/REPO@sha256:…") into
// verified bytes from a private, content-addressed cache, so that a restart
// never needs the registry. Signatures are stored next to the artifact as
// OCI referrers (internal/signature makes and checks them; this package only
// moves their bytes).
//
// oras-go v2 is the only OCI client in moat and is used only here.
//
// # Guarantees
//
//   - Everything read is checked against the digest that names it: the
//     artifact manifest against the reference's digest, each layer against
//     its descriptor, and the same again each time a cache entry is read.
//   - A reference by tag is refused unless Options.AllowTag is set (moat pull
//     sets it; moat serve does not).
//   - Plain http only to loopback registries; every other request is https.
//     A redirect to another host is refused. Every request has a deadline.
//   - Each layer has a size cap checked before it is read and while it is
//     read: module 256 MiB, manifest and schemas 1 MiB, signature bundles
//     64 KiB, the OCI manifest 1 MiB.
//   - Credentials come from MOAT_REGISTRY_USERNAME/MOAT_REGISTRY_PASSWORD
//     for the host MOAT_REGISTRY_HOST, else from the `auths` of the Docker
//     config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json);
//     never from a manifest, and no credential helper program is run.
package registry

// The artifact's types (docs/supply-chain.md). The config is the OCI empty
// descriptor; ArtifactType says what the artifact is.
const (
	// ArtifactType is the manifest's artifactType: a moat tool, version 1.
	ArtifactType = "application/vnd.moat.tool.v1+json"
	// MediaTypeModule is the layer of the WebAssembly module (exactly one).
	MediaTypeModule = "application/vnd.moat.tool.module.v1.wasm"
	// MediaTypeManifest is the layer of the publisher's TOML manifest
	// (exactly one).
	MediaTypeManifest = "application/vnd.moat.tool.manifest.v1+toml"
	// MediaTypeSchema is a layer of one JSON Schema file the manifest names
	// (input_schema_file, output_schema_file): at most two.
	MediaTypeSchema = "application/vnd.moat.tool.schema.v1+json"
	// SignatureArtifactType is the artifactType of a signature referrer: a
	// Sigstore bundle, as cosign attaches them (cosign's BUNDLE_SPEC.md).
	SignatureArtifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// Size caps (Guarantees above).
const (
	MaxModuleBytes    = 256 << 20
	MaxManifestBytes  = 1 << 20
	MaxSchemaBytes    = 1 << 20
	MaxSignatureBytes = 64 << 10
	maxOCIManifest    = 1 << 20
	maxSchemas        = 2
	maxSignatures     = 16 // signature referrers read per artifact
	maxNameBytes      = 255
)
