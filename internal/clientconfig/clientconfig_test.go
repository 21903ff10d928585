package clientconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzMerge: on any existing file content, a merge either
// fails or gives a JSON object that holds the new entry and every other
// top-level key of the old one.
func FuzzMerge(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"mcpServers":{"a":{"command":"x"}},"z":1}`, `{"servers":[]}`, `[1]`, `{"inputs":[{"id":"moat-key"}]}`, `{"a":1}{"b":2}`} {
		f.Add(s)
	}
	entry := obj("url", "http://127.0.0.1:8080/mcp")
	inputs := []clientInput{{id: "moat-key", spec: obj("id", "moat-key")}}
	f.Fuzz(func(t *testing.T, old string) {
		out, err := merge([]byte(old), "servers", "moat", entry, inputs)
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

// TestEntry: each client's entry over HTTP and stdio, exactly, and
// whether it holds or needs the key.
func TestEntry(t *testing.T) {
	http := &Connection{Name: "moat", URL: "http://127.0.0.1:8080/mcp", Key: "k1"}
	noKey := &Connection{Name: "moat", URL: "http://127.0.0.1:8080/mcp"}
	stdio := &Connection{Name: "moat", Stdio: true, Command: "/bin/moat", Args: []string{"serve", "--stdio"}}
	tests := []struct {
		name, client string
		conn         *Connection
		want         string
		holds, needs bool
	}{
		{"claude code http", "claude-code", http, `{"mcpServers":{"moat":{"type":"http","url":"http://127.0.0.1:8080/mcp","headers":{"Authorization":"Bearer k1"}}}}`, true, false},
		{"cursor without a key", "cursor", noKey, `{"mcpServers":{"moat":{"url":"http://127.0.0.1:8080/mcp","headers":{"Authorization":"Bearer MOAT_KEY_HERE"}}}}`, false, true},
		{"vscode prompts", "vscode", http, `{"servers":{"moat":{"type":"http","url":"http://127.0.0.1:8080/mcp","headers":{"Authorization":"Bearer ${input:moat-key}"}}},"inputs":[{"type":"promptString","id":"moat-key","description":"moat API key","password":true}]}`, false, false},
		{"claude desktop stdio", "claude-desktop", stdio, `{"mcpServers":{"moat":{"command":"/bin/moat","args":["serve","--stdio"]}}}`, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Lookup(tc.client)
			if err != nil {
				t.Fatal(err)
			}
			e := c.Entry(tc.conn)
			b, err := e.JSON()
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, b); err != nil {
				t.Fatal(err)
			}
			if compact.String() != tc.want || e.HoldsKey != tc.holds || e.NeedsKey != tc.needs {
				t.Fatalf("got %s holds %v needs %v\nwant %s holds %v needs %v", compact.String(), e.HoldsKey, e.NeedsKey, tc.want, tc.holds, tc.needs)
			}
		})
	}
	if _, err := Lookup("emacs"); !errors.Is(err, ErrUnknownClient) {
		t.Fatalf("Lookup(emacs) = %v, want ErrUnknownClient", err)
	}
}

// TestWriteFile: a merge keeps the file's other keys, says when it
// replaced the entry, writes a file holding a key mode 0600, and refuses
// a file that is not one JSON object without touching it.
func TestWriteFile(t *testing.T) {
	c, _ := Lookup("claude-code")
	dir := t.TempDir()
	p := filepath.Join(dir, ".mcp.json")
	os.WriteFile(p, []byte(`{"z":1,"mcpServers":{"other":{"url":"u"}}}`), 0o644)
	e := c.Entry(&Connection{Name: "moat", URL: "http://127.0.0.1:8080/mcp", Key: "k1"})
	if replaced, err := e.WriteFile(p); err != nil || replaced {
		t.Fatalf("first write: replaced %v, %v", replaced, err)
	}
	if replaced, err := e.WriteFile(p); err != nil || !replaced {
		t.Fatalf("second write: replaced %v, %v", replaced, err)
	}
	b, _ := os.ReadFile(p)
	var got map[string]map[string]json.RawMessage
	json.Unmarshal(b, &got)
	if _, ok := got["mcpServers"]["other"]; !ok || !strings.HasPrefix(string(b), "{\n  \"z\": 1,") {
		t.Fatalf("merged file lost what it had:\n%s", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600 for a file holding a key", st.Mode().Perm())
	}
	bad := filepath.Join(dir, "bad.json")
	for _, text := range []string{`[1]`, `{"a":1}{"b":2}`, `// comment` + "\n{}"} {
		os.WriteFile(bad, []byte(text), 0o644)
		if _, err := e.WriteFile(bad); err == nil {
			t.Fatalf("%q: merged", text)
		}
		if b, _ := os.ReadFile(bad); string(b) != text {
			t.Fatalf("%q: a refused merge changed the file to %q", text, b)
		}
	}
	if _, err := e.Merge([]byte(`[1]`)); !errors.Is(err, ErrNotJSONObject) {
		t.Fatalf("Merge([1]) = %v, want ErrNotJSONObject", err)
	}
}
