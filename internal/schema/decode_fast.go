package schema

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// smallObjectKeys is how many keys an object may have before decodeFast
// checks case-insensitive duplicates with a map of folded keys instead of
// comparing each new key with every earlier one (strings.EqualFold, which
// allocates nothing). Tool arguments are usually a handful of keys.
const smallObjectKeys = 8

// fastDecoder is one pass over the bytes of a document (RFC 8259 JSON).
// It accepts only what decodeSlow accepts, and builds the same tree: the
// same Go types, the same strings after unescaping, the same numbers. On
// anything else (a syntax error, a duplicate key, a lone surrogate, a number
// parseNumber would refuse, too deep) it reports false and decode asks
// decodeSlow, which finds and words the error.
//
// What it checks is decodeSlow's list: UTF-8 (inside strings; any byte
// outside a string that is not JSON is a syntax error anyway), unpaired
// surrogate escapes, duplicate keys also in letter case (strings.EqualFold
// is the relation foldKey encodes), nesting at most MaxDepth, numbers
// through parseNumber except two shapes it answers without math/big (short
// integers, and fractions that are not whole), and nothing after the value.
type fastDecoder struct {
	b    []byte
	i    int
	mode numberMode
	buf  []byte // scratch for a string with escapes
	// text is b as one string, made on the first string without escapes:
	// such strings (most keys and values) are slices of it, one
	// allocation for the document instead of one per string. The tree
	// lives no longer than the document's validation (a schema's tree
	// as long as the Schema, which keeps its raw bytes too).
	text string
}

// decodeFast decodes raw, or reports false without saying why.
func decodeFast(raw []byte, mode numberMode) (any, bool) {
	d := fastDecoder{b: raw, mode: mode}
	d.space()
	v, ok := d.value(0)
	if !ok {
		return nil, false
	}
	d.space()
	return v, d.i == len(d.b)
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value decodes the value at d.i; depth is the nesting of its container.
func (d *fastDecoder) value(depth int) (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; c {
	case '{':
		if depth+1 > MaxDepth {
			return nil, false
		}
		return d.object(depth + 1)
	case '[':
		if depth+1 > MaxDepth {
			return nil, false
		}
		return d.array(depth + 1)
	case '"':
		s, ok := d.string()
		if !ok {
			return nil, false
		}
		return s, true
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return d.number()
		}
		return nil, false
	}
}

func (d *fastDecoder) literal(word string) bool {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

func (d *fastDecoder) object(depth int) (any, bool) {
	d.i++ // '{'
	m := map[string]any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, true
	}
	var small [smallObjectKeys]string
	keys := small[:0]
	var folded map[string]struct{} // once the object outgrows small
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, false
		}
		key, ok := d.string()
		if !ok {
			return nil, false
		}
		if folded == nil && len(keys) < smallObjectKeys {
			for _, k := range keys {
				if strings.EqualFold(k, key) {
					return nil, false
				}
			}
			keys = append(keys, key)
		} else {
			if folded == nil {
				folded = make(map[string]struct{}, 2*smallObjectKeys)
				for _, k := range keys {
					folded[foldKey(k)] = struct{}{}
				}
			}
			f := foldKey(key)
			if _, dup := folded[f]; dup {
				return nil, false
			}
			folded[f] = struct{}{}
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, false
		}
		d.i++
		d.space()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[key] = v
		end, ok := d.separator('}')
		if !ok {
			return nil, false
		}
		if end {
			return m, true
		}
	}
}

// separator reads what follows a member or an element: a comma (and the
// space after it), or close, which ends the object or array (end); ok is
// false for anything else.
func (d *fastDecoder) separator(close byte) (end, ok bool) {
	d.space()
	if d.i >= len(d.b) {
		return false, false
	}
	switch d.b[d.i] {
	case ',':
		d.i++
		d.space()
		return false, true
	case close:
		d.i++
		return true, true
	}
	return false, false
}

func (d *fastDecoder) array(depth int) (any, bool) {
	d.i++ // '['
	a := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		end, ok := d.separator(']')
		if !ok {
			return nil, false
		}
		if end {
			return a, true
		}
	}
}

// string decodes the string whose opening quote is at d.i. A string without
// escapes is one copy of its bytes; one with escapes is unescaped into
// d.buf first.
func (d *fastDecoder) string() (string, bool) {
	d.i++ // '"'
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			end := d.i
			d.i++
			if !ascii && !utf8.Valid(d.b[start:end]) {
				return "", false
			}
			if d.text == "" {
				d.text = string(d.b)
			}
			return d.text[start:end], true
		case c == '\\':
			return d.escaped(start, ascii)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return "", false
}

// escaped finishes a string that started at start and has an escape at d.i.
// Escapes are ASCII, so the raw bytes between them are valid UTF-8 exactly
// when the whole raw string is.
func (d *fastDecoder) escaped(start int, ascii bool) (string, bool) {
	buf := append(d.buf[:0], d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			raw := d.b[start:d.i]
			d.i++
			d.buf = buf
			if !ascii && !utf8.Valid(raw) {
				return "", false
			}
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			if c >= utf8.RuneSelf {
				ascii = false
			}
			buf = append(buf, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return "", false
		}
		switch e := d.b[d.i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hexRune(d.b, d.i+2)
			if !ok {
				return "", false
			}
			d.i += 6
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return "", false // a low surrogate first: unpaired
			case r >= 0xD800 && r <= 0xDBFF:
				if d.i+1 >= len(d.b) || d.b[d.i] != '\\' || d.b[d.i+1] != 'u' {
					return "", false
				}
				lo, ok := hexRune(d.b, d.i+2)
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return "", false
				}
				d.i += 6
				r = utf16.DecodeRune(r, lo)
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default:
			return "", false
		}
		d.i += 2
	}
	return "", false
}

// hexRune reads the four hex digits of a \u escape at b[at:].
func hexRune(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// maxFastIntDigits is the longest run of digits that always fits an int64.
const maxFastIntDigits = 18

// number reads a number literal (RFC 8259 grammar) and converts it as
// parseNumber would: an integer of at most 18 digits directly, a fraction
// that is not whole through strconv.ParseFloat, anything else through
// parseNumber itself.
func (d *fastDecoder) number() (any, bool) {
	start := d.i
	neg := d.b[d.i] == '-'
	if neg {
		d.i++
	}
	intStart := d.i
	switch {
	case d.i >= len(d.b):
		return nil, false
	case d.b[d.i] == '0':
		d.i++
	case d.b[d.i] >= '1' && d.b[d.i] <= '9':
		d.digits()
	default:
		return nil, false
	}
	intEnd := d.i
	whole := true
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return nil, false
		}
		whole = false
	}
	expStart := -1
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		expStart = d.i
		if d.digits() == 0 {
			return nil, false
		}
		whole = false
	}
	lit := d.b[start:d.i]

	if whole && intEnd-intStart <= maxFastIntDigits {
		var n int64
		for _, c := range d.b[intStart:intEnd] {
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		// parseNumber: ParseInt succeeds, and a schema's integers must
		// also be exact as float64.
		if d.mode == documentNumbers || n >= -1<<53 && n <= 1<<53 {
			return n, true
		}
	}
	if len(lit) > maxNumberLen {
		return nil, false
	}
	if expStart >= 0 && !smallExponent(d.b[expStart:d.i]) {
		return nil, false // parseNumber: out of range
	}
	s := string(lit)
	if !whole {
		// A finite value with a fractional part is not an integer, is not
		// zero (no underflow), and parseNumber returns it as the nearest
		// float64, which ParseFloat also gives. Whole values (1.0, 1e20,
		// 0.0, overflow, underflow) take parseNumber's path.
		if f, err := strconv.ParseFloat(s, 64); err == nil && f != math.Trunc(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	v, msg := parseNumber(s, d.mode)
	return v, msg == ""
}

// digits skips a run of decimal digits and returns its length.
func (d *fastDecoder) digits() int {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i - start
}

// smallExponent reports whether the exponent digits (after any sign) are at
// most maxExponent, parseNumber's bound, without overflowing on a long run.
func smallExponent(digits []byte) bool {
	n := 0
	for _, c := range digits {
		n = n*10 + int(c-'0')
		if n > maxExponent {
			return false
		}
	}
	return true
}
