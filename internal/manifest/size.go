package manifest

import "github.com/moatmcp/moat/internal/bytesize"

// Size is a byte count as a manifest or moat.toml writes it: "64MiB",
// "512KiB", "4096B", or a TOML integer number of bytes. go-toml stores an
// integer directly (Size is a uint64) and hands a string to UnmarshalText.
type Size uint64

// UnmarshalText implements encoding.TextUnmarshaler with bytesize.Parse.
func (s *Size) UnmarshalText(b []byte) error {
	n, err := bytesize.Parse(string(b))
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// MarshalText implements encoding.TextMarshaler: the largest unit that
// divides the size exactly.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String is the size as bytesize.Parse reads it, such as "64MiB".
func (s Size) String() string { return bytesize.Format(uint64(s)) }

func (Size) tomlWant() string { return `a size such as "64MiB" or an integer number of bytes` }
