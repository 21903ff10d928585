package sandbox

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/moatmcp/moat/internal/wasmbin"
)

// FuzzCapMessage: guest messages (untrusted bytes) always come out as
// valid UTF-8 within the cap, and valid short ones unchanged.
func FuzzCapMessage(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte("a\xffb\xc3"))
	f.Add([]byte(strings.Repeat("é", MaxNotifyMessage)))
	f.Add([]byte(strings.Repeat("a", MaxNotifyMessage-1) + "😀"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := capMessage(b)
		if !utf8.ValidString(s) || len(s) > MaxNotifyMessage {
			t.Fatalf("capMessage: len %d, valid %v", len(s), utf8.ValidString(s))
		}
		if utf8.Valid(b) {
			if len(b) <= MaxNotifyMessage && s != string(b) {
				t.Fatalf("valid message changed")
			}
			if !strings.HasPrefix(string(b), s) || len(s) < MaxNotifyMessage-utf8.UTFMax && len(b) > len(s) {
				t.Fatalf("valid message cut wrongly: kept %d of %d", len(s), len(b))
			}
		}
	})
}

// FuzzDeclaredMinPages: the memory-section reader never panics, and when
// wazero compiles a module and exports its memory, both agree on the
// minimum.
func FuzzDeclaredMinPages(f *testing.F) {
	for _, name := range []string{"lim_bigmem.wasm", "lim_echo.wasm", "lim_trap.wasm", "lim_notify.wasm", "lim_cecho.wasm"} {
		f.Add(guest(f, name))
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x02"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x05\x06\x01\x01\x80\x80\x04\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pages, err := declaredMinPages(b)
		if err != nil || len(b) > 1<<16 {
			return
		}
		compiled, cerr := testRT.rt.CompileModule(context.Background(), b)
		if cerr != nil {
			return
		}
		defer compiled.Close(context.Background())
		for _, mem := range compiled.ExportedMemories() {
			if mem.Min() != pages {
				t.Fatalf("declaredMinPages = %d, wazero says %d", pages, mem.Min())
			}
		}
	})
}

// FuzzCommandData: taking the data section out of a command module never
// panics, and what it takes out fits in the minimum it was given.
func FuzzCommandData(f *testing.F) {
	for _, name := range []string{"lim_memleft.wasm", "lim_cecho.wasm", "lim_echo.wasm"} {
		f.Add(guest(f, name), uint32(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, pages uint32) {
		minBytes := uint64(pages%4) * pageSize
		out, segs, ok := commandData(b, minBytes)
		if !ok {
			return
		}
		for _, d := range segs {
			if uint64(d.off)+uint64(len(d.data)) > minBytes {
				t.Fatalf("segment at %d (%d bytes) past %d", d.off, len(d.data), minBytes)
			}
		}
		secs, err := wasmbin.Sections(out)
		if err != nil {
			t.Fatalf("output does not parse: %v", err)
		}
		for _, s := range secs {
			if s.ID == 11 || s.ID == 12 {
				t.Fatalf("section %d left in", s.ID)
			}
		}
	})
}
