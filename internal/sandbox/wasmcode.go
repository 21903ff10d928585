package sandbox

import (
	"errors"
	"fmt"

	"github.com/moatmcp/moat/internal/wasmbin"
)

// This file decodes a module's function bodies far enough to tell whether
// any instruction changes instance state that a reset in place cannot
// restore (see reset.go): tables and the "dropped" flags of element
// and data segments. wazero has no API to read or restore either, so a
// reactor whose code can touch them gets a fresh instance per call.
//
// The decoder must agree with wazero's on every body wazero accepts, or a
// module could hide an instruction from it (bytes this decoder skips as an
// immediate that wazero runs as code). So it follows wazero 1.12's
// readings, not only the spec's, and refuses the encodings on which the
// two could differ: see the 0xFD and 0xFE prefixes below. What it cannot
// decode is an error, which callers treat as a found instruction.

// errCode is wrapped by every error stateOps returns for a code section
// it cannot decode completely.
var errCode = errors.New("undecodable code section")

// codeError says where in the module decoding stopped, and why.
type codeError struct {
	off  int    // byte offset in the module
	what string // no guest bytes beyond an opcode number
}

func (e *codeError) Error() string {
	return fmt.Sprintf("code section: %s at offset %#x", e.what, e.off)
}

func (e *codeError) Unwrap() error { return errCode }

// stateOps scans the code section of the wasm binary b and returns the
// name of the first instruction found that changes instance state other
// than linear memory and globals — "table.set", "table.grow", "table.fill",
// "table.copy", "table.init", "elem.drop", "memory.init", "data.drop" — or
// "" when no function body uses one. err is non-nil when b cannot be
// decoded completely (a malformed body, an opcode this scanner does not
// know); callers treat that the same as a found instruction (fail closed).
func stateOps(b []byte) (op string, err error) {
	secs, err := wasmbin.Sections(b)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errCode, err)
	}
	for _, s := range secs {
		if s.ID != wasmbin.SectionCode { // wazero refuses a module with two
			continue
		}
		// sections slices b without a cap, so the capacities differ by
		// the body's offset in b.
		start := cap(b) - cap(s.Body)
		if start < 8 || start+len(s.Body) > len(b) {
			return "", fmt.Errorf("%w: code section outside the module", errCode)
		}
		r := codeReader{b: b[:start+len(s.Body)], pos: start}
		if op, err = r.scanCode(); op != "" || err != nil {
			return op, err
		}
	}
	return "", nil
}

// codeReader reads b[pos:end], where end is the end of the code section
// or, inside a function, of its body: nothing is read past it.
type codeReader struct {
	b   []byte
	pos int
	end int
}

func (r *codeReader) fail(what string) error {
	return &codeError{off: r.pos, what: what}
}

func (r *codeReader) scanCode() (string, error) {
	r.end = len(r.b)
	count, err := r.u32()
	if err != nil {
		return "", err
	}
	for range count {
		size, err := r.u32()
		if err != nil {
			return "", err
		}
		if uint64(size) > uint64(r.end-r.pos) {
			return "", r.fail(fmt.Sprintf("function body size %d past the section", size))
		}
		sectionEnd := r.end
		r.end = r.pos + int(size)
		if op, err := r.scanBody(); op != "" || err != nil {
			return op, err
		}
		r.end = sectionEnd
	}
	if r.pos != r.end {
		return "", r.fail("bytes after the last function body")
	}
	return "", nil
}

// scanBody decodes one function body, which ends exactly at r.end.
func (r *codeReader) scanBody() (string, error) {
	groups, err := r.u32()
	if err != nil {
		return "", err
	}
	for range groups {
		if _, err := r.u32(); err != nil {
			return "", err
		}
		if err := r.valType(); err != nil {
			return "", err
		}
	}
	for r.pos < r.end {
		at := r.pos
		op := r.b[r.pos]
		r.pos++
		var err error
		switch opImm[op] {
		case immNone:
		case immBlock:
			err = r.blockType()
		case immIndex:
			_, err = r.u32()
		case immIndex2:
			if _, err = r.u32(); err == nil {
				_, err = r.u32()
			}
		case immBrTable:
			err = r.brTable()
		case immSelectT:
			err = r.selectTypes()
		case immMemarg:
			err = r.memarg()
		case immZero:
			err = r.zero()
		case immS32:
			err = r.skipSLEB(5)
		case immS64:
			err = r.skipSLEB(10)
		case immF32:
			err = r.skip(4)
		case immF64:
			err = r.skip(8)
		case immRefType:
			err = r.refType()
		case immTableSet:
			if _, err = r.u32(); err == nil {
				return "table.set", nil
			}
		case immMisc:
			var name string
			if name, err = r.misc(); name != "" && err == nil {
				return name, nil
			}
		case immSIMD:
			err = r.simd()
		case immAtomic:
			err = r.atomic()
		default:
			r.pos = at
			return "", r.fail(fmt.Sprintf("unknown opcode %#02x", op))
		}
		if err != nil {
			return "", err
		}
	}
	return "", nil
}

// Immediate kinds of the one-byte opcodes. The zero value is an opcode
// this scanner does not know.
const (
	immUnknown  = iota
	immNone     // no immediates
	immBlock    // block type
	immIndex    // one u32 index
	immIndex2   // two u32 indices
	immBrTable  // vec(labelidx) labelidx
	immSelectT  // vec(valtype)
	immMemarg   // align offset
	immZero     // one reserved 0x00 byte
	immS32      // i32.const
	immS64      // i64.const
	immF32      // four bytes
	immF64      // eight bytes
	immRefType  // ref.null
	immTableSet // table.set tableidx: found
	immMisc     // 0xFC prefix
	immSIMD     // 0xFD prefix
	immAtomic   // 0xFE prefix
)

// opImm lists the opcodes of WebAssembly 2.0 plus tail calls (0x12,
// 0x13) and the threads prefix. Exception handling (0x06–0x0A, 0x18,
// 0x19, 0x1F) and typed function references (0x14, 0x15, 0xD3–0xD6) are
// left unknown: moat does not enable them.
var opImm = func() (t [256]uint8) {
	for _, op := range []byte{
		0x00, // unreachable
		0x01, // nop
		0x05, // else
		0x0B, // end
		0x0F, // return
		0x1A, // drop
		0x1B, // select
		0xD1, // ref.is_null
	} {
		t[op] = immNone
	}
	for op := 0x45; op <= 0xC4; op++ { // numeric
		t[op] = immNone
	}
	t[0x02], t[0x03], t[0x04] = immBlock, immBlock, immBlock // block, loop, if
	for _, op := range []byte{
		0x0C, 0x0D, // br, br_if
		0x10, 0x12, // call, return_call
		0x20, 0x21, 0x22, 0x23, 0x24, // local.get/set/tee, global.get/set
		0x25, // table.get
		0xD2, // ref.func
	} {
		t[op] = immIndex
	}
	t[0x11], t[0x13] = immIndex2, immIndex2 // call_indirect, return_call_indirect
	t[0x0E] = immBrTable
	t[0x1C] = immSelectT
	for op := 0x28; op <= 0x3E; op++ { // loads and stores
		t[op] = immMemarg
	}
	t[0x3F], t[0x40] = immZero, immZero // memory.size, memory.grow
	t[0x41], t[0x42], t[0x43], t[0x44] = immS32, immS64, immF32, immF64
	t[0xD0] = immRefType
	t[0x26] = immTableSet
	t[0xFC], t[0xFD], t[0xFE] = immMisc, immSIMD, immAtomic
	return t
}()

// miscNames names the 0xFC instructions that change state; the others up
// to table.fill change none.
var miscNames = [...]string{
	8:  "memory.init",
	9:  "data.drop",
	12: "table.init",
	13: "elem.drop",
	14: "table.copy",
	15: "table.grow",
	17: "table.fill",
}

// misc decodes a 0xFC instruction, returning its name when it changes state.
func (r *codeReader) misc() (string, error) {
	at := r.pos
	sub, err := r.u32() // wazero reads a u32 here too
	if err != nil {
		return "", err
	}
	switch sub {
	case 0, 1, 2, 3, 4, 5, 6, 7: // saturating truncations
	case 8: // memory.init dataidx 0x00
		if _, err = r.u32(); err == nil {
			err = r.zero()
		}
	case 9, 13: // data.drop dataidx, elem.drop elemidx
		_, err = r.u32()
	case 10: // memory.copy 0x00 0x00
		if err = r.zero(); err == nil {
			err = r.zero()
		}
	case 11: // memory.fill 0x00
		err = r.zero()
	case 12, 14: // table.init elemidx tableidx, table.copy tableidx tableidx
		if _, err = r.u32(); err == nil {
			_, err = r.u32()
		}
	case 15, 16, 17: // table.grow, table.size, table.fill: tableidx
		_, err = r.u32()
	default:
		r.pos = at
		return "", r.fail(fmt.Sprintf("unknown opcode 0xfc %d", sub))
	}
	if err != nil {
		return "", err
	}
	return miscNames[sub], nil
}

// Immediate kinds of the 0xFD instructions.
const (
	simdUnknown = iota
	simdNone
	simdMemarg
	simdMemargLane
	simdLane
	simd16 // v128.const, i8x16.shuffle: 16 bytes
)

// simdImm lists the SIMD 128 instructions: those wazero 1.12 knows,
// which are the final spec's (relaxed SIMD, 0x100 on, is not enabled).
var simdImm = func() (t [256]uint8) {
	for op := range t {
		t[op] = simdNone
	}
	for _, op := range []byte{ // reserved in the spec
		0x9A, 0xA2, 0xA5, 0xA6, 0xAF, 0xB0, 0xB2, 0xB3, 0xB4, 0xBB,
		0xC2, 0xC5, 0xC6, 0xCF, 0xD0, 0xD2, 0xD3, 0xD4, 0xE2, 0xEE,
	} {
		t[op] = simdUnknown
	}
	for op := 0x00; op <= 0x0B; op++ { // v128.load*, v128.store
		t[op] = simdMemarg
	}
	// v128.load32_zero, v128.load64_zero
	t[0x5C], t[0x5D] = simdMemarg, simdMemarg
	for op := 0x54; op <= 0x5B; op++ { // v128.load*_lane, v128.store*_lane
		t[op] = simdMemargLane
	}
	for op := 0x15; op <= 0x22; op++ { // extract_lane, replace_lane
		t[op] = simdLane
	}
	t[0x0C], t[0x0D] = simd16, simd16
	return t
}()

// simd decodes a 0xFD instruction. The spec encodes the sub-opcode as a
// u32 but wazero 1.12 reads one byte, then goes on at the next. The two
// agree on one byte below 0x80 and on the two-byte form of 0x80–0xFF
// (wazero reads the opcode, then 0x01, a nop); any other form could hide
// code from one of them, and is an error.
func (r *codeReader) simd() error {
	at := r.pos
	if r.pos >= r.end {
		return r.fail("truncated")
	}
	sub := r.b[r.pos]
	r.pos++
	if sub >= 0x80 {
		if r.pos >= r.end || r.b[r.pos] != 0x01 {
			r.pos = at
			return r.fail("0xfd opcode not in its shortest form")
		}
		r.pos++
	}
	switch simdImm[sub] {
	case simdNone:
		return nil
	case simdMemarg:
		return r.memarg()
	case simdMemargLane:
		if err := r.memarg(); err != nil {
			return err
		}
		return r.skip(1)
	case simdLane:
		return r.skip(1)
	case simd16:
		return r.skip(16)
	}
	r.pos = at
	return r.fail(fmt.Sprintf("unknown opcode 0xfd %d", sub))
}

// atomic decodes a 0xFE instruction. wazero reads its sub-opcode as one
// byte, and every atomic opcode is below 0x80, so that is the only form
// accepted.
func (r *codeReader) atomic() error {
	at := r.pos
	if r.pos >= r.end {
		return r.fail("truncated")
	}
	sub := r.b[r.pos]
	r.pos++
	switch {
	case sub <= 0x02 || 0x10 <= sub && sub <= 0x4E: // notify, wait, loads, stores, rmw
		return r.memarg()
	case sub == 0x03: // atomic.fence
		return r.zero()
	}
	r.pos = at
	return r.fail(fmt.Sprintf("unknown opcode 0xfe %d", sub))
}

// blockType reads a block type as wazero does: an s33, either a type
// index or a negative value type (0x40 is -64, no result).
func (r *codeReader) blockType() error {
	at := r.pos
	v, err := r.s33()
	if err != nil {
		return err
	}
	switch v {
	case -64, -1, -2, -3, -4, -5, -16, -17: // empty, i32, i64, f32, f64, v128, funcref, externref
		return nil
	}
	if v < 0 {
		r.pos = at
		return r.fail(fmt.Sprintf("unknown block type %d", v))
	}
	return nil
}

func (r *codeReader) brTable() error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	// One byte at least per label: a count past the body fails here
	// rather than after reading up to 2³² LEBs.
	if uint64(n) > uint64(r.end-r.pos) {
		return r.fail("br_table: label count past the body")
	}
	for range uint64(n) + 1 { // the labels and the default
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// selectTypes reads select's vec(valtype). wazero accepts only a count
// of one, a byte; any other count fails its validation.
func (r *codeReader) selectTypes() error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	if uint64(n) > uint64(r.end-r.pos) {
		return r.fail("select: type count past the body")
	}
	for range n {
		if err := r.valType(); err != nil {
			return err
		}
	}
	return nil
}

// valType reads one of WebAssembly 2.0's value types; the typed
// reference forms (0x63, 0x64 with a heap type) are not enabled.
func (r *codeReader) valType() error {
	if r.pos >= r.end {
		return r.fail("truncated")
	}
	switch t := r.b[r.pos]; t {
	case 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F:
		r.pos++
		return nil
	default:
		return r.fail(fmt.Sprintf("unknown value type %#02x", t))
	}
}

func (r *codeReader) refType() error {
	if r.pos >= r.end {
		return r.fail("truncated")
	}
	switch t := r.b[r.pos]; t {
	case 0x70, 0x6F: // funcref, externref
		r.pos++
		return nil
	default:
		return r.fail(fmt.Sprintf("unknown reference type %#02x", t))
	}
}

// memarg reads align and offset. Bit 6 of align would announce a memory
// index (multi-memory), which wazero does not support.
func (r *codeReader) memarg() error {
	at := r.pos
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		r.pos = at
		return r.fail("memarg with a memory index")
	}
	_, err = r.u32()
	return err
}

// zero reads a reserved byte, which must be 0x00 in one byte (wazero
// checks the same).
func (r *codeReader) zero() error {
	if r.pos >= r.end {
		return r.fail("truncated")
	}
	if r.b[r.pos] != 0 {
		return r.fail("reserved byte not zero")
	}
	r.pos++
	return nil
}

func (r *codeReader) skip(n int) error {
	if n > r.end-r.pos {
		return r.fail("truncated")
	}
	r.pos += n
	return nil
}

func (r *codeReader) u32() (uint32, error) {
	v, n, err := wasmbin.U32(r.b[r.pos:r.end])
	if err != nil {
		return 0, r.fail("bad or truncated u32")
	}
	r.pos += n
	return v, nil
}

// s33 reads a signed LEB128 of at most 5 bytes whose value fits 33 bits.
func (r *codeReader) s33() (int64, error) {
	v, n, err := wasmbin.S33(r.b[r.pos:r.end])
	if err != nil {
		return 0, r.fail("bad or truncated s33, or over 33 bits")
	}
	r.pos += n
	return v, nil
}

// skipSLEB skips a signed LEB128 of at most max bytes (5 for i32, 10 for
// i64). The value's range is wazero's to check: a module it accepts has
// the same length either way, and one it refuses never runs.
func (r *codeReader) skipSLEB(max int) error {
	n, err := wasmbin.SkipSLEB(r.b[r.pos:r.end], max)
	if err != nil {
		return r.fail("bad or truncated signed LEB128")
	}
	r.pos += n
	return nil
}
