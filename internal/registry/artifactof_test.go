package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/manifest"
)

// TestArtifactOf: a tool's files are named relative to the folder that
// holds them all, and written out they load again.
func TestArtifactOf(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"manifests", "build", "manifests/schemas"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "build", "m.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	os.WriteFile(filepath.Join(root, "manifests", "schemas", "in.json"), []byte(`{"type":"object"}`), 0o644)
	os.WriteFile(filepath.Join(root, "manifests", "schemas", "out.json"), []byte(`{"type":"object"}`), 0o644)
	src := "name = \"echo\"\nmodule = \"../build/m.wasm\"\ninput_schema_file = \"schemas/in.json\"\noutput_schema_file = 'schemas/out.json'\n"
	os.WriteFile(filepath.Join(root, "manifests", "echo.toml"), []byte(src), 0o644)
	mt, err := manifest.Load(filepath.Join(root, "manifests", "echo.toml"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := ArtifactOf(mt)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{a.Manifest.Name, a.Module.Name}
	for _, s := range a.Schemas {
		got = append(got, s.Name)
	}
	want := "manifests/echo.toml build/m.wasm manifests/schemas/in.json manifests/schemas/out.json"
	if strings.Join(got, " ") != want || string(a.Manifest.Data) != src {
		t.Fatalf("artifact files = %v, want %s", got, want)
	}
	// Written out and loaded again, the manifest finds all its files.
	out := filepath.Join(t.TempDir(), "pulled")
	if err := a.WriteDir(out); err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.Load(filepath.Join(out, "manifests", "echo.toml")); err != nil {
		t.Fatalf("pulled manifest does not load: %v", err)
	}
}
