package privatedir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck: each way a folder can fail to be private, by name.
func TestCheck(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := mk("private", 0o700)
	link := filepath.Join(base, "link")
	os.Symlink(private, link)
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	for _, tc := range []struct {
		name, dir, want string
		insecure        bool
	}{
		{"private", private, "", false},
		{"group-writable", mk("group", 0o770), "writable by group or others", true},
		{"world-writable", mk("world", 0o707), "writable by group or others", true},
		{"a symlink", link, "is a symlink", true},
		{"a file", file, "is not a directory", false},
		{"missing", filepath.Join(base, "gone"), "no such file", false},
	} {
		err := Check(tc.dir)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Insecure != tc.insecure || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (insecure %v), want %q (insecure %v)", tc.name, err, e != nil && e.Insecure, tc.want, tc.insecure)
		}
	}
}

// TestCheckAs: Check's verdicts in the caller's vocabulary.
func TestCheckAs(t *testing.T) {
	insecure, other := errors.New("insecure"), errors.New("other")
	dir := t.TempDir()
	private := filepath.Join(dir, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
		want      error
	}{
		{"private", private, nil},
		{"a symlink is insecure", link, insecure},
		{"missing is other", filepath.Join(dir, "missing"), other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckAs(tc.dir, insecure, other)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("CheckAs(%s) = %v, want %v", tc.dir, err, tc.want)
			}
		})
	}
}
