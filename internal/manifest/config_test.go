package manifest

import (
	"time"

	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// configFixture makes a folder with what configs in tests refer to.
func configFixture(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"manifests", "more", "certs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"certs/cert.pem", "certs/key.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDefaultConfig(t *testing.T) {
	want := &Config{Listen: "127.0.0.1:8080", MaxBodyBytes: 4 << 20, MaxSessions: 4096, MaxSessionsPer: 256, MaxListenPer: 16, MaxIdleInstances: 128, Auth: AuthConfig{Local: LocalConfig{Tools: []string{"*"}}}, AuditOnFailure: AuditRefuse, State: defaultState, RequestState: RequestStateConfig{TTL: DefaultRequestStateTTL},
		Telemetry: TelemetryConfig{ExportTimeout: DefaultExportTimeout, QueueSize: DefaultSpanQueue}, Quotas: QuotaConfig{Window: DefaultQuotaWindow}}
	if got := DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultConfig() = %+v", got)
	}
	dir := configFixture(t)
	file := filepath.Join(dir, "moat.toml")
	got, err := ParseConfig(file, []byte("# nothing set\n"))
	if err != nil {
		t.Fatal(err)
	}
	want.File = file
	if !strings.HasPrefix(got.Digest, "sha256:") || len(got.Digest) != len("sha256:")+64 {
		t.Errorf("Digest = %q", got.Digest)
	}
	want.Files, want.Digest = []string{file}, got.Digest
	if !reflect.DeepEqual(got, want) {
		t.Errorf("empty config = %+v, want %+v", got, want)
	}
}

func TestParseConfigFull(t *testing.T) {
	dir := configFixture(t)
	file := filepath.Join(dir, "moat.toml")
	doc := `[server]
listen                  = "0.0.0.0:8443"
tls_terminated_upstream = true
allowed_origins         = ["https://app.example.com", "http://localhost:3000"]
allowed_hosts           = ["moat.example.com", "moat.internal:8443", "[::1]", "10.0.0.1"]
max_body                = "1MiB"
max_sessions            = 100
max_sessions_per_principal = 10
max_listen_streams_per_principal = 3

[server.tls]
cert = "certs/cert.pem"
key  = "` + filepath.Join(dir, "certs", "key.pem") + `"

[tools]
dirs = ["manifests", "more/"]

[sandbox]
cache_dir = "cache"
max_idle_instances = 32

[auth]
resource_url = "https://tools.example.com/mcp"
authorization_servers = ["https://auth.example.com"]
scopes_supported = ["files:read"]

[[auth.keys]]
id = "ci"
hash = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
tools = ["read_*"]
scopes = ["files:read"]
expires = 2027-01-31T00:00:00Z
rate = "10/s burst 20"

[auth.jwt]
issuer = "https://auth.example.com"
jwks_url = "https://auth.example.com/jwks"
leeway = "10s"

[auth.local]
tools = ["list_files"]

[rate_limits]
per_principal = "100/min"
max_entries = 5000
idle_ttl = "5m"

[audit]
file = "audit.log"

[metrics]
listen = "127.0.0.1:9090"
`
	got, err := ParseConfig(file, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File:             file,
		Listen:           "0.0.0.0:8443",
		TLSCert:          filepath.Join(dir, "certs", "cert.pem"),
		TLSKey:           filepath.Join(dir, "certs", "key.pem"),
		BehindTLSProxy:   true,
		AllowedOrigins:   []string{"https://app.example.com", "http://localhost:3000"},
		AllowedHosts:     []string{"moat.example.com", "moat.internal:8443", "[::1]", "10.0.0.1"},
		MaxBodyBytes:     1 << 20,
		MaxSessions:      100,
		MaxSessionsPer:   10,
		MaxListenPer:     3,
		ManifestDirs:     []string{filepath.Join(dir, "manifests"), filepath.Join(dir, "more")},
		CacheDir:         filepath.Join(dir, "cache"),
		MaxIdleInstances: 32,
		Auth: AuthConfig{
			ResourceURL:          "https://tools.example.com/mcp",
			AuthorizationServers: []string{"https://auth.example.com"},
			ScopesSupported:      []string{"files:read"},
			Keys: []KeyConfig{{ID: "ci", Hash: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				Tools: []string{"read_*"}, Scopes: []string{"files:read"},
				Expires: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), Rate: MustParseRate("10/s burst 20")}},
			JWT: &JWTConfig{Issuer: "https://auth.example.com", Audience: "https://tools.example.com/mcp",
				JWKSURL: "https://auth.example.com/jwks", Leeway: 10 * time.Second},
			Local: LocalConfig{Tools: []string{"list_files"}},
		},
		Rates:          RateConfig{PerPrincipal: MustParseRate("100/min"), MaxEntries: 5000, IdleTTL: 5 * time.Minute},
		AuditFile:      filepath.Join(dir, "audit.log"),
		MetricsListen:  "127.0.0.1:9090",
		AuditOnFailure: AuditRefuse, State: defaultState, RequestState: RequestStateConfig{TTL: DefaultRequestStateTTL},
		Telemetry: TelemetryConfig{ExportTimeout: DefaultExportTimeout, QueueSize: DefaultSpanQueue}, Quotas: QuotaConfig{Window: DefaultQuotaWindow},
		Files:  []string{file, filepath.Join(dir, "certs", "cert.pem"), filepath.Join(dir, "certs", "key.pem")},
		Digest: got.Digest,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseConfigErrors(t *testing.T) {
	dir := configFixture(t)
	file := filepath.Join(dir, "moat.toml")
	tests := []struct {
		name  string
		toml  string
		line  int
		field string
		is    error
		msg   string
	}{
		{"unknown top-level key", "[server]\n[authz]\n", 2, "authz", ErrUnknownField, `unknown field "authz" (known fields at the top level: server, tools, sandbox, auth, rate_limits, audit, metrics, state, request_state, telemetry, quotas)`},
		{"key hash that is not a hash", "[[auth.keys]]\nid = \"ci\"\nhash = \"moat_secret\"\n", 3, "auth.keys[0].hash", ErrInvalid, `required: "sha256:"`},
		{"duplicate key id", "[[auth.keys]]\nid = \"ci\"\nhash = \"sha256:" + strings.Repeat("a", 64) + "\"\n[[auth.keys]]\nid = \"ci\"\nhash = \"sha256:" + strings.Repeat("b", 64) + "\"\n", 5, "auth.keys[1].id", ErrInvalid, `key id "ci" is used twice`},
		{"bad key rate", "[[auth.keys]]\nid = \"ci\"\nhash = \"sha256:" + strings.Repeat("a", 64) + "\"\nrate = \"lots\"\n", 4, "auth.keys[0].rate", ErrInvalid, `rate "lots": want "N/unit"`},
		{"jwt without resource url", "[auth.jwt]\nissuer = \"https://as\"\njwks_url = \"https://as/jwks\"\n", 1, "auth.resource_url", ErrMissing, "required with [auth.jwt]"},
		{"jwt with hmac", "[auth]\nresource_url = \"https://x/mcp\"\n[auth.jwt]\nissuer = \"https://as\"\njwks_url = \"https://as/jwks\"\nalgorithms = [\"HS256\"]\n", 6, "auth.jwt.algorithms[0]", ErrInvalid, `"HS256" is not allowed`},
		{"bad rate limit", "[rate_limits]\nper_principal = \"10 per minute\"\n", 2, "rate_limits.per_principal", ErrInvalid, `rate "10 per minute": want "N/unit" or "N/unit burst B"`},
		{"unknown rate limit", "[rate_limits]\nper_user = \"10/s\"\n", 2, "rate_limits.per_user", ErrUnknownField, `unknown field "per_user"`},
		{"unknown server key", "[server]\nlisten = \"127.0.0.1:1\"\nport = 8080\n", 3, "server.port", ErrUnknownField, `unknown field "port"`},
		{"unknown tls key", "[server.tls]\ncert = \"certs/cert.pem\"\nkey = \"certs/key.pem\"\nca = \"x\"\n", 4, "server.tls.ca", ErrUnknownField, `unknown field "ca"`},
		{"unknown tools key", "[tools]\ndir = [\"manifests\"]\n", 2, "tools.dir", ErrUnknownField, `unknown field "dir"`},
		{"wrong type listen", "[server]\nlisten = 8080\n", 2, "server.listen", ErrType, "expected a string, got an integer"},
		{"wrong type dirs", "[tools]\ndirs = \"manifests\"\n", 2, "tools.dirs", ErrType, "expected an array of strings, got a string"},
		{"wrong type dirs element", "[tools]\ndirs = [\"manifests\", 3]\n", 2, "tools.dirs[1]", ErrType, "expected a string, got an integer"},
		{"wrong type server", "server = \"x\"\n", 1, "server", ErrType, "expected a table"},
		{"duplicate key", "[server]\nlisten = \"127.0.0.1:1\"\nlisten = \"127.0.0.1:2\"\n", 3, "server.listen", ErrSyntax, "already defined"},
		{"listen without port", "[server]\nlisten = \"127.0.0.1\"\n", 2, "server.listen", ErrInvalid, "is not host:port"},
		{"listen bad port", "[server]\nlisten = \"127.0.0.1:http\"\n", 2, "server.listen", ErrInvalid, `port "http" is not a number`},
		{"listen bad host", "[server]\nlisten = \"a b:80\"\n", 2, "server.listen", ErrInvalid, "is not an IP address or host name"},
		{"tls cert only", "[server.tls]\ncert = \"certs/cert.pem\"\n", 1, "server.tls.key", ErrMissing, "required with [server.tls]"},
		{"tls key only", "[server.tls]\nkey = \"certs/key.pem\"\n", 1, "server.tls.cert", ErrMissing, "required with [server.tls]"},
		{"tls cert missing file", "[server.tls]\ncert = \"certs/nope.pem\"\nkey = \"certs/key.pem\"\n", 2, "server.tls.cert", fs.ErrNotExist, `"certs/nope.pem" (` + filepath.Join(dir, "certs", "nope.pem") + ") does not exist"},
		{"tls key is a folder", "[server.tls]\ncert = \"certs/cert.pem\"\nkey = \"certs\"\n", 3, "server.tls.key", ErrFile, "is not a regular file"},
		{"origin with path", "[server]\nallowed_origins = [\"https://a.example/\"]\n", 2, "server.allowed_origins[0]", ErrInvalid, "is not an origin"},
		{"origin wildcard", "[server]\nallowed_origins = [\"*\"]\n", 2, "server.allowed_origins[0]", ErrInvalid, "list each origin exactly"},
		{"origin upper case", "[server]\nallowed_origins = [\"https://a.example\", \"https://App.Example\"]\n", 2, "server.allowed_origins[1]", ErrInvalid, `write "https://app.example"`},
		{"origin default port", "[server]\nallowed_origins = [\"https://a.example:443\"]\n", 2, "server.allowed_origins[0]", ErrInvalid, `write "https://a.example"`},
		{"origin bad scheme", "[server]\nallowed_origins = [\"ftp://a.example\"]\n", 2, "server.allowed_origins[0]", ErrInvalid, "is not an origin"},
		{"origin no scheme", "[server]\nallowed_origins = [\"a.example\"]\n", 2, "server.allowed_origins[0]", ErrInvalid, "is not an origin"},
		{"host with scheme", "[server]\nallowed_hosts = [\"https://a.example\"]\n", 2, "server.allowed_hosts[0]", ErrInvalid, "is not a host name"},
		{"host upper case", "[server]\nallowed_hosts = [\"A.example\"]\n", 2, "server.allowed_hosts[0]", ErrInvalid, "lower case"},
		{"host bare ipv6", "[server]\nallowed_hosts = [\"::1\"]\n", 2, "server.allowed_hosts[0]", ErrInvalid, "in brackets"},
		{"host bad port", "[server]\nallowed_hosts = [\"a.example:0\"]\n", 2, "server.allowed_hosts[0]", ErrInvalid, "not a number from 1 to 65535"},
		{"max_body too small", "[server]\nmax_body = 10\n", 2, "server.max_body", ErrInvalid, "10B is out of bounds: must be between 1KiB and 256MiB"},
		{"max_body bad unit", "[server]\nmax_body = \"4mb\"\n", 2, "server.max_body", ErrInvalid, "unknown unit"},
		{"max_sessions zero", "[server]\nmax_sessions = 0\n", 2, "server.max_sessions", ErrInvalid, "0 is out of bounds: must be between 1 and 1048576"},
		{"max_sessions string", "[server]\nmax_sessions = \"10\"\n", 2, "server.max_sessions", ErrType, "an integer"},
		{"per principal over the total", "[server]\nmax_sessions = 10\nmax_sessions_per_principal = 11\n", 3, "server.max_sessions_per_principal", ErrInvalid, "must be between 1 and 10"},
		{"tools dir missing", "[tools]\ndirs = [\"manifests\", \"nope\"]\n", 2, "tools.dirs[1]", fs.ErrNotExist, `manifest folder "nope" (` + filepath.Join(dir, "nope") + ") does not exist"},
		{"tools dir is a file", "[tools]\ndirs = [\"certs/key.pem\"]\n", 2, "tools.dirs[0]", ErrFile, "is not a folder"},
		{"cache_dir empty", "[sandbox]\ncache_dir = \"\"\n", 2, "sandbox.cache_dir", ErrInvalid, "must not be empty"},
		{"max_idle_instances zero", "[sandbox]\nmax_idle_instances = 0\n", 2, "sandbox.max_idle_instances", ErrInvalid, "0 is out of bounds: must be between 1 and 65536"},
		{"max_idle_instances negative", "[sandbox]\nmax_idle_instances = -4\n", 2, "sandbox.max_idle_instances", ErrInvalid, "-4 is out of bounds: must be between 1 and 65536"},
		{"max_idle_instances too many", "[sandbox]\nmax_idle_instances = 65537\n", 2, "sandbox.max_idle_instances", ErrInvalid, "65537 is out of bounds: must be between 1 and 65536"},
		{"max_idle_instances string", "[sandbox]\nmax_idle_instances = \"128\"\n", 2, "sandbox.max_idle_instances", ErrType, "an integer"},
		{"max_idle_instances float", "[sandbox]\nmax_idle_instances = 1.5\n", 2, "sandbox.max_idle_instances", ErrType, "an integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(file, []byte(tc.toml))
			if err == nil {
				t.Fatalf("ParseConfig succeeded: %+v", c)
			}
			wantError(t, err, file, tc.line, tc.field, tc.is, tc.msg)
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := configFixture(t)
	file := filepath.Join(dir, "moat.toml")
	if err := os.WriteFile(file, []byte("[tools]\ndirs = [\"manifests\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(file)
	if err != nil || c.File != file || !reflect.DeepEqual(c.ManifestDirs, []string{filepath.Join(dir, "manifests")}) {
		t.Errorf("LoadConfig = %+v, %v", c, err)
	}
	missing := filepath.Join(dir, "nope.toml")
	if _, err := LoadConfig(missing); err == nil || err.Error() != missing+": config does not exist" {
		t.Errorf("LoadConfig(missing) = %v", err)
	}
}
