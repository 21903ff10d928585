package sandbox

import (
	"errors"
	"fmt"
)

// declaredMinPages returns the minimum size, in pages, of the memory the
// module defines (0 if it defines none). wazero's public API shows only
// exported memories, and a memory's initial allocation must never exceed
// the limit (see memoryAllocator), so Load reads the memory section
// itself. Imported memories are refused separately.
func declaredMinPages(b []byte) (uint32, error) {
	if len(b) < 8 {
		return 0, errNotWasm
	}
	p := b[8:]
	var max uint32
	for len(p) > 0 {
		id := p[0]
		size, n, err := readU32(p[1:])
		if err != nil {
			return 0, fmt.Errorf("section %d: size: %w", id, err)
		}
		p = p[1+n:]
		if uint64(size) > uint64(len(p)) {
			return 0, fmt.Errorf("section %d: size %d past the end", id, size)
		}
		body := p[:size]
		p = p[size:]
		if id != 5 { // memory section
			continue
		}
		count, n, err := readU32(body)
		if err != nil {
			return 0, fmt.Errorf("memory section: count: %w", err)
		}
		body = body[n:]
		for range count {
			if len(body) == 0 {
				return 0, errors.New("memory section: truncated")
			}
			flags := body[0]
			if flags > 3 { // 0/1: min [max]; 2/3: shared; 4+: memory64, not enabled
				return 0, fmt.Errorf("memory section: limits flags %#x", flags)
			}
			min, n, err := readU32(body[1:])
			if err != nil {
				return 0, fmt.Errorf("memory section: min: %w", err)
			}
			body = body[1+n:]
			if flags&1 != 0 {
				if _, n, err = readU32(body); err != nil {
					return 0, fmt.Errorf("memory section: max: %w", err)
				}
				body = body[n:]
			}
			max = maxU32(max, min)
		}
	}
	return max, nil
}

func maxU32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

var errLEB = errors.New("bad LEB128 u32")

// readU32 decodes an unsigned LEB128 u32, returning it and its length.
func readU32(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, errLEB
		}
		c := b[i]
		if i == 4 && c > 0x0f { // more than 32 bits
			return 0, 0, errLEB
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errLEB
}
