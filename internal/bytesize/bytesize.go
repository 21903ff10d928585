// Package bytesize owns moat's text format for byte counts: "64MiB",
// "512KiB", "4096B". Manifests and moat.toml are parsed with Parse (through
// internal/manifest's Size type), and every message that prints a size (limit
// errors, approval diffs, bench reports, the console) uses Format, so a
// size reads the same everywhere and what moat prints can be pasted back
// into a manifest.
//
// It is a leaf: it imports only the standard library.
package bytesize

import (
	"errors"
	"strconv"
	"strings"
)

// Byte sizes, the binary units the text format accepts.
const (
	KiB uint64 = 1 << 10
	MiB uint64 = 1 << 20
	GiB uint64 = 1 << 30
)

// sizeUnits are the accepted suffixes. Only powers of 1024, spelt the IEC
// way: "64MB" is refused rather than guessed, since half the world reads it
// as 64×10⁶ and the other half as 64×2²⁰.
var sizeUnits = []struct { // largest first, for Format
	suffix string
	mult   uint64
}{
	{"GiB", GiB},
	{"MiB", MiB},
	{"KiB", KiB},
	{"B", 1},
}

var (
	ErrSyntax   = errors.New(`expected a size such as "512KiB", "64MiB" or "1GiB" (units B, KiB, MiB, GiB)`)
	ErrUnit     = errors.New(`unknown unit: use B, KiB, MiB or GiB (powers of 1024; "KB", "MB" and "GB" are not accepted)`)
	ErrOverflow = errors.New("size is too large")
)

// Parse parses "64MiB", "64 MiB", "512KiB", "4096B" or "4096": a decimal
// whole number and an optional unit. Fractions are not accepted.
func Parse(s string) (uint64, error) {
	num := s
	mult := uint64(1)
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		num = s[:i]
		unit := strings.TrimPrefix(s[i:], " ")
		mult = 0
		for _, u := range sizeUnits {
			if unit == u.suffix {
				mult = u.mult
				break
			}
		}
		if mult == 0 {
			if num == "" || strings.ContainsAny(unit, "0123456789. ") || unit == "" {
				return 0, ErrSyntax
			}
			return 0, ErrUnit
		}
	}
	if num == "" || len(num) > 20 {
		if len(num) > 20 {
			return 0, ErrOverflow
		}
		return 0, ErrSyntax
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, ErrOverflow // only digits reach here: the one failure is range
	}
	if n > (1<<64-1)/mult {
		return 0, ErrOverflow
	}
	return n * mult, nil
}

// Format writes n in the largest unit that divides it exactly (1<<20 is
// "1MiB", 3072 is "3KiB", 1536 is "1536B"), the inverse of Parse for its
// own output. Every message
// about a size limit, config text and report prints sizes with it.
func Format(n uint64) string {
	for _, u := range sizeUnits {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatUint(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatUint(n, 10) + "B"
}
