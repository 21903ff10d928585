package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func FuzzVerify(f *testing.F) {
	lines := chain(f, 4)
	f.Add(strings.Join(lines, "") + "\n")
	f.Add(lines[0] + lines[2] + "\n")
	f.Add(lines[1])
	f.Add("")
	f.Add("\n")
	f.Add(`{"seq":1,"prev":"` + Genesis + `"}` + "\n")
	f.Add(`{"seq":18446744073709551615,"prev":"` + Genesis + `"}` + "\n" + `{"seq":0,"prev":"` + Genesis + `"}` + "\n")
	f.Add(`{"seq":1e3,"prev":null}` + "\n")
	f.Fuzz(func(t *testing.T, log string) {
		s, err := VerifyChain(strings.NewReader(log), nil)
		var ce *ChainError
		switch {
		case err == nil:
			if n := strings.Count(log, "\n"); s.Lines != n {
				t.Fatalf("verified %d lines of %d", s.Lines, n)
			}
			if s.Lines > 0 && (!isHash(s.Head) || !isHash(s.FirstPrev)) {
				t.Fatalf("summary %+v", s)
			}
		case errors.As(err, &ce):
			if ce.Line != s.Lines+1 || ce.Reason == "" {
				t.Fatalf("error at line %d after %d good lines: %q", ce.Line, s.Lines, ce.Reason)
			}
		default:
			t.Fatalf("not a ChainError: %v", err)
		}
	})
}

// FuzzLogVerify: whatever the fields hold, what Log writes verifies, one
// record per line.
func FuzzLogVerify(f *testing.F) {
	f.Add("alice", "echo", "ok", "a\nb", `{"q":1}`, 3)
	f.Add("", "", "", "\u2028\x00\"\\", `not json`, 1)
	f.Fuzz(func(t *testing.T, principal, tool, outcome, reason, args string, n int) {
		n = n%4 + 1
		if n < 1 {
			n += 4
		}
		var buf bytes.Buffer
		l := New(&buf)
		for i := 0; i < n; i++ {
			err := l.Log(Record{Event: EventToolCall, Principal: principal, Tool: tool, Outcome: Outcome(outcome),
				Reason: reason, Args: json.RawMessage(args)})
			if err != nil {
				t.Fatal(err)
			}
		}
		_, head := l.Head()
		s, err := VerifyChain(&buf, &VerifyOptions{Prev: Genesis, Head: head})
		if err != nil || s.Lines != n {
			t.Fatalf("verify: %d lines, %v", s.Lines, err)
		}
	})
}

func FuzzSummarize(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[true,null,"x"]}`,
		`{"password":"p","nested":{"token":"t"},"list":["Bearer abcdefghijkl"]}`,
		`{"k":"` + fakeGitHub + `","` + fakeAWS + `":1}`,
		`["` + fakeJWT + `","` + fakeB64 + `","` + fakeHex + `"]`,
		`"` + strings.Repeat("é", 300) + `"`,
		`[` + strings.Repeat(`"0123456789",`, 500) + `1]`,
		strings.Repeat("[", 100),
		`{"a":`,
		`1e999999`,
	} {
		f.Add(s, "/a")
	}
	f.Add(`{"x":{"y":"z"}}`, "/**/y")
	f.Add(`{"x":["y"]}`, "x")
	f.Fuzz(func(t *testing.T, args, path string) {
		out := Summarize(json.RawMessage(args), []string{path})
		if out == nil {
			if len(bytes.TrimSpace([]byte(args))) != 0 {
				t.Fatalf("nil summary of %d bytes", len(args))
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("not valid JSON: %q", out)
		}
		if len(out) > MaxSummaryBytes {
			t.Fatalf("summary of %d bytes", len(out))
		}
		for _, s := range inputStrings(args) {
			if !looksSecret(s) {
				continue
			}
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.Encode(s)
			encoded := strings.TrimSuffix(b.String(), "\n")
			encoded = encoded[1 : len(encoded)-1]
			if bytes.Contains(out, []byte(encoded)) {
				t.Fatalf("summary contains a credential-looking input string %q: %s", s, out)
			}
		}
	})
}

// inputStrings returns every string and number literal in a JSON document,
// decoded as Summarize decodes them.
func inputStrings(doc string) []string {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var out []string
	for {
		t, err := dec.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return out
			}
			return out
		}
		switch v := t.(type) {
		case string:
			out = append(out, v)
		case json.Number:
			out = append(out, string(v))
		}
	}
}
