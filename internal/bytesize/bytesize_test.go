package bytesize

import (
	"errors"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  error
	}{
		{"0", 0, nil},
		{"4096", 4096, nil},
		{"4096B", 4096, nil},
		{"512KiB", 512 << 10, nil},
		{"64MiB", 64 << 20, nil},
		{"64 MiB", 64 << 20, nil},
		{"4GiB", 4 << 30, nil},
		{"17179869183GiB", 17179869183 << 30, nil},
		{"17179869184GiB", 0, ErrOverflow},
		{"18446744073709551615", 1<<64 - 1, nil},
		{"18446744073709551616", 0, ErrOverflow},
		{"999999999999999999999999", 0, ErrOverflow},
		{"", 0, ErrSyntax},
		{"MiB", 0, ErrSyntax},
		{"-1", 0, ErrSyntax},
		{"+1", 0, ErrSyntax},
		{"1.5MiB", 0, ErrSyntax},
		{"1  MiB", 0, ErrSyntax},
		{" 1MiB", 0, ErrSyntax},
		{"1MiB ", 0, ErrSyntax},
		{"1MB", 0, ErrUnit},
		{"1mib", 0, ErrUnit},
		{"1K", 0, ErrUnit},
		{"1MiB1", 0, ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("Parse(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0B", 1: "1B", 1023: "1023B", 1024: "1KiB", 1536: "1536B", 64 << 20: "64MiB",
		4 << 30: "4GiB", 3 << 29: "1536MiB", 1<<64 - 1: "18446744073709551615B",
	} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

// FuzzParseSize checks that Parse never panics and that what it accepts
// round-trips through Format.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "64MiB", "64 MiB", "1GiB", "18446744073709551615", "17179869184GiB", "1.5MiB", "1MB", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if n != 0 {
				t.Errorf("Parse(%q) = %d with error %v", s, n, err)
			}
			return
		}
		back, err := Parse(Format(n))
		if err != nil || back != n {
			t.Errorf("Parse(%q) = %d, but Format gives %q → %d, %v", s, n, Format(n), back, err)
		}
	})
}
