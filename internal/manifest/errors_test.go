package manifest

import (
	"errors"
	"strings"
	"testing"
)

// wantError checks that err is an *Error with the given parts and returns
// it. A part left at its zero value (file "", line -1, is nil) is not
// checked; field and msg always are (msg as a part of Error.Msg).
func wantError(t *testing.T, err error, file string, line int, field string, is error, msg string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not an *Error", err, err)
	}
	if (file != "" && e.File != file) || (line >= 0 && e.Line != line) || e.Field != field {
		t.Errorf("got file %q line %d field %q, want %q %d %q (%v)", e.File, e.Line, e.Field, file, line, field, err)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("error %v is not %v", err, is)
	}
	if !strings.Contains(e.Msg, msg) {
		t.Errorf("message %q does not contain %q", e.Msg, msg)
	}
	return e
}
