package telemetry_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/moatmcp/moat/host"
)

// receiver is a small OTLP/HTTP collector on 127.0.0.1: it decodes each
// export and keeps its spans.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans map[string][]string // trace id → "name parent-span-id"
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{spans: map[string][]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want OTLP/HTTP protobuf on /v1/traces", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, 8<<20))
		var ex coltrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &ex)
		}
		if err != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range ex.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					id := hex.EncodeToString(s.TraceId)
					r.spans[id] = append(r.spans[id], s.Name+" "+hex.EncodeToString(s.ParentSpanId))
				}
			}
		}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) trace(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.spans[id]...)
}

// TestOTLPEndToEnd: moat serving over HTTP with [telemetry] endpoint set
// exports, over real OTLP/HTTP to a collector on loopback, the spans of a
// call whose trace id came from the request's params._meta.
func TestOTLPEndToEnd(t *testing.T) {
	rcv := newReceiver(t)
	dir := t.TempDir()
	tools := filepath.Join(dir, "tools")
	cache := filepath.Join(dir, "cache")
	os.Mkdir(tools, 0o755)
	os.Mkdir(cache, 0o700)
	wasm, err := filepath.Abs("../../testdata/guests/lim_echo.wasm")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tools, "echo.toml"), []byte(fmt.Sprintf("module = %q\nname = \"echo\"\n", wasm)), 0o644)
	cfg := filepath.Join(dir, "moat.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[tools]\ndirs = [\"tools\"]\n[sandbox]\ncache_dir = %q\n[audit]\nfile = \"audit.log\"\n[telemetry]\nendpoint = %q\nservice_name = \"moat-e2e\"\n", cache, rcv.URL)), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := host.New(ctx, &host.Options{ConfigFile: cfg, NoAuth: true, Listener: ln, Notice: io.Discard})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	const trace, parent = "5bf92f3577b34da6a3ce929d0e0e4737", "10f067aa0ba902b8"
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"hi":1},"_meta":{` +
		`"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{},` +
		`"traceparent":"00-` + trace + `-` + parent + `-01"}}}`
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", "echo")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `\"hi\":1`) {
		t.Fatalf("call: %d %s", resp.StatusCode, b)
	}
	cancel()
	<-done
	if err := srv.Close(context.Background()); err != nil { // flushes the spans
		t.Fatal(err)
	}
	got := rcv.trace(trace)
	want := map[string]bool{"tools/call echo " + parent: false}
	for _, s := range got {
		if _, ok := want[s]; ok {
			want[s] = true
		}
	}
	if !want["tools/call echo "+parent] || len(got) < 4 {
		t.Fatalf("collector got for trace %s: %v; want the request span under %s and its children", trace, got, parent)
	}
	for _, name := range []string{"moat.authorise ", "moat.validate ", "moat.sandbox ", "moat.sandbox.run "} {
		found := false
		for _, s := range got {
			found = found || strings.HasPrefix(s, name)
		}
		if !found {
			t.Errorf("no %s span exported: %v", strings.TrimSpace(name), got)
		}
	}
}
