package schema

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
)

// MaxDepth is the deepest nesting of objects and arrays accepted in a schema
// or a document. The top-level object is depth 1.
const MaxDepth = 64

// maxNumberLen caps the literal length of one JSON number. Exact decimal
// arithmetic on a number costs time in its length; no tool argument needs
// more than a few dozen digits.
const maxNumberLen = 100

// maxExponent bounds the decimal exponent of a number literal before it is
// handed to math/big, which would otherwise expand 1e999999999 digit by digit.
const maxExponent = 1000

// pathElem is one step of a JSON Pointer, kept as a linked list so that the
// decoder only builds a pointer string when it has something to report.
type pathElem struct {
	parent *pathElem
	key    string
	index  int
	isKey  bool
}

func (p *pathElem) pointer() string {
	var parts []string
	for e := p; e != nil; e = e.parent {
		if e.isKey {
			parts = append(parts, escapeToken(e.key))
		} else {
			parts = append(parts, strconv.Itoa(e.index))
		}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// escapeToken escapes one JSON Pointer reference token (RFC 6901) and
// truncates it, so that a megabyte-long key is not echoed to the agent.
func escapeToken(s string) string {
	s = truncate(s, maxEcho)
	s = strings.ReplaceAll(s, "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// decodeError is a problem found while decoding, before any schema applies.
type decodeError struct {
	path string
	msg  string
}

// numberMode says how strictly number literals are checked.
type numberMode int

const (
	// documentNumbers accepts any integer that fits int64 or uint64 exactly.
	documentNumbers numberMode = iota
	// schemaNumbers requires every integer to be exact as a float64, because
	// jsonschema-go holds the numbers of a schema (minimum, enum…) as float64.
	schemaNumbers
)

// decode parses one JSON value into a generic tree of map[string]any, []any,
// string, bool, nil, int64, uint64 and float64, refusing what would let a
// validator and a guest's parser disagree about the document: invalid UTF-8,
// unpaired surrogate escapes, duplicate keys (also those differing only in
// letter case: Go's encoding/json matches struct fields case-insensitively and
// the last one wins), numbers that cannot be held exactly, and trailing data.
// Nesting is checked while reading, so a depth bomb is refused before it is
// built.
//
// Two decoders share the work. decodeFast, one pass over the bytes, builds
// the tree of every document it accepts and gives up on anything else
// without saying why; decodeSlow, a walk over encoding/json's tokens, is the
// reference: it runs only on what decodeFast gave up on, and words the error
// (a JSON Pointer, a byte offset) as clients have always seen it. A document
// is therefore refused with exactly the old verdict and message, and a
// document decodeFast wrongly gave up on is still decoded correctly, only
// slower. FuzzDecodeEquivalence holds decodeFast to decodeSlow's tree.
func decode(raw []byte, mode numberMode) (any, *decodeError) {
	if v, ok := decodeFast(raw, mode); ok {
		return v, nil
	}
	return decodeSlow(raw, mode)
}

// foldKey maps every rune to the smallest rune of its case-folding orbit, so
// that foldKey(a) == foldKey(b) exactly when strings.EqualFold(a, b), which is
// the rule encoding/json uses to match object keys to struct fields.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// parseNumber converts a JSON number literal into int64, uint64 or float64
// without silently changing its value: jsonschema-go types a json.Number as a
// string, and float64 would round 9007199254740993 to …992, so that a value
// just above a maximum would pass. It returns a message when the literal
// cannot be held exactly enough to be checked.
func parseNumber(lit string, mode numberMode) (any, string) {
	if len(lit) > maxNumberLen {
		return nil, "number has too many digits"
	}
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
		if err != nil || exp > maxExponent || exp < -maxExponent {
			return nil, "number out of range"
		}
	}
	if !strings.ContainsAny(lit, ".eE") {
		if n, err := strconv.ParseInt(lit, 10, 64); err == nil && (mode == documentNumbers || (n >= -1<<53 && n <= 1<<53)) {
			return n, ""
		}
		if mode == documentNumbers {
			if n, err := strconv.ParseUint(lit, 10, 64); err == nil {
				return n, ""
			}
		}
	}
	r, ok := new(big.Rat).SetString(lit)
	if !ok {
		return nil, "not a valid number"
	}
	f, exact := r.Float64()
	switch {
	case math.IsInf(f, 0):
		return nil, "number out of range"
	case f == 0 && r.Sign() != 0:
		return nil, "number out of range"
	case r.IsInt() && mode == documentNumbers && r.Num().IsInt64():
		return r.Num().Int64(), "" // e.g. 1.0e3 or 9007199254740993.0
	case r.IsInt() && mode == documentNumbers && r.Num().IsUint64():
		return r.Num().Uint64(), ""
	case !exact && r.IsInt():
		return nil, "integer too large to be checked exactly"
	case !exact && f == math.Trunc(f):
		// A fraction that rounds to a whole number would be typed as an
		// integer and compared as one.
		return nil, "number has more precision than can be checked"
	}
	return f, ""
}

// hasLoneSurrogate reports whether a \uD800–\uDFFF escape in raw is not part of
// a high-low pair. encoding/json turns such an escape into U+FFFD while other
// parsers keep it or fail, so the validated string and the guest's string
// would differ.
func hasLoneSurrogate(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(raw) {
				return false
			}
			if raw[i+1] != 'u' {
				i++
				continue
			}
			r, ok := hex4(raw, i+2)
			if !ok {
				i++
				continue
			}
			i += 5
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return true
			case r >= 0xD800 && r <= 0xDBFF:
				if i+6 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
					return true
				}
				lo, ok := hex4(raw, i+3)
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return true
				}
				i += 6
			}
		}
	}
	return false
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}
