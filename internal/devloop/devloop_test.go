package devloop

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzFormatCall: any audit line is shown as one line or not at all.
func FuzzFormatCall(f *testing.F) {
	f.Add(`{"event":"tool_call","tool":"t","outcome":"ok","time":"2026-11-29T12:00:00Z"}`, "t")
	f.Add(`{"event":"auth"}`, "")
	f.Add(`nope`, "t")
	f.Add(`{"event":"tool_call","tool":"t","outcome":"ok","reason":"a\nb\u001b[31m"}`, "t")
	f.Fuzz(func(t *testing.T, line, tool string) {
		if s := FormatCall([]byte(line), tool); strings.ContainsAny(s, "\n\r\x1b") {
			t.Fatalf("%q gave a line break or an escape: %q", line, s)
		}
	})
}

// TestFingerprint: a change to a source file changes the fingerprint;
// what is installed or generated in node_modules, .git and .moat does not.
func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.c"), []byte("v1"), 0o644)
	for _, d := range []string{"node_modules", ".git", ".moat"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	before := Fingerprint(dir)
	for _, d := range []string{"node_modules", ".git", ".moat"} {
		os.WriteFile(filepath.Join(dir, d, "x"), []byte("new"), 0o644)
	}
	if got := Fingerprint(dir); got != before {
		t.Fatalf("a file in an ignored folder changed the fingerprint:\n%s\n%s", before, got)
	}
	os.WriteFile(filepath.Join(dir, "main.c"), []byte("v2 longer"), 0o644)
	if Fingerprint(dir) == before {
		t.Fatal("a changed source file left the fingerprint as it was")
	}
}

// TestCallTail: calls made before the tail starts are not shown; new
// calls of the tool are, others not; a half line waits for its end; a
// rotated (shorter) log is read from its start; no path shows nothing.
func TestCallTail(t *testing.T) {
	log := filepath.Join(t.TempDir(), "audit.log")
	line := func(seq int, tool string) string {
		return fmt.Sprintf(`{"time":"2026-11-29T12:00:0%dZ","seq":%d,"event":"tool_call","tool":%q,"outcome":"ok","prev":"x"}`+"\n", seq, seq, tool)
	}
	at := func(seq int) string {
		tm, _ := time.Parse(time.RFC3339, fmt.Sprintf("2026-11-29T12:00:0%dZ", seq))
		return tm.Local().Format("15:04:05")
	}
	os.WriteFile(log, []byte(line(1, "greet")), 0o600)
	c := NewCallTail(log)
	if got := c.Calls("greet"); got != nil {
		t.Fatalf("calls from before the start: %q", got)
	}
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(line(2, "greet") + line(3, "other") + `{"time":"2026-11-29T12:00:04Z","event":"tool_c`)
	f.Close()
	if got, want := c.Calls("greet"), []string{at(2) + " call greet ok"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if got := c.Calls("greet"); got != nil {
		t.Fatalf("the half line was shown: %q", got)
	}
	os.WriteFile(log, []byte(line(5, "greet")), 0o600) // rotated
	if got, want := c.Calls(""), []string{at(5) + " call greet ok"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after rotation: calls %q, want %q", got, want)
	}
	if got := NewCallTail("").Calls(""); got != nil {
		t.Fatalf("no log gave %q", got)
	}
}
