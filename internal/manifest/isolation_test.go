package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestIsolation(t *testing.T) {
	dir := fixture(t)
	tests := []struct {
		name, line string
		want       Isolation
		is         error
	}{
		{"default", "", IsolationPerCall, nil},
		{"per-call", `isolation = "per-call"`, IsolationPerCall, nil},
		{"per-principal", `isolation = "per-principal"`, IsolationPerPrincipal, nil},
		{"shared", `isolation = "shared"`, IsolationShared, nil},
		{"unknown", `isolation = "pooled"`, "", ErrInvalid},
		{"wrong case", `isolation = "Shared"`, "", ErrInvalid},
		{"not a string", `isolation = true`, "", errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "iso.toml")
			src := "name = \"t\"\nmodule = \"m.wasm\"\n" + tt.line + "\n"
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			tool, err := Load(path)
			switch {
			case tt.is == nil && err != nil:
				t.Fatalf("Load: %v", err)
			case tt.is == nil && tool.Isolation != tt.want:
				t.Fatalf("Isolation = %q, want %q", tool.Isolation, tt.want)
			case tt.is == errAny && err == nil:
				t.Fatal("loaded")
			case tt.is != nil && tt.is != errAny && !errors.Is(err, tt.is):
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
		})
	}
}

// errAny matches any error.
var errAny = errors.New("any error")
