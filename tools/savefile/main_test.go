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

// TestSaveNative runs save_file natively, where no client can be asked
// (sdk.Confirm says InputErrUnsupported): a new file is written, an
// existing one never replaced. The confirmation itself is tested through
// the host (host's TestInputRequiredStateless, TestInputBothErasGoClient).
func TestSaveNative(t *testing.T) {
	tests := []struct {
		name     string
		in       input
		want     string // the result as JSON, or the tool error
		file     string
		contents string
	}{
		{"new file", input{Path: "new.txt", Content: "héllo\n"}, `{"path":"new.txt","bytes_written":7,"replaced":false}`, "new.txt", "héllo\n"},
		{"folders are made", input{Path: "a/b.txt", Content: "x"}, `{"path":"a/b.txt","bytes_written":1,"replaced":false}`, "a/b.txt", "x"},
		{"exists, no one to ask", input{Path: "old.txt", Content: "new"}, "old.txt exists, and this client cannot ask the user to confirm replacing it: nothing was written", "old.txt", "old\n"},
		{"a folder", input{Path: "sub", Content: "x"}, "sub is not a regular file", "", ""},
		{"traversal", input{Path: "../x.txt", Content: "x"}, "path must be a file inside the writable folder ROOT", "", ""},
		{"reserved name", input{Path: ".moat-tmp-1", Content: "x"}, ".moat-tmp-1: names starting with .moat-tmp- are reserved", "", ""},
		{"too large", input{Path: "big.txt", Content: strings.Repeat("x", scratch.MaxContent+1)}, "content is 1048577 bytes; the limit is 1048576", "", ""},
		{"empty path", input{Content: "x"}, "path is required", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "old.txt"), []byte("old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := tool{dir: scratch.Dir(dir)}.saveFile(context.Background(), tc.in)
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
			if want := strings.ReplaceAll(tc.want, "ROOT", dir); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
			if tc.file != "" {
				if b, err := os.ReadFile(filepath.Join(dir, tc.file)); err != nil || string(b) != tc.contents {
					t.Errorf("%s = %q, %v; want %q", tc.file, b, err, tc.contents)
				}
			}
		})
	}
}
