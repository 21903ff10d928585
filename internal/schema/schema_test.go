package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const toolSchema = `{
	"type": "object",
	"required": ["path"],
	"additionalProperties": false,
	"properties": {
		"path":  {"type": "string", "maxLength": 10, "pattern": "^[a-z/]+$"},
		"mode":  {"enum": ["text", "binary"]},
		"count": {"type": "integer", "minimum": 1, "maximum": 9007199254740992},
		"owner": {
			"type": "object",
			"required": ["name"],
			"properties": {"name": {"type": "string", "minLength": 1}}
		},
		"tags":  {"type": "array", "maxItems": 3, "items": {"type": "string"}},
		"people": {"type": "array", "items": {"$ref": "#/$defs/person"}},
		"unique": {"type": "array", "uniqueItems": true},
		"big":   {"type": "integer"},
		"ratio": {"type": "number", "exclusiveMaximum": 1}
	},
	"$defs": {
		"person": {
			"type": "object",
			"required": ["name"],
			"properties": {"name": {"type": "string"}}
		}
	}
}`

func mustCompile(t testing.TB, raw string) *Schema {
	t.Helper()
	s, err := CompileInput(json.RawMessage(raw))
	if err != nil {
		t.Fatalf("CompileInput: %v", err)
	}
	return s
}

func TestValidate(t *testing.T) {
	s := mustCompile(t, toolSchema)
	tests := []struct {
		name, doc string
		wantPath  string
		wantMsg   string // "" = valid
	}{
		{name: "valid minimal", doc: `{"path":"/a"}`},
		{name: "valid full", doc: `{"path":"/a","mode":"text","count":3,"owner":{"name":"x"},"tags":["a"],"people":[{"name":"p"}],"unique":[1,"1"],"big":9223372036854775807,"ratio":0.5}`},
		{name: "required missing", doc: `{}`, wantPath: "/path", wantMsg: "required property is missing"},
		{name: "wrong type", doc: `{"path":3}`, wantPath: "/path", wantMsg: "expected string, got integer"},
		{name: "wrong type null", doc: `{"path":null}`, wantPath: "/path", wantMsg: "expected string, got null"},
		{name: "enum", doc: `{"path":"/a","mode":"raw"}`, wantPath: "/mode", wantMsg: `must be one of "text", "binary"`},
		{name: "maxLength", doc: `{"path":"/abcdefghijk"}`, wantPath: "/path", wantMsg: "must be at most 10 characters long"},
		{name: "pattern", doc: `{"path":"/A"}`, wantPath: "/path", wantMsg: `must match the pattern "^[a-z/]+$"`},
		{name: "additionalProperties false", doc: `{"path":"/a","extra":1}`, wantPath: "/extra",
			wantMsg: `unexpected property (allowed: "big", "count", "mode", "owner", "path", "people", "ratio", "tags", "unique")`},
		{name: "nested object path", doc: `{"path":"/a","owner":{"name":""}}`, wantPath: "/owner/name", wantMsg: "must be at least 1 characters long"},
		{name: "nested required", doc: `{"path":"/a","owner":{}}`, wantPath: "/owner/name", wantMsg: "required property is missing"},
		{name: "array item path", doc: `{"path":"/a","tags":["a","b",3]}`, wantPath: "/tags/2", wantMsg: "expected string, got integer"},
		{name: "maxItems", doc: `{"path":"/a","tags":["a","b","c","d"]}`, wantPath: "/tags", wantMsg: "must have at most 3 items"},
		{name: "defs ref", doc: `{"path":"/a","people":[{"name":"a"},{"name":"b"},{"name":"c"},{"nom":"d"}]}`, wantPath: "/people/3/name", wantMsg: "required property is missing"},
		{name: "uniqueItems", doc: `{"path":"/a","unique":[1,2,1.0]}`, wantPath: "/unique/2", wantMsg: "duplicate of item 0 (items must be unique)"},
		{name: "minimum", doc: `{"path":"/a","count":0}`, wantPath: "/count", wantMsg: "must be >= 1"},
		{name: "big integer just above maximum", doc: `{"path":"/a","count":9007199254740993}`, wantPath: "/count", wantMsg: "must be <= 9007199254740992"},
		{name: "big integer at maximum", doc: `{"path":"/a","count":9007199254740992}`},
		{name: "uint64 integer", doc: `{"path":"/a","big":18446744073709551615}`, wantPath: "", wantMsg: ""},
		{name: "integer beyond 64 bits", doc: `{"path":"/a","big":18446744073709551617}`, wantPath: "/big", wantMsg: "integer too large to be checked exactly"},
		{name: "exact big float integer", doc: `{"path":"/a","big":1e20}`, wantPath: "", wantMsg: ""},
		{name: "whole-looking fraction", doc: `{"path":"/a","big":1.0000000000000000001}`, wantPath: "/big", wantMsg: "number has more precision than can be checked"},
		{name: "exponent bomb", doc: `{"path":"/a","big":1e999999999}`, wantPath: "/big", wantMsg: "number out of range"},
		{name: "float overflow", doc: `{"path":"/a","ratio":1e400}`, wantPath: "/ratio", wantMsg: "number out of range"},
		{name: "float underflow", doc: `{"path":"/a","ratio":1e-400}`, wantPath: "/ratio", wantMsg: "number out of range"},
		{name: "long number", doc: `{"path":"/a","ratio":0.` + strings.Repeat("1", 120) + `}`, wantPath: "/ratio", wantMsg: "number has too many digits"},
		{name: "exclusiveMaximum", doc: `{"path":"/a","ratio":1.0}`, wantPath: "/ratio", wantMsg: "must be < 1"},
		{name: "integer written as float", doc: `{"path":"/a","count":2.0}`},
		{name: "duplicate keys", doc: `{"path":"/a","path":"/etc"}`, wantPath: "/path", wantMsg: "duplicate key"},
		{name: "duplicate keys case", doc: `{"path":"/a","PATH":"/etc"}`, wantPath: "/PATH", wantMsg: `duplicate key: differs only in letter case from "path"`},
		{name: "duplicate keys escaped", doc: `{"path":"/a","\u0070ath":"/etc"}`, wantPath: "/path", wantMsg: "duplicate key"},
		{name: "duplicate keys nested", doc: `{"path":"/a","owner":{"name":"a","name":"b"}}`, wantPath: "/owner/name", wantMsg: "duplicate key"},
		{name: "not an object", doc: `["path"]`, wantPath: "", wantMsg: "arguments must be a JSON object, got array"},
		{name: "null", doc: `null`, wantPath: "", wantMsg: "arguments must be a JSON object, got null"},
		{name: "empty", doc: ``, wantPath: "", wantMsg: "not valid JSON (unexpected end)"},
		{name: "malformed", doc: `{"path":}`, wantPath: "", wantMsg: "not valid JSON (at byte 8)"},
		{name: "trailing data", doc: `{"path":"/a"} {}`, wantPath: "", wantMsg: "unexpected data after the JSON value"},
		{name: "invalid utf8", doc: "{\"path\":\"/\xff\"}", wantPath: "", wantMsg: "not valid UTF-8"},
		{name: "lone surrogate", doc: `{"path":"/\ud800"}`, wantPath: "", wantMsg: "a string contains an unpaired UTF-16 surrogate escape"},
		{name: "surrogate pair ok", doc: `{"path":"/a","owner":{"name":"\ud83d\ude00"}}`},
		{name: "depth bomb", doc: `{"path":"/a","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
			wantPath: "/x" + strings.Repeat("/0", 63),
			wantMsg:  "nested deeper than 64 levels"},
		{name: "huge key truncated", doc: `{"path":"/a","` + strings.Repeat("k", 1000) + `":1}`,
			wantPath: "/" + strings.Repeat("k", 64) + "…", wantMsg: `unexpected property (allowed: "big", "count", "mode", "owner", "path", "people", "ratio", "tags", "unique")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Validate(json.RawMessage(tc.doc))
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate: %v, want *ValidationError", err)
			}
			if ve.Path != tc.wantPath || ve.Msg != tc.wantMsg {
				t.Errorf("Validate = {Path: %q, Msg: %q}, want {Path: %q, Msg: %q}", ve.Path, ve.Msg, tc.wantPath, tc.wantMsg)
			}
		})
	}
}

func TestValidationErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *ValidationError
		want string
	}{
		{"argument", &ValidationError{Path: "/path", Msg: "expected string, got integer"}, `invalid argument "/path": expected string, got integer`},
		{"whole arguments", &ValidationError{Msg: "arguments must be a JSON object, got array"}, `invalid arguments: arguments must be a JSON object, got array`},
		{"output", &ValidationError{Path: "/n", Msg: "expected string, got integer", output: true}, `invalid output "/n": expected string, got integer`},
		{"whole output", &ValidationError{Msg: "not valid JSON", output: true}, `invalid output: not valid JSON`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestValidateMessages covers keywords whose words come from the fallback or
// from less common branches of explain.
func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name, schema, doc string
		wantPath, wantMsg string
	}{
		{"const", `{"properties":{"v":{"const":"on"}}}`, `{"v":"off"}`, "/v", `must be "on"`},
		{"type list", `{"properties":{"v":{"type":["string","null"]}}}`, `{"v":1.5}`, "/v", "expected one of string, null; got number"},
		{"anyOf of types", `{"properties":{"v":{"anyOf":[{"type":"string"},{"type":"integer"}]}}}`, `{"v":true}`, "/v", "expected string or integer, got boolean"},
		{"anyOf of required properties", `{"type":"object","anyOf":[{"required":["pattern"]},{"required":["glob"]}]}`, `{"path":"notes"}`, "",
			`does not match any of the 2 allowed forms; the closest is form 1: expected the property "pattern", which is missing; form 2: expected the property "glob", which is missing`},
		{"oneOf: the deepest failure is the closest", `{"properties":{"v":{"oneOf":[{"type":"string"},{"type":"object","properties":{"n":{"type":"integer","maximum":3}}}]}}}`, `{"v":{"n":9}}`, "/v",
			`does not match any of the 2 allowed forms; the closest is form 2: "/v/n": must be <= 3; form 1: expected string, got object`},
		{"many forms: only the closest is spelt out", `{"anyOf":[{"required":["a"]},{"required":["b"]},{"required":["c"]},{"required":["d"]},{"type":"object","properties":{"x":{"type":"string"}}}]}`, `{"x":1}`, "",
			`does not match any of the 5 allowed forms; the closest is form 5: "/x": expected string, got integer`},
		{"anyOf single", `{"properties":{"v":{"anyOf":[{"type":"string"}]}}}`, `{"v":true}`, "/v", "expected string, got boolean"},
		{"oneOf both match falls back", `{"properties":{"v":{"oneOf":[{"type":"integer"},{"type":"number"}]}}}`, `{"v":1}`, "", `does not match the schema ("oneOf" not satisfied)`},
		{"not falls back", `{"properties":{"v":{"not":{"type":"string"}}}}`, `{"v":"s"}`, "", `does not match the schema ("not" not satisfied)`},
		{"false schema", `{"properties":{"v":false}}`, `{"v":1}`, "/v", "not allowed"},
		{"prefixItems", `{"properties":{"v":{"prefixItems":[{"type":"string"}],"items":false}}}`, `{"v":["a","b"]}`, "/v/1", "no more than 1 items allowed"},
		{"multipleOf", `{"properties":{"v":{"multipleOf":5}}}`, `{"v":7}`, "/v", "must be a multiple of 5"},
		{"minProperties", `{"minProperties":1}`, `{}`, "", "must have at least 1 properties"},
		{"propertyNames", `{"propertyNames":{"maxLength":2}}`, `{"abc":1}`, "/abc", "property name must be at most 2 characters long"},
		{"dependentRequired", `{"dependentRequired":{"a":["b"]}}`, `{"a":1}`, "/b", `required when "a" is present`},
		{"additionalProperties schema", `{"additionalProperties":{"type":"string"}}`, `{"a":1}`, "/a", "expected string, got integer"},
		{"patternProperties", `{"patternProperties":{"^x":{"type":"string"}}}`, `{"xa":1}`, "/xa", "expected string, got integer"},
		{"anchor ref", `{"properties":{"v":{"$ref":"#num"}},"$defs":{"n":{"$anchor":"num","type":"number"}}}`, `{"v":"1"}`, "/v", "expected number, got string"},
		{"recursive through properties", `{"properties":{"child":{"$ref":"#"},"n":{"type":"integer"}}}`, `{"child":{"child":{"n":"x"}}}`, "/child/child/n", "expected integer, got string"},
		{"draft-07 items tuple", `{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"v":{"items":[{"type":"string"}],"additionalItems":false}}}`, `{"v":["a",1]}`, "/v/1", "no more than 1 items allowed"},
		{"long enum truncated", `{"properties":{"v":{"enum":["` + strings.Repeat("a", 200) + `"]}}}`, `{"v":"b"}`, "/v", `must be one of "` + strings.Repeat("a", 63) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustCompile(t, tc.schema)
			err := s.Validate(json.RawMessage(tc.doc))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate: %v, want *ValidationError", err)
			}
			if ve.Path != tc.wantPath || ve.Msg != tc.wantMsg {
				t.Errorf("Validate = {Path: %q, Msg: %q}, want {Path: %q, Msg: %q}", ve.Path, ve.Msg, tc.wantPath, tc.wantMsg)
			}
		})
	}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		input   bool
		wantErr error  // nil = compiles
		wantMsg string // exact error text when wantErr is set
	}{
		{name: "minimal", raw: `{}`, input: true},
		{name: "object", raw: `{"type":"object"}`, input: true},
		{name: "tool schema", raw: toolSchema, input: true},
		{name: "root id and ref", raw: `{"$id":"https://example.com/s.json","properties":{"a":{"$ref":"#/$defs/a"}},"$defs":{"a":{"type":"string"}}}`, input: true},
		{name: "escaped pointer ref", raw: `{"properties":{"a":{"$ref":"#/$defs/a~1b"}},"$defs":{"a/b":{"type":"string"}}}`, input: true},
		{name: "input not object type", raw: `{"type":"string"}`, input: true, wantErr: ErrInvalidSchema,
			wantMsg: `invalid schema: an input schema's type must be "object"`},
		{name: "output any type", raw: `{"type":"string"}`},
		{name: "not an object", raw: `true`, input: true, wantErr: ErrInvalidSchema, wantMsg: "invalid schema: not a JSON object"},
		{name: "remote ref", raw: `{"properties":{"a":{"$ref":"https://evil.example/s.json"}}}`, input: true, wantErr: ErrExternalRef,
			wantMsg: `invalid schema: only in-document references ("#...") are allowed: at "/properties/a": "$ref" "https://evil.example/s.json"`},
		{name: "file ref", raw: `{"$ref":"file:///etc/passwd"}`, input: true, wantErr: ErrExternalRef,
			wantMsg: `invalid schema: only in-document references ("#...") are allowed: at the top level: "$ref" "file:///etc/passwd"`},
		{name: "relative ref", raw: `{"$ref":"other.json#/a"}`, input: true, wantErr: ErrExternalRef,
			wantMsg: `invalid schema: only in-document references ("#...") are allowed: at the top level: "$ref" "other.json#/a"`},
		{name: "dangling ref", raw: `{"$ref":"#/$defs/nope"}`, input: true, wantErr: ErrInvalidSchema,
			wantMsg: `invalid schema: "$ref" "#/$defs/nope" does not point to a schema in this document`},
		{name: "ref cycle to self", raw: `{"$ref":"#"}`, input: true, wantErr: ErrRefCycle, wantMsg: `invalid schema: reference cycle through ""`},
		{name: "fan-out: 20 levels of refs named twice", raw: doublingRefs(20), input: true, wantErr: ErrSchemaFanOut},
		{name: "fan-out: 8 levels is fine", raw: doublingRefs(8), input: true},
		{name: "ref cycle via defs", raw: `{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}`, input: true,
			wantErr: ErrRefCycle, wantMsg: `invalid schema: reference cycle through "/$defs/a"`},
		{name: "nested id", raw: `{"properties":{"a":{"$id":"https://x/a"}}}`, input: true, wantErr: ErrInvalidSchema,
			wantMsg: `invalid schema: at "/properties/a": "$id" is only allowed at the top level`},
		{name: "dynamicRef", raw: `{"$dynamicRef":"#x"}`, input: true, wantErr: ErrInvalidSchema,
			wantMsg: `invalid schema: at the top level: "$dynamicRef" is not supported`},
		{name: "unknown draft", raw: `{"$schema":"http://json-schema.org/draft-04/schema#"}`, input: true, wantErr: ErrInvalidSchema,
			wantMsg: `invalid schema: unsupported "$schema" (use JSON Schema 2020-12 or draft-07)`},
		{name: "bad pattern", raw: `{"properties":{"a":{"pattern":"(?<"}}}`, input: true, wantErr: ErrInvalidSchema,
			wantMsg: `invalid schema: at "/properties/a": bad "pattern": "(?<" does not compile`},
		{name: "depth bomb", raw: strings.Repeat(`{"not":`, 100) + `{}` + strings.Repeat(`}`, 100), input: true, wantErr: ErrInvalidSchema,
			wantMsg: `invalid schema: at "` + strings.Repeat("/not", 64) + `": nested deeper than 64 levels`},
		{name: "300 KiB", raw: `{"description":"` + strings.Repeat("x", 300<<10) + `"}`, input: true, wantErr: ErrSchemaTooLarge,
			wantMsg: "invalid schema: larger than 262144 bytes"},
		{name: "duplicate keys", raw: `{"type":"object","type":"string"}`, input: true, wantErr: ErrInvalidSchema,
			wantMsg: `invalid schema: at "/type": duplicate key`},
		{name: "inexact maximum", raw: `{"properties":{"a":{"maximum":9007199254740993}}}`, input: true, wantErr: ErrInvalidSchema,
			wantMsg: `invalid schema: at "/properties/a/maximum": integer too large to be checked exactly`},
		{name: "bad default", raw: `{"properties":{"a":{"type":"string","default":1}}}`, input: true, wantErr: ErrInvalidSchema},
		{name: "malformed", raw: `{"type":`, input: true, wantErr: ErrInvalidSchema, wantMsg: "invalid schema: not valid JSON (unexpected end)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			compile := CompileOutput
			if tc.input {
				compile = CompileInput
			}
			s, err := compile(json.RawMessage(tc.raw))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("compile: %v", err)
				}
				if string(s.Raw()) != tc.raw {
					t.Errorf("Raw() = %s, want the schema as given", s.Raw())
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("compile: %v, want %v", err, tc.wantErr)
			}
			if tc.wantMsg != "" && err.Error() != tc.wantMsg {
				t.Errorf("compile:\n got %s\nwant %s", err, tc.wantMsg)
			}
		})
	}
}

func TestOutputAcceptsAnyValue(t *testing.T) {
	s, err := CompileOutput(json.RawMessage(`{"type":"array","items":{"type":"integer"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(json.RawMessage(`[1,2]`)); err != nil {
		t.Errorf("Validate([1,2]) = %v, want nil", err)
	}
	err = s.Validate(json.RawMessage(`[1,"x"]`))
	if got, want := err.Error(), `invalid output "/1": expected integer, got string`; got != want {
		t.Errorf("Validate = %q, want %q", got, want)
	}
}

var sinkErr error

func BenchmarkValidate(b *testing.B) {
	s := mustCompile(b, toolSchema)
	doc := json.RawMessage(`{"path":"/a","mode":"text","count":3,"owner":{"name":"x"},"tags":["a"],"people":[{"name":"p"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		sinkErr = s.Validate(doc)
	}
}

// BenchmarkValidateEcho is the schema and arguments of moat bench's echo
// tool (internal/bench): the validation each call of the bench pays.
func BenchmarkValidateEcho(b *testing.B) {
	s := mustCompile(b, `{"type":"object","properties":{"msg":{"type":"string"}}}`)
	doc := json.RawMessage(`{"msg":"hello from moat bench"}`)
	b.ReportAllocs()
	for b.Loop() {
		sinkErr = s.Validate(doc)
	}
}

// doublingRefs is a schema of n definitions, each applying the next one
// twice: 2^n schemas apply to the one value, from a few hundred bytes.
func doublingRefs(n int) string {
	var b strings.Builder
	b.WriteString(`{"$defs":{`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		if i == n-1 {
			fmt.Fprintf(&b, `"d%d":{"type":"object"}`, i)
			continue
		}
		fmt.Fprintf(&b, `"d%d":{"anyOf":[{"$ref":"#/$defs/d%d"},{"$ref":"#/$defs/d%d"}]}`, i, i+1, i+1)
	}
	b.WriteString(`},"$ref":"#/$defs/d0"}`)
	return b.String()
}
