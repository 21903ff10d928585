package main

import (
	"strings"
	"testing"
)

// FuzzFormatCall: any audit line is shown as one line or not at all.
func FuzzFormatCall(f *testing.F) {
	f.Add(`{"event":"tool_call","tool":"t","outcome":"ok","time":"2026-11-29T12:00:00Z"}`, "t")
	f.Add(`{"event":"auth"}`, "")
	f.Add(`nope`, "t")
	f.Add(`{"event":"tool_call","tool":"t","outcome":"ok","reason":"a\nb\u001b[31m"}`, "t")
	f.Fuzz(func(t *testing.T, line, tool string) {
		if s := formatCall([]byte(line), tool); strings.ContainsAny(s, "\n\r\x1b") {
			t.Fatalf("%q gave a line break or an escape: %q", line, s)
		}
	})
}
