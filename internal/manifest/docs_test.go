package manifest

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// sections lists, for the struct type t decoded at path, the plain keys of
// each TOML table (keys holding tables are tables of their own).
func sections(t reflect.Type, path string, out map[string][]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	keys := tomlKeys(t)
	if _, ok := out[path]; !ok {
		out[path] = nil // a table with no plain keys is still a section
	}
	for _, k := range keys.names {
		ft := t.Field(keys.index[k]).Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && hasTOMLFields(ft) {
			sections(ft, strings.TrimPrefix(path+"."+k, "."), out)
			continue
		}
		out[path] = append(out[path], k)
	}
}

// TestConfigDocsMatchDecoder checks that docs/config.md documents every
// key of every moat.toml table the decoder knows, and no other: each
// "## `[section]`" heading's table rows start with the backticked key.
func TestConfigDocsMatchDecoder(t *testing.T) {
	md, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Skip("docs not found")
	}
	heading := regexp.MustCompile("^#{2,3} `\\[{1,2}([a-z_.]+)\\]{1,2}`")
	row := regexp.MustCompile("^\\| (`[a-z_]+`(?: / `[a-z_]+`)*) \\|")
	documented := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(md), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			section = m[1]
			if _, ok := documented[section]; !ok {
				documented[section] = nil
			}
			continue
		}
		if strings.HasPrefix(line, "## ") {
			section = ""
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && section != "" {
			for _, k := range strings.Split(m[1], " / ") {
				documented[section] = append(documented[section], strings.Trim(k, "`"))
			}
		}
	}
	decoded := map[string][]string{}
	sections(reflect.TypeFor[configFile](), "", decoded)
	delete(decoded, "") // the top level holds only tables
	for s := range decoded {
		want, got := slices.Clone(decoded[s]), slices.Clone(documented[s])
		sort.Strings(want)
		sort.Strings(got)
		if _, ok := documented[s]; !ok {
			t.Errorf("[%s] is not documented in docs/config.md", s)
		} else if !slices.Equal(want, got) {
			t.Errorf("[%s]: decoder keys %v, documented %v", s, want, got)
		}
	}
	for s := range documented {
		if _, ok := decoded[s]; !ok {
			t.Errorf("docs/config.md documents [%s], which the decoder does not know", s)
		}
	}
}

// TestExampleConfig decodes docs/moat.example.toml, which points at the
// repository's manifests folder.
func TestExampleConfig(t *testing.T) {
	p := filepath.Join("..", "..", "docs", "moat.example.toml")
	if _, err := os.Stat(p); err != nil {
		t.Skip("docs not found")
	}
	if _, err := LoadConfig(p); err != nil {
		t.Error(err)
	}
}
