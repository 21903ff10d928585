package netpolicy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeResolver maps names to addresses; unknown names fail like NXDOMAIN.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ss, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

const secret = "s3cr3t-token-value"

// server is a loopback test server that records what it was sent.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	seen []http.Header
}

func newServer(t *testing.T, tlsOn bool) *server {
	t.Helper()
	s := &server{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "1")
		w.Header().Set("X-Kept", "yes")
		fmt.Fprintf(w, "hello %s", r.Method)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 2048)))
	})
	// /sized?n=N[&code=C][&to=URL]: N bytes of "x", with status C and
	// Location URL when given.
	mux.HandleFunc("/sized", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if to := r.URL.Query().Get("to"); to != "" {
			w.Header().Set("Location", to)
		}
		if code, _ := strconv.Atoi(r.URL.Query().Get("code")); code != 0 {
			w.WriteHeader(code)
		}
		w.Write(bytes.Repeat([]byte("x"), n))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		code := http.StatusFound
		if r.URL.Query().Get("code") == "307" {
			code = http.StatusTemporaryRedirect
		}
		http.Redirect(w, r, r.URL.Query().Get("to"), code)
	})
	s.Server = httptest.NewUnstartedServer(mux)
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	if tlsOn {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *server) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, r.Header.Clone())
}

func (s *server) port() string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

// names every address class resolves to; "api.test" is the granted
// loopback server.
var resolver = fakeResolver{
	"api.test":        {"127.0.0.1"},
	"other.test":      {"127.0.0.1"},
	"loopback.test":   {"127.0.0.1"},
	"loopback6.test":  {"::1"},
	"private.test":    {"10.1.2.3"},
	"private172.test": {"172.16.0.1"},
	"private192.test": {"192.168.1.1"},
	"ula.test":        {"fd12::1"},
	"linklocal.test":  {"169.254.1.1"},
	"linklocal6.test": {"fe80::1"},
	"metadata.test":   {"169.254.169.254"},
	"metadata6.test":  {"fd00:ec2::254"},
	"cgnat.test":      {"100.64.0.1"},
	"multicast.test":  {"224.0.0.1"},
	"multicast6.test": {"ff02::1"},
	"unspec.test":     {"0.0.0.0"},
	"unspec6.test":    {"::"},
	"broadcast.test":  {"255.255.255.255"},
	"zero.test":       {"0.1.2.3"},
	"doc.test":        {"192.0.2.1"},
	"mapped.test":     {"::ffff:127.0.0.1"},
	"mappedmeta.test": {"::ffff:169.254.169.254"},
	"nat64.test":      {"64:ff9b::a00:1"},
	"6to4.test":       {"2002:7f00:1::"},
	"mixed.test":      {"93.184.215.14", "10.0.0.1"},
	"empty.test":      {},
}

func newPolicy(t *testing.T, cfg Config) *Policy {
	t.Helper()
	if cfg.Resolver == nil {
		cfg.Resolver = resolver
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestDenyAddressClasses(t *testing.T) {
	srv := newServer(t, false)
	for _, tc := range []struct{ name, class string }{
		{"loopback.test", "loopback"},
		{"loopback6.test", "loopback"},
		{"private.test", "private"},
		{"private172.test", "private"},
		{"private192.test", "private"},
		{"ula.test", "private"},
		{"linklocal.test", "link-local"},
		{"linklocal6.test", "link-local"},
		{"metadata.test", "cloud metadata"},
		{"metadata6.test", "cloud metadata"},
		{"cgnat.test", "CGNAT"},
		{"multicast.test", "multicast"},
		{"multicast6.test", "multicast"},
		{"unspec.test", "unspecified"},
		{"unspec6.test", "unspecified"},
		{"broadcast.test", "broadcast"},
		{"zero.test", "this network"},
		{"doc.test", "documentation"},
		{"mapped.test", "loopback"},
		{"mappedmeta.test", "cloud metadata"},
		{"nat64.test", "private via NAT64"},
		{"6to4.test", "loopback via 6to4"},
		{"mixed.test", "private"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events []Event
			p := newPolicy(t, Config{
				Allow:     []string{tc.name + ":" + srv.port()},
				HTTPHosts: []string{tc.name + ":" + srv.port()},
				OnRequest: func(e Event) { events = append(events, e) },
			})
			_, err := p.Do(context.Background(), &Request{Method: "GET", URL: "http://" + tc.name + ":" + srv.port() + "/ok"})
			if KindOf(err) != KindDeniedAddress {
				t.Fatalf("err = %v, want denied_address", err)
			}
			if !strings.HasSuffix(err.Error(), " is "+tc.class) {
				t.Errorf("err = %q, want it to end in %q", err, " is "+tc.class)
			}
			if len(events) != 1 || events[0].Outcome != "denied_address" || events[0].Status != 0 {
				t.Errorf("events = %+v", events)
			}
		})
	}
}

func TestAddressLiteralsDenied(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254", "10.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			p := newPolicy(t, Config{Allow: []string{host}})
			_, err := p.Do(context.Background(), &Request{Method: "GET", URL: "https://" + host + "/"})
			if KindOf(err) != KindDeniedAddress {
				t.Fatalf("err = %v, want denied_address", err)
			}
		})
	}
}

func TestAllowIPs(t *testing.T) {
	srv := newServer(t, false)
	hp := "api.test:" + srv.port()
	for _, tc := range []struct {
		name     string
		allowIPs []string
		want     Kind
	}{
		{"exact", []string{"127.0.0.1"}, 0},
		{"cidr", []string{"127.0.0.0/8"}, 0},
		{"other address", []string{"127.0.0.2"}, KindDeniedAddress},
		{"none", nil, KindDeniedAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPolicy(t, Config{Allow: []string{hp}, HTTPHosts: []string{hp}, AllowIPs: tc.allowIPs})
			resp, err := p.Do(context.Background(), &Request{Method: "GET", URL: "http://" + hp + "/ok"})
			if KindOf(err) != tc.want {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && (resp.Status != 200 || string(resp.Body) != "hello GET") {
				t.Errorf("resp = %d %q", resp.Status, resp.Body)
			}
		})
	}
}

func TestDo(t *testing.T) {
	srv := newServer(t, false)
	port := srv.port()
	hp := "api.test:" + port
	base := "http://" + hp
	for _, tc := range []struct {
		name   string
		cfg    Config
		req    Request
		want   Kind
		status int
		body   string
	}{
		{"get", Config{}, Request{Method: "GET", URL: base + "/ok"}, 0, 200, "hello GET"},
		{"upper-case host", Config{}, Request{Method: "GET", URL: "http://API.TEST:" + port + "/ok"}, 0, 200, "hello GET"},
		{"post granted", Config{Methods: []string{"GET", "POST"}}, Request{Method: "POST", URL: base + "/echo", Body: []byte("ping")}, 0, 200, "ping"},
		{"post not granted", Config{}, Request{Method: "POST", URL: base + "/echo"}, KindDeniedMethod, 0, ""},
		{"lower-case method", Config{}, Request{Method: "get", URL: base + "/ok"}, KindBadRequest, 0, ""},
		{"host not allowed", Config{}, Request{Method: "GET", URL: "http://other.test:" + port + "/ok"}, KindDeniedHost, 0, ""},
		{"port not allowed", Config{}, Request{Method: "GET", URL: "http://api.test:1/ok"}, KindDeniedHost, 0, ""},
		{"https only", Config{HTTPHosts: []string{}}, Request{Method: "GET", URL: base + "/ok"}, KindDeniedScheme, 0, ""},
		{"ftp", Config{}, Request{Method: "GET", URL: "ftp://" + hp + "/"}, KindDeniedScheme, 0, ""},
		{"userinfo", Config{}, Request{Method: "GET", URL: "http://u:p@" + hp + "/ok"}, KindBadRequest, 0, ""},
		{"CR in URL", Config{}, Request{Method: "GET", URL: base + "/ok\r\nX: y"}, KindBadRequest, 0, ""},
		{"space in URL", Config{}, Request{Method: "GET", URL: base + "/o k"}, KindBadRequest, 0, ""},
		{"relative URL", Config{}, Request{Method: "GET", URL: "/ok"}, KindDeniedScheme, 0, ""},
		{"numeric host", Config{}, Request{Method: "GET", URL: "http://2130706433/"}, KindBadRequest, 0, ""},
		{"CRLF in header value", Config{}, Request{Method: "GET", URL: base + "/ok", Header: map[string]string{"X-A": "a\r\nX-B: b"}}, KindBadRequest, 0, ""},
		{"LF in header value", Config{}, Request{Method: "GET", URL: base + "/ok", Header: map[string]string{"X-A": "a\nb"}}, KindBadRequest, 0, ""},
		{"NUL in header value", Config{}, Request{Method: "GET", URL: base + "/ok", Header: map[string]string{"X-A": "a\x00"}}, KindBadRequest, 0, ""},
		{"CRLF in header name", Config{}, Request{Method: "GET", URL: base + "/ok", Header: map[string]string{"X-A\r\nX-B": "b"}}, KindBadRequest, 0, ""},
		{"colon in header name", Config{}, Request{Method: "GET", URL: base + "/ok", Header: map[string]string{"X-A:": "b"}}, KindBadRequest, 0, ""},
		{"same header twice", Config{}, Request{Method: "GET", URL: base + "/ok", Header: map[string]string{"x-a": "1", "X-A": "2"}}, KindBadRequest, 0, ""},
		{"request too large", Config{Methods: []string{"POST"}, MaxRequest: 3}, Request{Method: "POST", URL: base + "/echo", Body: []byte("ping")}, KindRequestTooLarge, 0, ""},
		{"response too large", Config{MaxResponse: 1024}, Request{Method: "GET", URL: base + "/big"}, KindResponseTooLarge, 0, ""},
		{"response at the cap", Config{MaxResponse: 2048}, Request{Method: "GET", URL: base + "/big"}, 0, 200, strings.Repeat("x", 2048)},
		// Bad input: max_response = "64KiB" exactly used to be taken for
		// "this is a redirect", and a bigger body came back as an empty 200.
		{"response over a cap of exactly 64 KiB", Config{MaxResponse: 64 << 10}, Request{Method: "GET", URL: base + "/sized?n=70000"}, KindResponseTooLarge, 0, ""},
		{"response at a cap of exactly 64 KiB", Config{MaxResponse: 64 << 10}, Request{Method: "GET", URL: base + "/sized?n=65536"}, 0, 200, strings.Repeat("x", 65536)},
		{"response one byte over 64 KiB, default cap", Config{}, Request{Method: "GET", URL: base + "/sized?n=65537"}, 0, 200, strings.Repeat("x", 65537)},
		{"3xx not followed, over the cap", Config{MaxResponse: 1024}, Request{Method: "GET", URL: base + "/sized?n=2000&code=302&to=/ok"}, KindResponseTooLarge, 0, ""},
		{"3xx over 64 KiB, redirects used up", Config{MaxResponse: 64 << 10, MaxRedirects: 1}, Request{Method: "GET", URL: base + "/redirect?to=" + url.QueryEscape("/sized?n=70000&code=302&to=/ok")}, KindResponseTooLarge, 0, ""},
		{"3xx without Location, over 64 KiB, over the cap", Config{MaxResponse: 64 << 10, MaxRedirects: 1}, Request{Method: "GET", URL: base + "/sized?n=70000&code=302"}, KindResponseTooLarge, 0, ""},
		{"followed redirect with a big body", Config{MaxResponse: 1024, MaxRedirects: 1}, Request{Method: "GET", URL: base + "/sized?n=200000&code=302&to=/ok"}, 0, 200, "hello GET"},
		{"slow response", Config{Timeout: 100 * time.Millisecond}, Request{Method: "GET", URL: base + "/slow"}, KindTimeout, 0, ""},
		{"unresolvable", Config{Allow: []string{"nx.test"}, HTTPHosts: []string{"nx.test"}}, Request{Method: "GET", URL: "http://nx.test/"}, KindDNS, 0, ""},
		{"no addresses", Config{Allow: []string{"empty.test"}, HTTPHosts: []string{"empty.test"}}, Request{Method: "GET", URL: "http://empty.test/"}, KindDNS, 0, ""},
		{"redirect followed", Config{MaxRedirects: 1}, Request{Method: "GET", URL: base + "/redirect?to=/ok"}, 0, 200, "hello GET"},
		{"redirect not followed", Config{}, Request{Method: "GET", URL: base + "/redirect?to=/ok"}, 0, 302, ""},
		{"redirect to a denied host", Config{MaxRedirects: 3, HTTPHosts: []string{hp, "other.test:" + port}}, Request{Method: "GET", URL: base + "/redirect?to=http://other.test:" + port + "/ok"}, KindDeniedHost, 0, ""},
		{"redirect to a denied address", Config{MaxRedirects: 3, Allow: []string{hp, "private.test:" + port}, HTTPHosts: []string{hp, "private.test:" + port}}, Request{Method: "GET", URL: base + "/redirect?to=http://private.test:" + port + "/ok"}, KindDeniedAddress, 0, ""},
		{"redirect to metadata literal", Config{MaxRedirects: 3, Allow: []string{hp, "169.254.169.254"}, HTTPHosts: []string{hp, "169.254.169.254"}}, Request{Method: "GET", URL: base + "/redirect?to=http://169.254.169.254/latest"}, KindDeniedAddress, 0, ""},
		{"redirect to plain http", Config{MaxRedirects: 3, Allow: []string{hp, "other.test"}}, Request{Method: "GET", URL: base + "/redirect?to=http://other.test/x"}, KindDeniedScheme, 0, ""},
		{"redirect to file", Config{MaxRedirects: 3}, Request{Method: "GET", URL: base + "/redirect?to=file:///etc/passwd"}, KindDeniedScheme, 0, ""},
		{"307 keeps a denied method", Config{MaxRedirects: 3, Methods: []string{"POST"}}, Request{Method: "POST", URL: base + "/redirect?code=307&to=/echo", Body: []byte("b")}, 0, 200, "b"},
		{"302 turns POST into a denied GET", Config{MaxRedirects: 3, Methods: []string{"POST"}}, Request{Method: "POST", URL: base + "/redirect?to=/echo", Body: []byte("b")}, KindDeniedMethod, 0, ""},
		{"too many redirects: the 3xx", Config{MaxRedirects: 2}, Request{Method: "GET", URL: base + "/redirect?to=" + "/redirect%3Fto%3D/redirect%253Fto%253D/ok"}, 0, 302, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.Allow == nil {
				cfg.Allow = []string{hp}
			}
			if cfg.HTTPHosts == nil {
				cfg.HTTPHosts = []string{hp}
			}
			cfg.AllowIPs = []string{"127.0.0.1"}
			p := newPolicy(t, cfg)
			resp, err := p.Do(context.Background(), &tc.req)
			if KindOf(err) != tc.want {
				t.Fatalf("err = %v, want kind %v", err, tc.want)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("err %T is not *Error", err)
				}
				return
			}
			if resp.Status != tc.status || resp.Status < 300 && string(resp.Body) != tc.body {
				t.Errorf("resp = %d %q, want %d %q", resp.Status, resp.Body, tc.status, tc.body)
			}
		})
	}
}

func TestResponseHeaders(t *testing.T) {
	srv := newServer(t, false)
	hp := "api.test:" + srv.port()
	p := newPolicy(t, Config{Allow: []string{hp}, HTTPHosts: []string{hp}, AllowIPs: []string{"127.0.0.1"}})
	resp, err := p.Do(context.Background(), &Request{Method: "GET", URL: "http://" + hp + "/ok",
		Header: map[string]string{"Connection": "close", "Transfer-Encoding": "chunked", "Host": "evil.test", "X-Mine": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header["X-Kept"] != "yes" || resp.Header["X-Hop"] != "" || resp.Header["Connection"] != "" {
		t.Errorf("response headers = %v", resp.Header)
	}
	got := srv.seen[0]
	if got.Get("X-Mine") != "1" || got.Get("Transfer-Encoding") != "" || got.Get("User-Agent") != "moat" {
		t.Errorf("server saw %v", got)
	}
}

func TestSecretHeader(t *testing.T) {
	srv := newServer(t, false)
	port := srv.port()
	hp, other := "api.test:"+port, "other.test:"+port
	var events []Event
	p := newPolicy(t, Config{
		Allow: []string{hp, other}, HTTPHosts: []string{hp, other}, AllowIPs: []string{"127.0.0.1"},
		MaxRedirects: 2,
		Headers: []Header{
			{Host: hp, Name: "authorization", Value: "Bearer " + secret},
			{Host: hp, Name: "X-Api-Key", Value: secret},
		},
		OnRequest: func(e Event) { events = append(events, e) },
	})
	var observed []Event
	ctx := WithObserver(context.Background(), func(e Event) { observed = append(observed, e) })

	// The guest's own Authorization is replaced.
	resp, err := p.Do(ctx, &Request{Method: "GET", URL: "http://" + hp + "/ok", Header: map[string]string{"Authorization": "Bearer guest"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.seen[0]; got.Get("Authorization") != "Bearer "+secret || got.Get("X-Api-Key") != secret || len(got["Authorization"]) != 1 {
		t.Errorf("server saw Authorization %q, X-Api-Key %q", got["Authorization"], got.Get("X-Api-Key"))
	}
	if strings.Contains(fmt.Sprint(resp), secret) {
		t.Error("the response carries the secret")
	}

	// A redirect to another host gets neither the secret nor the guest's
	// credentials.
	srv.seen = nil
	if _, err := p.Do(ctx, &Request{Method: "GET", URL: "http://" + hp + "/redirect?to=http://" + other + "/ok", Header: map[string]string{"Cookie": "c=1"}}); err != nil {
		t.Fatal(err)
	}
	if len(srv.seen) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(srv.seen))
	}
	if h := srv.seen[1]; h.Get("Authorization") != "" || h.Get("X-Api-Key") != "" || h.Get("Cookie") != "" {
		t.Errorf("the redirect target saw %v", h)
	}
	// Other hosts never get the secret.
	srv.seen = nil
	if _, err := p.Do(ctx, &Request{Method: "GET", URL: "http://" + other + "/ok"}); err != nil {
		t.Fatal(err)
	}
	if h := srv.seen[0]; h.Get("Authorization") != "" || h.Get("X-Api-Key") != "" {
		t.Errorf("another host saw %v", h)
	}
	if len(events) != 4 || len(observed) != 4 {
		t.Fatalf("%d events, %d observed, want 4", len(events), len(observed))
	}
	for _, e := range events {
		if strings.Contains(fmt.Sprintf("%+v", e), secret) || strings.Contains(e.Host, "/") {
			t.Errorf("event %+v", e)
		}
	}
	if e := events[0]; e.Host != hp || e.Method != "GET" || e.Status != 200 || e.Outcome != "ok" || e.BytesIn != int64(len("hello GET")) || e.Hop != 0 {
		t.Errorf("event = %+v", e)
	}
	if e := events[2]; e.Host != other || e.Hop != 1 {
		t.Errorf("redirect event = %+v", e)
	}
	// Each event names the secret headers its hop carried, never more.
	for i, want := range []string{"Authorization,X-Api-Key", "Authorization,X-Api-Key", "", ""} {
		if got := strings.Join(events[i].Secrets, ","); got != want {
			t.Errorf("event %d: secret header names %q; want %q", i, got, want)
		}
	}
}

func TestTLS(t *testing.T) {
	srv := newServer(t, true)
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	port := srv.Port()
	// httptest's certificate names example.com: the connection goes to the
	// vetted loopback address, and the certificate is checked against the
	// name, not the address.
	res := fakeResolver{"example.com": {"127.0.0.1"}, "api.test": {"127.0.0.1"}}
	cfg := Config{Allow: []string{"example.com:" + port, "api.test:" + port}, AllowIPs: []string{"127.0.0.1"}, Resolver: res, TLS: &tls.Config{RootCAs: roots}}
	p := newPolicy(t, cfg)
	resp, err := p.Do(context.Background(), &Request{Method: "GET", URL: "https://example.com:" + port + "/ok"})
	if err != nil || resp.Status != 200 {
		t.Fatalf("resp %v, err %v", resp, err)
	}
	if _, err := p.Do(context.Background(), &Request{Method: "GET", URL: "https://api.test:" + port + "/ok"}); KindOf(err) != KindConnect {
		t.Fatalf("wrong name: err = %v, want connect (TLS)", err)
	}
	p2 := newPolicy(t, Config{Allow: cfg.Allow, AllowIPs: cfg.AllowIPs, Resolver: res})
	if _, err := p2.Do(context.Background(), &Request{Method: "GET", URL: "https://example.com:" + port + "/ok"}); KindOf(err) != KindConnect {
		t.Fatalf("unknown CA: err = %v, want connect (TLS)", err)
	}
}

// Port returns the server's port.
func (s *server) Port() string { return s.port() }

func TestNoProxyFromEnvironment(t *testing.T) {
	srv := newServer(t, false)
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	hp := "api.test:" + srv.port()
	p := newPolicy(t, Config{Allow: []string{hp}, HTTPHosts: []string{hp}, AllowIPs: []string{"127.0.0.1"}})
	if _, err := p.Do(context.Background(), &Request{Method: "GET", URL: "http://" + hp + "/ok"}); err != nil {
		t.Fatal(err)
	}
}

func TestCallContextEnds(t *testing.T) {
	srv := newServer(t, false)
	hp := "api.test:" + srv.port()
	p := newPolicy(t, Config{Allow: []string{hp}, HTTPHosts: []string{hp}, AllowIPs: []string{"127.0.0.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Do(ctx, &Request{Method: "GET", URL: "http://" + hp + "/slow"}); KindOf(err) != KindTimeout {
		t.Fatalf("err = %v, want timeout", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad allow", Config{Allow: []string{"*"}}, "allow[0]"},
		{"bad http_hosts", Config{HTTPHosts: []string{"a b"}}, "http_hosts[0]"},
		{"bad allow_ips", Config{AllowIPs: []string{"10.0.0.1/8"}}, "allow_ips[0]: \"10.0.0.1/8\" has host bits set: write 10.0.0.0/8"},
		{"bad method", Config{Methods: []string{"CONNECT"}}, "methods[0]: CONNECT is never allowed"},
		{"bad header name", Config{Headers: []Header{{Host: "a.test", Name: "X A", Value: "v"}}}, "header[0].name"},
		{"hop-by-hop header", Config{Headers: []Header{{Host: "a.test", Name: "connection", Value: "v"}}}, "cannot be injected"},
		{"bad header value", Config{Headers: []Header{{Host: "a.test", Name: "X-A", Value: secret + "\r\n"}}}, "header[0].value: the value contains a control character"},
		{"negative", Config{MaxRedirects: -1}, "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrConfig containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Error("the error shows the secret")
			}
		})
	}
}

func TestEventsForRefusals(t *testing.T) {
	srv := newServer(t, false)
	port := srv.port()
	hp := "api.test:" + port
	var events []Event
	p := newPolicy(t, Config{Allow: []string{hp}, HTTPHosts: []string{hp}, AllowIPs: []string{"127.0.0.1"}, MaxRedirects: 1,
		OnRequest: func(e Event) { events = append(events, e) }})
	for _, tc := range []struct {
		name string
		req  Request
		want []Event
	}{
		{"denied host", Request{Method: "GET", URL: "http://other.test:" + port + "/ok"},
			[]Event{{Host: "other.test:" + port, Method: "GET", Outcome: "denied_host"}}},
		{"bad method", Request{Method: "GE\r\nT", URL: "http://" + hp + "/ok"},
			[]Event{{Outcome: "bad_request"}}},
		{"bad URL", Request{Method: "GET", URL: "http://u@" + hp + "/ok?token=abc"},
			[]Event{{Method: "GET", Outcome: "bad_request"}}},
		{"redirect to a denied host", Request{Method: "GET", URL: "http://" + hp + "/redirect?to=http://other.test/x"},
			[]Event{{Host: hp, Method: "GET", Status: 302, Outcome: "ok"}, {Host: "other.test:80", Method: "GET", Hop: 1, Outcome: "denied_host"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events = nil
			if _, err := p.Do(context.Background(), &tc.req); err == nil {
				t.Fatal("no error")
			}
			for i := range events {
				events[i].Duration, events[i].BytesIn = 0, 0
			}
			if fmt.Sprint(events) != fmt.Sprint(tc.want) {
				t.Errorf("events = %+v\nwant     %+v", events, tc.want)
			}
		})
	}
}
