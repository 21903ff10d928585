package audit

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzSummarizeScanner runs the raw scanner (summarizeValid) and the
// token-based summarizer it replaced (summarizeTokens, kept as the reference
// and as the path for invalid JSON) side by side: on every valid document
// and sensitive path, their outputs are byte for byte the same.
func FuzzSummarizeScanner(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[true,null,"x"]}`,
		`{"password":"p","nested":{"token":"t"},"list":["Bearer abcdefghijkl"]}`,
		`{"k":"` + fakeGitHub + `","` + fakeAWS + `":1,"` + fakeJWT + `":2,"[REDACTED]":3}`,
		`["` + fakeJWT + `","` + fakeB64 + `","` + fakeHex + `"]`,
		`"` + strings.Repeat("é", 300) + `"`,
		`[` + strings.Repeat(`"0123456789",`, 500) + `1]`,
		strings.Repeat("[", 70) + strings.Repeat("]", 70),
		` { "a\u2028\"\\\/\b\f\n\r\t\u0001" : "\ud800x` + "\xff\xe2\x80\xa8" + `<&>\u2029" , "Api-Key" : {"x":[1]} } `,
		`{"n":-0.5e+10,"m":` + strings.Repeat("1", 300) + `,"h":12345678901234567890123456789012345}`,
		`{"a":{"b":[{"c":"d"},{"c":"e"}]},"$ref":"#/x"}`,
		`"` + strings.Repeat("\\u00e9", 300) + `"`,
		`{"a":"` + strings.Repeat("x", 5000) + `"}`,
	} {
		f.Add(s, "/a")
	}
	f.Add(`{"x":{"y":"z"}}`, "/**/y")
	f.Add(`{"x":["y"]}`, "x")
	f.Add(`{"x":["y",{"z":1}]}`, "/x/*/z")
	f.Add(`[1,[2]]`, "")
	f.Add(`{"a":{"password":[1,{"b":"c"}]},"d":"`+fakeB64+`"}`, "-") // "-": no sensitive paths
	f.Fuzz(func(t *testing.T, args, path string) {
		if !json.Valid([]byte(args)) || strings.TrimSpace(args) == "" {
			return
		}
		paths := compilePaths([]string{path})
		if path == "-" {
			paths = compilePaths(nil)
		}
		want := summarizeTokens(json.RawMessage(args), paths)
		got := Summarize(json.RawMessage(args), []string{path})
		if path == "-" {
			got = Summarize(json.RawMessage(args), nil)
		}
		if string(got) != string(want) {
			t.Fatalf("args %q path %q:\nscanner %s\ntokens  %s", args, path, got, want)
		}
	})
}
