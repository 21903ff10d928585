package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moatmcp/moat/sdk"
	"github.com/moatmcp/moat/tools/internal/scratch"
)

// newScratch is a temp dir holding old.txt and a folder.
func newScratch(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "old.txt"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestWriteNative(t *testing.T) {
	tests := []struct {
		name     string
		in       input
		want     string // the result as JSON, or the error
		file     string // checked after the call, relative to the scratch dir
		contents string
	}{
		{"create", input{Path: "new.txt", Content: "héllo\n"}, `{"path":"new.txt","bytes_written":7,"created":true}`, "new.txt", "héllo\n"},
		{"replace", input{Path: "old.txt", Content: "new"}, `{"path":"old.txt","bytes_written":3,"created":false}`, "old.txt", "new"},
		{"empty content", input{Path: "old.txt", Content: ""}, `{"path":"old.txt","bytes_written":0,"created":false}`, "old.txt", ""},
		{"folders are made", input{Path: "a/b/c.txt", Content: "x"}, `{"path":"a/b/c.txt","bytes_written":1,"created":true}`, "a/b/c.txt", "x"},
		{"absolute guest path", input{Path: "ROOT/sub/x.txt", Content: "x"}, `{"path":"sub/x.txt","bytes_written":1,"created":true}`, "sub/x.txt", "x"},
		{"create only, new", input{Path: "fresh.txt", Content: "x", CreateOnly: true}, `{"path":"fresh.txt","bytes_written":1,"created":true}`, "fresh.txt", "x"},
		{"create only, exists", input{Path: "old.txt", Content: "x", CreateOnly: true}, "old.txt already exists (create_only is set)", "old.txt", "old\n"},
		{"a folder", input{Path: "sub", Content: "x"}, "sub is a folder", "", ""},
		{"a trailing slash", input{Path: "sub/", Content: "x"}, "sub/: path names a folder, not a file", "", ""},
		{"the root itself", input{Path: ".", Content: "x"}, "path must be a file inside the writable folder ROOT", "", ""},
		{"traversal", input{Path: "../escape.txt", Content: "x"}, "path must be a file inside the writable folder ROOT", "", ""},
		{"another absolute path", input{Path: "/etc/passwd", Content: "x"}, "path must be a file inside the writable folder ROOT", "", ""},
		{"a file in the way", input{Path: "old.txt/x", Content: "x"}, "old.txt: part of the path is a file, not a folder", "old.txt", "old\n"},
		{"reserved name", input{Path: ".moat-tmp-1", Content: "x"}, ".moat-tmp-1: names starting with .moat-tmp- are reserved", "", ""},
		{"too large", input{Path: "big.txt", Content: strings.Repeat("x", scratch.MaxContent+1)}, "content is 1048577 bytes; the limit is 1048576", "", ""},
		{"empty path", input{Content: "x"}, "path is required", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newScratch(t)
			tc.in.Path = strings.ReplaceAll(tc.in.Path, "ROOT", dir)
			want := strings.ReplaceAll(tc.want, "ROOT", dir)
			out, err := tool{dir: scratch.Dir(dir)}.writeFile(context.Background(), tc.in)
			got := ""
			if err != nil {
				var te *sdk.Error
				if !errors.As(err, &te) {
					t.Fatalf("err = %v, not a tool error", err)
				}
				got = te.Msg
			} else {
				b, _ := json.Marshal(out)
				got = string(b)
			}
			if got != want {
				t.Errorf("got %s, want %s", got, want)
			}
			if tc.file != "" {
				b, err := os.ReadFile(filepath.Join(dir, tc.file))
				if err != nil || string(b) != tc.contents {
					t.Errorf("%s = %q, %v; want %q", tc.file, b, err, tc.contents)
				}
			}
			// No temporary file is ever left behind.
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if strings.HasPrefix(d.Name(), scratch.TmpPrefix) {
					t.Errorf("left behind: %s", p)
				}
				return nil
			})
		})
	}
}
