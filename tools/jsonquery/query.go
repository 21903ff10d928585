package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The query language, a small subset of jq's:
//
//	query  = stage { "|" stage }
//	stage  = "length" | "keys" | path
//	path   = "." | step { step }           a path starts with "." or "["
//	step   = "." name | "." string | "[" int "]" | "[" string "]" | "[]"
//	name   = letter or "_", then letters, digits, "_" or "-"
//	string = a JSON string literal
//	int    = an optional "-" and decimal digits (negative counts from the end)
//
// A stage turns each value it is given into zero or more values: "[]" gives
// every element of an array (or every value of an object, in key order), so
// ".items[].name" gives one name per item. A field missing from an object,
// an index past the end of an array, and any step on null give null, as in
// jq; a field of an array or an index of an object is an error.

// Errors of parse and eval. Their text is written for the agent.
var (
	errSyntax = errors.New("query syntax error")
	errType   = errors.New("query type error")
	errLimit  = errors.New("query limit")
)

// maxQueryLen bounds a query; the manifest's schema says the same.
const maxQueryLen = 1024

// maxValues bounds the values a query may produce at any stage, so "[]" on
// a large document cannot fan out without end.
const maxValues = 100000

type stepKind int

const (
	stepField stepKind = iota
	stepIndex
	stepIter
)

type step struct {
	kind  stepKind
	field string
	index int
}

type stage struct {
	fn    string // "length", "keys", or "" for a path
	steps []step // a path; empty is the identity "."
}

// query is a parsed query.
type query struct {
	stages []stage
	iter   bool // some step is "[]": the result is a list
}

// parse parses q.
func parse(q string) (*query, error) {
	if len(q) > maxQueryLen {
		return nil, fmt.Errorf("%w: query is %d bytes, at most %d", errLimit, len(q), maxQueryLen)
	}
	if !utf8.ValidString(q) {
		return nil, fmt.Errorf("%w: query is not valid UTF-8", errSyntax)
	}
	p := &parser{s: q}
	out := &query{}
	for {
		p.space()
		st, err := p.stage()
		if err != nil {
			return nil, err
		}
		for _, s := range st.steps {
			if s.kind == stepIter {
				out.iter = true
			}
		}
		out.stages = append(out.stages, st)
		p.space()
		if p.eof() {
			return out, nil
		}
		if p.s[p.i] != '|' {
			return nil, p.errorf("expected | or the end of the query")
		}
		p.i++
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) space() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) errorf(format string, args ...any) error {
	if p.eof() {
		return fmt.Errorf("%w at the end: %s", errSyntax, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%w at offset %d: %s", errSyntax, p.i, fmt.Sprintf(format, args...))
}

func (p *parser) stage() (stage, error) {
	if p.eof() {
		return stage{}, p.errorf("expected a path, length or keys")
	}
	switch c := p.s[p.i]; {
	case c == '.' || c == '[':
		return p.path()
	case isNameStart(c):
		name := p.name()
		if name == "length" || name == "keys" {
			return stage{fn: name}, nil
		}
		p.i -= len(name)
		return stage{}, p.errorf("unknown function %q (known: length, keys)", name)
	}
	return stage{}, p.errorf("expected a path, length or keys")
}

func (p *parser) path() (stage, error) {
	var st stage
	// A lone "." (followed by the end, a space or "|") is the identity.
	if p.s[p.i] == '.' && (p.i+1 == len(p.s) || strings.IndexByte(" \t\r\n|[", p.s[p.i+1]) >= 0) {
		p.i++
	}
	for !p.eof() {
		switch p.s[p.i] {
		case '.':
			p.i++
			if p.eof() {
				return st, p.errorf("expected a name after .")
			}
			switch c := p.s[p.i]; {
			case c == '"':
				s, err := p.str()
				if err != nil {
					return st, err
				}
				st.steps = append(st.steps, step{kind: stepField, field: s})
			case isNameStart(c):
				st.steps = append(st.steps, step{kind: stepField, field: p.name()})
			default:
				return st, p.errorf("expected a name after .")
			}
		case '[':
			p.i++
			p.space()
			if p.eof() {
				return st, p.errorf("expected ] or an index")
			}
			switch c := p.s[p.i]; {
			case c == ']':
				st.steps = append(st.steps, step{kind: stepIter})
			case c == '"':
				s, err := p.str()
				if err != nil {
					return st, err
				}
				st.steps = append(st.steps, step{kind: stepField, field: s})
			case c == '-' || (c >= '0' && c <= '9'):
				n, err := p.int()
				if err != nil {
					return st, err
				}
				st.steps = append(st.steps, step{kind: stepIndex, index: n})
			default:
				return st, p.errorf("expected ], an index or a quoted key")
			}
			p.space()
			if p.eof() || p.s[p.i] != ']' {
				return st, p.errorf("expected ]")
			}
			p.i++
		default:
			return st, nil
		}
	}
	return st, nil
}

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func (p *parser) name() string {
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if !isNameStart(c) && !(c >= '0' && c <= '9') && c != '-' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

// str reads a JSON string literal.
func (p *parser) str() (string, error) {
	start := p.i
	p.i++ // the opening quote
	for !p.eof() {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			var s string
			if err := json.Unmarshal([]byte(p.s[start:p.i]), &s); err != nil {
				p.i = start
				return "", p.errorf("invalid quoted key")
			}
			return s, nil
		}
		p.i++
	}
	p.i = start
	return "", p.errorf("unterminated quoted key")
}

func (p *parser) int() (int, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	for !p.eof() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.Atoi(p.s[start:p.i])
	if err != nil || n > 1<<30 || n < -(1<<30) {
		p.i = start
		return 0, p.errorf("invalid index")
	}
	return n, nil
}

// eval runs q on doc, a value decoded with UseNumber. It returns the single
// value of a query without "[]", and the list of values of one with it.
func (q *query) eval(doc any) (any, error) {
	vals := []any{doc}
	for _, st := range q.stages {
		var next []any
		for _, v := range vals {
			out, err := st.apply(v, next)
			if err != nil {
				return nil, err
			}
			next = out
			if len(next) > maxValues {
				return nil, fmt.Errorf("%w: the query produces more than %d values", errLimit, maxValues)
			}
		}
		vals = next
	}
	if q.iter {
		if vals == nil {
			vals = []any{}
		}
		return vals, nil
	}
	return vals[0], nil
}

// apply appends what st makes of v to out.
func (st stage) apply(v any, out []any) ([]any, error) {
	switch st.fn {
	case "length":
		n, err := length(v)
		if err != nil {
			return nil, err
		}
		return append(out, n), nil
	case "keys":
		k, err := keys(v)
		if err != nil {
			return nil, err
		}
		return append(out, k), nil
	}
	vals := []any{v}
	for _, s := range st.steps {
		var next []any
		for _, v := range vals {
			var err error
			if next, err = s.apply(v, next); err != nil {
				return nil, err
			}
			if len(next) > maxValues {
				return nil, fmt.Errorf("%w: the query produces more than %d values", errLimit, maxValues)
			}
		}
		vals = next
	}
	return append(out, vals...), nil
}

func (s step) apply(v any, out []any) ([]any, error) {
	switch s.kind {
	case stepField:
		switch t := v.(type) {
		case nil:
			return append(out, nil), nil
		case map[string]any:
			return append(out, t[s.field]), nil
		}
		return nil, fmt.Errorf("%w: cannot take field %q of %s", errType, s.field, kind(v))
	case stepIndex:
		switch t := v.(type) {
		case nil:
			return append(out, nil), nil
		case []any:
			i := s.index
			if i < 0 {
				i += len(t)
			}
			if i < 0 || i >= len(t) {
				return append(out, nil), nil
			}
			return append(out, t[i]), nil
		}
		return nil, fmt.Errorf("%w: cannot index %s with a number", errType, kind(v))
	}
	switch t := v.(type) {
	case []any:
		return append(out, t...), nil
	case map[string]any:
		for _, k := range sortedKeys(t) {
			out = append(out, t[k])
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: cannot iterate over %s", errType, kind(v))
}

func length(v any) (any, error) {
	switch t := v.(type) {
	case nil:
		return 0, nil
	case string:
		return utf8.RuneCountInString(t), nil
	case []any:
		return len(t), nil
	case map[string]any:
		return len(t), nil
	}
	return nil, fmt.Errorf("%w: %s has no length", errType, kind(v))
}

func keys(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		return sortedKeys(t), nil
	case []any:
		idx := make([]int, len(t))
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	return nil, fmt.Errorf("%w: %s has no keys", errType, kind(v))
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// kind names a JSON value's type for an error message.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "a value"
}
