package manifest

import (
	"fmt"
	"time"
)

// Duration is a span of time as a manifest or moat.toml writes it: a
// string time.ParseDuration reads, such as "5s", "500ms" or "2m". A bare
// integer is refused: "timeout = 5" means seconds to some readers and
// nanoseconds to Go.
type Duration time.Duration

// maxDurationText caps what UnmarshalText reads; "-2562047h47m16.854775808s"
// is the longest valid duration.
const maxDurationText = 64

// UnmarshalText implements encoding.TextUnmarshaler with time.ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	if len(b) > maxDurationText {
		return fmt.Errorf("not a duration: longer than %d bytes", maxDurationText)
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf(`%q is not a duration: write e.g. "5s", "500ms" or "2m"`, b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler with time.Duration's String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// String is the duration as time.Duration writes it, such as "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

func (Duration) tomlWant() string { return `a duration such as "5s" or "500ms"` }
