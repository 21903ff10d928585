package sdk

import (
	"bytes"
	"context"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type echoIn struct {
	Name  string `json:"name"`
	Count int    `json:"count,omitempty"`
}

type echoOut struct {
	Greeting string `json:"greeting"`
	Count    int    `json:"count"`
}

func TestRun(t *testing.T) {
	jsonTool := func(_ context.Context, in echoIn) (echoOut, error) {
		if in.Name == "fail" {
			return echoOut{}, Errorf("no greeting for %q", in.Name)
		}
		if in.Name == "code" {
			return echoOut{}, &Error{Msg: "custom", Code: 7}
		}
		if in.Name == "plain" {
			return echoOut{}, errors.New("plain error")
		}
		return echoOut{Greeting: "hello " + in.Name, Count: in.Count}, nil
	}
	tests := []struct {
		name       string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"json output", `{"name":"ada","count":2}`, 0, `{"greeting":"hello ada","count":2}`, ""},
		{"no HTML escaping", `{"name":"<a&b>"}`, 0, `{"greeting":"hello <a&b>","count":0}`, ""},
		{"empty stdin is {}", ``, 0, `{"greeting":"hello ","count":0}`, ""},
		{"tool error", `{"name":"fail"}`, 1, "", "no greeting for \"fail\"\n"},
		{"tool error with code", `{"name":"code"}`, 7, "", "custom\n"},
		{"plain error", `{"name":"plain"}`, 1, "", "plain error\n"},
		{"unknown field", `{"name":"x","extra":1}`, 1, "", "invalid arguments: json: unknown field \"extra\"\n"},
		{"not json", `nope`, 1, "", "invalid arguments: invalid character 'o' in literal null (expecting 'u')\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), strings.NewReader(tc.stdin), &out, &errb, jsonTool)
			if code != tc.wantCode || out.String() != tc.wantStdout || errb.String() != tc.wantStderr {
				t.Fatalf("got code %d stdout %q stderr %q; want %d %q %q", code, out.String(), errb.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

func TestRunTextOutput(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), strings.NewReader(`{"name":"x"}`), &out, &errb, func(_ context.Context, in echoIn) (string, error) {
		return "line 1\n\"quoted\"\n", nil
	})
	if code != 0 || out.String() != "line 1\n\"quoted\"\n" || errb.Len() != 0 {
		t.Fatalf("got %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	code = run(context.Background(), strings.NewReader(`{}`), &out, &errb, func(_ context.Context, in echoIn) (Text, error) {
		return Text("as is"), nil
	})
	if code != 0 || out.String() != "as is" {
		t.Fatalf("got %d %q", code, out.String())
	}
}

func TestRunInputCap(t *testing.T) {
	var out, errb bytes.Buffer
	big := strings.NewReader(`{"name":"` + strings.Repeat("a", MaxInput) + `"}`)
	code := run(context.Background(), big, &out, &errb, func(_ context.Context, in echoIn) (string, error) { return "", nil })
	if code != 1 || errb.String() != "arguments too large\n" {
		t.Fatalf("got %d %q", code, errb.String())
	}
}

// TestStandardLibraryOnly keeps the SDK free of third-party imports, so a
// tool's module and supply chain stay small.
func TestStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pf.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			first := strings.SplitN(p, "/", 2)[0]
			if strings.Contains(first, ".") {
				t.Errorf("%s imports %s: the sdk uses the standard library only", f, p)
			}
		}
	}
}

// TestSourceEmbedsTheSDK: the copy moat new and moat build write into a Go
// tool's folder is this package, file for file (tests aside).
func TestSourceEmbedsTheSDK(t *testing.T) {
	want, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, "c/moat.h")
	for _, f := range want {
		disk, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		emb, err := Source.ReadFile(f)
		if err != nil || !bytes.Equal(disk, emb) {
			t.Errorf("Source has %s: %v (same bytes: %v)", f, err, bytes.Equal(disk, emb))
		}
	}
}
