// Package jsonstr writes JSON strings by hand, byte for byte as
// encoding/json does, for the few places on the call path that write
// JSON without reflection: the audit record (internal/audit) and the
// direct path's text result (host). One writer, so that the two cannot
// escape differently; FuzzAppend holds it to encoding/json in both of its
// modes.
package jsonstr

import "unicode/utf8"

// jsonSafe[c] is true for the ASCII bytes a JSON string holds as they
// are when HTML is not escaped: not a control character, '"' or '\\'.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// Append appends src as a JSON string exactly as encoding/json
// writes it: \", \\, \b, \f, \n, \r and \t; other control characters as
// \u00XX; with html (json.Marshal's default), also <, > and & as \u00XX;
// invalid UTF-8 as \ufffd, one per bad byte; U+2028 and U+2029 always
// escaped.
func Append[T string | []byte](dst []byte, src T, html bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(src); {
		if b := src[i]; b < utf8.RuneSelf {
			if jsonSafe[b] && !(html && (b == '<' || b == '>' || b == '&')) {
				i++
				continue
			}
			dst = append(dst, src[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		// At most utf8.UTFMax bytes converted: the conversion stays on the
		// stack (encoding/json does the same).
		c, size := utf8.DecodeRuneInString(string(src[i:min(len(src), i+utf8.UTFMax)]))
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, src[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, src[start:]...)
	return append(dst, '"')
}
