package host

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/golden")

// TestGoldenTranscripts replays JSON-RPC exchanges over Streamable HTTP and
// compares every response with testdata/golden/*.txtar. Each file holds
// sections "-- N.request --" (an HTTP request: optional "Header: value"
// lines, a blank line, the body) and "-- N.response --" (status, the
// Content-Type, a blank line, the JSON-RPC messages one per line). Run with
// -update to rewrite the responses after an intended change.
func TestGoldenTranscripts(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/golden/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ts := newTestServer(t, testConfig{http: true, noAuth: true, tools: map[string]string{
				"emit": manifestText(guests["hostfixture"], "name = \"emit\"\ndescription = \"Echo what it is told to.\"\n[input_schema]\ntype = \"object\"\n[input_schema.properties.stdout]\ntype = \"string\"\nmaxLength = 64\n[input_schema.properties.exit]\ntype = \"integer\"\n"),
			}})

			archive := parseTxtar(t, file)
			session := ""
			var requests []section
			for _, sec := range archive.sections {
				if strings.HasSuffix(sec.name, ".request") {
					requests = append(requests, sec)
				}
			}
			for _, sec := range requests {
				got, sid := exchange(t, ts.url+"/mcp", sec.body, session)
				if sid != "" {
					session = sid
				}
				respName := strings.TrimSuffix(sec.name, ".request") + ".response"
				if *update {
					archive.set(respName, got)
					continue
				}
				want, ok := archive.get(respName)
				if !ok {
					t.Fatalf("%s: no section %s (run with -update)", file, respName)
				}
				if got != want {
					t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", file, respName, got, want)
				}
			}
			if *update {
				if err := os.WriteFile(file, archive.format(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// exchange sends one request and renders the response canonically: the
// status, the content type, and each JSON-RPC message (SSE data lines or a
// JSON body) re-encoded with sorted keys and volatile values masked.
func exchange(t *testing.T, url, request, session string) (string, string) {
	t.Helper()
	head, body, _ := strings.Cut(request, "\n\n")
	if !strings.Contains(request, "\n\n") {
		head, body = "", request
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(strings.TrimSpace(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	for _, line := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if strings.EqualFold(k, "Host") {
				req.Host = v // net/http sends req.Host, not a Host header
				continue
			}
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out strings.Builder
	ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	fmt.Fprintf(&out, "%d %s\n\n", resp.StatusCode, ct)
	var msgs []string
	if ct == "text/event-stream" {
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				msgs = append(msgs, d)
			}
		}
	} else if len(bytes.TrimSpace(raw)) > 0 {
		msgs = append(msgs, string(bytes.TrimSpace(raw)))
	}
	for _, m := range msgs {
		out.WriteString(canonical(m))
		out.WriteString("\n")
	}
	return out.String(), resp.Header.Get("Mcp-Session-Id")
}

// canonical re-encodes a JSON message with sorted keys and masks values
// that differ between runs (error ids).
func canonical(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return strings.TrimSpace(s)
	}
	b, _ := json.Marshal(v) // encoding/json sorts map keys
	return maskErrorIDs(string(b))
}

func maskErrorIDs(s string) string {
	const marker = "error id "
	for i := strings.Index(s, marker); i >= 0; {
		j := i + len(marker)
		k := j
		for k < len(s) && strings.ContainsRune("0123456789abcdef", rune(s[k])) {
			k++
		}
		s = s[:j] + "ID" + s[k:]
		n := strings.Index(s[j:], marker)
		if n < 0 {
			break
		}
		i = j + n
	}
	return s
}

type txtar struct {
	comment  string
	sections []section
}

type section struct{ name, body string }

func parseTxtar(t *testing.T, file string) *txtar {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a := &txtar{}
	cur := -1
	for _, line := range strings.SplitAfter(string(data), "\n") {
		trimmed := strings.TrimRight(line, "\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			a.sections = append(a.sections, section{name: strings.TrimSpace(trimmed[3 : len(trimmed)-3])})
			cur = len(a.sections) - 1
			continue
		}
		if cur < 0 {
			a.comment += line
		} else {
			a.sections[cur].body += line
		}
	}
	return a
}

func (a *txtar) get(name string) (string, bool) {
	for _, s := range a.sections {
		if s.name == name {
			return s.body, true
		}
	}
	return "", false
}

func (a *txtar) set(name, body string) {
	for i := range a.sections {
		if a.sections[i].name == name {
			a.sections[i].body = body
			return
		}
	}
	a.sections = append(a.sections, section{name: name, body: body})
	// Keep each response right after its request.
	sort.SliceStable(a.sections, func(i, j int) bool { return sectionKey(a.sections[i].name) < sectionKey(a.sections[j].name) })
}

func sectionKey(name string) string {
	n, kind, _ := strings.Cut(name, ".")
	return fmt.Sprintf("%06s.%s", n, strings.Replace(strings.Replace(kind, "request", "0", 1), "response", "1", 1))
}

func (a *txtar) format() []byte {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, s := range a.sections {
		fmt.Fprintf(&b, "-- %s --\n%s", s.name, s.body)
		if !strings.HasSuffix(s.body, "\n") {
			b.WriteString("\n")
		}
	}
	return []byte(b.String())
}
