package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"
)

// decodeSlow is decode's reference and error path: it walks the document
// with encoding/json's Decoder.Token, which allocates per token, so decode
// only calls it when decodeFast gave up (a refused document, or one
// decodeFast does not handle). Its checks and messages are the ones clients
// and tests see; change them here, and decodeFast must still give up on
// everything this refuses (FuzzDecodeEquivalence).
func decodeSlow(raw []byte, mode numberMode) (any, *decodeError) {
	if !utf8.Valid(raw) {
		return nil, &decodeError{msg: "not valid UTF-8"}
	}
	if hasLoneSurrogate(raw) {
		return nil, &decodeError{msg: "a string contains an unpaired UTF-16 surrogate escape"}
	}
	d := &decoder{dec: json.NewDecoder(bytes.NewReader(raw)), mode: mode}
	d.dec.UseNumber()
	v, derr := d.value(nil, 0)
	if derr != nil {
		return nil, derr
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return nil, &decodeError{msg: "unexpected data after the JSON value"}
	}
	return v, nil
}

type decoder struct {
	dec  *json.Decoder
	mode numberMode
}

func (d *decoder) syntaxError(err error) *decodeError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &decodeError{msg: "not valid JSON (at byte " + strconv.FormatInt(se.Offset, 10) + ")"}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &decodeError{msg: "not valid JSON (unexpected end)"}
	}
	return &decodeError{msg: "not valid JSON"}
}

func (d *decoder) value(path *pathElem, depth int) (any, *decodeError) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntaxError(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth+1 > MaxDepth {
			return nil, &decodeError{path: path.pointer(), msg: "nested deeper than " + strconv.Itoa(MaxDepth) + " levels"}
		}
		switch t {
		case '{':
			return d.object(path, depth+1)
		case '[':
			return d.array(path, depth+1)
		}
		return nil, &decodeError{msg: "not valid JSON"}
	case json.Number:
		n, msg := parseNumber(string(t), d.mode)
		if msg != "" {
			return nil, &decodeError{path: path.pointer(), msg: msg}
		}
		return n, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, &decodeError{msg: "not valid JSON"}
}

func (d *decoder) object(path *pathElem, depth int) (any, *decodeError) {
	m := map[string]any{}
	folded := map[string]string{} // case-folded key → key as written
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return nil, d.syntaxError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &decodeError{msg: "not valid JSON"}
		}
		elem := &pathElem{parent: path, key: key, isKey: true}
		if _, dup := m[key]; dup {
			return nil, &decodeError{path: elem.pointer(), msg: "duplicate key"}
		}
		f := foldKey(key)
		if prev, dup := folded[f]; dup {
			return nil, &decodeError{path: elem.pointer(), msg: "duplicate key: differs only in letter case from " + quote(prev)}
		}
		folded[f] = key
		v, derr := d.value(elem, depth)
		if derr != nil {
			return nil, derr
		}
		m[key] = v
	}
	if _, err := d.dec.Token(); err != nil { // '}'
		return nil, d.syntaxError(err)
	}
	return m, nil
}

func (d *decoder) array(path *pathElem, depth int) (any, *decodeError) {
	a := []any{}
	for i := 0; d.dec.More(); i++ {
		v, derr := d.value(&pathElem{parent: path, index: i}, depth)
		if derr != nil {
			return nil, derr
		}
		a = append(a, v)
	}
	if _, err := d.dec.Token(); err != nil { // ']'
		return nil, d.syntaxError(err)
	}
	return a, nil
}
