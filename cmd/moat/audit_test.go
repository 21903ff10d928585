package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/audit"
)

func TestAuditVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	logN := func(n int) {
		for i := 0; i < n; i++ {
			if err := l.Log(audit.Record{Event: audit.EventToolCall, Tool: "echo", Outcome: "ok"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	logN(3)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	logN(2)
	_, head := l.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path + ".1")
	lines := strings.SplitAfter(string(data), "\n")
	edited := filepath.Join(dir, "edited.log")
	os.WriteFile(edited, []byte(lines[0]+strings.Replace(lines[1], "echo", "rm", 1)+lines[2]), 0o600)
	removed := filepath.Join(dir, "removed.log")
	os.WriteFile(removed, []byte(lines[0]+lines[2]), 0o600)

	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stdout string // exact, or a prefix when it ends in "…"
	}{
		{"one file", []string{"verify", path + ".1"}, 0, "ok: 3 records\nhead: seq 3 hash …"},
		{"rotation set", []string{"verify", path + ".1", path}, 0, "ok: 5 records\nhead: seq 5 hash " + head + "\n"},
		{"rotated file alone", []string{"verify", path}, 0, "ok: 2 records\nnote: starts mid-chain at seq 4 …"},
		{"rotated file pinned to genesis", []string{"verify", "--prev", "genesis", path}, 1, "broken at line 1: first prev …"},
		{"wrong order", []string{"verify", path, path + ".1"}, 1, path + ".1: broken at line 1: first prev …"},
		{"head anchored", []string{"verify", "--head", head, path + ".1", path}, 0, "ok: 5 records\n…"},
		{"head mismatch", []string{"verify", "--head", head, path + ".1"}, 1, "broken at line 4: log ends at seq 3 …"},
		{"edited", []string{"verify", edited}, 1, "broken at line 3: prev does not match the hash of line 2: line 2 was edited or lines were replaced\n"},
		{"removed", []string{"verify", removed}, 1, "broken at line 2: seq 3 after seq 1: a line was removed, moved or added\n"},
		{"missing file", []string{"verify", filepath.Join(dir, "nope")}, 2, ""},
		{"no file", []string{"verify"}, 2, ""},
		{"no subcommand", nil, 2, ""},
		{"unknown subcommand", []string{"rotate"}, 2, ""},
		{"help", []string{"--help"}, 0, "usage: moat audit verify …"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cmdAudit(context.Background(), c.args, &stdout, &stderr)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, stderr.String())
			}
			got := stdout.String()
			if prefix, ok := strings.CutSuffix(c.stdout, "…"); ok {
				if !strings.HasPrefix(got, prefix) {
					t.Errorf("stdout %q, want prefix %q", got, prefix)
				}
			} else if got != c.stdout {
				t.Errorf("stdout %q, want %q", got, c.stdout)
			}
		})
	}
}

// TestAuditVerifyDir: a folder of chains, one per replica, each with its
// rotated files, verified one by one; a broken chain fails the run but
// the others are still reported.
func TestAuditVerifyDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, replica string, n int, rotateAfter int) {
		path := filepath.Join(dir, name)
		l, err := audit.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if i == rotateAfter {
				if err := os.Rename(path, path+".1"); err != nil {
					t.Fatal(err)
				}
				if err := l.Reopen(); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Log(audit.Record{Event: audit.EventToolCall, Tool: "echo", Outcome: "ok", Replica: replica}); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
	}
	write("audit-a.log", "moat-a", 5, 3)
	write("audit-b.log", "moat-b", 2, -1)
	run := func() (int, string) {
		var stdout, stderr bytes.Buffer
		code := cmdAudit(context.Background(), []string{"verify", dir}, &stdout, &stderr)
		return code, stdout.String()
	}
	if code, out := run(); code != 0 || out != "audit-a.log: ok: 5 records in 2 files (replica moat-a)\naudit-b.log: ok: 2 records (replica moat-b)\n" {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// The oldest file of a's chain missing its middle line breaks a only.
	p := filepath.Join(dir, "audit-a.log.1")
	data, _ := os.ReadFile(p)
	lines := strings.SplitAfter(string(data), "\n")
	os.WriteFile(p, []byte(lines[0]+lines[2]), 0o600)
	os.WriteFile(filepath.Join(dir, "old.log.2.gz"), []byte("x"), 0o600)
	code, out := run()
	want := "old.log.2.gz: skipped: compressed (decompress it to verify it with its chain)\naudit-a.log.1: broken at line 2: seq 3 after seq 1: a line was removed, moved or added\naudit-b.log: ok: 2 records (replica moat-b)\n"
	if code != 1 || out != want {
		t.Fatalf("exit %d:\n%s\nwant:\n%s", code, out, want)
	}
	var stderr bytes.Buffer
	if code := cmdAudit(context.Background(), []string{"verify", "--head", "x", dir}, &bytes.Buffer{}, &stderr); code != 2 {
		t.Fatalf("--head with a folder: exit %d", code)
	}
	if code := cmdAudit(context.Background(), []string{"verify", t.TempDir()}, &bytes.Buffer{}, &stderr); code != 2 {
		t.Fatalf("an empty folder: exit %d", code)
	}
}
