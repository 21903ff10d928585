package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine to write while
// the test reads; each write closes (and replaces) the channel of changed,
// so a test waits for output instead of polling.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{} // nil until changed is first called
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote != nil {
		close(s.wrote)
		s.wrote = nil
	}
	return s.b.Write(p)
}

// changed is the output so far, and a channel closed at the next write.
func (s *syncBuffer) changed() (string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote == nil {
		s.wrote = make(chan struct{})
	}
	return s.b.String(), s.wrote
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingRE = regexp.MustCompile(`serving \d+ tool\(s\) at (\S+)/mcp`)

// startServe runs `moat serve ARGS` in the background and returns its base
// URL once it listens, a function that stops it (like SIGTERM) and waits
// for its exit code, and its stderr.
func startServe(t *testing.T, args ...string) (string, func() int, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--watch", "0", "--cache-dir", filepath.Join(tree, "cache")}, args...), strings.NewReader(""), io.Discard, stderr)
	}()
	// It wakes at each line serve writes; the bound is generous (a
	// loaded machine under -race compiles slowly), for a broken test.
	bound := time.NewTimer(5 * time.Minute)
	defer bound.Stop()
	for {
		out, wrote := stderr.changed()
		if m := servingRE.FindStringSubmatch(out); m != nil {
			stop := func() int { cancel(); return <-done }
			t.Cleanup(func() { cancel() })
			return m[1], stop, stderr
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("moat serve exited %d:\n%s", code, stderr.String())
		case <-wrote:
			continue
		case <-bound.C:
		}
		break
	}
	cancel()
	t.Fatalf("moat serve did not start:\n%s", stderr.String())
	return "", nil, nil
}

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func post(t *testing.T, c *http.Client, url, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "moat test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	url, stop, stderr := startServe(t, "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile, filepath.Join(tree, "manifests"))
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("serving at %s", url)
	}
	key := regexp.MustCompile(`Bearer (moat_\S+)`).FindStringSubmatch(stderr.String())
	if key == nil {
		t.Fatalf("no dev key printed:\n%s", stderr.String())
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("POST", url+"/mcp", strings.NewReader(initialize))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+key[1])
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("https initialize: %d (tls %v)", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP to the TLS port gets nowhere near MCP.
	resp = post(t, http.DefaultClient, strings.Replace(url, "https://", "http://", 1), initialize)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("plain http to the TLS port: %d", resp.StatusCode)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// The dev key is shown once, to the terminal, and not logged again.
	if strings.Count(stderr.String(), key[1]) != 1 {
		t.Fatalf("the key appears %d times on stderr", strings.Count(stderr.String(), key[1]))
	}
}

func TestServeRefusals(t *testing.T) {
	t.Parallel()
	manifests := filepath.Join(tree, "manifests")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"plaintext on a public address", []string{"--listen", "0.0.0.0:0", manifests}, "TLS"},
		{"no keys on a public address", []string{"--listen", "0.0.0.0:0", "--tls-terminated-upstream", manifests}, "no API keys"},
		{"--no-auth off loopback", []string{"--listen", "0.0.0.0:0", "--tls-terminated-upstream", "--no-auth", manifests}, "--no-auth is refused"},
		{"no manifests", []string{"--listen", "127.0.0.1:0"}, "no manifest folders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runMoat(t, "", append([]string{"serve", "--watch", "0", "--cache-dir", filepath.Join(tree, "cache")}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 mentioning %q", code, errOut, tc.want)
			}
		})
	}
}

// TestServeGracefulShutdown: a call in flight when the server is told to
// stop still gets its answer, and serve exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wasm, err := os.ReadFile("../../testdata/guests/lim_sleep.wasm")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "sleep.wasm"), wasm, 0o644)
	os.WriteFile(filepath.Join(dir, "sleep.toml"), []byte("name = \"sleepy\"\nmodule = \"sleep.wasm\"\n[grants]\nclock = true\n[limits]\ntimeout = \"1500ms\"\n"), 0o644)
	url, stop, _ := startServe(t, "--listen", "127.0.0.1:0", "--no-auth", dir)

	resp := post(t, http.DefaultClient, url, initialize)
	session := resp.Header.Get("Mcp-Session-Id")
	resp.Body.Close()
	// The guest reports progress once it runs (lim_sleep.wat): the call's
	// SSE stream carrying that notification is the event to stop on.
	result := make(chan string, 1)
	running := make(chan struct{})
	go func() {
		req, _ := http.NewRequest("POST", url+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sleepy","arguments":{},"_meta":{"progressToken":"p"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			close(running)
			result <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		var all strings.Builder
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "notifications/progress") {
				signalled = true
				close(running)
			}
		}
		if !signalled {
			close(running)
		}
		result <- all.String()
	}()
	select {
	case <-running:
	case <-time.After(60 * time.Second):
		t.Fatal("the call never started")
	}
	code := stop()
	got := <-result
	if code != 0 || !strings.Contains(got, "time limit of 1.5s") {
		t.Fatalf("exit %d; the call in flight got %q", code, got)
	}
}
