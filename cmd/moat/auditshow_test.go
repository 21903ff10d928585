package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/audit"
)

// TestAuditShow: each filter, alone and together, prints exactly the
// matching records, and a tool call's receipt under it.
func TestAuditShow(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := []audit.Record{
		{Event: audit.EventToolCall, Tool: "fetch", Principal: "ci", Outcome: "ok", DurationMS: 12.5, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
			Used: &audit.Used{WallMS: 12.5, MemoryPeak: 2 << 20, OutputBytes: 29, Module: "sha256:ab", Instance: "fresh", BytesRead: 5,
				Files: []audit.FileUsed{{Mount: "/data", Path: "in.txt", Mode: "read", Read: 5}},
				Net:   []audit.NetUsed{{Host: "api.example.com:443", Method: "GET", Status: 200, Outcome: "ok", BytesIn: 4, Secrets: []string{"Authorization"}}}, NetBytesIn: 4}},
		{Event: audit.EventToolCall, Tool: "fetch", Principal: "bob", Outcome: "over_quota", Reason: "output_bytes"},
		{Event: audit.EventToolCall, Tool: "write", Principal: "ci", Outcome: "trap",
			Used: &audit.Used{Files: []audit.FileUsed{{Mount: "/out", Path: "evil\x1b[2J.txt", Mode: "write", Written: 1000}}, BytesWritten: 1000}},
		{Event: audit.EventAuth, Principal: "ci", Outcome: "auth_ok"},
	}
	for _, r := range recs {
		if err := l.Log(r); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name  string
		args  []string
		want  []string // substrings, in order
		count int      // record lines (not indented)
		code  int
	}{
		{"everything", nil, []string{"tool_call  ok  tool=fetch  principal=ci  duration=12.5ms  trace=4bf92f3577b34da6a3ce929d0e0e4736",
			"    used: wall 12.5ms, memory 2.0 MiB, output 29 B, files read 5 B written 0 B, net out 0 B in 4 B, instance fresh",
			"    module: sha256:ab", "    file: read /data/in.txt read 5 B written 0 B",
			"    net: GET api.example.com:443 ok 200 out 0 B in 4 B secret headers: Authorization",
			"tool_call  over_quota  tool=fetch  principal=bob  reason=output_bytes", "tool_call  trap  tool=write", "auth  auth_ok  principal=ci"}, 4, 0},
		{"by tool", []string{"--tool", "fetch"}, []string{"tool=fetch  principal=ci", "tool=fetch  principal=bob"}, 2, 0},
		{"by principal", []string{"--principal", "bob"}, []string{"over_quota"}, 1, 0},
		{"by outcome", []string{"--outcome", "trap"}, []string{"tool=write", `file: write "/out/evil\x1b[2J.txt" read 0 B written 1000 B`}, 1, 0},
		{"by event", []string{"--event", "auth"}, []string{"auth_ok"}, 1, 0},
		{"by trace", []string{"--trace", "4bf92f3577b34da6a3ce929d0e0e4736"}, []string{"tool=fetch  principal=ci"}, 1, 0},
		{"filters combine", []string{"--tool", "fetch", "--principal", "ci", "--outcome", "ok"}, []string{"principal=ci"}, 1, 0},
		{"since a duration ago", []string{"--since", "1h"}, nil, 4, 0},
		{"until the past: nothing", []string{"--until", "2000-01-01T00:00:00Z"}, nil, 0, 0},
		{"since the future: nothing", []string{"--since", future}, nil, 0, 0},
		{"json", []string{"--json", "--outcome", "over_quota"}, []string{`"outcome":"over_quota"`}, 1, 0},
		{"bad time", []string{"--since", "yesterday"}, nil, 0, exitUsage},
		{"no file", []string{}, nil, 0, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"show"}, tc.args...)
			if tc.name != "no file" {
				args = append(args, path)
			}
			code := cmdAudit(context.Background(), args, &out, &errOut)
			if code != tc.code {
				t.Fatalf("exit %d; want %d\n%s%s", code, tc.code, out.String(), errOut.String())
			}
			if code != 0 {
				return
			}
			text := out.String()
			rest := text
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, text)
				}
				rest = rest[i+len(w):]
			}
			n := 0
			for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
				if line != "" && !strings.HasPrefix(line, " ") {
					n++
				}
			}
			if n != tc.count {
				t.Errorf("%d records printed; want %d:\n%s", n, tc.count, text)
			}
			if strings.Contains(text, "\x1b") {
				t.Error("a control character reached the terminal")
			}
		})
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
