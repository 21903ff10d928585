package host

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkCall is one tools/call of a C echo guest (the sandbox ≈ 10 µs)
// through the host's call path in process — request span, authorise,
// limits, validate, sandbox, result, audit — with tracing off, on and
// sampled (spans exported over OTLP/HTTP to a collector on loopback that
// discards them), and on but not sampled (sample_ratio = 0). No MCP client
// or transport: those would hide the difference.
func BenchmarkCall(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	wasm, err := filepath.Abs("../testdata/guests/lim_echo.wasm")
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct{ name, toml string }{
		{"tracing=off", ""},
		{"tracing=on-sampled", fmt.Sprintf("[telemetry]\nendpoint = %q\nsample_ratio = 1.0\n", collector.URL)},
		{"tracing=on-unsampled", fmt.Sprintf("[telemetry]\nendpoint = %q\nsample_ratio = 0.0\n", collector.URL)},
	} {
		b.Run(mode.name, func(b *testing.B) {
			dir := b.TempDir()
			tools := filepath.Join(dir, "tools")
			os.Mkdir(tools, 0o755)
			os.WriteFile(filepath.Join(tools, "echo.toml"), []byte(fmt.Sprintf("module = %q\nname = \"echo\"\n", wasm)), 0o644)
			cfg := filepath.Join(dir, "moat.toml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("[tools]\ndirs = [\"tools\"]\n[sandbox]\ncache_dir = %q\n[audit]\nfile = \"audit.log\"\n[rate_limits]\nper_principal_tool = \"unlimited\"\nper_tool = \"unlimited\"\n%s", filepath.Join(dir, "cache"), mode.toml)), 0o600)
			os.Mkdir(filepath.Join(dir, "cache"), 0o700)
			s, err := New(context.Background(), &Options{ConfigFile: cfg, Stdio: true, Notice: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			snap := s.acquire()
			defer snap.release()
			cc := &callContext{era: eraLocal, head: &requestHead{}, snap: snap, principal: snap.fallback}
			req := &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "echo", Arguments: json.RawMessage(`{"x":1}`)}}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				c, end := s.traceMCP(ctx, "tools/call", req, nil)
				res, err := s.call(c, cc, req)
				end()
				if err != nil || res.IsError {
					b.Fatalf("call: %v %+v", err, res)
				}
			}
		})
	}
}
