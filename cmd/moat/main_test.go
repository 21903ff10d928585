package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tree is a temporary copy of the repository's manifests and sample share,
// with the example tools built where the manifests expect them.
var tree string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "moat-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tree = dir
	if err := setupTree(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func setupTree(root string) error {
	repo := filepath.Join("..", "..")
	for _, f := range []string{"manifests/read_file.toml", "manifests/list_files.toml",
		"testdata/public-files/README.txt", "testdata/public-files/pixel.png",
		"testdata/public-files/notes/meeting.md", "testdata/public-files/notes/todo.txt"} {
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			return err
		}
		dst := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
	}
	for _, tool := range []string{"readfile", "listfiles"} {
		out := filepath.Join(root, "tools", tool, tool+".wasm")
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = filepath.Join(repo, "tools", tool)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", tool, err, b)
		}
	}
	return os.MkdirAll(filepath.Join(root, "cache"), 0o700)
}

func runMoat(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCall(t *testing.T) {
	t.Parallel()
	read := filepath.Join(tree, "manifests/read_file.toml")
	cache := filepath.Join(tree, "cache")
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{"args flag", "", []string{"call", read, "--cache-dir", cache, "--args", `{"path":"notes/todo.txt","start_line":1,"end_line":1}`}, 0,
			`"text": "- write the manifest docs\n"`, ""},
		{"args from stdin", `{"path":"notes/todo.txt","start_line":2,"end_line":2}`, []string{"call", "--cache-dir", cache, read}, 0,
			`"text": "- fuzz the manifest parser\n"`, ""},
		{"tool error exits 1", "", []string{"call", read, "--cache-dir", cache, "--args", `{"path":"missing.txt"}`}, 1,
			`"isError": true`, ""},
		{"invalid arguments exit 1 and name the field", "", []string{"call", read, "--cache-dir", cache, "--args", `{"path":7}`}, 1,
			`/path`, ""},
		{"arguments not JSON", "", []string{"call", read, "--args", `{nope`}, 2, "", "not valid JSON"},
		{"both args flags", "", []string{"call", read, "--args", `{}`, "--args-file", "x"}, 2, "", "not both"},
		{"no manifest", "", []string{"call"}, 2, "", "usage: moat call"},
		{"missing manifest", "", []string{"call", filepath.Join(tree, "nope.toml"), "--args", "{}"}, 2, "", "nope.toml"},
		{"unknown command", "", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runMoat(t, tc.stdin, tc.args...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantStdout) || !strings.Contains(errOut, tc.wantStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout ∋ %q, stderr ∋ %q", code, out, errOut, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	cache := filepath.Join(tree, "cache")
	code, out, errOut := runMoat(t, "", "check", "--cache-dir", cache, filepath.Join(tree, "manifests"))
	if code != 0 || strings.Count(out, "ok  ") != 2 || !strings.Contains(out, "sha256:") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}

	bad := filepath.Join(tree, "bad.toml")
	os.WriteFile(bad, []byte("name = \"x\"\nmodule = \"tools/readfile/readfile.wasm\"\n\n[limits]\nmemroy = \"1MiB\"\n"), 0o644)
	code, _, errOut = runMoat(t, "", "check", "--cache-dir", cache, bad)
	if code != 2 || !strings.Contains(errOut, "bad.toml:5:") || !strings.Contains(errOut, "memroy") {
		t.Fatalf("exit %d, stderr %q; want exit 2 naming bad.toml:5 and the field", code, errOut)
	}
}
