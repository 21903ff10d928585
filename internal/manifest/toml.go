package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/moatmcp/moat/internal/bytesize"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// This file holds the strict TOML layer shared by manifests and the server
// config. A document goes through three passes, on purpose:
//
//   - toml.Unmarshal into a map does the TOML semantics (duplicate keys,
//     tables defined twice, dotted keys against tables) and reports syntax
//     errors with a position;
//   - the unstable parser, walked once, gives the line and column of every
//     key path, so that errors found later, by the shape check and by
//     validation, point at the line that caused them;
//   - checkShape walks the map against the tagged struct the document
//     decodes into (a toolFile or a configFile), and go-toml then decodes
//     it into that struct in strict mode. The shape check comes first so
//     that an unknown key or a value of the wrong type is reported with the
//     field as the operator wrote it (mount[1].guest, not a Go struct path),
//     with the keys allowed there and the nearest one ("did you mean").
//
// Validation then runs on the decoded struct (manifest.go, config.go) and
// builds the Tool or Config: Parse → Validate → construct. This is the one
// package that imports go-toml.

// pos is a 1-based line and column in the document.
type pos struct{ line, col int }

// index maps a field path (see fieldPath) to where its key first appears.
type index struct {
	at         map[string]pos
	byPos      map[pos]string // full key path of each key/value and table header, by position
	byValue    map[pos]string // full path of each value, by the position of its first byte
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
	ix := &index{at: map[string]pos{}, byPos: map[pos]string{}, byValue: map[pos]string{}, lineStarts: []int{0}}
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
	if v.Raw.Length > 0 {
		w.ix.byValue[w.ix.offsetPos(int(v.Raw.Offset))] = path
	}
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
	data []byte
	root map[string]any
	ix   *index

	files []fileSum // the files validation read, in order
}

// fileSum is a file a manifest or config references, and the sha256 of
// its bytes as validation read them.
type fileSum struct{ path, sha256 string }

// readFile is readCapped, remembering the file and its digest for
// Tool.Files and Tool.Digest.
func (d *doc) readFile(p string, max int64) ([]byte, error) {
	data, err := readCapped(p, max)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	d.files = append(d.files, fileSum{path: p, sha256: hex.EncodeToString(sum[:])})
	return data, nil
}

// decodeTOML decodes data strictly enough for the typed layer: valid TOML,
// within the size cap. Syntax errors carry go-toml's position.
func decodeTOML(file string, data []byte, max int) (*doc, error) {
	if len(data) > max {
		return nil, &Error{File: file, Msg: fmt.Sprintf("file is %d bytes; the limit is %s", len(data), bytesize.Format(uint64(max))), Err: ErrTooLarge}
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
	return &doc{file: file, data: data, root: root, ix: ix}, nil
}

// errorf builds an *Error for field, positioned at the field's key.
func (d *doc) errorf(field string, sentinel error, format string, args ...any) *Error {
	p := d.ix.pos(field)
	return &Error{File: d.file, Line: p.line, Column: p.col, Field: field, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// toJSON converts a decoded TOML value (an inline schema) to the value
// encoding/json should marshal, refusing what JSON cannot express.
func (d *doc) toJSON(field string, v any) (any, error) {
	switch v := v.(type) {
	case string:
		if msg := badString(v); msg != "" {
			return nil, d.errorf(field, ErrInvalid, "%s", msg)
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
			if msg := badString(k); msg != "" {
				return nil, d.errorf(f, ErrInvalid, "key: %s", msg)
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
