package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/moatmcp/moat/sdk"
)

const doc = `{"a":{"b":[{"c":1},{"c":"two"}]},"items":[{"name":"x","n":1},{"name":"y"},{"n":3}],"big":12345678901234567890,"s":"héllo","nil":null,"k y":true}`

func TestQuery(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  string // the result as JSON, or the error text
		err   error
	}{
		{"identity", ".", doc, nil},
		{"identity with spaces", "  .  ", doc, nil},
		{"nested path", ".a.b[0].c", `1`, nil},
		{"negative index", ".a.b[-1].c", `"two"`, nil},
		{"index past the end", ".a.b[5]", `null`, nil},
		{"missing field", ".nope.deeper", `null`, nil},
		{"step on null", ".nil.x[0]", `null`, nil},
		{"quoted key", `."k y"`, `true`, nil},
		{"bracket key", `.["k y"]`, `true`, nil},
		{"iterate", ".items[].name", `["x","y",null]`, nil},
		{"iterate an object in key order", ".a.b[1] | .[]", `["two"]`, nil},
		{"jq's ? is not part of the language", ".items[5][]?", "query syntax error at offset 11: expected | or the end of the query", errSyntax},
		{"a path after a pipe", `.a.b[0].x | .nil`, `null`, nil},
		{"iterate null", ".items[5][]", `query type error: cannot iterate over null`, errType},
		{"length of array", ".items | length", `3`, nil},
		{"length of each", ".items[] | length", `[2,1,1]`, nil},
		{"length of a string in runes", ".s | length", `5`, nil},
		{"length of null", ".nil | length", `0`, nil},
		{"keys of object", ".items[0] | keys", `["n","name"]`, nil},
		{"keys of array", ".items | keys", `[0,1,2]`, nil},
		{"bare length", "length", `6`, nil},
		{"big number kept exactly", ".big", `12345678901234567890`, nil},
		{"field of an array", ".items.name", `query type error: cannot take field "name" of an array`, errType},
		{"index of an object", ".a[0]", `query type error: cannot index an object with a number`, errType},
		{"iterate a number", ".big[]", `query type error: cannot iterate over a number`, errType},
		{"length of a boolean", `."k y" | length`, `query type error: a boolean has no length`, errType},
		{"keys of a string", ".s | keys", `query type error: a string has no keys`, errType},
		{"empty query", "", `query syntax error at the end: expected a path, length or keys`, errSyntax},
		{"unknown function", "map", `query syntax error at offset 0: unknown function "map" (known: length, keys)`, errSyntax},
		{"double dot", "..a", `query syntax error at offset 1: expected a name after .`, errSyntax},
		{"unclosed bracket", ".a[0", `query syntax error at the end: expected ]`, errSyntax},
		{"unterminated key", `."abc`, `query syntax error at offset 1: unterminated quoted key`, errSyntax},
		{"trailing pipe", ".a |", `query syntax error at the end: expected a path, length or keys`, errSyntax},
		{"huge index", ".a[99999999999]", `query syntax error at offset 3: invalid index`, errSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := jsonQuery(context.Background(), input{Document: json.RawMessage(doc), Query: tc.query})
			if tc.err != nil {
				var te *sdk.Error
				if !errors.As(err, &te) || te.Msg != tc.want {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(out.Result)
			if got := string(b); got != compact(t, tc.want) {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func compact(t *testing.T, s string) string {
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDocumentLimits(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"too deep", deep, "document nests 64 levels deep; the limit is 63"},
		{"brackets in strings do not count", `{"a":"` + strings.Repeat("[", 100) + `\"["}`, ""},
		{"at the limit", ok, ""},
		{"too large", `"` + strings.Repeat("a", maxDocument) + `"`, "document is 262146 bytes; the limit is 262144"},
		{"missing", "", "document is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jsonQuery(context.Background(), input{Document: json.RawMessage(tc.doc), Query: "."})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("err = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzQuery checks that no query, on any document, panics, and that every
// failure is one of the three errors the agent is meant to see.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{".", ".a.b[0].c", ".items[].name", "length", ".a | keys", `.["x"][-1]`, `."\u00e9"`, ".[][]|length"} {
		f.Add(q, doc)
	}
	f.Add(".[]", `[[1],[2,[3]],{"a":[]}]`)
	f.Fuzz(func(t *testing.T, q, d string) {
		var v any
		dec := json.NewDecoder(strings.NewReader(d))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return
		}
		p, err := parse(q)
		if err != nil {
			if !errors.Is(err, errSyntax) && !errors.Is(err, errLimit) {
				t.Fatalf("parse(%q): unexpected error %v", q, err)
			}
			return
		}
		res, err := p.eval(v)
		if err != nil {
			if !errors.Is(err, errType) && !errors.Is(err, errLimit) {
				t.Fatalf("eval(%q): unexpected error %v", q, err)
			}
			return
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("result of %q does not marshal: %v", q, err)
		}
	})
}
