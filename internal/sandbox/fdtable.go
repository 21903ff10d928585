package sandbox

import (
	"math/bits"
	"reflect"
	"slices"

	"github.com/tetratelabs/wazero/api"
)

// fdTable is what an instance's WASI descriptor table holds: for each open
// descriptor (in order) the identity of its entry.
//
// wazero has no API for the table, so readFDs reads it by reflection,
// read-only and without package unsafe, along the path wazero 1.12 uses:
// *wasm.ModuleInstance → Sys (*sys.Context) → FS() → openedFiles, a
// descriptor.Table of masks (one bit per descriptor) and items (the
// *FileEntry at each descriptor). Anything unexpected on that path makes
// readFDs report false, and reset in place is then not used for modules
// that need the check (those with mounts): a wazero upgrade that changes
// the layout costs speed, never isolation (TestReadFDs fails loudly).
// fdLayoutWazero is the wazero version whose layout readFDs follows;
// TestReadFDsPinnedToWazero fails when go.mod names another, so an upgrade
// re-checks this file on purpose rather than by luck.
const fdLayoutWazero = "v1.12.0"

type fdTable struct {
	fds     []int32
	entries []uintptr
}

func (a fdTable) equal(b fdTable) bool {
	return slices.Equal(a.fds, b.fds) && slices.Equal(a.entries, b.entries)
}

// readFDs reads mod's descriptor table.
func readFDs(mod api.Module) (t fdTable, ok bool) {
	defer func() {
		if recover() != nil { // a reflect panic: the layout is not what we expect
			t, ok = fdTable{}, false
		}
	}()
	v := reflect.ValueOf(mod)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return t, false
	}
	sysCtx := v.Elem().FieldByName("Sys")
	if sysCtx.Kind() != reflect.Pointer || sysCtx.IsNil() {
		return t, false
	}
	fsMethod := sysCtx.MethodByName("FS")
	if !fsMethod.IsValid() || fsMethod.Type().NumIn() != 0 || fsMethod.Type().NumOut() != 1 {
		return t, false
	}
	fsc := fsMethod.Call(nil)[0]
	if fsc.Kind() != reflect.Pointer || fsc.IsNil() || fsc.Elem().Kind() != reflect.Struct {
		return t, false
	}
	table := fsc.Elem().FieldByName("openedFiles")
	if table.Kind() != reflect.Struct {
		return t, false
	}
	masks, items := table.FieldByName("masks"), table.FieldByName("items")
	if masks.Kind() != reflect.Slice || masks.Type().Elem().Kind() != reflect.Uint64 ||
		items.Kind() != reflect.Slice || items.Type().Elem().Kind() != reflect.Pointer ||
		items.Len() < 64*masks.Len() {
		return t, false
	}
	for i := range masks.Len() {
		for m := masks.Index(i).Uint(); m != 0; m &= m - 1 {
			fd := i*64 + bits.TrailingZeros64(m)
			t.fds = append(t.fds, int32(fd))
			t.entries = append(t.entries, items.Index(fd).Pointer())
		}
	}
	return t, true
}
