package manifest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestEditTopLevel(t *testing.T) {
	edits := []Edit{
		{Key: "sha256", Value: "abc"},
		{Key: "input_schema_file", Value: "t.input.json"},
		{Key: "output_schema_file", Value: "t.output.json"},
	}
	noOutput := []Edit{edits[0], edits[1], {Key: "output_schema_file", Value: "t.output.json", Remove: true}}
	tests := []struct {
		name  string
		in    string
		edits []Edit
		want  string
	}{
		{"added after module, aligned",
			"# c\nname   = \"t\"\nmodule = \"t.wasm\" # the module\n\n[limits]\ntimeout = \"1s\"\n", edits,
			"# c\nname   = \"t\"\nmodule = \"t.wasm\" # the module\nsha256 = \"abc\"\ninput_schema_file = \"t.input.json\"\noutput_schema_file = \"t.output.json\"\n\n[limits]\ntimeout = \"1s\"\n"},
		{"replaced in place, comments kept",
			"module = 't.wasm'\nsha256 = \"old\"   # pin\ndescription = \"\"\"\n[not a table]\nsha256 = \"x\"\n\"\"\"\ninput_schema_file = 'in.json' # mine\noutput_schema_file = \"o.json\"\n[limits]\nsha256 = \"not top level\"\n", edits,
			"module = 't.wasm'\nsha256 = \"abc\"   # pin\ndescription = \"\"\"\n[not a table]\nsha256 = \"x\"\n\"\"\"\ninput_schema_file = \"t.input.json\" # mine\noutput_schema_file = \"t.output.json\"\n[limits]\nsha256 = \"not top level\"\n"},
		{"output schema removed for a text tool",
			"module = \"t.wasm\"\nsha256 = \"abc\"\ninput_schema_file = \"t.input.json\"\noutput_schema_file = \"t.output.json\" # gone\nname = \"t\"\n", noOutput,
			"module = \"t.wasm\"\nsha256 = \"abc\"\ninput_schema_file = \"t.input.json\"\nname = \"t\"\n"},
		{"unchanged", "module = \"t.wasm\"\nsha256 = \"abc\"\ninput_schema_file = \"t.input.json\"\n", noOutput,
			"module = \"t.wasm\"\nsha256 = \"abc\"\ninput_schema_file = \"t.input.json\"\n"},
		{"module on the last line without a newline", "module = \"t.wasm\"", edits[:1], "module = \"t.wasm\"\nsha256 = \"abc\"\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EditTopLevel([]byte(tc.in), tc.edits)
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %v\n%s\nwant\n%s", err, got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, in, want string }{
		{"not a string", "module = \"t.wasm\"\nsha256 = 5\n", "sha256 is not a string"},
		{"no module", "name = \"t\"\n", "no top-level module to add sha256 after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := EditTopLevel([]byte(tc.in), edits); err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseSkim(t *testing.T) {
	got, err := ParseSkim([]byte("name = \"t\"\nmodule = \"t.wasm\"\nsha256 = \"abc\"\noutput_schema_file = \"o.json\"\n[input_schema]\ntype = \"object\"\n[limits]\nbogus = 1\n"))
	want := &Skim{Module: "t.wasm", SHA256: "abc", InputSchema: map[string]any{"type": "object"}, OutputSchemaFile: "o.json"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseSkim = %+v, %v; want %+v", got, err, want)
	}
	if _, err := ParseSkim([]byte("module = \"a\"\nmodule = \"b\"\n")); err == nil || !strings.Contains(err.Error(), "already defined") {
		t.Errorf("duplicate key: %v", err)
	}
	if _, err := ParseSkim([]byte(strings.Repeat("#", maxManifestBytes+1))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the cap: %v", err)
	}
}

// FuzzEditTopLevel: EditTopLevel never panics, and when it edits a valid
// document the result is valid TOML whose top-level keys hold the edits.
func FuzzEditTopLevel(f *testing.F) {
	for _, s := range []string{
		"module = \"t.wasm\"\n", "module = 't.wasm' # c\nsha256 = \"x\"\n[limits]\n", "module = \"\"\"\na\n\"\"\"\n",
		"name = \"t\"\nmodule = \"m\"\noutput_schema_file = \"o\"\n", "a.module = 1\nmodule = \"m\"", "module = \"m\"\r\n",
	} {
		f.Add(s)
	}
	edits := []Edit{{Key: "sha256", Value: "abc"}, {Key: "input_schema_file", Value: "i.json"}, {Key: "output_schema_file", Remove: true}}
	f.Fuzz(func(t *testing.T, doc string) {
		out, err := EditTopLevel([]byte(doc), edits)
		if err != nil {
			return
		}
		if _, err := ParseSkim([]byte(doc)); err != nil {
			return // the input was not TOML to begin with
		}
		s, err := ParseSkim(out)
		if err != nil {
			t.Fatalf("EditTopLevel(%q) = %q, which does not parse: %v", doc, out, err)
		}
		if s.SHA256 != "abc" || s.InputSchemaFile != "i.json" || s.OutputSchemaFile != "" {
			t.Fatalf("EditTopLevel(%q) = %q: %+v", doc, out, s)
		}
	})
}
