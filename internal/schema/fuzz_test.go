package schema

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzValidate feeds arbitrary documents to a fixed schema: Validate must never
// panic, must reject with a *ValidationError whose message is short and free of
// Go type names, and must accept only a valid JSON object.
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		`{"path":"/a"}`, `{}`, `[]`, `null`, `{"path":"/a","path":"/b"}`,
		`{"path":"/a","count":9007199254740993}`, `{"path":"/\ud800"}`,
		`{"path":"/a","people":[{"name":"x"},{}]}`, `{"path":1e999}`,
		`{"path":"/a","unique":[{"a":1},{"a":1.0}]}`, strings.Repeat("[", 70),
	} {
		f.Add([]byte(seed))
	}
	s := mustCompile(f, toolSchema)
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := s.Validate(doc)
		if err == nil {
			var m map[string]any
			if !json.Valid(doc) || json.Unmarshal(doc, &m) != nil || m == nil {
				t.Fatalf("accepted %q, which is not a JSON object", doc)
			}
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %T %v, want *ValidationError", err, err)
		}
		for _, bad := range []string{"map[", "[]interface", "float64", "int64", "json.", "reflect", "<nil>"} {
			if strings.Contains(ve.Msg, bad) {
				t.Fatalf("message %q contains Go internals %q", ve.Msg, bad)
			}
		}
		if len(ve.Msg) > 400 || !utf8.ValidString(ve.Msg) {
			t.Fatalf("message too long or not UTF-8: %q", ve.Msg)
		}
	})
}

// FuzzCompile feeds arbitrary schemas to CompileInput and CompileOutput, and
// validates a few documents against any that compile: nothing may panic or
// recurse without end.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		toolSchema, `{}`, `{"$ref":"#"}`, `{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/a"}}}`,
		`{"properties":{"a":{"$ref":"#"}}}`, `{"items":[{"type":"string"}]}`,
		`{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"a":{}},"$ref":"#/definitions/a"}`,
		`{"anyOf":[{"$anchor":"x"},{"$ref":"#x"}]}`, `{"dependencies":{"a":["b"],"c":{"$ref":"#"}}}`,
	} {
		f.Add([]byte(seed))
	}
	docs := []json.RawMessage{
		json.RawMessage(`{}`), json.RawMessage(`{"a":[1,"x",{"b":null}],"c":1.5}`), json.RawMessage(`[[],[{}]]`), json.RawMessage(`"s"`),
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, compile := range []func(json.RawMessage) (*Schema, error){CompileInput, CompileOutput} {
			s, err := compile(raw)
			if err != nil {
				if !errors.Is(err, ErrInvalidSchema) {
					t.Fatalf("error %v does not wrap ErrInvalidSchema", err)
				}
				continue
			}
			for _, d := range docs {
				if err := s.Validate(d); err != nil {
					var ve *ValidationError
					if !errors.As(err, &ve) {
						t.Fatalf("Validate error %T, want *ValidationError", err)
					}
				}
			}
		}
	})
}
