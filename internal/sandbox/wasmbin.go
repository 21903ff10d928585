package sandbox

import (
	"fmt"

	"github.com/moatmcp/moat/internal/wasmbin"
)

// declaredMinPages returns the minimum size, in pages, of the memory the
// module defines (0 if it defines none). wazero's public API shows only
// exported memories, and a memory's initial allocation must never exceed
// the limit (see memoryAllocator), so Load reads the memory section
// itself. Imported memories are refused separately.
func declaredMinPages(b []byte) (uint32, error) {
	secs, err := wasmbin.Sections(b)
	if err != nil {
		return 0, err
	}
	var max uint32
	for _, s := range secs {
		if s.ID != wasmbin.SectionMemory {
			continue
		}
		pages, err := wasmbin.MemoryMinPages(s.Body)
		if err != nil {
			return 0, fmt.Errorf("memory section: %w", err)
		}
		max = maxU32(max, pages)
	}
	return max, nil
}

func maxU32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}
