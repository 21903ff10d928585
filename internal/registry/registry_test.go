package registry

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func tool() *Artifact {
	return &Artifact{
		Manifest: File{Name: "echo.toml", Data: []byte("name = \"echo\"\nmodule = \"echo.wasm\"\ninput_schema_file = \"schemas/in.json\"\n")},
		Module:   File{Name: "echo.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")},
		Schemas:  []File{{Name: "schemas/in.json", Data: []byte(`{"type":"object"}`)}},
	}
}

// opts gives every test a short, event-free bound and no ambient
// credentials.
func opts() *Options {
	return &Options{Timeout: 30 * time.Second, Getenv: func(string) string { return "" }}
}

func push(t *testing.T, host string, a *Artifact) string {
	t.Helper()
	d, err := Push(context.Background(), "oci://"+host+"/acme/echo:v1", a, opts())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPushPullFetch(t *testing.T) {
	_, host := newFake(t)
	d := push(t, host, tool())
	if !validDigest(d) {
		t.Fatalf("digest %q", d)
	}
	if again := push(t, host, tool()); again != d {
		t.Fatalf("push is not reproducible: %s then %s", d, again)
	}
	o := opts()
	o.AllowTag = true
	byTag, err := Pull(context.Background(), "oci://"+host+"/acme/echo:v1", o)
	if err != nil {
		t.Fatal(err)
	}
	if byTag.Digest != d || byTag.Ref.Digest != d {
		t.Fatalf("pull by tag resolved %s, pushed %s", byTag.Digest, d)
	}
	want := tool()
	if string(byTag.Manifest.Data) != string(want.Manifest.Data) || string(byTag.Module.Data) != string(want.Module.Data) ||
		len(byTag.Schemas) != 1 || byTag.Schemas[0].Name != "schemas/in.json" {
		t.Fatalf("pulled %+v", byTag)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := byTag.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "schemas", "in.json")); string(b) != `{"type":"object"}` {
		t.Fatalf("schema on disk = %q", b)
	}
	if err := byTag.WriteDir(dir); err == nil {
		t.Fatal("WriteDir into a non-empty folder succeeded")
	}

	cache := filepath.Join(t.TempDir(), "cache")
	ref := "oci://" + host + "/acme/echo@" + d
	a, err := Fetch(context.Background(), ref, cache, opts())
	if err != nil {
		t.Fatal(err)
	}
	if a.ModuleDigest() != sum(want.Module.Data) {
		t.Fatalf("module digest %s", a.ModuleDigest())
	}
	// From the cache, with the registry gone.
	gone := "oci://127.0.0.1:1/acme/echo@" + d
	if _, err := Fetch(context.Background(), gone, cache, opts()); err != nil {
		t.Fatalf("cached fetch needed the registry: %v", err)
	}
}

func TestSignatureReferrers(t *testing.T) {
	f, host := newFake(t)
	d := push(t, host, tool())
	ref := "oci://" + host + "/acme/echo@" + d
	bundle := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)
	if err := AttachSignature(context.Background(), ref, bundle, opts()); err != nil {
		t.Fatal(err)
	}
	// The referrers tag schema: the registry has no referrers API.
	f.mu.Lock()
	_, ok := f.tags[strings.Replace(d, ":", "-", 1)]
	f.mu.Unlock()
	if !ok {
		t.Fatalf("no referrers tag; tags: %v", f.tags)
	}
	a, err := Pull(context.Background(), ref, opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Signatures) != 1 || !bytes.Equal(a.Signatures[0], bundle) {
		t.Fatalf("signatures = %q", a.Signatures)
	}
	// Cached with the artifact; a later signature is found by
	// FetchSignatures.
	cache := t.TempDir() + "/c"
	if _, err := Fetch(context.Background(), ref, cache, opts()); err != nil {
		t.Fatal(err)
	}
	second := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","x":2}`)
	if err := AttachSignature(context.Background(), ref, second, opts()); err != nil {
		t.Fatal(err)
	}
	sigs, err := FetchSignatures(context.Background(), ref, cache, opts())
	if err != nil || len(sigs) != 2 {
		t.Fatalf("FetchSignatures = %d, %v", len(sigs), err)
	}
	a, err = Fetch(context.Background(), ref, cache, opts())
	if err != nil || len(a.Signatures) != 2 {
		t.Fatalf("cached signatures = %d, %v", len(a.Signatures), err)
	}
}

// TestBadArtifacts serves each kind of bad artifact and checks the error.
func TestBadArtifacts(t *testing.T) {
	f, host := newFake(t)
	good := push(t, host, tool())
	moduleDesc := func(size int64) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: MediaTypeModule, Digest: digestFrom("sha256:" + strings.Repeat("a", 64)), Size: size,
			Annotations: map[string]string{ocispec.AnnotationTitle: "m.wasm"}}
	}
	manifestLayer := func(data []byte, name string) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: MediaTypeManifest, Digest: digestFrom(f.setBlob(data)), Size: int64(len(data)),
			Annotations: map[string]string{ocispec.AnnotationTitle: name}}
	}
	mod := tool().Module.Data
	goodModule := ocispec.Descriptor{MediaType: MediaTypeModule, Digest: digestFrom(f.setBlob(mod)), Size: int64(len(mod)),
		Annotations: map[string]string{ocispec.AnnotationTitle: "echo.wasm"}}
	art := func(artifactType string, layers ...ocispec.Descriptor) string {
		return f.setManifest("", ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: artifactType,
			Config: ocispec.DescriptorEmptyJSON, Layers: layers,
		})
	}
	notTOML := func(data []byte) error {
		if bytes.HasPrefix(data, []byte("name")) {
			return nil
		}
		return errors.New("not a manifest")
	}
	cases := []struct {
		name     string
		ref      string
		validate func([]byte) error
		want     error
	}{
		{"unknown digest", "oci://" + host + "/acme/echo@sha256:" + strings.Repeat("0", 64), nil, ErrRegistry},
		{"tag in serve", "oci://" + host + "/acme/echo:v1", nil, ErrTag},
		{"other artifact type", "oci://" + host + "/acme/echo@" + art("application/vnd.acme.other.v1", manifestLayer([]byte("name = 1"), "a.toml"), goodModule), nil, ErrArtifactType},
		{"image, no artifact type", "oci://" + host + "/acme/echo@" + art("", goodModule), nil, ErrArtifactType},
		{"index", "oci://" + host + "/acme/echo@" + f.setManifest("", ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specsV2, MediaType: ocispec.MediaTypeImageIndex}), nil, ErrArtifactType},
		{"two modules", "oci://" + host + "/acme/echo@" + art(ArtifactType, manifestLayer([]byte("name = 1"), "a.toml"), goodModule, goodModule), nil, ErrArtifactType},
		{"foreign layer type", "oci://" + host + "/acme/echo@" + art(ArtifactType, manifestLayer([]byte("name = 1"), "a.toml"), goodModule,
			ocispec.Descriptor{MediaType: "application/octet-stream", Digest: goodModule.Digest, Size: goodModule.Size}), nil, ErrArtifactType},
		{"path traversal", "oci://" + host + "/acme/echo@" + art(ArtifactType, manifestLayer([]byte("name = 1"), "../../etc/cron.d/x"), goodModule), nil, ErrArtifactType},
		{"manifest layer not text", "oci://" + host + "/acme/echo@" + art(ArtifactType, manifestLayer([]byte("\x00\x01\x02"), "a.toml"), goodModule), nil, ErrManifestLayer},
		{"manifest layer not TOML", "oci://" + host + "/acme/echo@" + art(ArtifactType, manifestLayer([]byte("<html>"), "a.toml"), goodModule), notTOML, ErrManifestLayer},
		{"module over the cap", "oci://" + host + "/acme/echo@" + art(ArtifactType, manifestLayer([]byte("name = 1"), "a.toml"), moduleDesc(MaxModuleBytes+1)), nil, ErrTooLarge},
		{"layer differs from digest", "oci://" + host + "/acme/echo@" + art(ArtifactType, manifestLayer([]byte("name = 1"), "a.toml"), moduleDesc(8)), nil, ErrRegistry},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := opts()
			o.ValidateManifest = c.validate
			_, err := Fetch(context.Background(), c.ref, t.TempDir()+"/c", o)
			if !errors.Is(err, c.want) {
				t.Fatalf("Fetch error = %v, want %v", err, c.want)
			}
		})
	}
	_ = good
}

func TestRegistryLies(t *testing.T) {
	f, host := newFake(t)
	d := push(t, host, tool())
	ref := "oci://" + host + "/acme/echo@" + d
	other, otherHost := newFake(t)
	_ = other
	slowRelease := make(chan struct{})
	t.Cleanup(func() { close(slowRelease) })
	cases := []struct {
		name  string
		serve func(w http.ResponseWriter, r *http.Request) bool
		want  error
	}{
		{"wrong manifest content", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodGet {
				w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
				w.Header().Set("Docker-Content-Digest", d)
				w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`))
				return true
			}
			return false
		}, ErrDigest},
		{"wrong blob content", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
				n := f.blobLen(r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
				w.Write(bytes.Repeat([]byte("x"), n))
				return true
			}
			return false
		}, ErrDigest},
		{"redirect to another host", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
				http.Redirect(w, r, "http://"+otherHost+r.URL.Path, http.StatusTemporaryRedirect)
				return true
			}
			return false
		}, ErrInsecure},
		{"slow answer", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/manifests/") {
				select {
				case <-r.Context().Done():
				case <-slowRelease:
				}
				return true
			}
			return false
		}, ErrRegistry},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.setServe(c.serve)
			defer f.setServe(nil)
			o := opts()
			if c.name == "slow answer" {
				// The handler never answers: any deadline is reached.
				o.HeaderTimeout = 200 * time.Millisecond
			}
			_, err := Fetch(context.Background(), ref, t.TempDir()+"/c", o)
			if !errors.Is(err, c.want) {
				t.Fatalf("Fetch error = %v, want %v", err, c.want)
			}
		})
	}
}

func TestTamperedCache(t *testing.T) {
	_, host := newFake(t)
	d := push(t, host, tool())
	ref := "oci://" + host + "/acme/echo@" + d
	entryOf := func(cache string) string { return entryDir(cache, d) }
	cases := []struct {
		name   string
		tamper func(t *testing.T, cache string)
		want   error
	}{
		{"module changed", func(t *testing.T, cache string) {
			p := filepath.Join(entryOf(cache), cacheBlobs, strings.TrimPrefix(sum(tool().Module.Data), "sha256:"))
			os.WriteFile(p, []byte("\x00asm\x01\x00\x00\x01"), 0o600)
		}, ErrCache},
		{"module removed", func(t *testing.T, cache string) {
			os.Remove(filepath.Join(entryOf(cache), cacheBlobs, strings.TrimPrefix(sum(tool().Module.Data), "sha256:")))
		}, ErrCache},
		{"manifest changed", func(t *testing.T, cache string) {
			p := filepath.Join(entryOf(cache), cacheManifest)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, append(b, ' '), 0o600)
		}, ErrCache},
		{"blob replaced by a symlink", func(t *testing.T, cache string) {
			p := filepath.Join(entryOf(cache), cacheBlobs, strings.TrimPrefix(sum(tool().Module.Data), "sha256:"))
			os.Remove(p)
			os.Symlink("/etc/hostname", p)
		}, ErrCache},
		{"signature changed", func(t *testing.T, cache string) {
			os.WriteFile(filepath.Join(entryOf(cache), cacheSigs, strings.Repeat("0", 64)+".json"), []byte("{}"), 0o600)
		}, ErrCache},
		{"entry group-writable", func(t *testing.T, cache string) { os.Chmod(entryOf(cache), 0o770) }, ErrInsecureCacheDir},
		{"cache group-writable", func(t *testing.T, cache string) { os.Chmod(cache, 0o777) }, ErrInsecureCacheDir},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c")
			if _, err := Fetch(context.Background(), ref, cache, opts()); err != nil {
				t.Fatal(err)
			}
			c.tamper(t, cache)
			if _, err := Fetch(context.Background(), ref, cache, opts()); !errors.Is(err, c.want) {
				t.Fatalf("Fetch error = %v, want %v", err, c.want)
			}
		})
	}
	t.Run("symlinked cache folder", func(t *testing.T) {
		real := filepath.Join(t.TempDir(), "real")
		os.Mkdir(real, 0o700)
		link := filepath.Join(t.TempDir(), "link")
		os.Symlink(real, link)
		if _, err := Fetch(context.Background(), ref, link, opts()); !errors.Is(err, ErrInsecureCacheDir) {
			t.Fatalf("Fetch error = %v, want ErrInsecureCacheDir", err)
		}
	})
}

func TestParseReference(t *testing.T) {
	dg := "sha256:" + strings.Repeat("ab", 32)
	cases := []struct {
		in       string
		allowTag bool
		want     Reference
		err      error
	}{
		{"oci://ghcr.io/acme/echo@" + dg, false, Reference{Host: "ghcr.io", Repository: "acme/echo", Digest: dg}, nil},
		{"oci://127.0.0.1:5000/echo:v1", true, Reference{Host: "127.0.0.1:5000", Repository: "echo", Tag: "v1"}, nil},
		{"oci://127.0.0.1:5000/echo:v1", false, Reference{}, ErrTag},
		{"oci://ghcr.io/acme/echo", true, Reference{}, ErrReference},
		{"ghcr.io/acme/echo@" + dg, false, Reference{}, ErrReference},
		{"oci://ghcr.io/acme/echo:v1@" + dg, true, Reference{}, ErrReference},
		{"oci://ghcr.io/acme/echo@sha512:" + strings.Repeat("ab", 64), false, Reference{}, ErrReference},
		{"oci://ghcr.io/acme/echo@sha256:" + strings.Repeat("AB", 32), false, Reference{}, ErrReference},
		{"oci://ghcr.io/acme/echo@sha256:abc", false, Reference{}, ErrReference},
		{"oci://" + strings.Repeat("a", 2000), false, Reference{}, ErrReference},
	}
	for _, c := range cases {
		t.Run(c.in[:min(len(c.in), 60)], func(t *testing.T) {
			got, err := ParseReference(c.in, c.allowTag)
			if !errors.Is(err, c.err) || got != c.want {
				t.Fatalf("ParseReference = %+v, %v; want %+v, %v", got, err, c.want, c.err)
			}
			if err == nil && got.String() != c.in {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}

func FuzzParseReference(f *testing.F) {
	f.Add("oci://ghcr.io/acme/echo@sha256:" + strings.Repeat("ab", 32))
	f.Add("oci://127.0.0.1:5000/echo:v1")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s, true)
		if err != nil {
			return
		}
		if r2, err := ParseReference(r.String(), true); err != nil || r2 != r {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, r, r.String(), r2, err)
		}
	})
}

func TestTransportRules(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true, "localhost:5000": true, "LOCALHOST": true,
		"10.0.0.1:5000": false, "ghcr.io": false, "127.0.0.1.nip.io": false, "[::ffff:127.0.0.1]:1": true,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v", host, got)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "http://ghcr.io/v2/", nil)
	if _, err := (guard{http.DefaultTransport}).RoundTrip(req); !errors.Is(err, ErrInsecure) {
		t.Fatalf("plain http to ghcr.io: %v", err)
	}
	// A non-loopback registry is reached over https, never http.
	r, _ := ParseReference("oci://ghcr.io/acme/echo:v1", true)
	repo, err := repository(r, opts())
	if err != nil || repo.PlainHTTP {
		t.Fatalf("repository(ghcr.io): plain=%v err=%v", repo.PlainHTTP, err)
	}
}

func TestCredentials(t *testing.T) {
	f, host := newFake(t)
	var (
		mu  sync.Mutex
		got []string
	)
	f.setServe(func(w http.ResponseWriter, r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		mu.Lock()
		got = append(got, u+":"+p)
		mu.Unlock()
		return false
	})
	env := map[string]string{EnvHost: host, EnvUsername: "alice", EnvPassword: "s3cret"}
	o := opts()
	o.Getenv = func(k string) string { return env[k] }
	if _, err := Push(context.Background(), "oci://"+host+"/acme/echo:v1", tool(), o); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0] != "alice:s3cret" {
		t.Fatalf("credentials sent: %v", got)
	}
	// Docker config auths, for the registry it names.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"Ym9iOnB3"}}}`), 0o600)
	got = nil
	env = map[string]string{"DOCKER_CONFIG": dir}
	if _, err := Push(context.Background(), "oci://"+host+"/acme/echo:v1", tool(), o); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0] != "bob:pw" {
		t.Fatalf("credentials sent: %v", got)
	}
	// Variables without the host they are for are refused, not sent
	// anywhere.
	env = map[string]string{EnvUsername: "alice", EnvPassword: "s3cret"}
	if _, err := Push(context.Background(), "oci://"+host+"/acme/echo:v1", tool(), o); !errors.Is(err, ErrCredentials) {
		t.Fatalf("err = %v, want ErrCredentials", err)
	}
}

func TestPushRefuses(t *testing.T) {
	_, host := newFake(t)
	cases := []struct {
		name   string
		change func(a *Artifact)
		want   error
	}{
		{"name leaves the folder", func(a *Artifact) { a.Module.Name = "../x.wasm" }, ErrArtifactType},
		{"absolute name", func(a *Artifact) { a.Module.Name = "/x.wasm" }, ErrArtifactType},
		{"dot file", func(a *Artifact) { a.Schemas[0].Name = ".hidden/in.json" }, ErrArtifactType},
		{"same name twice", func(a *Artifact) { a.Schemas[0].Name = "echo.wasm" }, ErrArtifactType},
		{"three schemas", func(a *Artifact) { a.Schemas = append(a.Schemas, File{"a.json", nil}, File{"b.json", nil}) }, ErrArtifactType},
		{"binary manifest", func(a *Artifact) { a.Manifest.Data = []byte{0, 1} }, ErrManifestLayer},
		{"schema over the cap", func(a *Artifact) { a.Schemas[0].Data = make([]byte, MaxSchemaBytes+1) }, ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := tool()
			c.change(a)
			if _, err := Push(context.Background(), "oci://"+host+"/acme/echo:v1", a, opts()); !errors.Is(err, c.want) {
				t.Fatalf("Push error = %v, want %v", err, c.want)
			}
		})
	}
}
