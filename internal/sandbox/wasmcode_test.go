package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/wasmbin"
)

// codeModule assembles a module around the given function bodies (their
// instructions only: codeModule adds one i32 local and the final end).
// Its types, table, memory, global and passive segments make every body
// in TestStateOps that is marked valid pass wazero's validation:
//
//	type 0: () -> (); type 1: () -> (i32)
//	table 0: funcref, min 1; memory 0: min 1 page; global 0: mut i32
//	elem 0: passive funcref (func 0), which also declares ref.func 0
//	data 0: passive "x", with a data count section
func codeModule(bodies ...[]byte) []byte {
	var code []byte
	code = wasmbin.AppendU32(code, uint32(len(bodies)))
	for _, body := range bodies {
		fn := append([]byte{1, 1, 0x7F}, body...) // one group: 1 × i32
		fn = append(fn, 0x0B)
		code = wasmbin.AppendU32(code, uint32(len(fn)))
		code = append(code, fn...)
	}
	funcs := wasmbin.AppendU32(nil, uint32(len(bodies)))
	for range bodies {
		funcs = append(funcs, 0)
	}
	return wasmModule(
		codeSection{1, []byte{2, 0x60, 0, 0, 0x60, 0, 1, 0x7F}},
		codeSection{3, funcs},
		codeSection{4, []byte{1, 0x70, 0, 1}},
		codeSection{5, []byte{1, 0, 1}},
		codeSection{6, []byte{1, 0x7F, 1, 0x41, 0, 0x0B}},
		codeSection{9, []byte{1, 1, 0, 1, 0}},
		codeSection{12, []byte{1}},
		codeSection{10, code},
		codeSection{11, []byte{1, 1, 1, 'x'}},
	)
}

type codeSection struct {
	id   byte
	body []byte
}

func wasmModule(secs ...codeSection) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range secs {
		b = append(b, s.id)
		b = wasmbin.AppendU32(b, uint32(len(s.body)))
		b = append(b, s.body...)
	}
	return b
}

func codeCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Instruction sequences for the bodies: each leaves the stack as it found it.
var (
	v128Const   = codeCat([]byte{0xFD, 0x0C}, bytes.Repeat([]byte{0xAB}, 16))
	codeMixture = codeCat(
		[]byte{0x01},                                                                   // nop
		[]byte{0x02, 0x01, 0x41, 0, 0x0B, 0x1A},                                        // block (type 1) i32.const 0 end drop
		[]byte{0x02, 0x81, 0x00, 0x41, 0, 0x0B, 0x1A},                                  // the same, type index in two bytes
		[]byte{0x03, 0x40, 0x0B},                                                       // loop end
		[]byte{0x41, 1, 0x04, 0x7F, 0x41, 2, 0x05, 0x41, 3, 0x0B, 0x1A},                // if (result i32) else end drop
		[]byte{0x02, 0x40, 0x02, 0x40, 0x41, 0, 0x0E, 2, 0, 1, 0, 0x0B, 0x0B},          // br_table
		[]byte{0x02, 0x40, 0x0C, 0, 0x0B},                                              // br
		[]byte{0x02, 0x40, 0x41, 0, 0x0D, 0, 0x0B},                                     // br_if
		[]byte{0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F, 0x1A}, // i64.const -2⁶³ in 10 bytes
		[]byte{0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x1A},                               // i32.const 2³¹-1 in 5 bytes
		[]byte{0x43, 0, 0, 0x80, 0x3F, 0x1A},                                           // f32.const 1
		[]byte{0x44, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x1A},                               // f64.const 1
		[]byte{0x41, 1, 0x41, 2, 0x6A, 0x1A},                                           // i32.add
		[]byte{0x20, 0, 0x21, 0, 0x20, 0, 0x22, 0, 0x1A},                               // locals
		[]byte{0x23, 0, 0x24, 0},                                                       // global.get, global.set
		[]byte{0x41, 0, 0x28, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x1A},                   // i32.load offset=2³²-1
		[]byte{0x41, 0, 0x41, 0, 0x36, 2, 0x80, 0x80, 0x04},                            // i32.store offset=65536
		[]byte{0x41, 0, 0x42, 0, 0x3C, 0, 0x80, 0x80, 0x80, 0x80, 0x08},                // i64.store8 offset=2³¹
		[]byte{0x3F, 0, 0x1A, 0x41, 0, 0x40, 0, 0x1A},                                  // memory.size, memory.grow
		[]byte{0x41, 0, 0x41, 0, 0x41, 0, 0xFC, 10, 0, 0},                              // memory.copy
		[]byte{0x41, 0, 0x41, 0, 0x41, 0, 0xFC, 11, 0},                                 // memory.fill
		[]byte{0x43, 0, 0, 0, 0, 0xFC, 0, 0x1A},                                        // i32.trunc_sat_f32_s
		[]byte{0x41, 0, 0x25, 0, 0x1A, 0xFC, 16, 0, 0x1A},                              // table.get, table.size
		[]byte{0x10, 0, 0x41, 0, 0x11, 0, 0},                                           // call, call_indirect
		[]byte{0x41, 1, 0x41, 2, 0x41, 0, 0x1B, 0x1A},                                  // select
		[]byte{0x41, 1, 0x41, 2, 0x41, 0, 0x1C, 1, 0x7F, 0x1A},                         // select (result i32)
		[]byte{0xD2, 0, 0xD1, 0x1A, 0xD0, 0x6F, 0x1A},                                  // ref.func, ref.is_null, ref.null extern
		v128Const, []byte{0x1A}, // v128.const
		v128Const, v128Const, []byte{0xFD, 0x0D, 0, 17, 2, 19, 4, 21, 6, 23, 8, 25, 10, 27, 12, 29, 14, 31, 0x1A}, // i8x16.shuffle
		v128Const, []byte{0xFD, 0x80, 0x01, 0x1A}, // i16x8.abs: a two-byte sub-opcode
		v128Const, []byte{0xFD, 0x15, 15, 0x1A}, // i8x16.extract_lane_s 15
		[]byte{0x41, 0}, v128Const, []byte{0xFD, 0x54, 0, 0x80, 0x80, 0x80, 0x80, 0x0F, 5, 0x1A}, // v128.load8_lane offset=0xF0000000 lane 5
		[]byte{0x41, 0, 0xFD, 0, 4, 0xC0, 0x3E, 0x1A}, // v128.load offset=8000
	)
)

// foundBodies holds each instruction stateOps must find, alone in a body.
var foundBodies = []struct {
	op   string
	body []byte
}{
	{"table.set", []byte{0x41, 0, 0xD0, 0x70, 0x26, 0}},
	{"table.grow", []byte{0xD0, 0x70, 0x41, 1, 0xFC, 15, 0, 0x1A}},
	{"table.fill", []byte{0x41, 0, 0xD0, 0x70, 0x41, 0, 0xFC, 17, 0}},
	{"table.copy", []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xFC, 14, 0, 0}},
	{"table.init", []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xFC, 12, 0, 0}},
	{"elem.drop", []byte{0xFC, 13, 0}},
	{"memory.init", []byte{0x41, 0, 0x41, 0, 0x41, 0, 0xFC, 8, 0, 0}},
	{"data.drop", []byte{0xFC, 9, 0}},
}

func TestStateOps(t *testing.T) {
	type testCase struct {
		name  string
		wasm  []byte
		want  string
		err   bool // errors.Is(err, errCode)
		valid bool // wazero compiles it (checks the hand-built encodings)
	}
	tests := []testCase{
		{name: "clean", wasm: codeModule(codeMixture), valid: true},
		{name: "empty body", wasm: codeModule(nil), valid: true},
		{name: "no functions", wasm: wasmModule(codeSection{10, []byte{0}}), valid: true},
		{name: "no code section", wasm: wasmModule(codeSection{1, []byte{0}}), valid: true},
		{name: "custom section only", wasm: wasmModule(codeSection{0, []byte{1, 'n', 0x26, 0}}), valid: true},
		{name: "clean then found", wasm: codeModule(codeMixture, foundBodies[0].body), want: "table.set", valid: true},
		{name: "first found wins", wasm: codeModule(foundBodies[7].body, foundBodies[0].body), want: "data.drop", valid: true},

		// Instructions wazero does not enable by default, decoded all the same.
		{name: "return_call", wasm: codeModule([]byte{0x12, 0})},
		{name: "return_call_indirect", wasm: codeModule([]byte{0x41, 0, 0x13, 0, 0})},
		{name: "atomics", wasm: codeModule([]byte{0x41, 0, 0xFE, 0x10, 2, 0x80, 0x01, 0x1A, 0xFE, 0x03, 0})},
		{name: "atomic.notify", wasm: codeModule([]byte{0x41, 0, 0x41, 1, 0xFE, 0x00, 2, 0, 0x1A})},

		{name: "unknown opcode", wasm: codeModule([]byte{0x06}), err: true},
		{name: "unknown opcode after found-looking immediates", wasm: codeModule([]byte{0x44, 0x26, 0, 0xFC, 9, 0, 0, 0, 0, 0xC5}), err: true},
		{name: "throw", wasm: codeModule([]byte{0x08, 0}), err: true},
		{name: "call_ref", wasm: codeModule([]byte{0x14, 0}), err: true},
		{name: "unknown 0xfc", wasm: codeModule([]byte{0xFC, 18, 0}), err: true},
		{name: "0xfc beyond a byte", wasm: codeModule([]byte{0xFC, 0x8C, 0x02, 0}), err: true},
		{name: "reserved 0xfd", wasm: codeModule(codeCat(v128Const, []byte{0xFD, 0x9A, 0x01, 0x1A})), err: true},
		{name: "relaxed simd", wasm: codeModule(codeCat(v128Const, []byte{0xFD, 0x80, 0x02, 0x1A})), err: true},
		// wazero would read 0x8C, then 0x00 (unreachable), then the
		// "constant" as code: the kind of disagreement that hides an
		// instruction, so it is refused.
		{name: "0xfd opcode in a long form", wasm: codeModule(codeCat([]byte{0xFD, 0x8C, 0x00}, bytes.Repeat([]byte{0x26}, 16))), err: true},
		{name: "0xfe opcode in a long form", wasm: codeModule([]byte{0x41, 0, 0xFE, 0x90, 0x00, 2, 0, 0x1A}), err: true},
		{name: "unknown 0xfe", wasm: codeModule([]byte{0xFE, 0x04}), err: true},
		{name: "fence not zero", wasm: codeModule([]byte{0xFE, 0x03, 1}), err: true},
		{name: "memarg with a memory index", wasm: codeModule([]byte{0x41, 0, 0x28, 0x42, 0, 0, 0x1A}), err: true},
		{name: "memory.size reserved not zero", wasm: codeModule([]byte{0x3F, 1, 0x1A}), err: true},
		{name: "memory.grow reserved in two bytes", wasm: codeModule([]byte{0x41, 0, 0x40, 0x80, 0, 0x1A}), err: true},
		{name: "typed reference block type", wasm: codeModule([]byte{0x02, 0x63, 0x70, 0x0B}), err: true},
		{name: "exnref block type", wasm: codeModule([]byte{0x02, 0x69, 0x0B}), err: true},
		{name: "block type past 33 bits", wasm: codeModule([]byte{0x02, 0x80, 0x80, 0x80, 0x80, 0x40, 0x0B}), err: true},
		{name: "block type with 6 bytes", wasm: codeModule([]byte{0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0B}), err: true},
		{name: "i32.const with 6 bytes", wasm: codeModule([]byte{0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1A}), err: true},
		{name: "i64.const with 11 bytes", wasm: codeModule(codeCat([]byte{0x42}, bytes.Repeat([]byte{0x80}, 10), []byte{0x00, 0x1A})), err: true},
		{name: "u32 past 32 bits", wasm: codeModule([]byte{0x20, 0x80, 0x80, 0x80, 0x80, 0x10}), err: true},
		{name: "ref.null unknown type", wasm: codeModule([]byte{0xD0, 0x7F, 0x1A}), err: true},
		{name: "select with a bad type", wasm: codeModule([]byte{0x41, 1, 0x41, 2, 0x41, 0, 0x1C, 1, 0x40, 0x1A}), err: true},
		{name: "select type count past the body", wasm: codeModule([]byte{0x1C, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}), err: true},
		{name: "br_table count past the body", wasm: codeModule([]byte{0x0E, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}), err: true},
		{name: "local type unknown", wasm: wasmModule(codeSection{10, []byte{1, 4, 1, 1, 0x40, 0x0B}}), err: true},
		{name: "v128.const truncated", wasm: wasmModule(codeSection{10, []byte{1, 6, 0, 0xFD, 0x0C, 1, 2, 3}}), err: true},
		{name: "body length past the section", wasm: wasmModule(codeSection{10, []byte{1, 5, 0, 0x0B}}), err: true},
		{name: "body length past 32 bits", wasm: wasmModule(codeSection{10, []byte{1, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}}), err: true},
		{name: "more bodies than bytes", wasm: wasmModule(codeSection{10, []byte{3, 2, 0, 0x0B}}), err: true},
		{name: "bytes after the last body", wasm: wasmModule(codeSection{10, []byte{1, 2, 0, 0x0B, 0x26}}), err: true},
		{name: "empty body with no locals vector", wasm: wasmModule(codeSection{10, []byte{1, 0}}), err: true},
		{name: "section size past the end", wasm: []byte("\x00asm\x01\x00\x00\x00\x0a\x05\x01\x02\x00\x0b"), err: true},
		{name: "not wasm", wasm: []byte("\x7fELF\x02\x01\x01\x00"), err: true},
		{name: "empty", wasm: nil, err: true},
	}
	for _, f := range foundBodies {
		tests = append(tests,
			testCase{name: f.op, wasm: codeModule(f.body), want: f.op, valid: true},
			testCase{name: f.op + " after a mixture", wasm: codeModule(codeCat(codeMixture, f.body)), want: f.op, valid: true},
			testCase{name: f.op + " in a later body", wasm: codeModule(codeMixture, nil, f.body), want: f.op, valid: true},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := stateOps(tt.wasm)
			if op != tt.want || (err != nil) != tt.err {
				t.Fatalf("stateOps = %q, %v; want %q, error %v", op, err, tt.want, tt.err)
			}
			if err != nil && !errors.Is(err, errCode) {
				t.Fatalf("error %v is not errCode", err)
			}
			if tt.valid {
				compiled, err := testRT.rt.CompileModule(context.Background(), tt.wasm)
				if err != nil {
					t.Fatalf("wazero refuses the test module: %v", err)
				}
				compiled.Close(context.Background())
			}
		})
	}
}

// TestStateOpsErrorOffset: the error names the opcode and where it is.
func TestStateOpsErrorOffset(t *testing.T) {
	b := codeModule([]byte{0x44, 'm', 'o', 'a', 't', 'm', 'o', 'a', 't', 0x1A, 0xC5})
	_, err := stateOps(b)
	var ce *codeError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a codeError", err)
	}
	if want := bytes.Index(b, []byte("moatmoat")) + 9; ce.off != want || b[ce.off] != 0xC5 {
		t.Fatalf("offset %#x, want %#x", ce.off, want)
	}
	if want := fmt.Sprintf("code section: unknown opcode 0xc5 at offset %#x", ce.off); err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

// TestStateOpsTruncated cuts a body that ends in each found instruction
// at every point: the decoder returns an error, nothing or that
// instruction, and never reads past the body (the reader's slice ends
// there, so reading further would panic).
func TestStateOpsTruncated(t *testing.T) {
	for _, f := range foundBodies {
		body := codeCat([]byte{1, 1, 0x7F}, codeMixture, f.body, []byte{0x0B})
		for k := range len(body) + 1 {
			cut := bytes.Clone(body[:k])
			r := codeReader{b: cut[:k:k], end: k}
			op, err := r.scanBody()
			if err != nil && op != "" || op != "" && op != f.op || r.pos > k {
				t.Fatalf("%s cut at %d: %q, %v, pos %d", f.op, k, op, err, r.pos)
			}
			if k == len(body) && (op != f.op || err != nil) {
				t.Fatalf("%s whole: %q, %v", f.op, op, err)
			}
			// The same cut as a module, its size saying so, followed by
			// a body that only a decoder reading past the cut would see.
			code := wasmbin.AppendU32([]byte{2}, uint32(k))
			code = append(code, cut...)
			code = append(code, 6, 0, 0x41, 0, 0xFC, 13, 0)
			want := op
			if op == "" && err == nil {
				want = "elem.drop"
			}
			mop, merr := stateOps(wasmModule(codeSection{10, code}))
			if mop != want || (merr != nil) != (err != nil) {
				t.Fatalf("%s module cut at %d: %q, %v; want %q, %v", f.op, k, mop, merr, want, err)
			}
		}
	}
}

// guestStateOps says what stateOps finds in the modules under
// testdata/guests that use a table-changing instruction; every other
// guest there, and the modules in guestsElsewhere, uses none. The .wat
// guests define no table but lim_rx_table; the C guests (clang with
// wasi-libc) and hello_c have one for call_indirect, filled once by an
// active element segment at instantiation, which their code never
// changes.
var guestStateOps = map[string]string{
	"lim_rx_table.wasm": "table.set",
}

var guestsElsewhere = []string{
	"../../cmd/moat/benchdata/echo.wasm",
	"../../tools/hello_as/hello_as.wasm",
	"../../tools/hello_c/hello_c.wasm",
}

func TestStateOpsGuests(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(guestDir, "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 20 {
		t.Fatalf("%d guests in %s, want the 26 or more committed there", len(paths), guestDir)
	}
	for _, path := range append(paths, guestsElsewhere...) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if filepath.Dir(path) == filepath.Clean(guestDir) {
				want = guestStateOps[filepath.Base(path)]
			}
			if op, err := stateOps(b); op != want || err != nil {
				t.Fatalf("stateOps = %q, %v; want %q", op, err, want)
			}
		})
	}
}

var (
	goModsMu sync.Mutex
	goMods   = map[string][]byte{}
)

// goModule builds the Go guest in dir (relative to the repository) for
// wasip1, once per test binary; c-shared selects -buildmode=c-shared.
func goModule(tb testing.TB, dir string, cShared bool) []byte {
	tb.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		tb.Skip("go not on PATH")
	}
	goModsMu.Lock()
	defer goModsMu.Unlock()
	key := fmt.Sprint(dir, cShared)
	if b, ok := goMods[key]; ok {
		return b
	}
	out := filepath.Join(tb.TempDir(), "guest.wasm")
	args := []string{"build", "-o", out}
	if cShared {
		args = append(args, "-buildmode=c-shared")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = filepath.Join("../..", dir)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build %s: %v\n%s", dir, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	goMods[key] = b
	return b
}

// TestStateOpsGo: Go guests, commands and reactors, use no
// table-changing instruction, so reactors qualify for reset in place.
func TestStateOpsGo(t *testing.T) {
	for _, tt := range []struct {
		dir     string
		cShared bool
	}{
		{"cmd/moat/benchdata/goreactor", true},
		{"testdata/guests/goreactor", true},
		{"testdata/guests/gosandbox", false},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			b := goModule(t, tt.dir, tt.cShared)
			start := time.Now()
			op, err := stateOps(b)
			elapsed := time.Since(start)
			if op != "" || err != nil {
				t.Fatalf("stateOps = %q, %v; want none", op, err)
			}
			t.Logf("%s: %d bytes scanned in %v", tt.dir, len(b), elapsed)
		})
	}
}

func BenchmarkStateOps(b *testing.B) {
	wasm := goModule(b, "cmd/moat/benchdata/goreactor", true)
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if op, err := stateOps(wasm); op != "" || err != nil {
			b.Fatal(op, err)
		}
	}
}

var stateOpNames = map[string]bool{"": true}

func init() {
	for _, f := range foundBodies {
		stateOpNames[f.op] = true
	}
}

// FuzzStateOps: hostile bytes never make the scanner panic; it returns a
// known name or an error, never both; and it agrees with itself when the
// same body comes inside a module built around it.
func FuzzStateOps(f *testing.F) {
	f.Add(codeModule(codeMixture), []byte(nil))
	for _, fb := range foundBodies {
		f.Add(codeModule(codeCat(codeMixture, fb.body)), fb.body)
	}
	f.Add(guest(f, "lim_cecho.wasm"), []byte{0xFD, 0x0C})
	f.Add(guest(f, "lim_notify.wasm"), []byte{0x0E, 2, 0, 1, 0})
	f.Fuzz(func(t *testing.T, wasm, body []byte) {
		op, err := stateOps(wasm)
		if !stateOpNames[op] || op != "" && err != nil {
			t.Fatalf("stateOps = %q, %v", op, err)
		}
		if err != nil && !errors.Is(err, errCode) {
			t.Fatalf("error %v is not errCode", err)
		}
		// A body that holds none of the bytes that start a found
		// instruction (0x26, 0xFC) can only be found clean or refused.
		op, err = stateOps(codeModule(body))
		if !stateOpNames[op] || op != "" && err != nil {
			t.Fatalf("stateOps(body) = %q, %v", op, err)
		}
		if op != "" && !bytes.ContainsAny(body, "\x26\xfc") {
			t.Fatalf("stateOps(body) = %q without 0x26 or 0xfc in %x", op, body)
		}
	})
}
