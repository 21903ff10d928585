package scaffold

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/build"
	"github.com/moatmcp/moat/internal/manifest"
)

// TestNewNameIsAManifestName: every name moat new accepts passes the
// manifest's tool-name rule, so a scaffolded tool is never refused by its
// own manifest check; names the manifest refuses are refused in its words.
func TestNewNameIsAManifestName(t *testing.T) {
	for _, name := range []string{"a", "to-ol_", "x1", "hello", "a.b", "A", "é", "a b", strings.Repeat("a", 64), strings.Repeat("a", 129), ""} {
		newMsg, manifestMsg := checkNewName(name), manifest.CheckToolName(name)
		if newMsg == "" && manifestMsg != "" {
			t.Errorf("moat new accepts %q, which a manifest refuses: %s", name, manifestMsg)
		}
		if manifestMsg != "" && newMsg != manifestMsg {
			t.Errorf("checkNewName(%q) = %q, want the manifest's words %q", name, newMsg, manifestMsg)
		}
	}
}

// TestNewC: a C tool's files, under the name given, executable where they
// are scripts, and the next steps to type.
func TestNewC(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my tool")
	res, err := New(context.Background(), "greet", &Options{Lang: build.LangC, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "greet.toml"), filepath.Join(dir, "main.c"), filepath.Join(dir, "smoke.sh")}
	got := append([]string(nil), res.Files...)
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) || res.SDKCopy || res.Dir != dir {
		t.Fatalf("result %+v; want files %q", res, want)
	}
	if st, err := os.Stat(filepath.Join(dir, "smoke.sh")); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("smoke.sh: %v, %v", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "greet.toml")); !strings.Contains(string(b), "\nname        = \"greet\"\n") {
		t.Fatalf("manifest:\n%s", b)
	}
	wantNext := []string{"cd '" + dir + "'", "moat build", `moat call greet.toml --args '{"name":"ada"}'`}
	if !reflect.DeepEqual(res.Next, wantNext) {
		t.Fatalf("next %q, want %q", res.Next, wantNext)
	}
}

// TestNewRefuses: each refusal is its sentinel, and nothing is written.
func TestNewRefuses(t *testing.T) {
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		name, tool string
		opts       *Options
		wantErr    error
	}{
		{"upper case", "Greet", &Options{Lang: build.LangC, Dir: filepath.Join(t.TempDir(), "a")}, ErrBadName},
		{"go keyword", "func", &Options{Lang: build.LangC, Dir: filepath.Join(t.TempDir(), "a")}, ErrBadName},
		{"empty name", "", &Options{Lang: build.LangC, Dir: filepath.Join(t.TempDir(), "a")}, ErrBadName},
		{"folder not empty", "greet", &Options{Lang: build.LangC, Dir: full}, ErrExists},
		{"a file", "greet", &Options{Lang: build.LangC, Dir: file}, ErrExists},
		{"unknown language", "greet", &Options{Lang: "rust", Dir: filepath.Join(t.TempDir(), "a")}, build.ErrUnknownLang},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := New(context.Background(), tc.tool, tc.opts)
			if !errors.Is(err, tc.wantErr) || res != nil {
				t.Fatalf("New = %+v, %v; want %v", res, err, tc.wantErr)
			}
		})
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Fatalf("a refused New wrote into the folder: %d entries", len(ents))
	}
}
