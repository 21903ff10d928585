package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moatmcp/moat/sdk"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		glob, path string
		want       bool
	}{
		{"*.md", "a.md", true},
		{"*.md", "notes/deep/a.md", true}, // no "/": base name only
		{"*.md", "a.txt", false},
		{"notes/*.md", "notes/a.md", true},
		{"notes/*.md", "notes/deep/a.md", false},
		{"notes/**/*.md", "notes/a.md", true}, // ** matches zero folders
		{"notes/**/*.md", "notes/x/y/a.md", true},
		{"**/a.md", "a.md", true},
		{"**/a.md", "x/a.md", true},
		{"**/**/a.md", "x/y/a.md", true},
		{"notes/**", "notes/x/y", true},
		{"notes/**", "other/x", false},
		{"n?tes/[a-c].md", "notes/b.md", true},
		{"n?tes/[a-c].md", "notes/d.md", false},
		{"*.MD", "a.md", false}, // case-sensitive
	}
	for _, tc := range tests {
		if err := checkGlob(tc.glob); err != nil {
			t.Fatalf("checkGlob(%q) = %v", tc.glob, err)
		}
		if got := matchGlob(tc.glob, tc.path); got != tc.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", tc.glob, tc.path, got, tc.want)
		}
	}
	for _, bad := range []string{"[", "a/[b", "**/**/**/**/**/x", `x\`} {
		if err := checkGlob(bad); !errors.Is(err, errBadGlob) {
			t.Errorf("checkGlob(%q) = %v, want errBadGlob", bad, err)
		}
	}
}

// FuzzGlob checks that any glob checkGlob accepts can be matched against
// any path without a panic.
func FuzzGlob(f *testing.F) {
	f.Add("notes/**/*.md", "notes/a/b.md")
	f.Add("[a-", "x")
	f.Add("**/**", "a/b/c")
	f.Fuzz(func(t *testing.T, g, p string) {
		if checkGlob(g) != nil {
			return
		}
		matchGlob(g, p)
	})
}

// tree makes a small tree and returns the tool that searches it, on the
// real clock.
func tree(t *testing.T, files map[string]string) tool {
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tool{root: dir, now: time.Now}
}

func TestSearchNative(t *testing.T) {
	long := strings.Repeat("é", 300) + " needle"
	search := tree(t, map[string]string{
		"a.txt":      "one needle\ntwo\r\nNEEDLE three\r\n",
		"b/c.md":     "needle in md\n",
		"b/long.txt": long + "\n",
		"bin.dat":    "needle\x00",
		"big.txt":    strings.Repeat("needle\n", maxFileBytes/7+1),
		"deep/" + strings.Repeat("d/", maxDepth) + "x.txt": "needle\n",
	})
	deepSkip := "deep/" + strings.Repeat("d/", maxDepth-2) + "d"
	tests := []struct {
		name string
		in   input
		want string
	}{
		{"regex", input{Pattern: "needle", MaxResults: 2},
			`{"matches":[{"path":"a.txt","line":1,"text":"one needle"},{"path":"b/c.md","line":1,"text":"needle in md"}],"truncated":true,"stopped_by":"max_results","files_scanned":3}`},
		{"as many results as the cap is not truncated", input{Pattern: "needle", MaxResults: 3},
			`{"matches":[{"path":"a.txt","line":1,"text":"one needle"},{"path":"b/c.md","line":1,"text":"needle in md"},{"path":"b/long.txt","line":1,"text":"` + strings.Repeat("é", 200) + `"}],"truncated":false,"files_scanned":3,"skipped":[{"path":"big.txt","reason":"too_large"},{"path":"bin.dat","reason":"binary"},{"path":"` + deepSkip + `","reason":"too_deep"}],"skipped_count":3}`},
		{"case insensitive, CR dropped", input{Pattern: "^needle three$", CaseInsensitive: true, Path: "a.txt"},
			`{"matches":[{"path":"a.txt","line":3,"text":"NEEDLE three"}],"truncated":false,"files_scanned":1}`},
		{"glob only", input{Glob: "*.md"},
			`{"matches":[{"path":"b/c.md"}],"truncated":false,"files_scanned":0,"skipped":[{"path":"` + deepSkip + `","reason":"too_deep"}],"skipped_count":1}`},
		{"glob and regex in a folder", input{Glob: "*.txt", Pattern: "needle", Path: "b"},
			`{"matches":[{"path":"b/long.txt","line":1,"text":"` + strings.Repeat("é", 200) + `"}],"truncated":false,"files_scanned":1}`},
		{"skips are reported", input{Pattern: "nothing matches this"},
			`{"matches":[],"truncated":false,"files_scanned":3,"skipped":[{"path":"big.txt","reason":"too_large"},{"path":"bin.dat","reason":"binary"},{"path":"` + deepSkip + `","reason":"too_deep"}],"skipped_count":3}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := search.searchFiles(context.Background(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(out)
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
}

func TestSearchErrors(t *testing.T) {
	search := tree(t, map[string]string{"a.txt": "x\n"})
	tests := []struct {
		name string
		in   input
		want string
	}{
		{"nothing to search for", input{}, "give a pattern, a glob, or both"},
		{"bad regex", input{Pattern: "a(b"}, "invalid pattern: missing closing ): `a(b`"},
		{"backreference is not RE2", input{Pattern: `(a)\1`}, "invalid pattern: invalid escape sequence: `\\1`"},
		{"bad glob", input{Glob: "[a"}, `invalid glob "[a" (syntax: *, ?, [a-z], and ** as a whole segment, at most 4 times)`},
		{"outside", input{Pattern: "x", Path: "../etc"}, "path must be inside the shared folder"},
		{"missing", input{Pattern: "x", Path: "nope"}, "nope: no such file or folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := search.searchFiles(context.Background(), tc.in)
			var te *sdk.Error
			if !errors.As(err, &te) || te.Msg != tc.want {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSoftDeadline moves a fake clock one second per reading: with a
// deadline of 2.5 s from the start (read at 1 s), the walk reads the clock
// at 2 s and 3 s for the first two entries and stops at 4 s, before the
// third. (In the sandbox the clock is real only with [grants] clock.)
func TestSoftDeadline(t *testing.T) {
	search := tree(t, map[string]string{"1.txt": "x\n", "2.txt": "x\n", "3.txt": "x\n", "4.txt": "x\n"})
	var clock time.Time
	search.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	t.Setenv(deadlineEnv, "2500")
	out, err := search.searchFiles(context.Background(), input{Pattern: "x"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	want := `{"matches":[{"path":"1.txt","line":1,"text":"x"},{"path":"2.txt","line":1,"text":"x"}],"truncated":true,"stopped_by":"deadline","files_scanned":2}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}

	t.Setenv(deadlineEnv, "soon")
	if _, err := search.searchFiles(context.Background(), input{Pattern: "x"}); err == nil || err.Error() != "the tool is misconfigured: SEARCH_SOFT_DEADLINE_MS must be a positive number of milliseconds" {
		t.Errorf("bad deadline: err = %v", err)
	}
}

// TestSoftDeadlineWithinAFile: the clock is read every checkEvery bytes of
// a file too, so one large file cannot overrun the deadline by much.
func TestSoftDeadlineWithinAFile(t *testing.T) {
	lines := make([]string, 100000) // 200 KB: the clock is read at 64 KiB and 128 KiB
	for i := range lines {
		lines[i] = "a"
	}
	lines[0], lines[len(lines)-1] = "hit first", "hit last"
	search := tree(t, map[string]string{"big.txt": strings.Join(lines, "\n") + "\n"})
	var clock time.Time
	search.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	t.Setenv(deadlineEnv, "3500") // start at 1 s; the entry at 2 s; 64 KiB at 3 s; 128 KiB at 4 s: stop
	out, err := search.searchFiles(context.Background(), input{Pattern: "^hit"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	want := `{"matches":[{"path":"big.txt","line":1,"text":"hit first"}],"truncated":true,"stopped_by":"deadline","files_scanned":1}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
