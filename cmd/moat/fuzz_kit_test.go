package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzMergeClientConfig: on any existing file content, a merge either
// fails or gives a JSON object that holds the new entry and every other
// top-level key of the old one.
func FuzzMergeClientConfig(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"mcpServers":{"a":{"command":"x"}},"z":1}`, `{"servers":[]}`, `[1]`, `{"inputs":[{"id":"moat-key"}]}`, `{"a":1}{"b":2}`} {
		f.Add(s)
	}
	entry := obj("url", "http://127.0.0.1:8080/mcp")
	inputs := []clientInput{{id: "moat-key", spec: obj("id", "moat-key")}}
	f.Fuzz(func(t *testing.T, old string) {
		out, err := mergeClientConfig([]byte(old), "servers", "moat", entry, inputs)
		if err != nil {
			return
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q merged into invalid JSON: %v\n%s", old, err, out)
		}
		var servers map[string]json.RawMessage
		if json.Unmarshal(got["servers"], &servers) != nil || servers["moat"] == nil {
			t.Fatalf("%q: no servers.moat in\n%s", old, out)
		}
		var before map[string]json.RawMessage
		if strings.TrimSpace(old) != "" && json.Unmarshal([]byte(old), &before) == nil {
			for k := range before {
				if _, ok := got[k]; !ok {
					t.Fatalf("%q: key %q lost", old, k)
				}
			}
		}
	})
}

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
