package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	initWant = `{"jsonrpc":"2.0","id":1,"result":{"capabilities":{"logging":{},"tools":{"listChanged":true}},"protocolVersion":"2025-06-18","serverInfo":{"name":"moat-test","version":"v0.0.1"}}}`
	callBody = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`
	callWant = `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"{\"text\":\"hi\"}"}],"structuredContent":{"text":"hi"}}}`
)

func errBody(code int, msg string) string {
	return `{"jsonrpc":"2.0","id":null,"error":{"code":` + strconv.Itoa(code) + `,"message":"` + msg + `"}}`
}

type echoArgs struct {
	Text string `json:"text"`
}

// newMCPServer is a go-sdk server with one native tool, behind Wrap, on a real
// loopback listener (so the SDK's own loopback checks see a real local
// address).
func newMCPServer(t *testing.T, opts *Options) (*httptest.Server, string) {
	t.Helper()
	server := mcp.NewServer(&mcp.Implementation{Name: "moat-test", Version: "v0.0.1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "echo"},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, echoArgs, error) {
			return nil, in, nil
		})
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	ts := httptest.NewUnstartedServer(nil)
	o := *opts
	o.ListenAddr = ts.Listener.Addr().String()
	ts.Config.Handler = Wrap(handler, &o)
	ts.Start()
	t.Cleanup(ts.Close)
	_, port, _ := net.SplitHostPort(o.ListenAddr)
	return ts, port
}

func post(t *testing.T, ts *httptest.Server, host string, header map[string]string, body string, chunked bool) (int, string) {
	t.Helper()
	var r io.Reader = strings.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // hides the length: sent chunked
	}
	req, err := http.NewRequest(http.MethodPost, ts.URL, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(data))
}

func TestWrap(t *testing.T) {
	ts, port := newMCPServer(t, &Options{AllowedOrigins: []string{"https://app.example"}, MaxBodyBytes: 1024})
	local := "127.0.0.1:" + port
	tests := []struct {
		name       string
		host       string
		header     map[string]string
		body       string
		chunked    bool
		wantStatus int
		wantBody   string // exact; or a prefix when it ends in "…"
	}{
		{name: "no origin", host: local, body: initBody, wantStatus: 200, wantBody: initWant},
		{name: "localhost", host: "localhost:" + port, body: initBody, wantStatus: 200, wantBody: initWant},
		{name: "ipv6 loopback", host: "[::1]:" + port, body: initBody, wantStatus: 200, wantBody: initWant},
		{name: "host case and trailing dot", host: "LocalHost.:" + port, body: initBody, wantStatus: 200, wantBody: initWant},
		{name: "tool call", host: local, body: callBody, wantStatus: 200, wantBody: callWant},
		{name: "allowed origin", host: local, header: map[string]string{"Origin": "https://app.example"}, body: initBody, wantStatus: 200, wantBody: initWant},
		{name: "same origin", host: local, header: map[string]string{"Origin": "http://" + local}, body: initBody, wantStatus: 200, wantBody: initWant},
		{name: "foreign origin, valid host", host: local, header: map[string]string{"Origin": "https://evil.example"}, body: initBody,
			wantStatus: 403, wantBody: errBody(-32600, "forbidden: origin not allowed")},
		{name: "origin null", host: local, header: map[string]string{"Origin": "null"}, body: initBody,
			wantStatus: 403, wantBody: errBody(-32600, "forbidden: origin not allowed")},
		{name: "origin of another port", host: local, header: map[string]string{"Origin": "http://127.0.0.1:1"}, body: initBody,
			wantStatus: 403, wantBody: errBody(-32600, "forbidden: origin not allowed")},
		{name: "allowed origin with a path", host: local, header: map[string]string{"Origin": "https://app.example/x"}, body: initBody,
			wantStatus: 403, wantBody: errBody(-32600, "forbidden: origin not allowed")},
		{name: "cross-site fetch without origin", host: local, header: map[string]string{"Sec-Fetch-Site": "cross-site"}, body: initBody,
			wantStatus: 403, wantBody: errBody(-32600, "forbidden: origin not allowed")},
		{name: "rebinding host", host: "evil.example:8080", body: initBody,
			wantStatus: 403, wantBody: errBody(-32600, "forbidden: host not allowed")},
		{name: "rebinding host on our port", host: "evil.example:" + port, body: initBody,
			wantStatus: 403, wantBody: errBody(-32600, "forbidden: host not allowed")},
		{name: "loopback name on another port", host: "localhost:1", body: initBody,
			wantStatus: 403, wantBody: errBody(-32600, "forbidden: host not allowed")},
		{name: "bad origin and bad host", host: "evil.example:8080", header: map[string]string{"Origin": "http://evil.example:8080"}, body: initBody,
			wantStatus: 403, wantBody: errBody(-32600, "forbidden: host not allowed")},
		{name: "oversized body", host: local, body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 2000) + `"}}`,
			wantStatus: 413, wantBody: errBody(-32600, "request body too large")},
		{name: "oversized chunked body", host: local, chunked: true, body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 2000) + `"}}`,
			wantStatus: 413, wantBody: errBody(-32600, "request body too large")},
		{name: "malformed JSON", host: local, body: `{"jsonrpc":"2.0",`,
			wantStatus: 400, wantBody: errBody(-32700, "parse error: body is not valid JSON")},
		{name: "empty body", host: local, body: ``,
			wantStatus: 400, wantBody: errBody(-32700, "parse error: body is not valid JSON")},
		{name: "batch", host: local, body: `[` + initBody + `]`,
			wantStatus: 400, wantBody: errBody(-32600, "invalid request: batch requests are not supported")},
		{name: "wrong content type", host: local, header: map[string]string{"Content-Type": "text/plain"}, body: initBody,
			wantStatus: 415, wantBody: errBody(-32600, "unsupported content type: use application/json")},
		{name: "no content type", host: local, header: map[string]string{"Content-Type": ""}, body: initBody,
			wantStatus: 415, wantBody: errBody(-32600, "unsupported content type: use application/json")},
		{name: "json with charset", host: local, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, body: initBody,
			wantStatus: 200, wantBody: initWant},
		{name: "unsupported protocol version (go-sdk)", host: local, header: map[string]string{"MCP-Protocol-Version": "1999-01-01"}, body: callBody,
			wantStatus: 400, wantBody: "Bad Request: Unsupported protocol version (supported versions: …"},
		{name: "malformed protocol version", host: local, header: map[string]string{"MCP-Protocol-Version": "zzz"}, body: callBody,
			wantStatus: 400, wantBody: `{"jsonrpc":"2.0","id":2,"error":{"code":-32022,"message":"unsupported protocol version","data":{"supported":[],"requested":"zzz"}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, ts, tc.host, tc.header, tc.body, tc.chunked)
			if status != tc.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", status, tc.wantStatus, body)
			}
			if prefix, ok := strings.CutSuffix(tc.wantBody, "…"); ok {
				if !strings.HasPrefix(body, prefix) {
					t.Errorf("body = %s, want prefix %s", body, prefix)
				}
			} else if body != tc.wantBody {
				t.Errorf("body =\n %s\nwant\n %s", body, tc.wantBody)
			}
		})
	}
}

// TestWrapOtherMethods checks that Origin and Host are enforced on GET and
// DELETE too (net/http's CrossOriginProtection exempts GET).
func TestWrapOtherMethods(t *testing.T) {
	ts, port := newMCPServer(t, &Options{})
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			req, _ := http.NewRequest(method, ts.URL, nil)
			req.Host = "127.0.0.1:" + port
			req.Header.Set("Origin", "https://evil.example")
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status = %d, want 403", resp.StatusCode)
			}
		})
	}
}

// TestGoSDKUnwrapped records what the go-sdk does on its own, which is why
// Wrap parses the body itself: a malformed body gets a plain-text 400 that
// echoes a Go error, and a batch is accepted when no MCP-Protocol-Version
// header is sent. If this test starts failing, the SDK changed: revisit Wrap.
func TestGoSDKUnwrapped(t *testing.T) {
	server := mcp.NewServer(&mcp.Implementation{Name: "moat-test", Version: "v0.0.1"}, nil)
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	ts := httptest.NewServer(handler)
	defer ts.Close()
	host := strings.TrimPrefix(ts.URL, "http://")
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	tests := []struct {
		name       string
		header     map[string]string
		body       string
		wantStatus int
		wantPrefix string
	}{
		{"malformed", nil, `{"jsonrpc":`, 400, "malformed payload: "},
		{"batch, no version header", nil, `[` + ping + `]`, 200, `[{"jsonrpc":"2.0","id":1,"result":{}}]`},
		{"batch, 2025-06-18", map[string]string{"MCP-Protocol-Version": "2025-06-18"}, `[` + ping + `]`, 400, "JSON-RPC batching is not supported in 2025-06-18 and later"},
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, ping, 200, `{"jsonrpc":"2.0","id":1,"result":{}}`},
		{"rebinding host", map[string]string{"Host": "evil.example"}, ping, 403, `Forbidden: invalid Host header "evil.example"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := host
			if v, ok := tc.header["Host"]; ok {
				h = v
			}
			status, body := post(t, ts, h, tc.header, tc.body, false)
			if status != tc.wantStatus || !strings.HasPrefix(body, tc.wantPrefix) {
				t.Errorf("got %d %s, want %d %s…", status, body, tc.wantStatus, tc.wantPrefix)
			}
		})
	}
}

// TestWrapHosts covers a non-loopback listener, where only configured names
// pass, and loopback names only over a loopback connection.
func TestWrapHosts(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tests := []struct {
		name     string
		opts     Options
		host     string
		local    string // the connection's local address, if any
		wantPass bool
	}{
		{"configured name", Options{ListenAddr: "0.0.0.0:8443", AllowedHosts: []string{"mcp.example.com"}}, "mcp.example.com", "", true},
		{"configured name any port", Options{ListenAddr: "0.0.0.0:8443", AllowedHosts: []string{"mcp.example.com"}}, "mcp.example.com:8443", "", true},
		{"configured name and port", Options{ListenAddr: "0.0.0.0:8443", AllowedHosts: []string{"mcp.example.com:443"}}, "mcp.example.com:8443", "", false},
		{"other name", Options{ListenAddr: "0.0.0.0:8443", AllowedHosts: []string{"mcp.example.com"}}, "evil.example", "", false},
		{"suffix is not a match", Options{ListenAddr: "0.0.0.0:8443", AllowedHosts: []string{"example.com"}}, "evil-example.com", "", false},
		{"listen address itself", Options{ListenAddr: "10.0.0.5:8443"}, "10.0.0.5:8443", "", true},
		{"wildcard listen address is no name", Options{ListenAddr: "0.0.0.0:8443"}, "0.0.0.0:8443", "", false},
		{"localhost over the network", Options{ListenAddr: "0.0.0.0:8443"}, "localhost:8443", "10.0.0.5:8443", false},
		{"localhost over loopback", Options{ListenAddr: "0.0.0.0:8443"}, "localhost:8443", "127.0.0.1:8443", true},
		{"empty host", Options{ListenAddr: "127.0.0.1:8080"}, "", "", false},
		{"loopback default port", Options{ListenAddr: "127.0.0.1:80"}, "localhost", "", true},
		{"loopback missing port", Options{ListenAddr: "127.0.0.1:8080"}, "localhost", "", false},
		// One loopback rule (internal/loopback) for listen addresses and
		// Host names: any loopback address and "localhost" in any case.
		{"other loopback ip", Options{ListenAddr: "127.0.0.1:8080"}, "127.0.0.2:8080", "", true},
		{"upper-case localhost", Options{ListenAddr: "127.0.0.1:8080"}, "LOCALHOST:8080", "", true},
		{"localhost lookalike", Options{ListenAddr: "127.0.0.1:8080"}, "localhost.evil.example:8080", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
			req.Host = tc.host
			if tc.local != "" {
				addr, _ := net.ResolveTCPAddr("tcp", tc.local)
				req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, addr))
			}
			rec := httptest.NewRecorder()
			Wrap(ok, &tc.opts).ServeHTTP(rec, req)
			if got := rec.Code == 200; got != tc.wantPass {
				t.Errorf("status %d, want pass=%v", rec.Code, tc.wantPass)
			}
		})
	}
}

func TestCheckListen(t *testing.T) {
	tests := []struct {
		addr             string
		tls, behindProxy bool
		want             error
	}{
		{"127.0.0.1:8080", false, false, nil},
		{"localhost:8080", false, false, nil},
		{"LOCALHOST:8080", false, false, nil},
		{"[::1]:8080", false, false, nil},
		{"127.1.2.3:8080", false, false, nil},
		{":8080", false, false, ErrPlaintextListen},
		{"0.0.0.0:8080", false, false, ErrPlaintextListen},
		{"[::]:8080", false, false, ErrPlaintextListen},
		{"[::ffff:127.0.0.1]:8080", false, false, nil},
		{"10.0.0.5:8080", false, false, ErrPlaintextListen},
		{"mcp.example.com:8080", false, false, ErrPlaintextListen},
		{"localhost.example.com:8080", false, false, ErrPlaintextListen},
		{"0.0.0.0:8443", true, false, nil},
		{"0.0.0.0:8080", false, true, nil},
		{"127.0.0.1", false, false, ErrBadListenAddress},
		{"127.0.0.1:http", false, false, ErrBadListenAddress},
		{"127.0.0.1:70000", false, false, ErrBadListenAddress},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			if err := CheckListen(tc.addr, tc.tls, tc.behindProxy); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("CheckListen(%q, %v, %v) = %v, want %v", tc.addr, tc.tls, tc.behindProxy, err, tc.want)
			}
		})
	}
}

// FuzzWrap sends arbitrary Origin and Host values: Wrap must not panic, and
// must never pass a request whose Origin is foreign or whose Host is not one
// of the allowed ones.
func FuzzWrap(f *testing.F) {
	for _, seed := range [][2]string{
		{"", "127.0.0.1:8080"}, {"https://app.example", "localhost:8080"}, {"http://127.0.0.1:8080", "127.0.0.1:8080"},
		{"null", "[::1]:8080"}, {"http://evil.example", "evil.example"}, {"HTTP://LOCALHOST:8080", "LocalHost:8080"},
		{"http://[::1]:8080", "[::1]:8080"}, {"https://app.example:443", "mcp.example.com"}, {"http://a@127.0.0.1:8080", "127.0.0.1:8080"},
	} {
		f.Add(seed[0], seed[1])
	}
	allowedHosts := map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "mcp.example.com": true,
	}
	h := Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), &Options{
		AllowedOrigins: []string{"https://app.example"},
		AllowedHosts:   []string{"mcp.example.com"},
		ListenAddr:     "127.0.0.1:8080",
	})
	f.Fuzz(func(t *testing.T, origin, host string) {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Host = host
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return
		}
		nh := normalizeHost(host)
		name, port := splitHostPort(nh)
		if !allowedHosts[nh] && name != "mcp.example.com" {
			t.Fatalf("passed Host %q", host)
		}
		if origin == "" || strings.EqualFold(origin, "https://app.example") {
			return
		}
		u, err := url.Parse(strings.ToLower(origin))
		if err != nil {
			t.Fatalf("passed unparsable Origin %q", origin)
		}
		oName, oPort := splitHostPort(u.Host)
		if oPort == "" {
			oPort = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		if port == "" {
			port = oPort
		}
		if oName != name || oPort != port || u.Path != "" || u.User != nil {
			t.Fatalf("passed foreign Origin %q for Host %q", origin, host)
		}
	})
}

// TestVersionRefusal: a request naming a protocol version that is not
// served — unknown, malformed or repeated — gets UnsupportedProtocolVersionError
// (-32022, HTTP 400) listing the versions served, echoing the one asked
// for, and carrying the request's own id.
func TestVersionRefusal(t *testing.T) {
	var refused []string
	h := Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "passed") }), &Options{
		ListenAddr:        "127.0.0.1:8080",
		SupportedVersions: []string{"2025-11-25", "2026-07-28"},
		OnRefusal: func(_ *http.Request, status int, err error) {
			reason := err.Error()
			refused = append(refused, fmt.Sprint(status, " ", reason))
		},
	})
	const data = `"data":{"supported":["2025-11-25","2026-07-28"],"requested":`
	for _, tc := range []struct {
		name, method, body string
		versions           []string
		want               string
	}{
		{"served", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, []string{"2026-07-28"}, "passed"},
		{"none", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil, "passed"},
		{"unknown", "POST", `{"jsonrpc":"2.0","id":301,"method":"server/discover"}`, []string{"1999-01-01"},
			`{"jsonrpc":"2.0","id":301,"error":{"code":-32022,"message":"unsupported protocol version",` + data + `"1999-01-01"}}}`},
		{"malformed", "POST", `{"jsonrpc":"2.0","id":"abc","method":"ping"}`, []string{"v999.0.0"},
			`{"jsonrpc":"2.0","id":"abc","error":{"code":-32022,"message":"unsupported protocol version",` + data + `"v999.0.0"}}}`},
		{"repeated", "POST", `{"jsonrpc":"2.0","id":3,"method":"ping"}`, []string{"2026-07-28", "2025-11-25"},
			`{"jsonrpc":"2.0","id":3,"error":{"code":-32022,"message":"unsupported protocol version",` + data + `"2026-07-28, 2025-11-25"}}}`},
		{"a notification", "POST", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, []string{"1999-01-01"},
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"unsupported protocol version",` + data + `"1999-01-01"}}}`},
		{"a GET stream", "GET", "", []string{"1999-01-01"},
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"unsupported protocol version",` + data + `"1999-01-01"}}}`},
		{"an object id is not echoed", "POST", `{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}`, []string{"1999-01-01"},
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"unsupported protocol version",` + data + `"1999-01-01"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://127.0.0.1:8080/mcp", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			for _, v := range tc.versions {
				r.Header.Add("MCP-Protocol-Version", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			wantStatus := 400
			if tc.want == "passed" {
				wantStatus = 200
			}
			if rec.Code != wantStatus || rec.Body.String() != tc.want {
				t.Errorf("got %d %s\nwant %d %s", rec.Code, rec.Body.String(), wantStatus, tc.want)
			}
		})
	}
	if len(refused) != 6 || refused[0] != "400 unsupported protocol version" {
		t.Errorf("refusals reported: %q", refused)
	}
}

// TestBody: the checked body reaches the next handler both as a reader
// and, without a copy, through Body; a body of undeclared length
// (chunked) too; a request that did not pass Wrap has none.
func TestBody(t *testing.T) {
	const body = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	for _, chunked := range []bool{false, true} {
		var got, read []byte
		var ok bool
		h := Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, ok = Body(r)
			read, _ = io.ReadAll(r.Body)
		}), &Options{ListenAddr: "127.0.0.1:8080"})
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if chunked {
			req.ContentLength = -1
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		if !ok || string(got) != body || string(read) != body {
			t.Fatalf("chunked %v: Body = %q, %v; read %q", chunked, got, ok, read)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/mcp", strings.NewReader(body))
	if b, ok := Body(req); ok || b != nil {
		t.Fatalf("Body of an unwrapped request = %q, %v", b, ok)
	}
}

// FuzzVersionShaped: the hand-written check accepts exactly what the
// pattern ^\d{4}-\d{2}-\d{2}$ (ASCII digits) accepts.
func FuzzVersionShaped(f *testing.F) {
	pattern := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	for _, v := range []string{"2026-07-28", "2025-11-25", "", "2026-07-2", "2026-07-288", "2026/07/28",
		"２０２６-07-28", "2026-07-28\n", "abcd-ef-gh", "9999-99-99", "2026-0a-28", "-2026-07-2"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := versionShaped(v), pattern.MatchString(v); got != want {
			t.Fatalf("versionShaped(%q) = %v, pattern says %v", v, got, want)
		}
	})
}
