package manifest

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// changeBase is a manifest that sets every key a manifest may have.
const changeBase = `name = "t"
title = "T"
description = "D"
module = "m.wasm"
sha256 = "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"
result = "json"
input_schema_file = "in.json"
output_schema_file = "out.json"
required_scopes = ["a"]
client_capabilities = ["sampling"]
isolation = "per-call"
[annotations]
read_only = true
destructive = false
idempotent = true
open_world = false
[[mount]]
host = "data"
guest = "/data"
mode = "ro"
[env]
A = "1"
[grants]
clock = true
random = false
[net]
allow = ["a.test"]
methods = ["GET"]
http_hosts = ["h.test"]
allow_ips = ["10.0.0.0/8"]
max_request = "1KiB"
max_response = "2KiB"
timeout = "3s"
max_redirects = 2
[[net.header]]
host = "x.test"
name = "X-Key"
value = { env = "MOAT_TEST_HDR" }
[limits]
memory = "1MiB"
timeout = "1s"
max_input = "1KiB"
max_output = "1KiB"
max_concurrency = 2
rate = "10/s"
rate_all = "100/s"
`

// changeVariants change one key of changeBase each, by text replacements
// (old, new, old, new, ...). Their names are the keys' field paths, array
// indexes left out; TestEveryManifestKeyIsAChange checks that the names are
// exactly the keys toolFile decodes.
var changeVariants = map[string][]string{
	"name":        {`name = "t"`, `name = "u"`},
	"title":       {`title = "T"`, `title = "U"`},
	"description": {`description = "D"`, `description = "E"`},
	"module":      {`module = "m.wasm"`, `module = "m2.wasm"`, "sha256 = \"93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476\"\n", ""},
	"sha256":      {"sha256 = \"93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476\"\n", ""},
	"language":    {`name = "t"`, "name = \"t\"\nlanguage = \"c\""},
	// signed_by needs an oci:// module; TestSignedByIsAChange changes it alone.
	"signed_by": {`module = "m.wasm"`, `module = "oci://127.0.0.1:5000/t@sha256:` + strings.Repeat("0", 64) + `"` + "\nsigned_by = [\"in2.json\"]",
		"sha256 = \"93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476\"\n", ""},
	"result":                  {`result = "json"`, `result = "content"`},
	"input_schema":            {`input_schema_file = "in.json"`, `input_schema = { type = "object" }`},
	"input_schema_file":       {`input_schema_file = "in.json"`, `input_schema_file = "in2.json"`},
	"output_schema":           {`output_schema_file = "out.json"`, `output_schema = { type = "object" }`},
	"output_schema_file":      {`output_schema_file = "out.json"`, `output_schema_file = "out2.json"`},
	"required_scopes":         {`required_scopes = ["a"]`, `required_scopes = ["b"]`},
	"client_capabilities":     {`client_capabilities = ["sampling"]`, `client_capabilities = ["elicitation"]`},
	"isolation":               {`isolation = "per-call"`, `isolation = "shared"`},
	"annotations.read_only":   {`read_only = true`, `read_only = false`},
	"annotations.destructive": {`destructive = false`, `destructive = true`},
	"annotations.idempotent":  {`idempotent = true`, `idempotent = false`},
	"annotations.open_world":  {`open_world = false`, `open_world = true`},
	"mount.host":              {`host = "data"`, `host = "data2"`},
	"mount.guest":             {`guest = "/data"`, `guest = "/other"`},
	"mount.mode":              {`mode = "ro"`, `mode = "rw"`},
	"env":                     {`A = "1"`, `A = "2"`},
	"grants.clock":            {`clock = true`, `clock = false`},
	"grants.random":           {`random = false`, `random = true`},
	"net.allow":               {`allow = ["a.test"]`, `allow = ["a.test", "b.test"]`},
	"net.methods":             {`methods = ["GET"]`, `methods = ["GET", "POST"]`},
	"net.http_hosts":          {`http_hosts = ["h.test"]`, `http_hosts = ["h2.test"]`},
	"net.allow_ips":           {`allow_ips = ["10.0.0.0/8"]`, `allow_ips = ["10.0.0.0/16"]`},
	"net.max_request":         {`max_request = "1KiB"`, `max_request = "2KiB"`},
	"net.max_response":        {`max_response = "2KiB"`, `max_response = "3KiB"`},
	"net.timeout":             {`timeout = "3s"`, `timeout = "4s"`},
	"net.max_redirects":       {`max_redirects = 2`, `max_redirects = 0`},
	"net.header.host":         {`host = "x.test"`, `host = "y.test"`},
	"net.header.name":         {`name = "X-Key"`, `name = "X-Other"`},
	"net.header.value.env":    {`{ env = "MOAT_TEST_HDR" }`, `{ env = "MOAT_TEST_HDR2" }`},
	"net.header.value.file":   {`{ env = "MOAT_TEST_HDR" }`, `{ file = "secret" }`},
	"limits.memory":           {`memory = "1MiB"`, `memory = "2MiB"`},
	"limits.timeout":          {`timeout = "1s"`, `timeout = "2s"`},
	"limits.max_input":        {`max_input = "1KiB"`, `max_input = "2KiB"`},
	"limits.max_output":       {`max_output = "1KiB"`, `max_output = "2KiB"`},
	"limits.max_concurrency":  {`max_concurrency = 2`, `max_concurrency = 3`},
	"limits.rate":             {`rate = "10/s"`, `rate = "20/s"`},
	"limits.rate_all":         {`rate_all = "100/s"`, `rate_all = "200/s"`},
}

// TestEveryManifestKeyIsAChange changes every key a manifest may have, in
// turn, and checks that Tool.Digest sees it: a reload comparing digests
// cannot keep serving a tool whose grant was narrowed. The keys come from
// the decoder's struct by reflection, so a new key without a case here
// fails the test.
func TestEveryManifestKeyIsAChange(t *testing.T) {
	tables := map[string][]string{}
	sections(reflectTypeOfToolFile(), "", tables)
	var keys []string
	for s, ks := range tables {
		for _, k := range ks {
			keys = append(keys, strings.TrimPrefix(s+"."+k, "."))
		}
	}
	var cases []string
	for k := range changeVariants {
		cases = append(cases, k)
	}
	sort.Strings(keys)
	sort.Strings(cases)
	if !slices.Equal(keys, cases) {
		t.Fatalf("manifest keys %v\nhave cases %v", keys, cases)
	}

	dir := fixture(t)
	for name, content := range map[string]string{
		"m2.wasm":   minimalWasm + "\x00",
		"in2.json":  `{"type":"object","required":["r"]}`,
		"out.json":  `{"type":"object"}`,
		"out2.json": `{"type":"object","required":["o"]}`,
		"secret":    "from a file",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("MOAT_TEST_HDR", "one")
	t.Setenv("MOAT_TEST_HDR2", "two")
	file := filepath.Join(dir, "t.toml")
	base, err := Parse(file, []byte(changeBase))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range cases {
		t.Run(key, func(t *testing.T) {
			r := changeVariants[key]
			doc := changeBase
			for i := 0; i < len(r); i += 2 {
				if strings.Count(doc, r[i]) != 1 {
					t.Fatalf("%q is not once in the base manifest", r[i])
				}
				doc = strings.Replace(doc, r[i], r[i+1], 1)
			}
			changed, err := Parse(file, []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if changed.Digest == base.Digest {
				t.Errorf("changing %s leaves the digest %s", key, base.Digest)
			}
		})
	}
}

func reflectTypeOfToolFile() reflect.Type { return reflect.TypeFor[toolFile]() }

// TestSignedByIsAChange: another publisher key, or the same path with
// other bytes, is another tool; and an oci:// module must name a digest.
func TestSignedByIsAChange(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.pub"), []byte("key a"), 0o600)
	os.WriteFile(filepath.Join(dir, "b.pub"), []byte("key b"), 0o600)
	file := filepath.Join(dir, "t.toml")
	ref := `oci://127.0.0.1:5000/acme/t@sha256:` + strings.Repeat("ab", 32)
	parse := func(body string) (*Tool, error) {
		return Parse(file, []byte("name = \"t\"\nmodule = \""+ref+"\"\n"+body))
	}
	a, err := parse(`signed_by = ["a.pub"]`)
	if err != nil {
		t.Fatal(err)
	}
	if a.ModuleRef != ref || len(a.Wasm) != 0 || len(a.SignedBy) != 1 || !slices.Contains(a.Files, filepath.Join(dir, "a.pub")) {
		t.Fatalf("parsed %+v", a)
	}
	b, err := parse(`signed_by = ["b.pub"]`)
	if err != nil || b.Digest == a.Digest {
		t.Fatalf("another key: %v, same digest %v", err, b != nil && b.Digest == a.Digest)
	}
	os.WriteFile(filepath.Join(dir, "a.pub"), []byte("key a, rotated"), 0o600)
	if a2, err := parse(`signed_by = ["a.pub"]`); err != nil || a2.Digest == a.Digest {
		t.Fatalf("same path, other bytes: %v", err)
	}
	for _, tc := range []struct{ body, module, want string }{
		{"", `oci://127.0.0.1:5000/acme/t:v1`, "names no digest"},
		{"", `oci://127.0.0.1:5000/acme/t@sha256:ABC`, "64 lower-case hexadecimal"},
		{"", `oci://noslash@sha256:` + strings.Repeat("a", 64), "is not oci://"},
		{`sha256 = "` + strings.Repeat("a", 64) + `"`, ref, "the digest in the reference pins"},
		{`signed_by = ["gone.pub"]`, ref, "does not exist"},
	} {
		_, err := Parse(file, []byte("name = \"t\"\nmodule = \""+tc.module+"\"\n"+tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "t.toml:") {
			t.Errorf("module %s %s: %v, want %q", tc.module, tc.body, err, tc.want)
		}
	}
	// signed_by with a module file: refused.
	os.WriteFile(filepath.Join(dir, "m.wasm"), []byte(minimalWasm), 0o600)
	if _, err := Parse(file, []byte("name = \"t\"\nmodule = \"m.wasm\"\nsigned_by = [\"b.pub\"]\n")); err == nil || !strings.Contains(err.Error(), "signed_by: needs module") {
		t.Errorf("signed_by with a file module: %v", err)
	}
}
