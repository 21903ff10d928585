package manifest

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors: every *Error wraps exactly one of them (or an fs error
// such as fs.ErrNotExist for a file that cannot be read), so callers can
// classify a failure with errors.Is without parsing messages.
var (
	// ErrSyntax is a document that is not valid TOML, including a key or
	// table defined twice.
	ErrSyntax = errors.New("invalid TOML")
	// ErrUnknownField is a key the format does not define. Unknown keys are
	// refused rather than ignored so that a misspelt grant or limit never
	// silently falls back to a default.
	ErrUnknownField = errors.New("unknown field")
	// ErrType is a value of the wrong TOML type.
	ErrType = errors.New("wrong type")
	// ErrMissing is a required field that is absent.
	ErrMissing = errors.New("missing field")
	// ErrInvalid is a value of the right type that breaks a rule: a bad
	// name, a relative guest path, a limit out of bounds.
	ErrInvalid = errors.New("invalid value")
	// ErrTooLarge is a file, string or list over its cap.
	ErrTooLarge = errors.New("too large")
	// ErrFile is a file the manifest or config names that cannot be used:
	// missing, not a regular file or directory, or unreadable.
	ErrFile = errors.New("unusable file")
	// ErrModule is a module file that is not a WebAssembly core module.
	ErrModule = errors.New("not a WebAssembly module")
	// ErrDigest is a module whose sha256 differs from the pinned one.
	ErrDigest = errors.New("sha256 mismatch")
	// ErrEnvUnset is an [env] entry taken from a host variable that is not
	// set when the manifest is loaded.
	ErrEnvUnset = errors.New("host environment variable not set")
	// ErrDuplicateTool is a tool name defined by two manifests in one
	// folder.
	ErrDuplicateTool = errors.New("duplicate tool name")
)

// Error is every load and validation error of this package. Its text is
// "FILE:LINE:COL: FIELD: MSG", leaving out the parts that are unknown, so
// editors and terminals can jump to the spot.
//
// Field is a dotted path in the document: "name", "limits.memory",
// "mount[1].guest" (array indexes count from 0), `env."A B"` (keys that are
// not bare TOML keys are quoted).
//
// # Notes
//
//   - Messages name fields, files and host variable names, never the value
//     of an environment variable or the contents of a file. They are meant
//     for the operator; the host does not pass them to MCP clients.
type Error struct {
	File         string // the manifest or config file, absolute
	Line, Column int    // 1-based; 0 when unknown
	Field        string // dotted path of the field, "" for the whole file
	Msg          string // what is wrong, lower case
	Err          error  // a sentinel of this package, or an fs error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
			if e.Column > 0 {
				b.WriteByte(':')
				b.WriteString(strconv.Itoa(e.Column))
			}
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel (or fs error) behind e.
func (e *Error) Unwrap() error { return e.Err }
