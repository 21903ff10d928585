package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fake credentials in the shapes of real ones, built at run time so the
// repository holds no string a secret scanner would flag.
var (
	fakeGitHub = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
	fakeJWT    = "eyJ" + "hbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	fakeAWS    = "AKIA" + "IOSFODNN7EXAMPLE"
	fakeSlack  = "xoxb-" + "1234567890-abcdefghij"
	fakeOpenAI = "sk-" + "proj-Abc123Def456Ghi789Jkl"
	fakeStripe = "sk_" + "live_4eC39HqLyjWDarjtT1zdp7dc"
	fakeGoogle = "AIza" + "SyA-1234567890abcdefghijklmnopqrstu"
	fakeMoat   = "moat_" + "k1_9f8e7d6c5b4a"
	fakePEM    = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----"
	fakeB64    = "hxWFmoIjrKUpwIBlHMlTFZmu9GPoxKE1" // 24 random bytes, base64
	fakeHex    = "4892567127dff575b119579a459c05d8" // 16 random bytes, hex
)

func TestSummarize(t *testing.T) {
	long := strings.Repeat("ab ", 100) // 300 bytes, low entropy
	for _, c := range []struct {
		name  string
		args  string
		paths []string
		want  string // "" means nil
	}{
		{"empty", "", nil, ""},
		{"whitespace", " \n", nil, ""},
		{"shape and order kept, numbers exact", `{"b":1,"a":[true,null,1.50,-0,1e400]}`, nil, `{"b":1,"a":[true,null,1.50,-0,1e400]}`},
		{"top-level string", `"hello"`, nil, `"hello"`},
		{"html not escaped", `{"q":"<a&b>"}`, nil, `{"q":"<a&b>"}`},
		{"sensitive path", `{"user":"bob","code":"1234"}`, []string{"/code"}, `{"user":"bob","code":"[REDACTED]"}`},
		{"sensitive object value", `{"code":{"x":[1,2]},"n":1}`, []string{"/code"}, `{"code":"[REDACTED]","n":1}`},
		{"array items", `{"u":[{"name":"a","code":"1"},{"name":"b","code":"2"}]}`, []string{"/u/*/code"},
			`{"u":[{"name":"a","code":"[REDACTED]"},{"name":"b","code":"[REDACTED]"}]}`},
		{"array index", `{"u":["a","b"]}`, []string{"/u/1"}, `{"u":["a","[REDACTED]"]}`},
		{"any depth", `{"code":1,"a":{"b":{"code":"x"}}}`, []string{"/**/code"}, `{"code":"[REDACTED]","a":{"b":{"code":"[REDACTED]"}}}`},
		{"bare name from a manifest", `{"a":[{"code":"x"}]}`, []string{"code"}, `{"a":[{"code":"[REDACTED]"}]}`},
		{"escaped pointer", `{"a/b":{"c~d":"x","e":"y"}}`, []string{"/a~1b/c~0d"}, `{"a/b":{"c~d":"[REDACTED]","e":"y"}}`},
		{"whole document", `{"a":1}`, []string{""}, `"[REDACTED]"`},
		{"path that does not match", `{"a":{"code":1}}`, []string{"/code"}, `{"a":{"code":1}}`},
		{"secret key names", `{"Password":"x","API-Key":"y","client_secret":{"a":1},"max_tokens":5,"token":7}`, nil,
			`{"Password":"[REDACTED]","API-Key":"[REDACTED]","client_secret":"[REDACTED]","max_tokens":5,"token":"[REDACTED]"}`},
		{"github token", `{"note":"use ` + fakeGitHub + ` please"}`, nil, `{"note":"[REDACTED]"}`},
		{"jwt", `{"t":"` + fakeJWT + `"}`, nil, `{"t":"[REDACTED]"}`},
		{"bearer header", `{"h":"Authorization: Bearer abc.def-ghi"}`, nil, `{"h":"[REDACTED]"}`},
		{"basic header", `{"h":"Basic dXNlcjpwYXNzd29yZA=="}`, nil, `{"h":"[REDACTED]"}`},
		{"aws", `["` + fakeAWS + `"]`, nil, `["[REDACTED]"]`},
		{"slack", `["` + fakeSlack + `"]`, nil, `["[REDACTED]"]`},
		{"openai", `["` + fakeOpenAI + `"]`, nil, `["[REDACTED]"]`},
		{"stripe", `["` + fakeStripe + `"]`, nil, `["[REDACTED]"]`},
		{"google", `["` + fakeGoogle + `"]`, nil, `["[REDACTED]"]`},
		{"moat key", `["` + fakeMoat + `"]`, nil, `["[REDACTED]"]`},
		{"pem", `[` + mustJSON(fakePEM) + `]`, nil, `["[REDACTED]"]`},
		{"url with password", `["https://bob:s3cret@db.example.com/x"]`, nil, `["[REDACTED]"]`},
		{"url without password", `["https://db.example.com/x?y=1"]`, nil, `["https://db.example.com/x?y=1"]`},
		{"random base64", `["key=` + fakeB64 + `"]`, nil, `["[REDACTED]"]`},
		{"random hex", `["` + fakeHex + `"]`, nil, `["[REDACTED]"]`},
		{"long number", `[` + "84926718273645091827364509182736450918273645" + `]`, nil, `["[REDACTED]"]`},
		{"credential as a key", `{"` + fakeGitHub + `":1,"` + fakeAWS + `":2,"ok":3}`, nil, `{"[REDACTED]":1,"[REDACTED]#2":2,"ok":3}`},
		{"long string truncated", `{"s":"` + long + `"}`, nil, `{"s":"` + long[:256] + `…(300 bytes)"}`},
		{"truncation keeps runes whole", `["` + strings.Repeat("é", 200) + `"]`, nil, `["` + strings.Repeat("é", 128) + `…(400 bytes)"]`},
		{"summary over 4 KiB", `[` + strings.Repeat(`"`+strings.Repeat("ab ", 80)+`",`, 20) + `1]`, nil, fmt.Sprintf(`{"_truncated":%d}`, 2+20*243+1)},
		{"not JSON", `{"a":`, nil, `{"_unparsed":5}`},
		{"two values", `{} {}`, nil, `{"_unparsed":5}`},
		{"too deep", strings.Repeat("[", 66) + strings.Repeat("]", 66), nil, strings.Repeat("[", 64) + `"[TOO DEEP]"` + strings.Repeat("]", 64)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Summarize(json.RawMessage(c.args), c.paths)
			if c.want == "" {
				if got != nil {
					t.Errorf("got %s, want nil", got)
				}
				return
			}
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestLooksSecret(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{fakeGitHub, true},
		{"github_pat_" + "11ABCDEFG0123456789_abcdefghijkl", true},
		{fakeJWT, true},
		{fakeAWS, true},
		{fakeSlack, true},
		{fakeOpenAI, true},
		{fakeStripe, true},
		{fakeGoogle, true},
		{fakeMoat, true},
		{fakePEM, true},
		{fakeB64, true},
		{fakeHex, true},
		{"prefix" + strings.Repeat("a", 40) + fakeB64 + strings.Repeat("b", 40), true}, // hidden in a low-entropy run
		{"bearer xyzxyzxyz", true},
		{"hello world", false},
		{"", false},
		{"sk-learn", false},
		{"the token expired", false},
		{"/home/user/documents/project/src/main.go", false},
		{"SomeLongIdentifierNameWithCamelCaseWords", false},
		{strings.Repeat("a", 64), false},
		{"0000000000000000000000000000000000000000", false},
		{"550e8400-e29b-41d4-a716-446655440000", false},
		{"https://example.com/a/b/c?query=value&other=thing", false},
		{"The quick brown fox jumps over the lazy dog again and again", false},
	} {
		if got := looksSecret(c.s); got != c.want {
			t.Errorf("looksSecret(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"/a", "/a", true},
		{"/a", "/b", false},
		{"/a", "/a/b", false},
		{"/a/*", "/a/b", true},
		{"/a/*", "/a", false},
		{"/**", "/", true},
		{"/**/x", "/x", true},
		{"/**/x", "/a/b/x", true},
		{"/**/x", "/a/b/x/y", false},
		{"/a/**/b/x", "/a/b/x", true},
		{"/a/**/b/x", "/a/q/b/r/b/x", true},
	} {
		pat := compilePaths([]string{c.pattern})[0]
		path := compilePaths([]string{c.path})[0]
		if got := match(pat, path); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}

// TestSecretsNeverReachTheLogFile is the end-to-end promise: secrets passed
// as arguments are absent from the bytes of the log file.
func TestSecretsNeverReachTheLogFile(t *testing.T) {
	// The paths are what schema.SensitivePaths gives for the tool's schema
	// (internal/schema TestSensitivePaths, "audit end to end").
	const dbPassword = "correct horse battery staple"
	const passphrase = "plain words here"
	args := json.RawMessage(`{"query":"select 1","db_password":"` + dbPassword + `",
		"opts":{"passphrase_v2":"` + passphrase + `"},
		"headers":["Authorization: Bearer ` + fakeJWT + `","X-GitHub: ` + fakeGitHub + `"],
		"extra":"` + fakeAWS + `"}`)
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	summary := Summarize(args, []string{"/db_password", "/opts/passphrase_v2"})
	if err := l.Log(Record{Event: EventToolCall, Principal: "alice", Tool: "db", Args: summary, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{dbPassword, passphrase, fakeJWT, fakeGitHub, fakeAWS, "hbGciOiJIUzI1NiJ9"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("log file contains a secret (%d bytes)", len(secret))
		}
	}
	// The test is not vacuous: the rest of the call is there.
	for _, want := range []string{`"query":"select 1"`, `"db_password":"[REDACTED]"`, `"passphrase_v2":"[REDACTED]"`, `"headers":["[REDACTED]","[REDACTED]"]`, `"extra":"[REDACTED]"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log file lacks %s", want)
		}
	}
}

func BenchmarkSummarize(b *testing.B) {
	args := json.RawMessage(`{"query":"select * from users where id = 42","limit":10,"token":"abc","headers":["Accept: text/plain","X-Trace: 1234"]}`)
	paths := []string{"/password", "/opts/*/secret"}
	b.SetBytes(int64(len(args)))
	b.ReportAllocs()
	for b.Loop() {
		Summarize(args, paths)
	}
}
