package sandbox

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moatmcp/moat/internal/abi"

	"github.com/moatmcp/moat/internal/wasmbin"
)

// Export names the reactor entry uses (see docs/abi.md, "Reactor entry").
const (
	// reactorInit is the WASI reactor initialiser (abi.go).
	reactorInit = abi.ReactorInit
	// snapshotGlobalPrefix names the exports Load adds for every global,
	// so that a snapshot's globals can be read and restored through
	// wazero's public API (it shows only exported globals).
	snapshotGlobalPrefix = "moat.snapshot.global."
)

// reactorShape is what Load learns from a module's export section.
type reactorShape struct {
	wasm    []byte    // the module with every global exported (and its data section removed when data != nil)
	globals []string  // export names of the globals, in index order
	data    []dataSeg // the removed active data segments, applied by hand to the template
}

// dataSeg is an active data segment of memory 0 at a constant offset.
type dataSeg struct {
	off  uint32
	data []byte
}

// asReactor returns the module rewritten for snapshots when it is a
// reactor: it exports ReactorExport as a function and no _start (a module
// with both is a command). ok is false for command modules, whose bytes
// are then used unchanged. A module this parser cannot read is left to
// the compiler, whose error is the one to report; err is only for a
// module that exports a name moat reserves.
func asReactor(b []byte) (_ reactorShape, ok bool, err error) {
	secs, err := wasmbin.Sections(b)
	if err != nil {
		return reactorShape{}, false, nil
	}
	var (
		exportSec      = -1
		importedGlobal uint32
		definedGlobal  uint32
		hasCall        bool
		hasStart       bool
	)
	for i, s := range secs {
		switch s.ID {
		case wasmbin.SectionImport:
			if importedGlobal, err = countImportedGlobals(s.Body); err != nil {
				return reactorShape{}, false, nil
			}
		case wasmbin.SectionGlobal:
			if definedGlobal, _, err = wasmbin.U32(s.Body); err != nil {
				return reactorShape{}, false, nil
			}
		case wasmbin.SectionExport:
			exportSec = i
			names, err := wasmbin.Exports(s.Body)
			if err != nil {
				return reactorShape{}, false, nil
			}
			for name, kind := range names {
				switch {
				case name == ReactorExport && kind == 0:
					hasCall = true
				case name == abi.CommandEntry:
					hasStart = true
				case strings.HasPrefix(name, snapshotGlobalPrefix):
					return reactorShape{}, false, fmt.Errorf("module exports %q, a name moat reserves", name)
				}
			}
		}
	}
	if !hasCall || hasStart {
		return reactorShape{}, false, nil
	}
	total := importedGlobal + definedGlobal
	body := secs[exportSec].Body
	count, n, _ := wasmbin.U32(body) // checked by exportNames
	out := wasmbin.AppendU32(nil, count+total)
	out = append(out, body[n:]...)
	shape := reactorShape{globals: make([]string, 0, total)}
	for i := range total {
		name := snapshotGlobalPrefix + strconv.FormatUint(uint64(i), 10)
		shape.globals = append(shape.globals, name)
		out = wasmbin.AppendU32(out, uint32(len(name)))
		out = append(out, name...)
		out = append(out, 3) // global
		out = wasmbin.AppendU32(out, i)
	}
	// Go's linker writes one data segment per non-zero run (≈ 30,000
	// for a small tool), and wazero evaluates each on every instantiation:
	// most of a restored call's cost. The snapshot holds the whole
	// initialised memory anyway, so the data section goes when it can.
	dataSec := -1
	for i, s := range secs {
		switch s.ID {
		case wasmbin.SectionData:
			dataSec = i
			if shape.data, err = activeData(s.Body); err != nil {
				shape.data, dataSec = nil, -1 // keep the section: the snapshot diffs against it
			}
		case wasmbin.SectionDataCount: // data count: memory.init or data.drop may refer to the segments
			shape.data, dataSec = nil, -1
		}
		if s.ID == wasmbin.SectionDataCount {
			break
		}
	}
	wasm := append([]byte(nil), b[:8]...)
	for i, s := range secs {
		if i == dataSec {
			continue
		}
		if i == exportSec {
			wasm = append(wasm, wasmbin.SectionExport)
			wasm = wasmbin.AppendU32(wasm, uint32(len(out)))
			wasm = append(wasm, out...)
			continue
		}
		wasm = append(wasm, s.Raw...)
	}
	shape.wasm = wasm
	return shape, true, nil
}

func countImportedGlobals(b []byte) (uint32, error) {
	count, n, err := wasmbin.U32(b)
	if err != nil {
		return 0, err
	}
	b = b[n:]
	var globals uint32
	for range count {
		for range 2 { // module and field names
			if _, b, err = wasmbin.Name(b); err != nil {
				return 0, err
			}
		}
		if len(b) > 0 && b[0] == 3 {
			globals++
		}
		if b, err = skipImportDesc(b); err != nil {
			return 0, err
		}
	}
	return globals, nil
}

var errNotConstData = errors.New("not an active segment at a constant offset")

// activeData parses a data section whose segments are all active, in
// memory 0, at an i32.const offset; anything else is errNotConstData.
func activeData(b []byte) ([]dataSeg, error) {
	count, n, err := wasmbin.U32(b)
	if err != nil {
		return nil, err
	}
	b = b[n:]
	segs := make([]dataSeg, 0, min(count, uint32(len(b))))
	for range count {
		flags, n, err := wasmbin.U32(b)
		if err != nil {
			return nil, err
		}
		if flags != 0 {
			return nil, errNotConstData
		}
		b = b[n:]
		if len(b) == 0 || b[0] != 0x41 { // i32.const
			return nil, errNotConstData
		}
		off, n, err := wasmbin.S32(b[1:])
		if err != nil {
			return nil, err
		}
		b = b[1+n:]
		if len(b) == 0 || b[0] != 0x0b { // end
			return nil, errNotConstData
		}
		l, n, err := wasmbin.U32(b[1:])
		if err != nil {
			return nil, err
		}
		b = b[1+n:]
		if uint64(l) > uint64(len(b)) {
			return nil, wasmbin.ErrTruncated
		}
		segs = append(segs, dataSeg{off: uint32(off), data: b[:l]})
		b = b[l:]
	}
	return segs, nil
}

// redirectImport returns b with every import of module.name changed to
// come from to instead (the function index space is unchanged: an import
// keeps its place). b is returned as is when it has no such import.
func redirectImport(b []byte, module, name, to string) ([]byte, error) {
	secs, err := wasmbin.Sections(b)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), b[:8]...)
	for _, s := range secs {
		if s.ID != wasmbin.SectionImport {
			out = append(out, s.Raw...)
			continue
		}
		body, err := redirectImports(s.Body, module, name, to)
		if err != nil {
			return nil, fmt.Errorf("import section: %w", err)
		}
		out = append(out, wasmbin.SectionImport)
		out = wasmbin.AppendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out, nil
}

func redirectImports(b []byte, module, name, to string) ([]byte, error) {
	count, n, err := wasmbin.U32(b)
	if err != nil {
		return nil, err
	}
	out := wasmbin.AppendU32(nil, count)
	b = b[n:]
	for range count {
		var mod, field string
		if mod, b, err = wasmbin.Name(b); err != nil {
			return nil, err
		}
		if field, b, err = wasmbin.Name(b); err != nil {
			return nil, err
		}
		if mod == to {
			return nil, fmt.Errorf("module imports from %q, a name moat reserves", to)
		}
		if mod == module && field == name {
			mod = to
		}
		out = wasmbin.AppendU32(out, uint32(len(mod)))
		out = append(out, mod...)
		out = wasmbin.AppendU32(out, uint32(len(field)))
		out = append(out, field...)
		rest, err := skipImportDesc(b)
		if err != nil {
			return nil, err
		}
		out = append(out, b[:len(b)-len(rest)]...)
		b = rest
	}
	if len(b) != 0 {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// skipImportDesc skips an import's kind and type.
func skipImportDesc(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, wasmbin.ErrTruncated
	}
	kind := b[0]
	b = b[1:]
	switch kind {
	case 0: // function: type index
		return wasmbin.SkipU32(b)
	case 1: // table: reference type, limits
		if len(b) == 0 {
			return nil, wasmbin.ErrTruncated
		}
		return skipLimits(b[1:])
	case 2: // memory: limits
		return skipLimits(b)
	case 3: // global: value type, mutability
		if len(b) < 2 {
			return nil, wasmbin.ErrTruncated
		}
		return b[2:], nil
	}
	return nil, fmt.Errorf("import kind %#x", kind)
}

// commandData returns a command module without its data (and data count)
// sections, and the segments to write into each instance's memory
// instead, when that is equivalent: every segment active, in memory 0,
// at a constant offset, inside the declared minimum memory (minBytes),
// and no memory.init or data.drop anywhere (stateOps). ok is false
// otherwise, and b is then used as it is. Why: wazero evaluates data
// segments one by one at every instantiation — 177 of them for a small
// AssemblyScript tool, a third of its call — while the allocator can copy
// them into a reused buffer for almost nothing (memory.go).
func commandData(b []byte, minBytes uint64) (out []byte, segs []dataSeg, ok bool) {
	secs, err := wasmbin.Sections(b)
	if err != nil {
		return nil, nil, false
	}
	dataSec := -1
	for i, s := range secs {
		if s.ID == wasmbin.SectionData {
			dataSec = i
		}
	}
	if dataSec < 0 {
		return nil, nil, false // nothing to gain
	}
	if segs, err = activeData(secs[dataSec].Body); err != nil {
		return nil, nil, false
	}
	for _, d := range segs {
		if uint64(d.off)+uint64(len(d.data)) > minBytes {
			return nil, nil, false // wazero's own error at instantiation stays the one reported
		}
	}
	if op, err := stateOps(b); err != nil || op != "" {
		return nil, nil, false // (a table op too: keeping it simple, such modules keep their data section)
	}
	out = append([]byte(nil), b[:8]...)
	for _, s := range secs {
		if s.ID != wasmbin.SectionData && s.ID != wasmbin.SectionDataCount {
			out = append(out, s.Raw...)
		}
	}
	return out, segs, true
}

// skipLimits skips a table's or memory's limits.
func skipLimits(b []byte) ([]byte, error) {
	_, _, rest, err := wasmbin.Limits(b)
	return rest, err
}
