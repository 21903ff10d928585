package audit

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/moatmcp/moat/internal/jsonstr"
)

// This file is Summarize's common path: arguments that are one valid JSON
// document (json.Valid) are summarised by a scanner over the raw bytes, which
// allocates the output and little else (a string that needs unescaping, a
// long string's truncation, and the path's segments when sensitive paths are
// given). It makes exactly the output the token-based summarizer in redact.go
// makes — that one stays as the path for everything else (invalid JSON, whose
// error and truncation order is the decoder's), and FuzzSummarizeScanner runs
// both side by side.
//
// Because the input is valid, the scanner never meets a syntax error, and
// the output only grows: it is too long at the end exactly when the
// summarizer would have stopped with errTooLong on the way.

type scanner struct {
	b     []byte
	i     int
	paths [][]string
	path  []string // kept only when paths is not empty
	out   []byte
}

// summarizeValid summarises args, which json.Valid accepted.
func summarizeValid(args []byte, paths [][]string) []byte {
	s := &scanner{b: args, paths: paths, out: make([]byte, 0, min(len(args)+16, MaxSummaryBytes+1))}
	if !s.value(0) {
		return nil
	}
	return s.out
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// full reports whether the output is already longer than MaxSummaryBytes.
func (s *scanner) full() bool { return len(s.out) > MaxSummaryBytes }

// value writes the summary of the value at s.i; false when the output is
// too long.
func (s *scanner) value(depth int) bool {
	s.ws()
	if len(s.paths) > 0 && matchAny(s.paths, s.path) {
		s.skip()
		s.out = appendJSONString(s.out, Redacted)
		return !s.full()
	}
	switch c := s.b[s.i]; c {
	case '{', '[':
		if depth >= maxDepth {
			s.skip()
			s.out = appendJSONString(s.out, "[TOO DEEP]")
			return !s.full()
		}
		if c == '[' {
			return s.array(depth)
		}
		return s.object(depth)
	case '"':
		v, ok := s.str()
		if ok {
			s.out = appendScrubbed(s.out, v)
		} else {
			s.out = appendScrubbed(s.out, s.slowStr(v))
		}
		return !s.full()
	case 't':
		s.i += len("true")
		s.out = append(s.out, "true"...)
	case 'f':
		s.i += len("false")
		s.out = append(s.out, "false"...)
	case 'n':
		s.i += len("null")
		s.out = append(s.out, "null"...)
	default:
		start := s.i
		for s.i < len(s.b) && isNumberByte(s.b[s.i]) {
			s.i++
		}
		v := s.b[start:s.i]
		switch {
		case looksSecret(v):
			s.out = appendJSONString(s.out, Redacted)
		case len(v) > MaxStringBytes:
			s.out = appendJSONString(s.out, truncate(string(v)))
		default:
			s.out = append(s.out, v...)
		}
	}
	return !s.full()
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// str reads the string at s.i (its opening quote). When it has no escapes
// and is valid UTF-8, its raw bytes are its value: they are returned with
// true. Otherwise the raw literal, quotes included, is returned with false.
func (s *scanner) str() ([]byte, bool) {
	start := s.i
	s.i++
	plain := true
	for {
		c := s.b[s.i]
		if c == '"' {
			break
		}
		if c == '\\' {
			plain = false
			s.i++ // the escaped byte: never the closing quote
		}
		s.i++
	}
	s.i++ // the closing quote
	raw := s.b[start+1 : s.i-1]
	if plain && utf8.Valid(raw) {
		return raw, true
	}
	return s.b[start:s.i], false
}

// slowStr decodes a string literal as encoding/json does (escapes, and
// invalid UTF-8 replaced by U+FFFD).
func (s *scanner) slowStr(lit []byte) []byte {
	var v string
	json.Unmarshal(lit, &v) // valid by json.Valid
	return []byte(v)
}

func (s *scanner) array(depth int) bool {
	s.i++ // '['
	s.out = append(s.out, '[')
	s.ws()
	for n := 0; s.b[s.i] != ']'; n++ {
		if n > 0 {
			s.i++ // ','
			s.out = append(s.out, ',')
		}
		if len(s.paths) > 0 {
			s.path = append(s.path, strconv.Itoa(n))
		}
		ok := s.value(depth + 1)
		if len(s.paths) > 0 {
			s.path = s.path[:len(s.path)-1]
		}
		if !ok {
			return false
		}
		s.ws()
	}
	s.i++ // ']'
	s.out = append(s.out, ']')
	return !s.full()
}

func (s *scanner) object(depth int) bool {
	s.i++ // '{'
	s.out = append(s.out, '{')
	s.ws()
	redactedKeys := 0
	for n := 0; s.b[s.i] != '}'; n++ {
		if n > 0 {
			s.i++ // ','
			s.ws()
			s.out = append(s.out, ',')
		}
		key, ok := s.str()
		if !ok {
			key = s.slowStr(key)
		}
		s.ws()
		s.i++ // ':'
		switch {
		case looksSecret(key) || string(key) == Redacted: // shown as Redacted either way
			redactedKeys++
			s.out = appendJSONString(s.out, Redacted)
			if redactedKeys > 1 {
				s.out = s.out[:len(s.out)-1]
				s.out = append(s.out, '#')
				s.out = strconv.AppendInt(s.out, int64(redactedKeys), 10)
				s.out = append(s.out, '"')
			}
		case len(key) > MaxStringBytes:
			s.out = appendJSONString(s.out, truncate(string(key)))
		default:
			s.out = appendJSONString(s.out, key)
		}
		s.out = append(s.out, ':')
		if s.full() {
			return false
		}
		if secretKeyNameBytes(key) {
			s.ws()
			s.skip()
			s.out = appendJSONString(s.out, Redacted)
		} else {
			if len(s.paths) > 0 {
				s.path = append(s.path, string(key))
			}
			ok := s.value(depth + 1)
			if len(s.paths) > 0 {
				s.path = s.path[:len(s.path)-1]
			}
			if !ok {
				return false
			}
		}
		if s.full() {
			return false
		}
		s.ws()
	}
	s.i++ // '}'
	s.out = append(s.out, '}')
	return !s.full()
}

// skip moves s.i past the value at s.i (after any white space).
func (s *scanner) skip() {
	s.ws()
	switch s.b[s.i] {
	case '"':
		s.str()
		return
	case '{', '[':
	default: // a number or a literal: up to the next delimiter
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return
			}
			s.i++
		}
		return
	}
	for n := 0; ; {
		switch s.b[s.i] {
		case '"':
			s.str()
			continue
		case '{', '[':
			n++
		case '}', ']':
			n--
		}
		s.i++
		if n == 0 {
			return
		}
	}
}

// appendScrubbed appends v as scrub would show it.
func appendScrubbed(dst, v []byte) []byte {
	switch {
	case looksSecret(v):
		return appendJSONString(dst, Redacted)
	case len(v) > MaxStringBytes:
		return appendJSONString(dst, truncate(string(v)))
	}
	return appendJSONString(dst, v)
}

// secretKeyNameBytes is secretKeyName without allocating.
func secretKeyNameBytes(k []byte) bool {
	if len(k) > 32 {
		return false
	}
	var buf [32]byte
	n := 0
	for _, c := range k {
		switch {
		case c == '-' || c == '_':
		case 'A' <= c && c <= 'Z':
			buf[n] = c + 'a' - 'A'
			n++
		default:
			buf[n] = c
			n++
		}
	}
	return secretNames[string(buf[:n])]
}

// appendJSONString appends src as a JSON string exactly as encoding/json's
// Encoder with SetEscapeHTML(false) writes it.
func appendJSONString[T string | []byte](dst []byte, src T) []byte {
	return jsonstr.Append(dst, src, false)
}
