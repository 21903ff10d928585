//go:build !wasip1

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/netpolicy"
	"github.com/moatmcp/moat/internal/sandbox"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		limit    int
		want     string
		cut      bool
	}{
		{"plain", "hello\n\tworld", 100, "hello\n\tworld", false},
		{"CRLF", "a\r\nb", 100, "a\nb", false},
		{"escape sequence", "a\x1b[31mred\x1b[0m", 100, "a[31mred[0m", false},
		{"NUL and DEL", "a\x00b\x7fc", 100, "abc", false},
		{"C1", "a\u0085b\u009bc", 100, "abc", false},
		{"bidi and zero-width", "a\u202eb\u200bc\u2066d", 100, "abcd", false},
		{"invalid UTF-8", "a\xffb", 100, "a\uFFFDb", false},
		{"cut at a boundary", "aé", 2, "a", true},
		{"exact", "abc", 3, "abc", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cut := clean([]byte(tc.in), tc.limit)
			if got != tc.want || cut != tc.cut {
				t.Errorf("clean(%q, %d) = %q, %v; want %q, %v", tc.in, tc.limit, got, cut, tc.want, tc.cut)
			}
		})
	}
}

// The ABI codes are defined twice, in the sandbox and in the policy;
// they must agree.
func TestErrnoValuesAgree(t *testing.T) {
	for _, p := range []struct {
		k netpolicy.Kind
		s uint32
	}{
		{netpolicy.KindBadRequest, sandbox.HTTPErrBadRequest},
		{netpolicy.KindDeniedHost, sandbox.HTTPErrDeniedHost},
		{netpolicy.KindDeniedScheme, sandbox.HTTPErrDeniedScheme},
		{netpolicy.KindDeniedMethod, sandbox.HTTPErrDeniedMethod},
		{netpolicy.KindDeniedAddress, sandbox.HTTPErrDeniedAddress},
		{netpolicy.KindDNS, sandbox.HTTPErrDNS},
		{netpolicy.KindConnect, sandbox.HTTPErrConnect},
		{netpolicy.KindTimeout, sandbox.HTTPErrTimeout},
		{netpolicy.KindRequestTooLarge, sandbox.HTTPErrRequestTooLarge},
		{netpolicy.KindResponseTooLarge, sandbox.HTTPErrResponseTooLarge},
		{netpolicy.KindFailed, sandbox.HTTPErrFailed},
	} {
		if uint32(p.k) != p.s {
			t.Errorf("%v = %d, sandbox says %d", p.k, p.k, p.s)
		}
	}
}

const secret = "tok_e2e_NotARealSecret_42"

// TestHTTPGet runs the tool as moat serves it — manifest, host.LoadTool,
// sandbox, netpolicy — against a loopback server the test manifest grants
// explicitly (allow_ips).
func TestHTTPGet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tool for wasip1")
	}
	dir := t.TempDir()
	wasm := filepath.Join(dir, "httpget.wasm")
	build := exec.Command("go", "build", "-trimpath", "-o", wasm, ".")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	var (
		mu   sync.Mutex
		auth []string
	)
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		io.WriteString(w, "<h1>Hi</h1>\x1b[2J\r\nbye")
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no such page", 404) })
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	hp := "127.0.0.1:" + port

	t.Setenv("MOAT_HTTPGET_TEST_TOKEN", "Bearer "+secret)
	toml := fmt.Sprintf(`name = "http_get"
module = "httpget.wasm"
[net]
allow = [%q, "169.254.169.254"]
http_hosts = [%q, "169.254.169.254"]
allow_ips = ["127.0.0.1"]
max_response = "4KiB"
[[net.header]]
host = %q
name = "Authorization"
value = { env = "MOAT_HTTPGET_TEST_TOKEN" }
[limits]
memory = "64MiB"
`, hp, hp, hp)
	m, err := manifest.Parse(filepath.Join(dir, "http_get.toml"), []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt, err := sandbox.New(ctx, &sandbox.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	tool, err := host.LoadTool(ctx, rt, m)
	if err != nil {
		t.Fatal(err)
	}
	defer tool.Close(ctx)
	if a := tool.MCPTool().Annotations; a.OpenWorldHint == nil || !*a.OpenWorldHint || a.ReadOnlyHint {
		t.Errorf("annotations = %+v, want open world and not read-only", a)
	}

	var events []netpolicy.Event
	call := func(url string) (string, bool) {
		t.Helper()
		cctx := netpolicy.WithObserver(ctx, func(e netpolicy.Event) { events = append(events, e) })
		args, _ := json.Marshal(map[string]any{"url": url})
		res, _, err := tool.Call(cctx, args, nil)
		if err != nil {
			t.Fatalf("call %s: %v", url, err)
		}
		return res.Content[0].(*mcp.TextContent).Text, res.IsError
	}

	for _, tc := range []struct {
		name, url, want string
		isError         bool
	}{
		{"page", "http://" + hp + "/page", "<h1>Hi</h1>[2J\nbye", false},
		{"404", "http://" + hp + "/missing", "http://" + hp + "/missing answered HTTP 404: no such page", true},
		{"host not granted", "http://localhost:" + port + "/page", "cannot fetch http://localhost:" + port + "/page: http: the host is not allowed by the tool's manifest", true},
		{"redirect to metadata", "http://" + hp + "/hop", "cannot fetch http://" + hp + "/hop: http: the host resolves to an address tools may not reach", true},
		{"metadata directly", "http://169.254.169.254/latest/", "cannot fetch http://169.254.169.254/latest/: http: the host resolves to an address tools may not reach", true},
		{"https to a plain server", "https://" + hp + "/page", "cannot fetch https://" + hp + "/page: http: the connection failed", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, isErr := call(tc.url)
			if strings.TrimSpace(got) != tc.want || isErr != tc.isError {
				t.Errorf("got %q (isError %v), want %q (%v)", got, isErr, tc.want, tc.isError)
			}
			if strings.Contains(got, secret) {
				t.Error("the tool's output has the secret")
			}
		})
	}
	if len(auth) != 1 || auth[0] != "Bearer "+secret {
		t.Errorf("the server saw Authorization %q, want the injected secret once", auth)
	}
	if len(events) != 7 { // page, missing, not granted (refused unsent), hop + metadata, metadata, https
		t.Errorf("%d events: %+v", len(events), events)
	}
	for _, e := range events {
		if strings.Contains(fmt.Sprintf("%+v", e), secret) {
			t.Errorf("event has the secret: %+v", e)
		}
	}
	if e := events[0]; e.Host != hp || e.Method != "GET" || e.Status != 200 || e.Outcome != "ok" || e.BytesIn == 0 {
		t.Errorf("first event = %+v", e)
	}
}
