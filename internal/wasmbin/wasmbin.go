// Package wasmbin is moat's one reader of the WebAssembly binary format:
// the LEB128 numbers, the module header, the section list, names, limits
// and the export section. Everything in moat that looks inside a module
// before wazero compiles it uses it: the sandbox's memory-size check, its
// code scanner and its snapshot rewriter (internal/sandbox), and `moat build`'s
// export check. One decoder, fuzzed once (FuzzU32, FuzzS32, FuzzSections).
//
// Every function reads only the slice it is given, never past it, and
// reports truncation or an over-long number as an error: modules are
// untrusted input. It is a leaf: it imports only the standard library.
package wasmbin

import (
	"bytes"
	"errors"
	"fmt"
)

// Section ids this package's callers read (the WebAssembly core spec, 5.5).
const (
	SectionImport    = 2
	SectionMemory    = 5
	SectionGlobal    = 6
	SectionExport    = 7
	SectionCode      = 10
	SectionData      = 11
	SectionDataCount = 12
)

var (
	// ErrLEB is a LEB128 number that is cut short or too large for its type.
	ErrLEB = errors.New("bad LEB128 number")
	// ErrTruncated is a name, vector or section that runs past its end.
	ErrTruncated = errors.New("truncated")
	// ErrNotWasm is input without the \0asm magic.
	ErrNotWasm = errors.New("not a WebAssembly module")
	// ErrVersion is a binary of another version or layer (a component).
	ErrVersion = errors.New("not a WebAssembly core module version 1 (a component? ABI v1 needs a wasm32-wasip1 core module)")
)

var (
	magic    = []byte("\x00asm")
	version1 = []byte{1, 0, 0, 0}
)

// CheckHeader checks the 8-byte header of a core module, version 1.
func CheckHeader(b []byte) error {
	if len(b) < 8 || !bytes.Equal(b[:4], magic) {
		return ErrNotWasm
	}
	if !bytes.Equal(b[4:8], version1) {
		return ErrVersion
	}
	return nil
}

// U32 decodes an unsigned LEB128 u32 at the start of b, returning it and
// its length in bytes (at most 5).
func U32(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, ErrLEB
		}
		c := b[i]
		if i == 4 && c > 0x0f { // more than 32 bits
			return 0, 0, ErrLEB
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, ErrLEB
}

// S32 decodes a signed LEB128 i32 at the start of b, returning it and its
// length in bytes (at most 5).
func S32(b []byte) (int32, int, error) {
	v, n, err := signed(b, 5)
	if err != nil || v < -1<<31 || v > 1<<31-1 {
		return 0, 0, ErrLEB
	}
	return int32(v), n, nil
}

// S33 decodes a signed LEB128 of at most 5 bytes whose value fits 33
// bits: a block type's type index.
func S33(b []byte) (int64, int, error) {
	v, n, err := signed(b, 5)
	if err != nil || v < -1<<32 || v >= 1<<32 {
		return 0, 0, ErrLEB
	}
	return v, n, nil
}

func signed(b []byte, max int) (int64, int, error) {
	var v int64
	var shift uint
	for i := 0; i < max && i < len(b); i++ {
		c := b[i]
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, ErrLEB
}

// SkipSLEB returns the length of the signed LEB128 number at the start of
// b, of at most max bytes (5 for an i32, 10 for an i64), without decoding
// its value: a scanner that only needs to step over an immediate leaves the
// range check to the compiler.
func SkipSLEB(b []byte, max int) (int, error) {
	for i := 0; i < max && i < len(b); i++ {
		if b[i]&0x80 == 0 {
			return i + 1, nil
		}
	}
	return 0, ErrLEB
}

// AppendU32 appends v to b as unsigned LEB128, in its shortest form.
func AppendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// SkipU32 returns b after the unsigned LEB128 u32 at its start.
func SkipU32(b []byte) ([]byte, error) {
	_, n, err := U32(b)
	if err != nil {
		return nil, err
	}
	return b[n:], nil
}

// Name reads a length-prefixed name at the start of b, returning it and
// the rest of b.
func Name(b []byte) (string, []byte, error) {
	l, n, err := U32(b)
	if err != nil {
		return "", nil, err
	}
	if uint64(l) > uint64(len(b)-n) {
		return "", nil, ErrTruncated
	}
	return string(b[n : n+int(l)]), b[n+int(l):], nil
}

// Limits reads a table's or memory's limits at the start of b: the flags
// byte, the minimum, and the maximum when flags&1. It returns the rest of b.
// Flags above 3 (memory64 and later proposals) are refused.
func Limits(b []byte) (flags byte, min uint32, rest []byte, err error) {
	if len(b) == 0 {
		return 0, 0, nil, ErrTruncated
	}
	flags = b[0]
	if flags > 3 { // 0/1: min [max]; 2/3: shared; 4+: memory64, not enabled
		return 0, 0, nil, fmt.Errorf("limits flags %#x", flags)
	}
	min, n, err := U32(b[1:])
	if err != nil {
		return 0, 0, nil, err
	}
	rest = b[1+n:]
	if flags&1 != 0 {
		if rest, err = SkipU32(rest); err != nil {
			return 0, 0, nil, err
		}
	}
	return flags, min, rest, nil
}

// Section is one section of a module.
type Section struct {
	ID   byte
	Body []byte // contents
	Raw  []byte // id, size and contents, as in the module
}

// Sections splits a module into its sections, after checking its header.
// Bodies alias b.
func Sections(b []byte) ([]Section, error) {
	if err := CheckHeader(b); err != nil {
		return nil, err
	}
	var secs []Section
	p := b[8:]
	for len(p) > 0 {
		id := p[0]
		size, n, err := U32(p[1:])
		if err != nil {
			return nil, fmt.Errorf("section %d: size: %w", id, err)
		}
		if uint64(size) > uint64(len(p)-1-n) {
			return nil, fmt.Errorf("section %d: size %d past the end: %w", id, size, ErrTruncated)
		}
		end := 1 + n + int(size)
		secs = append(secs, Section{ID: id, Body: p[1+n : end], Raw: p[:end]})
		p = p[end:]
	}
	return secs, nil
}

// Exports reads an export section's body: each exported name with its kind
// (0 function, 1 table, 2 memory, 3 global). Bytes after the last export
// are an error.
func Exports(body []byte) (map[string]byte, error) {
	count, n, err := U32(body)
	if err != nil {
		return nil, err
	}
	b := body[n:]
	names := make(map[string]byte, min(count, uint32(len(b))))
	for range count {
		var name string
		if name, b, err = Name(b); err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, ErrTruncated
		}
		names[name] = b[0]
		if b, err = SkipU32(b[1:]); err != nil { // the index
			return nil, err
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the exports", len(b))
	}
	return names, nil
}

// MemoryMinPages returns the largest minimum, in pages, of the memories a
// memory section's body defines.
func MemoryMinPages(body []byte) (uint32, error) {
	count, n, err := U32(body)
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	b := body[n:]
	var max uint32
	for range count {
		_, min, rest, err := Limits(b)
		if err != nil {
			return 0, err
		}
		b = rest
		if min > max {
			max = min
		}
	}
	return max, nil
}
