package manifest

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are manifests and fragments the fuzzers start from.
var fuzzSeeds = []string{
	"name = \"t\"\nmodule = \"m.wasm\"\n",
	"name = \"t\"\nmodule = \"m.wasm\"\n[[mount]]\nhost = \"data\"\nguest = \"/data\"\n[[mount]]\nhost = \"data2\"\nguest = \"/data2\"\nmode = \"rw\"\n",
	"name = \"t\"\nmodule = \"m.wasm\"\nmount = [{host = \"data\", guest = \"/a\"}, {host = \"data\", guest = \"/a/b\"}]\n",
	"name = \"t\"\nmodule = \"m.wasm\"\n[limits]\nmemory = \"64KiB\"\ntimeout = \"1ms\"\nmax_input = 1\nmax_output = \"64MiB\"\nmax_concurrency = 1024\n",
	"name = \"t\"\nmodule = \"m.wasm\"\n[input_schema]\ntype = \"object\"\n[input_schema.properties.a]\ntype = \"array\"\nitems = [{type = \"string\"}, 1, 2.5, true]\n",
	"name = \"t\"\nmodule = \"m.wasm\"\noutput_schema_file = \"in.json\"\nresult = \"json\"\n",
	"name = \"t\"\nmodule = \"m.wasm\"\n[env]\nA = \"b\"\nB = { from_host = \"HOME\" }\n[grants]\nclock = true\n[annotations]\nread_only = true\n",
	"name = \"t\"\nmodule = \"m.wasm\"\n\"quoted.key\".x = 1\n[a.\"b c\"]\n[[d]]\n[[d.e]]\n[d.e.f]\n",
	"name = \"t\"\nmodule = \"m.wasm\"\nsha256 = \"93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476\"\n",
	"[server]\nlisten = \"127.0.0.1:8080\"\nallowed_origins = [\"https://a.example\"]\nallowed_hosts = [\"a.example:8080\"]\nmax_body = \"4MiB\"\n[server.tls]\ncert = \"file\"\nkey = \"file\"\n[tools]\ndirs = [\"data\"]\n[sandbox]\ncache_dir = \"c\"\n",
}

// FuzzParse checks that Parse never panics, that every error is an *Error,
// and that every accepted Tool keeps the invariants the sandbox relies on.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	dir := fixture(f)
	file := filepath.Join(dir, "tool.toml")
	f.Fuzz(func(t *testing.T, doc string) {
		tool, err := Parse(file, []byte(doc))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != file {
				t.Fatalf("error %T %v is not an *Error for %s", err, err, file)
			}
			return
		}
		if CheckToolName(tool.Name) != "" {
			t.Errorf("accepted name %q", tool.Name)
		}
		if !filepath.IsAbs(tool.ModulePath) || len(tool.Wasm) < 8 || tool.SHA256 == "" {
			t.Errorf("bad module: %q, %d bytes", tool.ModulePath, len(tool.Wasm))
		}
		for i, m := range tool.Mounts {
			if !filepath.IsAbs(m.Host) || filepath.Clean(m.Host) != m.Host {
				t.Errorf("mount[%d] host %q", i, m.Host)
			}
			if m.Guest == "/" || !strings.HasPrefix(m.Guest, "/") || path.Clean(m.Guest) != m.Guest || !utf8.ValidString(m.Guest) {
				t.Errorf("mount[%d] guest %q", i, m.Guest)
			}
			if st, err := os.Stat(m.Host); err != nil || !st.IsDir() {
				t.Errorf("mount[%d] host %q is not a folder", i, m.Host)
			}
			for j := range i {
				a, b := tool.Mounts[j].Guest, m.Guest
				if a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/") {
					t.Errorf("mounts %d and %d overlap: %q, %q", j, i, a, b)
				}
			}
		}
		for i, e := range tool.Env {
			if !isEnvName(e.Name) || strings.IndexByte(e.Value, 0) >= 0 || (i > 0 && tool.Env[i-1].Name >= e.Name) {
				t.Errorf("env[%d] = %q", i, e.Name)
			}
		}
		l := tool.Limits
		if l.Memory < minMemory || l.Memory > maxMemory || l.Memory%pageSize != 0 ||
			l.Timeout < minTimeout || l.Timeout > maxTimeout ||
			l.MaxInput < minIO || l.MaxInput > maxIO || l.MaxOutput < minIO || l.MaxOutput > maxIO ||
			l.MaxConcurrency < minConcurrency || l.MaxConcurrency > maxConcurrency {
			t.Errorf("limits out of bounds: %+v", l)
		}
		for _, s := range [][]byte{tool.InputSchema, tool.OutputSchema} {
			if s != nil && checkJSONObject(s) != "" {
				t.Errorf("schema is not one JSON object: %s", s)
			}
		}
		if tool.InputSchema == nil {
			t.Error("no input schema")
		}
		switch tool.Result {
		case ResultText, ResultJSON, ResultContent:
		default:
			t.Errorf("result mode %q", tool.Result)
		}
		if tool.Result == ResultJSON && tool.OutputSchema == nil {
			t.Error(`result "json" without an output schema`)
		}
	})
}

// FuzzParseConfig checks that ParseConfig never panics, that every error is
// an *Error, and that an accepted Config is within bounds.
func FuzzParseConfig(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	dir := fixture(f)
	file := filepath.Join(dir, "moat.toml")
	f.Fuzz(func(t *testing.T, doc string) {
		c, err := ParseConfig(file, []byte(doc))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != file {
				t.Fatalf("error %T %v is not an *Error for %s", err, err, file)
			}
			return
		}
		if checkListen(c.Listen) != "" || c.MaxBodyBytes < minMaxBody || c.MaxBodyBytes > maxMaxBody {
			t.Errorf("accepted %+v", c)
		}
		if (c.TLSCert == "") != (c.TLSKey == "") {
			t.Errorf("TLS cert %q without key %q", c.TLSCert, c.TLSKey)
		}
		for _, o := range c.AllowedOrigins {
			if checkOrigin(o) != "" {
				t.Errorf("accepted origin %q", o)
			}
		}
		for _, h := range c.AllowedHosts {
			if checkHostHeader(h) != "" {
				t.Errorf("accepted host %q", h)
			}
		}
		for _, d := range append(c.ManifestDirs, c.CacheDir) {
			if d != "" && !filepath.IsAbs(d) {
				t.Errorf("relative path %q", d)
			}
		}
	})
}

// FuzzParentPath checks that the ancestor walk used to position errors
// always terminates by shortening the path.
func FuzzParentPath(f *testing.F) {
	for _, s := range []string{"a.b", `env."A B".x`, "mount[1].guest", `"\"".x`, `a."b\\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p := parentPath(s); len(p) >= len(s) && s != "" {
			t.Errorf("parentPath(%q) = %q", s, p)
		}
	})
}

// largeManifest has n sibling tables of two keys each under
// input_schema.properties: the shape that makes go-toml's duplicate
// tracking quadratic.
func largeManifest(n int) []byte {
	var sb strings.Builder
	sb.WriteString("name = \"t\"\nmodule = \"m.wasm\"\n[input_schema]\ntype = \"object\"\n")
	for i := range n {
		sb.WriteString("[input_schema.properties.p" + strconv.Itoa(i) + "]\ntype = \"string\"\nmaxLength = 10\n")
	}
	return []byte(sb.String())
}

func TestTooManyKeys(t *testing.T) {
	dir := fixture(t)
	file := filepath.Join(dir, "tool.toml")
	if _, err := Parse(file, largeManifest(3300)); err != nil {
		t.Errorf("3,300 properties: %v", err)
	}
	_, err := Parse(file, largeManifest(3400))
	if want := file + ": 10204 keys and tables; the limit is 10000"; err == nil || err.Error() != want || !errors.Is(err, ErrTooLarge) {
		t.Errorf("got %v, want %s", err, want)
	}
}

// BenchmarkParseLarge parses a manifest at the key cap, in the shape that
// is slowest to decode.
func BenchmarkParseLarge(b *testing.B) {
	dir := fixture(b)
	doc := largeManifest(3300)
	file := filepath.Join(dir, "tool.toml")
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := Parse(file, doc); err != nil {
			b.Fatal(err)
		}
	}
}
