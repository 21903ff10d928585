package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// This file holds the strict TOML layer shared by manifests and the server
// config. The document is decoded twice, on purpose:
//
//   - toml.Unmarshal into a map does the TOML semantics (duplicate keys,
//     tables defined twice, dotted keys against tables) and reports syntax
//     errors with a position;
//   - the unstable parser, walked once, gives the line and column of every
//     key path, so that errors found later, by the typed decode below and by
//     validation, point at the line that caused them.
//
// The typed decode is hand-written rather than go-toml's struct decoding so
// that every error names the field as the operator wrote it (mount[1].guest,
// not a Go struct path) and so that polymorphic fields (a size as a string or
// an integer, env as a string or a table) stay simple.

// pos is a 1-based line and column in the document.
type pos struct{ line, col int }

// index maps a field path (see fieldPath) to where its key first appears.
type index struct {
	at         map[string]pos
	byPos      map[pos]string // full key path of each key/value and table header, by position
	keys       int            // key/values and table headers seen
	lineStarts []int          // byte offset of the start of each line
}

// line returns the line of field, or of its nearest ancestor that appears in
// the document (a missing key is reported at its table), or 0.
func (ix *index) pos(field string) pos {
	for field != "" {
		if p, ok := ix.at[field]; ok {
			return p
		}
		field = parentPath(field)
	}
	return pos{}
}

// parentPath strips the last segment (".key" or "[i]") from a field path.
func parentPath(field string) string {
	// Scan from the end, skipping quoted segments.
	inQuote := false
	for i := len(field) - 1; i >= 0; i-- {
		c := field[i]
		switch {
		case c == '"' && (i == 0 || field[i-1] != '\\'):
			inQuote = !inQuote
		case inQuote:
		case c == '.':
			return field[:i]
		case c == '[':
			return field[:i]
		}
	}
	return ""
}

func (ix *index) offsetPos(off int) pos {
	// lineStarts[0] == 0, so i >= 1.
	i := sort.Search(len(ix.lineStarts), func(i int) bool { return ix.lineStarts[i] > off })
	return pos{line: i, col: off - ix.lineStarts[i-1] + 1}
}

// buildIndex walks a document, as far as it parses.
func buildIndex(data []byte) *index {
	ix := &index{at: map[string]pos{}, byPos: map[pos]string{}, lineStarts: []int{0}}
	for i, c := range data {
		if c == '\n' {
			ix.lineStarts = append(ix.lineStarts, i+1)
		}
	}
	w := indexWalker{ix: ix, arrays: map[string]int{}}
	var p unstable.Parser
	p.Reset(data)
	for p.NextExpression() {
		w.expression(p.Expression())
	}
	// A syntax error stops the walk; what came before is indexed, which is
	// what naming the field of a duplicate key needs.
	return ix
}

type indexWalker struct {
	ix      *index
	arrays  map[string]int // array-of-tables path → elements so far
	current string         // path of the table that key/values go into
}

func (w *indexWalker) record(path string, n *unstable.Node) {
	if _, ok := w.ix.at[path]; ok || n == nil || n.Raw.Length == 0 {
		return
	}
	w.ix.at[path] = w.ix.offsetPos(int(n.Raw.Offset))
}

// resolve extends base by the key parts, stepping into the last element of
// any array of tables on the way, as TOML does for [a.b] after [[a]].
func (w *indexWalker) resolve(base string, it unstable.Iterator, last bool) (path string, first *unstable.Node) {
	path = base
	for it.Next() {
		k := it.Node()
		if first == nil {
			first = k
		}
		path = joinPath(path, string(k.Data))
		w.record(path, first)
		if n, ok := w.arrays[path]; ok && !(last && it.IsLast()) {
			path = indexPath(path, n-1)
		}
	}
	return path, first
}

func (w *indexWalker) expression(n *unstable.Node) {
	switch n.Kind {
	case unstable.Table:
		var first *unstable.Node
		w.current, first = w.resolve("", n.Key(), false)
		w.recordKey(w.current, first)
	case unstable.ArrayTable:
		path, first := w.resolve("", n.Key(), true)
		i := w.arrays[path]
		w.arrays[path] = i + 1
		w.current = indexPath(path, i)
		w.record(w.current, first)
		w.recordKey(w.current, first)
	case unstable.KeyValue:
		w.keyValue(w.current, n)
	}
}

// recordKey remembers which field the key at n's position defines, so that
// go-toml's duplicate-key errors (which give a position and a key relative
// to its table) can name the full field.
func (w *indexWalker) recordKey(path string, n *unstable.Node) {
	w.ix.keys++
	if n != nil && n.Raw.Length > 0 {
		w.ix.byPos[w.ix.offsetPos(int(n.Raw.Offset))] = path
	}
}

func (w *indexWalker) keyValue(base string, n *unstable.Node) {
	path, first := w.resolve(base, n.Key(), false)
	w.recordKey(path, first)
	w.value(path, n.Value())
}

func (w *indexWalker) value(path string, v *unstable.Node) {
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if c := it.Node(); c.Kind == unstable.KeyValue {
				w.keyValue(path, c)
			}
		}
	case unstable.Array:
		it := v.Children()
		i := 0
		for it.Next() {
			e := it.Node()
			if e.Kind == unstable.Comment {
				continue
			}
			p := indexPath(path, i)
			w.record(p, e)
			w.value(p, e)
			i++
		}
	}
}

// joinPath appends one key to a field path, quoting keys that are not bare
// TOML keys so the path stays unambiguous.
func joinPath(base, key string) string {
	seg := key
	if !isBareKey(key) {
		seg = strconv.Quote(key)
	}
	if base == "" {
		return seg
	}
	return base + "." + seg
}

func indexPath(base string, i int) string { return base + "[" + strconv.Itoa(i) + "]" }

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// maxKeys caps the key/values and table headers of one document. go-toml's
// duplicate-key tracking is quadratic in the number of siblings (a 900 KiB
// manifest of 20,000 small tables takes over a second), and no real manifest
// or config comes near this.
const maxKeys = 10000

// doc is one decoded document and where its errors go.
type doc struct {
	file string
	root map[string]any
	ix   *index
}

// decodeTOML decodes data strictly enough for the typed layer: valid TOML,
// within the size cap. Syntax errors carry go-toml's position.
func decodeTOML(file string, data []byte, max int) (*doc, error) {
	if len(data) > max {
		return nil, &Error{File: file, Msg: fmt.Sprintf("file is %d bytes; the limit is %s", len(data), formatSize(uint64(max))), Err: ErrTooLarge}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		// TOML forbids raw control characters; say so plainly rather
		// than leave it to the parser's message.
		d := &doc{file: file, ix: &index{lineStarts: []int{0}}}
		for j, c := range data[:i] {
			if c == '\n' {
				d.ix.lineStarts = append(d.ix.lineStarts, j+1)
			}
		}
		p := d.ix.offsetPos(i)
		return nil, &Error{File: file, Line: p.line, Column: p.col, Msg: "NUL byte in the document", Err: ErrSyntax}
	}
	ix := buildIndex(data)
	if ix.keys > maxKeys {
		return nil, &Error{File: file, Msg: fmt.Sprintf("%d keys and tables; the limit is %d", ix.keys, maxKeys), Err: ErrTooLarge}
	}
	var root map[string]any
	if err := toml.Unmarshal(data, &root); err != nil {
		e := &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: "), Err: ErrSyntax}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			e.Line, e.Column = de.Position()
			if f, ok := ix.byPos[pos{e.Line, e.Column}]; ok {
				e.Field = f
			} else {
				for _, k := range de.Key() {
					e.Field = joinPath(e.Field, k)
				}
			}
		}
		return nil, e
	}
	if root == nil {
		root = map[string]any{}
	}
	return &doc{file: file, root: root, ix: ix}, nil
}

// errorf builds an *Error for field, positioned at the field's key.
func (d *doc) errorf(field string, sentinel error, format string, args ...any) *Error {
	p := d.ix.pos(field)
	return &Error{File: d.file, Line: p.line, Column: p.col, Field: field, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// table is one TOML table of the document and its field path.
type table struct {
	path string
	m    map[string]any
}

func (t table) field(key string) string { return joinPath(t.path, key) }

// strict fails on the first key of t (in document order) not in allowed.
func (d *doc) strict(t table, allowed ...string) error {
	var unknown []string
	for k := range t.m {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Slice(unknown, func(i, j int) bool {
		pi, pj := d.ix.pos(t.field(unknown[i])), d.ix.pos(t.field(unknown[j]))
		if pi.line != pj.line {
			return pi.line < pj.line
		}
		if pi.col != pj.col {
			return pi.col < pj.col
		}
		return unknown[i] < unknown[j]
	})
	k := unknown[0]
	where := "at the top level"
	if t.path != "" {
		where = "in " + t.path
	}
	return d.errorf(t.field(k), ErrUnknownField, "unknown field %s (known fields %s: %s)", strconv.Quote(k), where, strings.Join(allowed, ", "))
}

// typeName names a decoded TOML value's type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case toml.LocalDate, toml.LocalTime, toml.LocalDateTime, time.Time:
		return "a date/time"
	}
	return fmt.Sprintf("a %T", v)
}

func (d *doc) wrongType(field, want string, v any) error {
	return d.errorf(field, ErrType, "expected %s, got %s", want, typeName(v))
}

// checkString applies the rules every string value obeys: valid UTF-8 (the
// parser checks the raw bytes, but not what \u escapes produce) and no NUL,
// which no C string, path or environment entry can carry.
func (d *doc) checkString(field, s string) error {
	if !utf8.ValidString(s) {
		return d.errorf(field, ErrInvalid, "string is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return d.errorf(field, ErrInvalid, "string contains a NUL character")
	}
	return nil
}

// str reads an optional string field.
func (d *doc) str(t table, key string) (s string, ok bool, err error) {
	v, ok := t.m[key]
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", true, d.wrongType(t.field(key), "a string", v)
	}
	return s, true, d.checkString(t.field(key), s)
}

// boolean reads an optional boolean field.
func (d *doc) boolean(t table, key string) (b, ok bool, err error) {
	v, ok := t.m[key]
	if !ok {
		return false, false, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, true, d.wrongType(t.field(key), "a boolean", v)
	}
	return b, true, nil
}

// integer reads an optional integer field within [min, max]; def when
// absent.
func (d *doc) integer(t table, key string, def, min, max int64) (int64, error) {
	v, ok := t.m[key]
	if !ok {
		return def, nil
	}
	f := t.field(key)
	n, isInt := v.(int64)
	if !isInt {
		return 0, d.wrongType(f, "an integer", v)
	}
	if n < min || n > max {
		return 0, d.errorf(f, ErrInvalid, "%d is out of bounds: must be between %d and %d", n, min, max)
	}
	return n, nil
}

// optBool reads an optional boolean field as a pointer, nil when absent.
func (d *doc) optBool(t table, key string) (*bool, error) {
	b, ok, err := d.boolean(t, key)
	if err != nil || !ok {
		return nil, err
	}
	return &b, nil
}

// sub reads an optional table field; absent gives an empty table.
func (d *doc) sub(t table, key string) (table, bool, error) {
	v, ok := t.m[key]
	if !ok {
		return table{path: t.field(key), m: map[string]any{}}, false, nil
	}
	m, isTable := v.(map[string]any)
	if !isTable {
		return table{}, true, d.wrongType(t.field(key), "a table", v)
	}
	return table{path: t.field(key), m: m}, true, nil
}

// strings reads an optional array of strings, capped at max elements.
func (d *doc) strings(t table, key string, max int) ([]string, error) {
	v, ok := t.m[key]
	if !ok {
		return nil, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, d.wrongType(t.field(key), "an array of strings", v)
	}
	if len(arr) > max {
		return nil, d.errorf(t.field(key), ErrTooLarge, "%d entries; the limit is %d", len(arr), max)
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		f := indexPath(t.field(key), i)
		s, isStr := e.(string)
		if !isStr {
			return nil, d.wrongType(f, "a string", e)
		}
		if err := d.checkString(f, s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// size reads an optional size field, written "64MiB" or as an integer
// number of bytes, and checks it against [min, max].
func (d *doc) size(t table, key string, def, min, max uint64) (uint64, error) {
	v, ok := t.m[key]
	if !ok {
		return def, nil
	}
	f := t.field(key)
	var n uint64
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return 0, d.errorf(f, ErrInvalid, "size %d is negative", v)
		}
		n = uint64(v)
	case string:
		var err error
		if n, err = parseSize(v); err != nil {
			return 0, d.errorf(f, ErrInvalid, "%v", err)
		}
	default:
		return 0, d.wrongType(f, `a size such as "64MiB" or an integer number of bytes`, v)
	}
	if n < min || n > max {
		return 0, d.errorf(f, ErrInvalid, "%s is out of bounds: must be between %s and %s", formatSize(n), formatSize(min), formatSize(max))
	}
	return n, nil
}

// toJSON converts a decoded TOML value (an inline schema) to the value
// encoding/json should marshal, refusing what JSON cannot express.
func (d *doc) toJSON(field string, v any) (any, error) {
	switch v := v.(type) {
	case string:
		if err := d.checkString(field, v); err != nil {
			return nil, err
		}
		return v, nil
	case int64, bool:
		return v, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, d.errorf(field, ErrInvalid, "%v cannot be written in JSON", v)
		}
		return v, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = d.toJSON(indexPath(field, i), e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		// Sorted so that the first error is the same on every run.
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f := joinPath(field, k)
			if err := d.checkString(f, k); err != nil {
				return nil, err
			}
			var err error
			if out[k], err = d.toJSON(f, v[k]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, d.errorf(field, ErrType, "%s has no JSON equivalent", typeName(v))
}
