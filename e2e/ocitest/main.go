// Command ocitest is e2e/registry.sh's helper. Its first four subcommands
// put hostile artifacts into a loopback OCI registry, speaking the
// distribution API with net/http only (moat's OCI client, oras-go, stays
// inside internal/registry), and print the digest of what they pushed:
//
//	ocitest other-type   HOST REPO          an artifact of another artifactType
//	ocitest not-toml     HOST REPO          a moat artifact whose manifest layer is not TOML
//	ocitest big-module   HOST REPO          a moat artifact whose module layer is over 256 MiB
//	ocitest copy-sig     HOST REPO FROM TO  attach FROM's signature bundle to TO
//
// The fifth loads a module the way the manifest loader does for
// module = "oci://…" with signed_by, through registry.FetchVerified, and
// prints the module's digest and the key that signed it:
//
//	ocitest fetch REF CACHE_DIR [PUB...]
//
// Loopback only: it refuses any other host.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/moatmcp/moat/internal/registry"
	"github.com/moatmcp/moat/internal/signature"
)

var client = &http.Client{Timeout: 60 * time.Second}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: ocitest other-type|not-toml|big-module|copy-sig HOST REPO [FROM TO] | fetch REF CACHE_DIR [PUB...]")
		os.Exit(2)
	}
	if os.Args[1] == "fetch" {
		fetch(os.Args[2], os.Args[3], os.Args[4:])
		return
	}
	cmd, host, repo := os.Args[1], os.Args[2], os.Args[3]
	h, _, err := net.SplitHostPort(host)
	if err != nil || net.ParseIP(h) == nil || !net.ParseIP(h).IsLoopback() {
		fail(fmt.Errorf("%s is not a loopback address", host))
	}
	base := "http://" + host + "/v2/" + repo
	module := []byte("\x00asm\x01\x00\x00\x00")
	switch cmd {
	case "other-type":
		fmt.Println(artifact(base, "application/vnd.acme.other.v1+json", []layer{
			{"application/vnd.moat.tool.manifest.v1+toml", "t.toml", []byte("name = \"x\"\nmodule = \"m.wasm\"\n")},
			{"application/vnd.moat.tool.module.v1.wasm", "m.wasm", module},
		}))
	case "not-toml":
		fmt.Println(artifact(base, "application/vnd.moat.tool.v1+json", []layer{
			{"application/vnd.moat.tool.manifest.v1+toml", "t.toml", []byte("<html>this is not [toml\n")},
			{"application/vnd.moat.tool.module.v1.wasm", "m.wasm", module},
		}))
	case "big-module":
		// 256 MiB + 1 byte, streamed: the registry stores it, moat must
		// refuse it from its descriptor before reading it.
		size := int64(256<<20) + 1
		d := pushStream(base, size)
		m := manifest("application/vnd.moat.tool.v1+json", []desc{
			pushLayer(base, layer{"application/vnd.moat.tool.manifest.v1+toml", "t.toml", []byte("name = \"x\"\nmodule = \"m.wasm\"\n")}),
			{MediaType: "application/vnd.moat.tool.module.v1.wasm", Digest: d, Size: size, Annotations: map[string]string{"org.opencontainers.image.title": "m.wasm"}},
		}, nil)
		fmt.Println(putManifest(base, "", "application/vnd.oci.image.manifest.v1+json", m))
	case "copy-sig":
		if len(os.Args) != 6 {
			fail(fmt.Errorf("copy-sig needs FROM and TO digests"))
		}
		fmt.Println(copySig(base, os.Args[4], os.Args[5]))
	default:
		fail(fmt.Errorf("unknown subcommand %q", cmd))
	}
}

type layer struct {
	mediaType, title string
	data             []byte
}

type desc struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

var emptyConfig = desc{MediaType: "application/vnd.oci.empty.v1+json", Digest: digest([]byte("{}")), Size: 2}

func manifest(artifactType string, layers []desc, subject *desc) map[string]any {
	m := map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"artifactType": artifactType, "config": emptyConfig, "layers": layers,
	}
	if subject != nil {
		m["subject"] = subject
	}
	return m
}

func artifact(base, artifactType string, layers []layer) string {
	pushBlob(base, []byte("{}"))
	var ds []desc
	for _, l := range layers {
		ds = append(ds, pushLayer(base, l))
	}
	return putManifest(base, "", "application/vnd.oci.image.manifest.v1+json", manifest(artifactType, ds, nil))
}

func pushLayer(base string, l layer) desc {
	return desc{MediaType: l.mediaType, Digest: pushBlob(base, l.data), Size: int64(len(l.data)),
		Annotations: map[string]string{"org.opencontainers.image.title": l.title}}
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func pushBlob(base string, data []byte) string {
	d := digest(data)
	upload(base, d, bytes.NewReader(data), int64(len(data)))
	return d
}

// pushStream uploads size zero bytes without holding them in memory.
func pushStream(base string, size int64) string {
	h := sha256.New()
	io.Copy(h, io.LimitReader(zeros{}, size))
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	upload(base, d, io.LimitReader(zeros{}, size), size)
	return d
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func upload(base, d string, body io.Reader, size int64) {
	resp := do("POST", base+"/blobs/uploads/", "", nil, -1, http.StatusAccepted)
	loc := resp.Header.Get("Location")
	if strings.HasPrefix(loc, "/") {
		loc = base[:strings.Index(base, "/v2/")] + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	do("PUT", loc+sep+"digest="+d, "application/octet-stream", body, size, http.StatusCreated)
}

func putManifest(base, tag, mediaType string, m any) string {
	body, err := json.Marshal(m)
	if err != nil {
		fail(err)
	}
	d := digest(body)
	if tag == "" {
		tag = d
	}
	do("PUT", base+"/manifests/"+tag, mediaType, bytes.NewReader(body), int64(len(body)), http.StatusCreated)
	return d
}

func get(url, accept string, v any) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fail(fmt.Errorf("GET %s: %s", url, resp.Status))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		fail(err)
	}
}

// copySig attaches the first signature referrer of FROM to TO: the same
// bundle (signed over FROM's digest), now claiming to be TO's signature.
func copySig(base, from, to string) string {
	var index struct {
		Manifests []desc `json:"manifests"`
	}
	get(base+"/manifests/"+strings.Replace(from, ":", "-", 1), "application/vnd.oci.image.index.v1+json", &index)
	if len(index.Manifests) == 0 {
		fail(fmt.Errorf("%s has no referrers", from))
	}
	var sig map[string]any
	get(base+"/manifests/"+index.Manifests[0].Digest, "application/vnd.oci.image.manifest.v1+json", &sig)
	req, _ := http.NewRequest("HEAD", base+"/manifests/"+to, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := client.Do(req)
	if err != nil {
		fail(err)
	}
	resp.Body.Close()
	sig["subject"] = desc{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: to, Size: resp.ContentLength}
	d := putManifest(base, "", "application/vnd.oci.image.manifest.v1+json", sig)
	body, _ := json.Marshal(sig)
	idx := map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []desc{{MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/vnd.dev.sigstore.bundle.v0.3+json", Digest: d, Size: int64(len(body))}},
	}
	putManifest(base, strings.Replace(to, ":", "-", 1), "application/vnd.oci.image.index.v1+json", idx)
	return d
}

func do(method, url, contentType string, body io.Reader, size int64, want int) *http.Response {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		fail(err)
	}
	if size >= 0 {
		req.ContentLength = size
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		fail(err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != want {
		fail(fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, msg))
	}
	return resp
}

// fetch is the manifest loader's path for an oci:// module, by digest
// only, with the signed_by keys given.
func fetch(ref, cache string, keyFiles []string) {
	var keys []signature.PublicKey
	for _, f := range keyFiles {
		k, err := signature.LoadPublicKey(f)
		if err != nil {
			fail(err)
		}
		keys = append(keys, k)
	}
	a, k, err := registry.FetchVerified(context.Background(), ref, cache, keys, &registry.Options{Timeout: time.Minute})
	if err != nil {
		fail(err)
	}
	signer := "unsigned"
	if k != nil {
		signer = "signed by " + k.Name
	}
	fmt.Printf("module %s %s\n", a.ModuleDigest(), signer)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ocitest:", err)
	os.Exit(1)
}
