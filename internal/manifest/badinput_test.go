package manifest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBadInputsNameFileAndLine loads broken files from disk, as a reload
// would meet them, and checks that each error names the file and the line
// to fix ("FILE:LINE:COL: FIELD: ..."), and wraps the sentinel it should.
func TestBadInputsNameFileAndLine(t *testing.T) {
	dir := fixture(t)
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	schemaTool := write("schema.toml", "name = \"t\"\nmodule = \"m.wasm\"\ninput_schema_file = \"gone.json\"\n")
	write("gone.json", `{"type":"object"}`)
	if _, err := Load(schemaTool); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "gone.json")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		config     bool
		line       int
		field      string
		is         error
	}{
		{"broken moat.toml", write("broken.moat.toml", "[server]\nlisten = \"127.0.0.1:1\"\nmax_body = \n"), true, 3, "", ErrSyntax},
		{"misspelt moat.toml key", write("typo.moat.toml", "[server]\n\n  lisen = \"127.0.0.1:1\"\n"), true, 3, "server.lisen", ErrUnknownField},
		{"broken manifest", write("broken.toml", "name = \"t\"\nmodule = \"m.wasm\"\n[limits\n"), false, 3, "", ErrSyntax},
		{"missing module", write("nomodule.toml", "name = \"t\"\n\nmodule = \"missing.wasm\"\n"), false, 3, "module", fs.ErrNotExist},
		{"schema file deleted", schemaTool, false, 3, "input_schema_file", fs.ErrNotExist},
		{"key block with a bad hash", write("badhash.moat.toml", "[[auth.keys]]\nid = \"ci\"\nhash = \"sha256:ABC\"\ntools = [\"*\"]\n"), true, 3, "auth.keys[0].hash", ErrInvalid},
		{"second key block with a bad hash", write("badhash2.moat.toml", "[[auth.keys]]\nid = \"a\"\nhash = \"sha256:"+strings.Repeat("a", 64)+"\"\n\n[[auth.keys]]\nid = \"b\"\nhash = \"moat_key_pasted_by_mistake\"\n"), true, 7, "auth.keys[1].hash", ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.config {
				_, err = LoadConfig(tc.file)
			} else {
				_, err = Load(tc.file)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			prefix := tc.file + ":" + strconv.Itoa(tc.line) + ":"
			if !strings.HasPrefix(err.Error(), prefix) || e.Field != tc.field || !errors.Is(err, tc.is) {
				t.Errorf("err = %v (field %q), want prefix %s, field %q, %v", err, e.Field, prefix, tc.field, tc.is)
			}
			if strings.Contains(err.Error(), "moat_key_pasted_by_mistake") {
				t.Errorf("the error echoes the bad hash: %v", err)
			}
		})
	}
}
