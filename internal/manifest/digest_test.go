package manifest

import (
	"encoding"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fill sets every field reachable from v (addressable) to a non-zero
// value: slices and maps get one element, pointers a filled target. Fields
// tagged digest:"-" are left alone.
func fill(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)))
		return
	}
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok && v.Kind() == reflect.Struct {
			// Opaque vocabulary types (Rate): a valid non-zero value.
			if err := u.UnmarshalText([]byte(sampleText(v.Type()))); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("a")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0), path+"[0]")
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		e := reflect.New(v.Type().Elem()).Elem()
		fill(t, e, path+"[k]")
		m.SetMapIndex(reflect.ValueOf("k").Convert(v.Type().Key()), e)
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			if sf.Tag.Get("digest") == "-" {
				continue
			}
			if !sf.IsExported() {
				t.Fatalf("%s.%s: unexported field in a digested struct", path, sf.Name)
			}
			fill(t, v.Field(i), path+"."+sf.Name)
		}
	case reflect.Func:
		// Tool.Line: tagged digest:"-", never reached.
	default:
		t.Fatalf("%s: fill does not know kind %s", path, v.Kind())
	}
}

func sampleText(t reflect.Type) string {
	if t == reflect.TypeFor[Rate]() {
		return "10/s burst 20"
	}
	return "a"
}

// leaf is one field reachable from the root, and how to change it.
type leaf struct {
	path   string
	mutate func(root reflect.Value) // changes the leaf in root (a copy)
}

// leaves lists every leaf under the value at get(root), depth first.
func leaves(t *testing.T, typ reflect.Type, path string, get func(reflect.Value) reflect.Value) []leaf {
	t.Helper()
	if typ == reflect.TypeFor[time.Time]() {
		return []leaf{{path, func(r reflect.Value) { v := get(r); v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Second))) }}}
	}
	if reflect.PointerTo(typ).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) && typ.Kind() == reflect.Struct {
		return []leaf{{path, func(r reflect.Value) {
			u := get(r).Addr().Interface().(encoding.TextUnmarshaler)
			if err := u.UnmarshalText([]byte("7/min")); err != nil {
				t.Fatal(err)
			}
		}}}
	}
	switch typ.Kind() {
	case reflect.String:
		return []leaf{{path, func(r reflect.Value) { v := get(r); v.SetString(v.String() + "x") }}}
	case reflect.Bool:
		return []leaf{{path, func(r reflect.Value) { v := get(r); v.SetBool(!v.Bool()) }}}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return []leaf{{path, func(r reflect.Value) { v := get(r); v.SetInt(v.Int() + 1) }}}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return []leaf{{path, func(r reflect.Value) { v := get(r); v.SetUint(v.Uint() + 1) }}}
	case reflect.Float32, reflect.Float64:
		return []leaf{{path, func(r reflect.Value) { v := get(r); v.SetFloat(v.Float() + 1) }}}
	case reflect.Pointer:
		out := []leaf{{path + "(nil)", func(r reflect.Value) { v := get(r); v.Set(reflect.Zero(v.Type())) }}}
		return append(out, leaves(t, typ.Elem(), path, func(r reflect.Value) reflect.Value { return get(r).Elem() })...)
	case reflect.Slice:
		out := []leaf{
			{path + "(nil)", func(r reflect.Value) { v := get(r); v.Set(reflect.Zero(v.Type())) }},
			{path + "(one more)", func(r reflect.Value) { v := get(r); v.Set(reflect.Append(v, v.Index(0))) }},
		}
		return append(out, leaves(t, typ.Elem(), path+"[0]", func(r reflect.Value) reflect.Value { return get(r).Index(0) })...)
	case reflect.Map:
		out := []leaf{{path + "(key)", func(r reflect.Value) {
			v := get(r)
			k := v.MapKeys()[0]
			e := v.MapIndex(k)
			v.SetMapIndex(k, reflect.Value{})
			v.SetMapIndex(reflect.ValueOf(k.String()+"x").Convert(k.Type()), e)
		}}}
		// A map element is not addressable: its leaves are found relative
		// to a copy of it, changed there and stored back.
		for _, l := range leaves(t, typ.Elem(), path+"[k]", func(e reflect.Value) reflect.Value { return e }) {
			out = append(out, leaf{l.path, func(r reflect.Value) {
				m := get(r)
				k := m.MapKeys()[0]
				e := reflect.New(typ.Elem()).Elem()
				e.Set(deepCopy(m.MapIndex(k)))
				l.mutate(e)
				m.SetMapIndex(k, e)
			}})
		}
		return out
	case reflect.Struct:
		var out []leaf
		for i := 0; i < typ.NumField(); i++ {
			sf := typ.Field(i)
			if sf.Tag.Get("digest") == "-" {
				continue
			}
			i := i
			out = append(out, leaves(t, sf.Type, path+"."+sf.Name, func(r reflect.Value) reflect.Value { return get(r).Field(i) })...)
		}
		return out
	}
	t.Fatalf("%s: kind %s is not supported by the digest (tag it digest:\"-\" or teach digestValue)", path, typ.Kind())
	return nil
}

// deepCopy copies v (a struct value) so that mutating the copy leaves v
// alone: slices, maps and pointers are copied too.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(deepCopy(v.Elem()))
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(deepCopy(v.Index(i)))
		}
		return c
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeMap(v.Type())
		for _, k := range v.MapKeys() {
			c.SetMapIndex(k, deepCopy(v.MapIndex(k)))
		}
		return c
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v) // copies unexported fields (Rate) too
		for i := 0; i < v.NumField(); i++ {
			if c.Field(i).CanSet() {
				c.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return c
	}
	return v
}

// checkCoversEveryField fills a value of type T, then changes each leaf in
// turn on a copy and checks that digest sees it. Map elements are
// mutated through a copy (map values are not addressable).
func checkCoversEveryField[T any](t *testing.T, digest func(*T) string) {
	var full T
	fill(t, reflect.ValueOf(&full).Elem(), reflect.TypeFor[T]().Name())
	base := digest(&full)
	ls := leaves(t, reflect.TypeFor[T](), reflect.TypeFor[T]().Name(), func(r reflect.Value) reflect.Value { return r })
	if len(ls) < 10 {
		t.Fatalf("only %d leaves: the walk is broken", len(ls))
	}
	for _, l := range ls {
		c := deepCopy(reflect.ValueOf(full))
		root := reflect.New(c.Type()).Elem()
		root.Set(c)
		l.mutate(root)
		cp := root.Interface().(T)
		if digest(&cp) == base {
			t.Errorf("changing %s does not change the digest", l.path)
		}
		if digest(&full) != base {
			t.Fatalf("changing %s changed the original: the test's copy is shallow", l.path)
		}
	}
	t.Logf("%d leaves of %s covered", len(ls), reflect.TypeFor[T]())
}

// TestDigestCoversEveryField walks Tool by reflection (into structs,
// slices, pointers and maps) and checks that changing any field but those
// tagged digest:"-" changes Tool.Digest. A field the digest cannot encode
// fails here (digestValue panics, or leaves refuses its kind).
func TestDigestCoversEveryField(t *testing.T) {
	checkCoversEveryField(t, func(tool *Tool) string { return digestOf(tool, nil) })
}

// TestConfigDigestCoversEveryField is the same for Config and KeyConfig.
func TestConfigDigestCoversEveryField(t *testing.T) {
	checkCoversEveryField(t, func(c *Config) string { return digestOf(c, nil) })
	checkCoversEveryField(t, func(k *KeyConfig) string { return k.Digest() })
}

// TestDigestExcludes pins the fields that are not in the digest, so that
// excluding one more is a visible change.
func TestDigestExcludes(t *testing.T) {
	for _, c := range []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[Tool](), "File Wasm Line Digest"},
		{reflect.TypeFor[Config](), "File Digest"},
	} {
		var got []string
		for i := 0; i < c.typ.NumField(); i++ {
			if c.typ.Field(i).Tag.Get("digest") == "-" {
				got = append(got, c.typ.Field(i).Name)
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: fields outside the digest: %v, want %s", c.typ, got, c.want)
		}
	}
}

// TestDigestSecretsHashed checks that a secret reaches the digest input
// only hashed: two Tools whose env values differ have different digests,
// and the clear value is not in the encoding.
func TestDigestSecretsHashed(t *testing.T) {
	var buf recorder
	tool := &Tool{Env: []EnvVar{{Name: "TOKEN", Value: "hunter2hunter2"}},
		Net: &NetGrant{Allow: []string{"a.test"}, Headers: []NetHeader{{Host: "a.test", Name: "A", Value: "s3cr3t-s3cr3t"}}}}
	digestValue(&buf, reflect.ValueOf(tool), false)
	if s := string(buf.b); strings.Contains(s, "hunter2hunter2") || strings.Contains(s, "s3cr3t-s3cr3t") {
		t.Errorf("the digest input holds a secret in the clear")
	}
	if !strings.Contains(string(buf.b), "TOKEN") {
		t.Errorf("the digest input lacks the variable's name")
	}
}

// recorder is a hash.Hash that keeps what is written.
type recorder struct{ b []byte }

func (r *recorder) Write(p []byte) (int, error) { r.b = append(r.b, p...); return len(p), nil }
func (r *recorder) Sum(b []byte) []byte         { return b }
func (r *recorder) Reset()                      { r.b = nil }
func (r *recorder) Size() int                   { return 0 }
func (r *recorder) BlockSize() int              { return 1 }

// TestDigestFiles checks that the bytes of every referenced file are in
// the digest (a schema file whose JSON means the same but is written
// differently still counts: the reload re-reads it), and that Files lists
// them.
func TestDigestFiles(t *testing.T) {
	dir := fixture(t)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secret", "s1\n")
	write("out.json", `{"type":"object"}`)
	t.Setenv("MOAT_TEST_DIGEST", "v1")
	file := filepath.Join(dir, "t.toml")
	src := `name = "t"
module = "m.wasm"
input_schema_file = "in.json"
output_schema_file = "out.json"
[env]
A = { from_host = "MOAT_TEST_DIGEST" }
[net]
allow = ["a.test"]
[[net.header]]
host = "a.test"
name = "X-Key"
value = { file = "secret" }
`
	parse := func() *Tool {
		t.Helper()
		tool, err := Parse(file, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return tool
	}
	first := parse()
	wantFiles := []string{file, filepath.Join(dir, "m.wasm"), filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json"), filepath.Join(dir, "secret")}
	if !reflect.DeepEqual(first.Files, wantFiles) {
		t.Errorf("Files = %q, want %q", first.Files, wantFiles)
	}
	if again := parse(); again.Digest != first.Digest {
		t.Fatalf("the same files give digests %s and %s", first.Digest, again.Digest)
	}
	for _, c := range []struct {
		name   string
		change func()
	}{
		{"schema file bytes", func() { write("in.json", "{\"type\": \"object\",\n  \"required\": [\"q\"]}\n") }},
		{"schema file meaning", func() { write("out.json", `{"type":"object","required":["x"]}`) }},
		{"secret file", func() { write("secret", "s2\n") }},
		{"host variable", func() { t.Setenv("MOAT_TEST_DIGEST", "v2") }},
		{"module", func() { write("m.wasm", minimalWasm+"\x00") }},
	} {
		before := parse().Digest
		c.change()
		if after := parse().Digest; after == before {
			t.Errorf("%s: digest unchanged (%s)", c.name, after)
		}
	}
	if s := fmt.Sprintf("%v %+v", first, first.Net); strings.Contains(s, "s1") && strings.Contains(s, "Value:s1") {
		t.Errorf("printing the tool shows the secret")
	}
}

// TestConfigDigestFiles checks Config.Files and that the TLS and JWKS
// files' bytes are in Config.Digest.
func TestConfigDigestFiles(t *testing.T) {
	dir := configFixture(t)
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), []byte(`{"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "moat.toml")
	src := "[server.tls]\ncert = \"certs/cert.pem\"\nkey = \"certs/key.pem\"\n[auth]\nresource_url = \"https://x.test/mcp\"\n[auth.jwt]\nissuer = \"https://as.test\"\njwks_file = \"jwks.json\"\n"
	parse := func() *Config {
		t.Helper()
		c, err := ParseConfig(file, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := parse()
	want := []string{file, filepath.Join(dir, "jwks.json"), filepath.Join(dir, "certs", "cert.pem"), filepath.Join(dir, "certs", "key.pem")}
	if !reflect.DeepEqual(c.Files, want) {
		t.Errorf("Files = %q, want %q", c.Files, want)
	}
	for _, name := range []string{"certs/cert.pem", "certs/key.pem", "jwks.json"} {
		before := parse().Digest
		if err := os.WriteFile(filepath.Join(dir, name), []byte("changed"), 0o600); err != nil {
			t.Fatal(err)
		}
		if parse().Digest == before {
			t.Errorf("changing %s does not change the digest", name)
		}
	}
}
