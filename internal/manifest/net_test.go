package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const netSecret = "ghp_NotARealTokenButSecret123"

func TestParseNet(t *testing.T) {
	dir := fixture(t)
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(netSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MOAT_TEST_TOKEN", netSecret)
	src := `name = "t"
module = "m.wasm"

[net]
allow = ["api.github.com", "*.example.com:8443", "127.0.0.1:8080"]
methods = ["GET", "POST"]
http_hosts = ["127.0.0.1:8080"]
allow_ips = ["127.0.0.1", "10.0.0.0/8"]
max_request = "1KiB"
max_response = "2MiB"
timeout = "3s"
max_redirects = 0

[[net.header]]
host = "api.github.com"
name = "Authorization"
value = { env = "MOAT_TEST_TOKEN" }

[[net.header]]
host = "*.example.com:8443"
name = "X-Api-Key"
value = { file = "token" }
`
	tool, err := Parse(filepath.Join(dir, "t.toml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := &NetGrant{
		Allow:        []string{"api.github.com", "*.example.com:8443", "127.0.0.1:8080"},
		Methods:      []string{"GET", "POST"},
		HTTPHosts:    []string{"127.0.0.1:8080"},
		AllowIPs:     []string{"127.0.0.1", "10.0.0.0/8"},
		MaxRequest:   1 << 10,
		MaxResponse:  2 << 20,
		Timeout:      3 * time.Second,
		MaxRedirects: 0,
		Headers: []NetHeader{
			{Host: "api.github.com", Name: "Authorization", Value: netSecret, From: "env MOAT_TEST_TOKEN"},
			{Host: "*.example.com:8443", Name: "X-Api-Key", Value: netSecret, From: "file " + filepath.Join(dir, "token")},
		},
	}
	if !reflect.DeepEqual(tool.Net, want) {
		t.Errorf("net = %+v\nwant  %+v", tool.Net, want)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", tool.Net, *tool.Net, tool.Net.Headers, tool.Net.Headers[0].Value); strings.Contains(s, netSecret) {
		t.Errorf("printing the grant shows the secret: %s", s)
	}
	if tool.Line("net.header[1].value") != 22 {
		t.Errorf("line of net.header[1].value = %d", tool.Line("net.header[1].value"))
	}

	// Defaults.
	tool, err = Parse(filepath.Join(dir, "t.toml"), []byte("name = \"t\"\nmodule = \"m.wasm\"\n[net]\nallow = [\"example.com\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want = &NetGrant{Allow: []string{"example.com"}, Methods: []string{"GET"}, MaxRequest: 64 << 10, MaxResponse: 1 << 20, Timeout: 10 * time.Second, MaxRedirects: 3}
	if !reflect.DeepEqual(tool.Net, want) {
		t.Errorf("defaults = %+v, want %+v", tool.Net, want)
	}
	// No [net]: no network.
	if tool, err = Parse(filepath.Join(dir, "t.toml"), []byte("name = \"t\"\nmodule = \"m.wasm\"\n")); err != nil || tool.Net != nil {
		t.Errorf("without [net]: %+v, %v", tool.Net, err)
	}
}

func TestParseNetErrors(t *testing.T) {
	dir := fixture(t)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("crlf", netSecret+"\r\nX-Evil: 1")
	write("empty", "")
	t.Setenv("MOAT_TEST_TOKEN", netSecret)
	t.Setenv("MOAT_TEST_BAD_TOKEN", netSecret+"\nX-Evil: 1")
	t.Setenv("MOAT_TEST_UNSET_VAR", "")
	os.Unsetenv("MOAT_TEST_UNSET_VAR")
	// base: lines 1–4; cases add from line 5.
	const base = "name = \"t\"\nmodule = \"m.wasm\"\n[net]\nallow = [\"api.test\"]\n"
	header := func(value string) string {
		return "[[net.header]]\nhost = \"api.test\"\nname = \"Authorization\"\nvalue = " + value + "\n"
	}
	for _, tc := range []struct {
		name, toml string
		line       int
		field      string
		sentinel   error
		msg        string
	}{
		{"no allow", "name = \"t\"\nmodule = \"m.wasm\"\n[net]\n", 3, "net.allow", ErrMissing, "required"},
		{"empty allow", "name = \"t\"\nmodule = \"m.wasm\"\n[net]\nallow = []\n", 4, "net.allow", ErrMissing, "required"},
		{"allow star", "name = \"t\"\nmodule = \"m.wasm\"\n[net]\nallow = [\"*\"]\n", 4, "net.allow[0]", ErrInvalid, "matches every host"},
		{"allow not a list", "name = \"t\"\nmodule = \"m.wasm\"\n[net]\nallow = \"a.test\"\n", 4, "net.allow", ErrType, "expected an array of strings"},
		{"unknown key", base + "alow = []\n", 5, "net.alow", ErrUnknownField, `unknown field "alow"`},
		{"bad method", base + "methods = [\"get\"]\n", 5, "net.methods[0]", ErrInvalid, "upper case"},
		{"connect", base + "methods = [\"CONNECT\"]\n", 5, "net.methods[0]", ErrInvalid, "never allowed"},
		{"duplicate method", base + "methods = [\"GET\", \"GET\"]\n", 5, "net.methods[1]", ErrInvalid, "twice"},
		{"empty methods", base + "methods = []\n", 5, "net.methods", ErrInvalid, "must not be empty"},
		{"bad http host", base + "http_hosts = [\"a b\"]\n", 5, "net.http_hosts[0]", ErrInvalid, "contains ' '"},
		{"bad allow_ips", base + "allow_ips = [\"10.0.0.1/8\"]\n", 5, "net.allow_ips[0]", ErrInvalid, "host bits set"},
		{"name in allow_ips", base + "allow_ips = [\"localhost\"]\n", 5, "net.allow_ips[0]", ErrInvalid, "not an IP address"},
		{"huge response", base + "max_response = \"1GiB\"\n", 5, "net.max_response", ErrInvalid, "out of bounds"},
		{"zero request", base + "max_request = 0\n", 5, "net.max_request", ErrInvalid, "out of bounds"},
		{"bad timeout", base + "timeout = \"soon\"\n", 5, "net.timeout", ErrInvalid, "not a duration"},
		{"negative redirects", base + "max_redirects = -1\n", 5, "net.max_redirects", ErrInvalid, "out of bounds"},
		{"redirects not an integer", base + "max_redirects = \"3\"\n", 5, "net.max_redirects", ErrType, "expected an integer"},
		{"header literal value", base + header("\"Bearer "+netSecret+"\""), 8, "net.header[0].value", ErrType, "literal values are not accepted"},
		{"header without value", base + "[[net.header]]\nhost = \"api.test\"\nname = \"A\"\n", 5, "net.header[0].value", ErrMissing, "required"},
		{"header both sources", base + header("{ env = \"MOAT_TEST_TOKEN\", file = \"crlf\" }"), 8, "net.header[0].value", ErrInvalid, "not both"},
		{"header unknown source", base + header("{ vault = \"x\" }"), 8, "net.header[0].value.vault", ErrUnknownField, "unknown field"},
		{"header env unset", base + header("{ env = \"MOAT_TEST_UNSET_VAR\" }"), 8, "net.header[0].value.env", ErrEnvUnset, "MOAT_TEST_UNSET_VAR is not set"},
		{"header env CRLF", base + header("{ env = \"MOAT_TEST_BAD_TOKEN\" }"), 8, "net.header[0].value.env", ErrInvalid, "control character"},
		{"header file CRLF", base + header("{ file = \"crlf\" }"), 8, "net.header[0].value.file", ErrInvalid, "control character"},
		{"header file empty", base + header("{ file = \"empty\" }"), 8, "net.header[0].value.file", ErrInvalid, "is empty"},
		{"header file missing", base + header("{ file = \"nope\" }"), 8, "net.header[0].value.file", fs.ErrNotExist, "does not exist"},
		{"header bad name", base + "[[net.header]]\nhost = \"api.test\"\nname = \"X A\"\nvalue = { env = \"MOAT_TEST_TOKEN\" }\n", 7, "net.header[0].name", ErrInvalid, "not a valid header name"},
		{"header hop-by-hop", base + "[[net.header]]\nhost = \"api.test\"\nname = \"Connection\"\nvalue = { env = \"MOAT_TEST_TOKEN\" }\n", 7, "net.header[0].name", ErrInvalid, "cannot be injected"},
		{"header client-managed", base + "[[net.header]]\nhost = \"api.test\"\nname = \"content-length\"\nvalue = { env = \"MOAT_TEST_TOKEN\" }\n", 7, "net.header[0].name", ErrInvalid, "cannot be injected"},
		{"header bad host", base + "[[net.header]]\nhost = \"*\"\nname = \"A\"\nvalue = { env = \"MOAT_TEST_TOKEN\" }\n", 6, "net.header[0].host", ErrInvalid, "matches every host"},
		{"header no host", base + "[[net.header]]\nname = \"A\"\nvalue = { env = \"MOAT_TEST_TOKEN\" }\n", 5, "net.header[0].host", ErrMissing, "required"},
		{"net not a table", "name = \"t\"\nmodule = \"m.wasm\"\nnet = true\n", 3, "net", ErrType, "expected a table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(filepath.Join(dir, "t.toml"), []byte(tc.toml))
			wantError(t, err, "", tc.line, tc.field, tc.sentinel, tc.msg)
			if strings.Contains(err.Error(), netSecret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
