package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type schemaInner struct {
	Path string `json:"path"`
	Size int64  `json:"size,omitempty"`
}

type Embedded struct {
	Shared string `json:"shared"`
	Hidden string `json:"hidden"`
}

type EmbeddedPtr struct {
	Via string `json:"via"`
}

type schemaAll struct {
	Embedded
	*EmbeddedPtr
	Hidden    int               `json:"hidden"` // shallower: hides Embedded.Hidden
	Name      string            `json:"name" desc:"Who to greet, e.g. \"ada\" & co" jsonschema:"minLength=1,maxLength=64"`
	Mode      string            `json:"mode,omitempty" jsonschema:"enum=fast|thorough,default=fast"`
	Count     int               `json:"count,omitempty" jsonschema:"minimum=1,maximum=2000"`
	Ratio     float64           `json:"ratio" jsonschema:"exclusiveMinimum=0,exclusiveMaximum=1.5,optional"`
	Small     int8              `json:"small"`
	Unsigned  uint              `json:"unsigned"`
	Tags      []string          `json:"tags" jsonschema:"maxItems=10,uniqueItems,maxLength=32,pattern=^[a-z]{1,3}$"`
	Pair      [2]bool           `json:"pair"`
	Raw       []byte            `json:"raw,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Any       any               `json:"any"`
	Inner     schemaInner       `json:"inner"`
	Opt       *schemaInner      `json:"opt"`
	When      time.Time         `json:"when"`
	Quoted    int               `json:"quoted,string"`
	Skipped   string            `json:"-"`
	unexposed string            //lint:ignore U1000 present to show that unexported fields are left out
	NoTag     bool
}

// The two schemas of schemaAll differ only where encoding/json may write
// null: a pointer, slice or map field without omitempty.
const (
	schemaAllIn = `{"type":"object","properties":{` +
		`"NoTag":{"type":"boolean"},` +
		`"any":{},` +
		`"count":{"type":"integer","minimum":1,"maximum":2000},` +
		`"hidden":{"type":"integer"},` +
		`"inner":{"type":"object","properties":{"path":{"type":"string"},"size":{"type":"integer"}},"required":["path"],"additionalProperties":false},` +
		`"labels":{"type":"object","additionalProperties":{"type":"string"}},` +
		`"mode":{"type":"string","enum":["fast","thorough"],"default":"fast"},` +
		`"name":{"type":"string","description":"Who to greet, e.g. \"ada\" & co","minLength":1,"maxLength":64},` +
		`"opt":{"type":"object","properties":{"path":{"type":"string"},"size":{"type":"integer"}},"required":["path"],"additionalProperties":false},` +
		`"pair":{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":2},` +
		`"quoted":{"type":"string"},` +
		`"ratio":{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1.5},` +
		`"raw":{"type":"string","contentEncoding":"base64"},` +
		`"shared":{"type":"string"},` +
		`"small":{"type":"integer","minimum":-128,"maximum":127},` +
		`"tags":{"type":"array","items":{"type":"string","maxLength":32,"pattern":"^[a-z]{1,3}$"},"maxItems":10,"uniqueItems":true},` +
		`"unsigned":{"type":"integer","minimum":0},` +
		`"via":{"type":"string"},` +
		`"when":{"type":"string","format":"date-time"}` +
		`},"required":["shared","hidden","name","small","unsigned","tags","pair","any","inner","when","quoted","NoTag"],"additionalProperties":false}`
	schemaAllOut = `{"type":"object","properties":{` +
		`"NoTag":{"type":"boolean"},` +
		`"any":{},` +
		`"count":{"type":"integer","minimum":1,"maximum":2000},` +
		`"hidden":{"type":"integer"},` +
		`"inner":{"type":"object","properties":{"path":{"type":"string"},"size":{"type":"integer"}},"required":["path"],"additionalProperties":false},` +
		`"labels":{"type":"object","additionalProperties":{"type":"string"}},` +
		`"mode":{"type":"string","enum":["fast","thorough"],"default":"fast"},` +
		`"name":{"type":"string","description":"Who to greet, e.g. \"ada\" & co","minLength":1,"maxLength":64},` +
		`"opt":{"type":["object","null"],"properties":{"path":{"type":"string"},"size":{"type":"integer"}},"required":["path"],"additionalProperties":false},` +
		`"pair":{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":2},` +
		`"quoted":{"type":"string"},` +
		`"ratio":{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1.5},` +
		`"raw":{"type":"string","contentEncoding":"base64"},` +
		`"shared":{"type":"string"},` +
		`"small":{"type":"integer","minimum":-128,"maximum":127},` +
		`"tags":{"type":["array","null"],"items":{"type":"string","maxLength":32,"pattern":"^[a-z]{1,3}$"},"maxItems":10,"uniqueItems":true},` +
		`"unsigned":{"type":"integer","minimum":0},` +
		`"via":{"type":"string"},` +
		`"when":{"type":"string","format":"date-time"}` +
		`},"required":["shared","hidden","name","small","unsigned","tags","pair","any","inner","opt","when","quoted","NoTag"],"additionalProperties":false}`
)

func TestInputOutputSchemaAllKinds(t *testing.T) {
	in, err := InputSchema[schemaAll]()
	if err != nil || string(in) != schemaAllIn {
		t.Errorf("InputSchema = %s, %v\nwant %s", in, err, schemaAllIn)
	}
	out, err := OutputSchema[schemaAll]()
	if err != nil || string(out) != schemaAllOut {
		t.Errorf("OutputSchema = %s, %v\nwant %s", out, err, schemaAllOut)
	}
	// A pointer to the struct has the same schema at the top level.
	if p, err := InputSchema[*schemaAll](); err != nil || string(p) != schemaAllIn {
		t.Errorf("InputSchema[*T] = %s, %v", p, err)
	}
}

// TestOutputSchemaMatchesEncoding checks the claim the nullable rules rest
// on: what encoding/json writes for a zero value has null exactly where the
// output schema allows it.
func TestOutputSchemaMatchesEncoding(t *testing.T) {
	b, err := json.Marshal(schemaAll{})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(b, &doc)
	var s struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	json.Unmarshal([]byte(schemaAllOut), &s)
	for _, name := range s.Required {
		if _, ok := doc[name]; !ok {
			t.Errorf("required %q missing from the encoding of the zero value", name)
		}
	}
	for name, v := range doc {
		p, ok := s.Properties[name]
		if !ok {
			t.Errorf("encoded %q is not a property", name)
			continue
		}
		if v == nil && p.Type != nil && !strings.Contains(fmt.Sprint(p.Type), "null") {
			t.Errorf("%q is null in the encoding but its schema type is %v", name, p.Type)
		}
	}
}

func TestSchemaCases(t *testing.T) {
	type empty struct{}
	type withMap struct {
		M map[int][]uint16 `json:"m"`
	}
	type ptrEnum struct {
		Level *string `json:"level" jsonschema:"enum=low|high"`
	}
	type nums struct {
		N []float64 `json:"n,omitempty" jsonschema:"enum=1.5|2,minItems=1"`
		B bool      `json:"b,omitempty" jsonschema:"default=true"`
		U uint8     `json:"u,omitempty" jsonschema:"enum=1|255"`
	}
	type forced struct {
		A string `json:"a,omitempty" jsonschema:"required"`
		B string `json:"b" jsonschema:"optional"`
	}
	type ambiguousA struct {
		X string
	}
	type ambiguousB struct {
		X string
	}
	type ambiguous struct {
		ambiguousA
		ambiguousB
		Y int `json:"y,omitzero"`
	}
	tests := []struct {
		name string
		gen  func() ([]byte, error)
		want string
	}{
		{"empty struct takes no arguments", InputSchema[empty], `{"type":"object","additionalProperties":false}`},
		{"map of any", InputSchema[map[string]any], `{"type":"object"}`},
		{"interface input is any object", InputSchema[any], `{"type":"object"}`},
		{"map with integer keys, output", OutputSchema[withMap],
			`{"type":"object","properties":{"m":{"type":["object","null"],"additionalProperties":{"type":["array","null"],"items":{"type":"integer","minimum":0,"maximum":65535}}}},"required":["m"],"additionalProperties":false}`},
		{"nullable enum in output", OutputSchema[ptrEnum],
			`{"type":"object","properties":{"level":{"type":["string","null"],"enum":["low","high",null]}},"required":["level"],"additionalProperties":false}`},
		{"pointer is optional in input", InputSchema[ptrEnum],
			`{"type":"object","properties":{"level":{"type":"string","enum":["low","high"]}},"additionalProperties":false}`},
		{"typed enum and default values", InputSchema[nums],
			`{"type":"object","properties":{"b":{"type":"boolean","default":true},"n":{"type":"array","items":{"type":"number","enum":[1.5,2]},"minItems":1},"u":{"type":"integer","enum":[1,255],"minimum":0,"maximum":255}},"additionalProperties":false}`},
		{"required and optional override omitempty", InputSchema[forced],
			`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["a"],"additionalProperties":false}`},
		{"equal-depth duplicates vanish as in encoding/json", InputSchema[ambiguous],
			`{"type":"object","properties":{"y":{"type":"integer"}},"additionalProperties":false}`},
		{"text output has no schema", OutputSchema[string], ``},
		{"Text output has no schema", OutputSchema[Text], ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.gen()
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %s, %v\nwant %s", got, err, tc.want)
			}
			// Check that encoding/json agrees about the ambiguous field.
			if tc.name == "equal-depth duplicates vanish as in encoding/json" {
				b, _ := json.Marshal(ambiguous{ambiguousA{"a"}, ambiguousB{"b"}, 0})
				if string(b) != `{}` {
					t.Fatalf("encoding/json wrote %s", b)
				}
			}
		})
	}
}

type recursive struct {
	Children []recursive `json:"children"`
}

func TestSchemaErrors(t *testing.T) {
	type withChan struct {
		C chan int `json:"c"`
	}
	type badMapKey struct {
		M map[[2]int]string `json:"m"`
	}
	type tagOn[T any] struct {
		F T `json:"f" jsonschema:"minLength=1"`
	}
	type unknownKw struct {
		F string `json:"f" jsonschema:"maxlength=3"`
	}
	type badEnum struct {
		F int8 `json:"f" jsonschema:"enum=1|300"`
	}
	type badNum struct {
		F int `json:"f" jsonschema:"minimum=0x10"`
	}
	type badPattern struct {
		F string `json:"f" jsonschema:"pattern=(["`
	}
	type flagValue struct {
		F []int `json:"f" jsonschema:"uniqueItems=true"`
	}
	type missingValue struct {
		F string `json:"f" jsonschema:"format"`
	}
	tests := []struct {
		name    string
		gen     func() ([]byte, error)
		wantErr error
		wantMsg string
	}{
		{"channel", InputSchema[withChan], ErrUnsupportedType, "type has no JSON Schema: sdk.withChan.C: chan int"},
		{"recursive", OutputSchema[recursive], ErrUnsupportedType, "type has no JSON Schema: sdk.recursive.Children[]: recursive type sdk.recursive"},
		{"map key", InputSchema[badMapKey], ErrUnsupportedType, "type has no JSON Schema: sdk.badMapKey.M: map keys of type [2]int"},
		{"slice input", InputSchema[[]string], ErrUnsupportedType, "type has no JSON Schema: []string: arguments must be a JSON object (a struct or a map); return a string for a text result"},
		{"int output", OutputSchema[int], ErrUnsupportedType, "type has no JSON Schema: int: a structured result must be a JSON object (a struct or a map); return a string for a text result"},
		{"time output", OutputSchema[time.Time], ErrUnsupportedType, "type has no JSON Schema: time.Time: a structured result must be a JSON object (a struct or a map); return a string for a text result"},
		{"minLength on int", InputSchema[tagOn[int]], ErrBadTag, "bad jsonschema tag: sdk.tagOn[int].F: minLength needs a string field, not integer"},
		{"minLength on any", InputSchema[tagOn[any]], ErrBadTag, "bad jsonschema tag: sdk.tagOn[interface {}].F: minLength needs a string field, not any value"},
		{"unknown keyword", InputSchema[unknownKw], ErrBadTag, `bad jsonschema tag: sdk.unknownKw.F: unknown keyword "maxlength"`},
		{"enum out of range", InputSchema[badEnum], ErrBadTag, `bad jsonschema tag: sdk.badEnum.F: enum: "300" is not a int8`},
		{"hex number", InputSchema[badNum], ErrBadTag, `bad jsonschema tag: sdk.badNum.F: minimum: "0x10" is not a JSON number`},
		{"bad pattern", InputSchema[badPattern], ErrBadTag, `bad jsonschema tag: sdk.badPattern.F: pattern "([" does not compile`},
		{"flag with value", InputSchema[flagValue], ErrBadTag, `bad jsonschema tag: sdk.flagValue.F: uniqueItems takes no value`},
		{"keyword without value", InputSchema[missingValue], ErrBadTag, `bad jsonschema tag: sdk.missingValue.F: format needs a value (format=...)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.gen()
			if !errors.Is(err, tc.wantErr) || err.Error() != tc.wantMsg || got != nil {
				t.Fatalf("got %s, %v; want %q", got, err, tc.wantMsg)
			}
		})
	}
}

func TestSplitTag(t *testing.T) {
	tests := []struct {
		tag  string
		want []string
	}{
		{"minLength=1,maxLength=2", []string{"minLength=1", "maxLength=2"}},
		{"pattern=^a{1,3}$,maxLength=2", []string{"pattern=^a{1,3}$", "maxLength=2"}},
		{"pattern=a,b,c", []string{"pattern=a,b,c"}},
		{"uniqueItems,required", []string{"uniqueItems", "required"}},
		{"", []string{""}},
	}
	for _, tc := range tests {
		if got := splitTag(tc.tag); strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") {
			t.Errorf("splitTag(%q) = %q, want %q", tc.tag, got, tc.want)
		}
	}
}

func TestPrintSchemas(t *testing.T) {
	tests := []struct {
		name       string
		print      func(stdout, stderr *bytes.Buffer) int
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"json tool", func(o, e *bytes.Buffer) int { return printSchemas[echoIn, echoOut](o, e, false) }, 0,
			`{"input":{"type":"object","properties":{"count":{"type":"integer"},"name":{"type":"string"}},"required":["name"],"additionalProperties":false},` +
				`"output":{"type":"object","properties":{"count":{"type":"integer"},"greeting":{"type":"string"}},"required":["greeting","count"],"additionalProperties":false}}` + "\n", ""},
		{"text tool", func(o, e *bytes.Buffer) int { return printSchemas[echoIn, string](o, e, false) }, 0,
			`{"input":{"type":"object","properties":{"count":{"type":"integer"},"name":{"type":"string"}},"required":["name"],"additionalProperties":false},"output":null}` + "\n", ""},
		{"registered at init", func(o, e *bytes.Buffer) int { return printSchemas[echoIn, string](o, e, true) }, 0,
			`{"input":{"type":"object","properties":{"count":{"type":"integer"},"name":{"type":"string"}},"required":["name"],"additionalProperties":false},"output":null,"reactor":true}` + "\n", ""},
		{"bad output type", func(o, e *bytes.Buffer) int { return printSchemas[echoIn, []int](o, e, false) }, 1,
			"", "output schema: type has no JSON Schema: []int: a structured result must be a JSON object (a struct or a map); return a string for a text result\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := tc.print(&out, &errb)
			if code != tc.wantCode || out.String() != tc.wantStdout || errb.String() != tc.wantStderr {
				t.Fatalf("got %d %q %q\nwant %d %q %q", code, out.String(), errb.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

func ExampleInputSchema() {
	type input struct {
		Path  string `json:"path" desc:"File path relative to /data" jsonschema:"minLength=1,maxLength=1024"`
		Limit int    `json:"limit,omitempty" jsonschema:"minimum=1,maximum=100"`
	}
	s, _ := InputSchema[input]()
	fmt.Println(string(s))
	// Output:
	// {"type":"object","properties":{"limit":{"type":"integer","minimum":1,"maximum":100},"path":{"type":"string","description":"File path relative to /data","minLength":1,"maxLength":1024}},"required":["path"],"additionalProperties":false}
}
