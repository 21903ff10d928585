package host

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/moatmcp/moat/internal/manifest"
)

// TestLoadTools: tools load in parallel and come back in manifest order;
// a bad module fails the set with its own error, and what loaded is
// returned for the caller to close.
func TestLoadTools(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := runtime(t)
	wasm := mustRead(t, guests["hostfixture"])
	m := func(name string, wasm []byte) *manifest.Tool {
		return &manifest.Tool{File: "(test)", Name: name, Wasm: wasm, InputSchema: json.RawMessage(`{"type":"object"}`),
			Result: manifest.ResultText, Limits: manifest.DefaultLimits()}
	}
	tools, err := LoadTools(ctx, rt, []*manifest.Tool{m("a", wasm), m("b", wasm), m("c", wasm)})
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 3 || tools[0].Name() != "a" || tools[1].Name() != "b" || tools[2].Name() != "c" {
		t.Fatalf("tools = %v", tools)
	}
	for _, tl := range tools {
		tl.Close(ctx)
	}
	_, want := LoadTool(ctx, rt, m("bad", []byte("not wasm")))
	loaded, err := LoadTools(ctx, rt, []*manifest.Tool{m("bad", []byte("not wasm")), m("ok", wasm)})
	if err == nil || want == nil || err.Error() != want.Error() {
		t.Fatalf("LoadTools error = %v, want %v", err, want)
	}
	for _, tl := range loaded {
		if tl.Name() != "ok" {
			t.Fatalf("loaded %q", tl.Name())
		}
		tl.Close(ctx)
	}
	if tools, err := LoadTools(ctx, rt, nil); err != nil || len(tools) != 0 {
		t.Fatalf("LoadTools(nil) = %v, %v", tools, err)
	}
}
