package sandbox

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// benchInput is a typical small arguments object.
var benchInput = []byte(`{"path":"notes/meeting.md","max_bytes":4096,"encoding":"utf-8"}`)

// BenchmarkCall measures one call, fresh instance included, for echo
// guests in WAT, C and Go, next to a native Go function doing the same
// copy (the baseline the ratio is taken against).
func BenchmarkCall(b *testing.B) {
	ctx := context.Background()
	b.Run("native_echo", func(b *testing.B) {
		echo := func(stdin []byte) []byte {
			var out bytes.Buffer
			io.Copy(&out, bytes.NewReader(stdin))
			return out.Bytes()
		}
		for b.Loop() {
			if out := echo(benchInput); len(out) != len(benchInput) {
				b.Fatal("short echo")
			}
		}
	})
	for _, g := range []struct {
		name string
		spec Spec
	}{
		{"wat_echo", Spec{Name: "echo", Wasm: guest(b, "lim_echo.wasm")}},
		{"c_echo", Spec{Name: "echo", Wasm: guest(b, "lim_cecho.wasm")}},
		{"go_echo", Spec{Name: "echo", Wasm: goSandbox}},
	} {
		b.Run(g.name, func(b *testing.B) {
			m := load(b, "", g.spec)
			for b.Loop() {
				res, err := m.Call(ctx, benchInput, nil)
				if err != nil || res.Outcome != OutcomeOK || len(res.Stdout) != len(benchInput) {
					b.Fatalf("%+v, %v", res, err)
				}
			}
		})
	}
}

// BenchmarkLoad measures New + Load of the Go guest in a new Runtime, with
// an empty cache directory (compiles) and with one a previous Runtime
// filled (reads native code from disk), as a new moat process would.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	spec := Spec{Name: "echo", Wasm: goSandbox}
	loadOnce := func(b *testing.B, dir string) {
		r, err := New(ctx, &Options{CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		m, err := r.Load(ctx, spec)
		if err != nil {
			b.Fatal(err)
		}
		m.Close(ctx)
		r.Close(ctx)
	}
	b.Run("cold_cache", func(b *testing.B) {
		base := b.TempDir()
		i := 0
		for b.Loop() {
			i++
			loadOnce(b, filepath.Join(base, strconv.Itoa(i)))
		}
	})
	b.Run("warm_cache", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "warm")
		loadOnce(b, dir) // fill it
		for b.Loop() {
			loadOnce(b, dir)
		}
		if _, err := os.Stat(dir); err != nil {
			b.Fatal(err)
		}
	})
}

// TestCallAllocations notices a sharp rise in what one call of a command
// allocates (41 objects for the C echo when this was written, 69 before
// the per-call config was pooled): the bound is generous, so that it
// fails on a regression of the call path, not on the runtime's noise.
func TestCallAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over many calls")
	}
	m := load(t, "lim_cecho.wasm", Spec{Name: "echo"})
	ctx := context.Background()
	call := func() {
		res, err := m.Call(ctx, benchInput, nil)
		if err != nil || res.Outcome != OutcomeOK || len(res.Stdout) != len(benchInput) {
			t.Fatalf("%+v, %v", res, err)
		}
	}
	call() // the first call fills the pools
	if n := testing.AllocsPerRun(50, call); n > 100 {
		t.Errorf("one C echo call allocates %.0f objects, want at most 100", n)
	}
}
