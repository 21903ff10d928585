package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/audit"
)

// sensitive compiles raw as an input schema and returns its sensitive paths.
func sensitive(t *testing.T, raw string) []string {
	t.Helper()
	s, err := CompileInput(json.RawMessage(raw))
	if err != nil {
		t.Fatalf("CompileInput: %v", err)
	}
	return s.SensitivePaths()
}

func TestSensitivePaths(t *testing.T) {
	for _, c := range []struct {
		name   string
		schema string
		want   []string
	}{
		{"none", `{"type":"object","properties":{"q":{"type":"string"}}}`, []string{}},
		{"the three markers", `{"type":"object","properties":{
			"a":{"type":"string","x-moat-sensitive":true},
			"b":{"type":"string","writeOnly":true},
			"c":{"type":"string","format":"password"},
			"d":{"type":"string","writeOnly":false,"format":"email"}}}`, []string{"/a", "/b", "/c"}},
		{"nested and escaped", `{"properties":{"db":{"properties":{"pass/word":{"writeOnly":true},"t~k":{"writeOnly":true}}}}}`,
			[]string{"/db/pass~1word", "/db/t~0k"}},
		{"array items", `{"properties":{"users":{"type":"array","items":{"properties":{"pin":{"format":"password"}}}}}}`,
			[]string{"/users/*/pin"}},
		{"tuple items", `{"properties":{"pair":{"prefixItems":[{"type":"string"},{"writeOnly":true}]}}}`, []string{"/pair/*"}},
		{"map values", `{"properties":{"env":{"additionalProperties":{"writeOnly":true}},"h":{"patternProperties":{"^x-":{"x-moat-sensitive":true}}}}}`,
			[]string{"/env/*", "/h/*"}},
		{"whole arguments", `{"x-moat-sensitive":true}`, []string{""}},
		{"combinators", `{"anyOf":[{"properties":{"k":{"writeOnly":true}}}],"allOf":[{"properties":{"j":{"writeOnly":true}}}]}`,
			[]string{"/j", "/k"}},
		{"ref to defs", `{"$defs":{"Secret":{"type":"string","writeOnly":true}},"properties":{"k":{"$ref":"#/$defs/Secret"},"n":{"type":"string"}}}`,
			[]string{"/k"}},
		{"recursive ref", `{"$defs":{"Node":{"properties":{"pw":{"writeOnly":true},"kids":{"items":{"$ref":"#/$defs/Node"}}}}},"$ref":"#/$defs/Node"}`,
			[]string{"/kids/*/**/pw", "/pw"}},
		{"mutually recursive refs", `{"$defs":{
			"A":{"properties":{"b":{"$ref":"#/$defs/B"}}},
			"B":{"properties":{"s":{"writeOnly":true},"a":{"$ref":"#/$defs/A"}}}},
			"properties":{"root":{"$ref":"#/$defs/A"}}}`,
			[]string{"/root/b/a/**/b/s", "/root/b/s"}},
		{"root self ref", `{"properties":{"s":{"writeOnly":true},"next":{"$ref":"#"}}}`, []string{"/next/**/s", "/s"}},
		{"audit end to end", `{"type":"object","properties":{
			"query":{"type":"string"},
			"db_password":{"type":"string","writeOnly":true},
			"opts":{"type":"object","properties":{"passphrase_v2":{"type":"string","format":"password"}}},
			"headers":{"type":"array","items":{"type":"string"}}}}`, []string{"/db_password", "/opts/passphrase_v2"}},
		{"anchor ref", `{"$defs":{"S":{"$anchor":"secret","writeOnly":true}},"properties":{"k":{"$ref":"#secret"}}}`, []string{"/k"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := sensitive(t, c.schema)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestSensitivePathsCoverRecursiveValues(t *testing.T) {
	schema := `{"$defs":{"Node":{"properties":{"pw":{"writeOnly":true},"kids":{"items":{"$ref":"#/$defs/Node"}}}}},"$ref":"#/$defs/Node"}`
	args := `{"pw":"a","kids":[{"pw":"b","kids":[{"pw":"c","name":"x"}]}]}`
	got := string(audit.Summarize(json.RawMessage(args), sensitive(t, schema)))
	want := `{"pw":"[REDACTED]","kids":[{"pw":"[REDACTED]","kids":[{"pw":"[REDACTED]","name":"x"}]}]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSensitivePathsHugeSchemaRedactsEverything(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"properties":{`)
	for i := 0; i < maxSensitiveNodes+10; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"p%d":{"type":"string"}`, i)
	}
	b.WriteString(`}}`)
	if got := sensitive(t, b.String()); !reflect.DeepEqual(got, []string{""}) {
		t.Errorf("got %d paths, want [\"\"]", len(got))
	}
}

// TestSensitivePathsNilSchema: no compiled schema, nothing marked.
func TestSensitivePathsNilSchema(t *testing.T) {
	var s *Schema
	if got := s.SensitivePaths(); got != nil {
		t.Errorf("got %q", got)
	}
}

func FuzzSensitivePaths(f *testing.F) {
	f.Add(`{"properties":{"a":{"writeOnly":true},"b":{"items":{"$ref":"#"}}}}`)
	f.Add(`{"$defs":{"A":{"$ref":"#/$defs/B"},"B":{"$ref":"#/$defs/A","writeOnly":true}},"$ref":"#/$defs/A"}`)
	f.Add(`{"allOf":[{"$ref":"#/allOf/0"}]}`)
	f.Fuzz(func(t *testing.T, schema string) {
		s, err := CompileInput(json.RawMessage(schema))
		if err != nil {
			return
		}
		paths := s.SensitivePaths()
		if !sort.StringsAreSorted(paths) {
			t.Fatalf("not sorted: %q", paths)
		}
		for _, p := range paths {
			if p != "" && p[0] != '/' {
				t.Fatalf("not a pointer: %q", p)
			}
		}
		// Whatever the schema, the paths are usable.
		audit.Summarize(json.RawMessage(`{"a":[{"b":1}]}`), paths)
	})
}
