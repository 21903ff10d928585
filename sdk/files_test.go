package sdk

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestInRoot(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "/data", ""},
		{".", "/data", ""},
		{"notes/a.txt", "/data/notes/a.txt", ""},
		{"/data/notes/../a.txt", "/data/a.txt", ""},
		{"../../etc/passwd", "", "path must be inside the shared folder"},
		{"/etc/passwd", "", "path must be inside the shared folder"},
		{"/data2/x", "", "path must be inside the shared folder"},
		{"a\x00b", "", "path contains a NUL byte"},
	} {
		got, err := InRoot("/data", tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("InRoot(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestFileError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fs.ErrNotExist, "x: no such file or folder"},
		{fs.ErrPermission, "x: permission denied"},
		{errors.New("open /secret/host/path: boom"), "x: cannot be read"},
	} {
		if got := FileError("x", tc.err, "read").Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestIsBinary(t *testing.T) {
	text := strings.Repeat("é", 5000) // a 2-byte rune crosses the 8 KiB edge
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"plain text\n", false},
		{text, false},
		{"a\x00b", true},
		{"\xff\xfe", true},
	} {
		if got := IsBinary([]byte(tc.in)); got != tc.want {
			t.Errorf("IsBinary(%.20q) = %v", tc.in, got)
		}
	}
}
