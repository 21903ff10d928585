package wasmbin

import (
	"errors"
	"testing"
)

func TestU32(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint32
		n    int
		err  error
	}{
		{"zero", []byte{0}, 0, 1, nil},
		{"one byte max", []byte{0x7f}, 127, 1, nil},
		{"two bytes", []byte{0x80, 0x01}, 128, 2, nil},
		{"padded zero", []byte{0x80, 0x80, 0x00}, 0, 3, nil},
		{"max u32", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 1<<32 - 1, 5, nil},
		{"trailing bytes ignored", []byte{0x05, 0xff}, 5, 1, nil},
		{"empty", nil, 0, 0, ErrLEB},
		{"cut short", []byte{0x80}, 0, 0, ErrLEB},
		{"33 bits", []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 0, 0, ErrLEB},
		{"six bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 0, ErrLEB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, n, err := U32(tc.in)
			if v != tc.want || n != tc.n || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("U32(% x) = %d, %d, %v; want %d, %d, %v", tc.in, v, n, err, tc.want, tc.n, tc.err)
			}
		})
	}
}

func TestSigned(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		s32   int64 // -1<<40: an error
		s33   int64
		nSkip int
	}{
		{"zero", []byte{0}, 0, 0, 1},
		{"minus one", []byte{0x7f}, -1, -1, 1},
		{"64", []byte{0xc0, 0x00}, 64, 64, 2},
		{"min i32", []byte{0x80, 0x80, 0x80, 0x80, 0x78}, -1 << 31, -1 << 31, 5},
		{"max i32", []byte{0xff, 0xff, 0xff, 0xff, 0x07}, 1<<31 - 1, 1<<31 - 1, 5},
		{"2^31 fits s33 only", []byte{0x80, 0x80, 0x80, 0x80, 0x08}, -1 << 40, 1 << 31, 5},
		{"cut short", []byte{0x80}, -1 << 40, -1 << 40, 0},
		{"too long", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, -1 << 40, -1 << 40, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v32, _, err := S32(tc.in)
			if (err != nil) != (tc.s32 == -1<<40) || (err == nil && int64(v32) != tc.s32) {
				t.Errorf("S32(% x) = %d, %v; want %d", tc.in, v32, err, tc.s32)
			}
			v33, _, err := S33(tc.in)
			if (err != nil) != (tc.s33 == -1<<40) || (err == nil && v33 != tc.s33) {
				t.Errorf("S33(% x) = %d, %v; want %d", tc.in, v33, err, tc.s33)
			}
			n, err := SkipSLEB(tc.in, 5)
			if n != tc.nSkip || (err != nil) != (tc.nSkip == 0) {
				t.Errorf("SkipSLEB(% x) = %d, %v; want %d", tc.in, n, err, tc.nSkip)
			}
		})
	}
}

// module assembles a module from sections (id, body).
func module(secs ...Section) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range secs {
		b = append(b, s.ID)
		b = AppendU32(b, uint32(len(s.Body)))
		b = append(b, s.Body...)
	}
	return b
}

func TestSectionsAndExports(t *testing.T) {
	exports := []byte{2, 3, 'r', 'u', 'n', 0, 1, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0}
	mem := []byte{2, 0, 3, 1, 2, 0x80, 0x01} // two memories: min 3; min 2 max 128
	b := module(Section{ID: SectionMemory, Body: mem}, Section{ID: SectionExport, Body: exports})
	secs, err := Sections(b)
	if err != nil || len(secs) != 2 || secs[1].ID != SectionExport || string(secs[1].Body) != string(exports) {
		t.Fatalf("Sections = %+v, %v", secs, err)
	}
	names, err := Exports(secs[1].Body)
	if err != nil || len(names) != 2 || names["run"] != 0 || names["memory"] != 2 {
		t.Fatalf("Exports = %v, %v", names, err)
	}
	if pages, err := MemoryMinPages(secs[0].Body); err != nil || pages != 3 {
		t.Fatalf("MemoryMinPages = %d, %v", pages, err)
	}

	bad := []struct {
		name string
		in   []byte
		err  error
	}{
		{"empty", nil, ErrNotWasm},
		{"no magic", []byte("\x00wasm\x01\x00\x00"), ErrNotWasm},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), ErrVersion},
		{"section past the end", append(module(), 1, 5, 0), ErrTruncated},
		{"section size cut short", append(module(), 1, 0x80), ErrLEB},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Sections(tc.in); !errors.Is(err, tc.err) {
				t.Errorf("Sections(% x) = %v, want %v", tc.in, err, tc.err)
			}
		})
	}
	badExports := map[string][]byte{
		"count cut short":     {0x80},
		"name past the end":   {1, 9, 'a'},
		"no kind":             {1, 1, 'a'},
		"no index":            {1, 1, 'a', 0},
		"bytes after":         {0, 0},
		"huge count, no data": {0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, in := range badExports {
		if _, err := Exports(in); err == nil {
			t.Errorf("Exports(%s) accepted % x", name, in)
		}
	}
	if _, err := MemoryMinPages([]byte{1, 4, 1}); err == nil {
		t.Error("MemoryMinPages accepted memory64 limits flags")
	}
}

// FuzzU32: U32 never panics or reads past 5 bytes, and what it decodes
// AppendU32 writes back to a number that decodes the same.
func FuzzU32(f *testing.F) {
	for _, s := range [][]byte{{0}, {0x80, 0x01}, {0xff, 0xff, 0xff, 0xff, 0x0f}, {0xff, 0xff, 0xff, 0xff, 0x1f}, {0x80}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := U32(b)
		if err != nil {
			return
		}
		if n < 1 || n > 5 || n > len(b) {
			t.Fatalf("U32(% x) length %d", b, n)
		}
		back, m, err := U32(AppendU32(nil, v))
		if err != nil || back != v || m > n {
			t.Fatalf("U32(% x) = %d; AppendU32 round trip = %d, %d, %v", b, v, back, m, err)
		}
	})
}

// FuzzS32 checks that the signed decoders never panic, agree with each
// other where both accept, and never read past their limit.
func FuzzS32(f *testing.F) {
	for _, s := range [][]byte{{0x7f}, {0x80, 0x80, 0x80, 0x80, 0x78}, {0x80, 0x80, 0x80, 0x80, 0x08}, {0x80}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v32, n32, err32 := S32(b)
		v33, n33, err33 := S33(b)
		skip, errSkip := SkipSLEB(b, 5)
		if err32 == nil && (err33 != nil || int64(v32) != v33 || n32 != n33) {
			t.Fatalf("S32 = %d/%d but S33 = %d/%d, %v", v32, n32, v33, n33, err33)
		}
		if err33 == nil && (errSkip != nil || skip != n33) {
			t.Fatalf("S33 read %d bytes but SkipSLEB %d, %v", n33, skip, errSkip)
		}
		if skip > 5 || skip > len(b) {
			t.Fatalf("SkipSLEB read %d bytes of %d", skip, len(b))
		}
	})
}

// FuzzSections: the section reader and the readers of section bodies
// never panic on any input, and sections tile the module exactly.
func FuzzSections(f *testing.F) {
	f.Add(module(Section{ID: SectionExport, Body: []byte{1, 1, 'a', 0, 0}}))
	f.Add(module(Section{ID: SectionMemory, Body: []byte{1, 1, 1, 2}}))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x07\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		secs, err := Sections(b)
		if err != nil {
			return
		}
		total := 8
		for _, s := range secs {
			total += len(s.Raw)
			_, _ = Exports(s.Body)
			_, _ = MemoryMinPages(s.Body)
			_, _, _ = Name(s.Body)
			_, _, _, _ = Limits(s.Body)
		}
		if total != len(b) {
			t.Fatalf("sections cover %d of %d bytes", total, len(b))
		}
	})
}
