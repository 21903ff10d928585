package registry

import (
	"encoding/json"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzParseManifest feeds untrusted OCI manifests (what a registry or a
// cache entry returns) to the checks that run before any layer is read.
func FuzzParseManifest(f *testing.F) {
	good, _ := json.Marshal(ocispec.Manifest{
		Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: ArtifactType,
		Config: ocispec.DescriptorEmptyJSON,
		Layers: []ocispec.Descriptor{
			{MediaType: MediaTypeManifest, Digest: digestFrom(sum([]byte("a"))), Size: 1, Annotations: map[string]string{ocispec.AnnotationTitle: "t.toml"}},
			{MediaType: MediaTypeModule, Digest: digestFrom(sum([]byte("b"))), Size: 1, Annotations: map[string]string{ocispec.AnnotationTitle: "m.wasm"}},
		},
	})
	f.Add(good)
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseManifest(body)
		if err != nil {
			bundleLayer(body, digestFrom(sum(nil)))
			return
		}
		for _, l := range m.Layers {
			if l.Size > capOf(l.MediaType) || checkName(l.Annotations[ocispec.AnnotationTitle]) != nil {
				t.Fatalf("accepted layer %+v", l)
			}
		}
	})
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"a.toml", "../x", "a/./b", "a\\b", ".git/config", "schemas/in.json"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkName(name) != nil {
			return
		}
		for _, bad := range []string{"\\", ":", "\x00", "//"} {
			if contains(name, bad) {
				t.Fatalf("accepted %q", name)
			}
		}
		if name[0] == '/' || name[len(name)-1] == '/' {
			t.Fatalf("accepted %q", name)
		}
		for _, el := range strings.Split(name, "/") {
			if el == "" || el == "." || el == ".." || el[0] == '.' {
				t.Fatalf("accepted %q (element %q)", name, el)
			}
		}
	})
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
