package manifest

import (
	"errors"
	"strconv"
	"strings"
)

// Byte sizes.
const (
	kib uint64 = 1 << 10
	mib uint64 = 1 << 20
	gib uint64 = 1 << 30
)

// sizeUnits are the accepted suffixes. Only powers of 1024, spelt the IEC
// way: "64MB" is refused rather than guessed, since half the world reads it
// as 64×10⁶ and the other half as 64×2²⁰.
var sizeUnits = []struct { // largest first, for formatSize
	suffix string
	mult   uint64
}{
	{"GiB", gib},
	{"MiB", mib},
	{"KiB", kib},
	{"B", 1},
}

var (
	errSizeSyntax   = errors.New(`expected a size such as "512KiB", "64MiB" or "1GiB" (units B, KiB, MiB, GiB)`)
	errSizeUnit     = errors.New(`unknown unit: use B, KiB, MiB or GiB (powers of 1024; "KB", "MB" and "GB" are not accepted)`)
	errSizeOverflow = errors.New("size is too large")
)

// parseSize parses "64MiB", "64 MiB", "512KiB", "4096B" or "4096": a decimal
// whole number and an optional unit. Fractions are not accepted.
func parseSize(s string) (uint64, error) {
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
				return 0, errSizeSyntax
			}
			return 0, errSizeUnit
		}
	}
	if num == "" || len(num) > 20 {
		if len(num) > 20 {
			return 0, errSizeOverflow
		}
		return 0, errSizeSyntax
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, errSizeOverflow // only digits reach here: the one failure is range
	}
	if n > (1<<64-1)/mult {
		return 0, errSizeOverflow
	}
	return n * mult, nil
}

// formatSize writes n in the largest unit that divides it exactly, the
// inverse of parseSize for its own output.
func formatSize(n uint64) string {
	for _, u := range sizeUnits {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatUint(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatUint(n, 10) + "B"
}

// Size is a byte count as a manifest or moat.toml writes it: "64MiB",
// "512KiB", "4096B", or a TOML integer number of bytes. go-toml stores an
// integer directly (Size is a uint64) and hands a string to UnmarshalText.
type Size uint64

// UnmarshalText implements encoding.TextUnmarshaler with parseSize.
func (s *Size) UnmarshalText(b []byte) error {
	n, err := parseSize(string(b))
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// MarshalText implements encoding.TextMarshaler: the largest unit that
// divides the size exactly.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String is the size as parseSize reads it, such as "64MiB".
func (s Size) String() string { return formatSize(uint64(s)) }

func (Size) tomlWant() string { return `a size such as "64MiB" or an integer number of bytes` }
