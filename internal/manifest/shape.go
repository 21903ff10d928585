package manifest

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	toml "github.com/pelletier/go-toml/v2"
)

// decodeInto checks d's document against the tagged struct v points to
// (checkShape) and then decodes it into v with go-toml in strict mode. Every
// error is an *Error naming the field.
func (d *doc) decodeInto(v any) error {
	if err := d.checkShape(reflect.TypeOf(v).Elem()); err != nil {
		return err
	}
	dec := toml.NewDecoder(bytes.NewReader(d.data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	// After checkShape, what is left are the values a TextUnmarshaler
	// (Size, Duration, Rate) refused; the rest is a defence in depth.
	var se *toml.StrictMissingError
	if errors.As(err, &se) && len(se.Errors) > 0 {
		line, col := se.Errors[0].Position()
		return &Error{File: d.file, Line: line, Column: col, Field: d.fieldAt(line, col, se.Errors[0].Key()),
			Msg: "unknown field", Err: ErrUnknownField}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		field := d.fieldAt(line, col, de.Key())
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if field != "" {
			return d.errorf(field, ErrInvalid, "%s", msg)
		}
		return &Error{File: d.file, Line: line, Column: col, Msg: msg, Err: ErrInvalid}
	}
	return &Error{File: d.file, Msg: strings.TrimPrefix(err.Error(), "toml: "), Err: ErrInvalid}
}

// fieldAt names the value at line:col, or joins go-toml's key path (which
// has no array indexes) when the index does not know the position.
func (d *doc) fieldAt(line, col int, key toml.Key) string {
	if f, ok := d.ix.byValue[pos{line, col}]; ok {
		return f
	}
	if f, ok := d.ix.byPos[pos{line, col}]; ok {
		return f
	}
	var f string
	for _, k := range key {
		f = joinPath(f, k)
	}
	return f
}

// Struct tags the shape check reads, besides toml:
//
//	want:"..."  what the field holds, for "expected ..., got ..." messages
//	max:"N"     the most entries an array or table may have
//
// A type may also describe itself with a tomlWant method.
type wanter interface{ tomlWant() string }

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	wanterType          = reflect.TypeFor[wanter]()
)

// shapeError is one problem the shape check found, and where.
type shapeError struct {
	unknown bool // unknown fields are reported before wrong types
	at      pos
	err     *Error
}

// checkShape walks the decoded document against the struct type t and
// returns its first problem: the first unknown key in document order, else
// the first value of the wrong type, string that is not valid UTF-8 or
// holds a NUL, or list over its cap.
func (d *doc) checkShape(t reflect.Type) error {
	var errs []shapeError
	d.shape(d.root, t, "", "", 0, &errs)
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.unknown != b.unknown {
			return a.unknown
		}
		if a.at.line != b.at.line {
			return a.at.line < b.at.line
		}
		return a.at.col < b.at.col
	})
	return errs[0].err
}

func (d *doc) shapeErr(errs *[]shapeError, unknown bool, field string, sentinel error, format string, args ...any) {
	e := d.errorf(field, sentinel, format, args...)
	*errs = append(*errs, shapeError{unknown: unknown, at: pos{e.Line, e.Column}, err: e})
}

// shape checks value v (as toml.Unmarshal decodes it into a map) against
// Go type t. want, when set, overrides t's description; max caps arrays
// and tables.
func (d *doc) shape(v any, t reflect.Type, field, want string, max int, errs *[]shapeError) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if want == "" {
		want = describe(t)
	}
	if t.Kind() == reflect.Interface {
		d.anyStrings(v, field, errs)
		return
	}
	text := reflect.PointerTo(t).Implements(textUnmarshalerType)
	wrong := func() {
		d.shapeErr(errs, false, field, ErrType, "expected %s, got %s", want, typeName(v))
	}
	switch v := v.(type) {
	case string:
		if t.Kind() != reflect.String && !text {
			wrong()
			return
		}
		if msg := badString(v); msg != "" {
			d.shapeErr(errs, false, field, ErrInvalid, "%s", msg)
		}
	case int64:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if text { // a Duration: "5s", never a bare number
				wrong()
			}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if v < 0 {
				d.shapeErr(errs, false, field, ErrInvalid, "size %d is negative", v)
			}
		default:
			wrong()
		}
	case bool:
		if t.Kind() != reflect.Bool {
			wrong()
		}
	case []any:
		if t.Kind() != reflect.Slice {
			wrong()
			return
		}
		if max > 0 && len(v) > max {
			d.shapeErr(errs, false, field, ErrTooLarge, "%d entries; the limit is %d", len(v), max)
			return
		}
		for i, e := range v {
			d.shape(e, t.Elem(), indexPath(field, i), "", 0, errs)
		}
	case map[string]any:
		switch {
		case t.Kind() == reflect.Map:
			if max > 0 && len(v) > max {
				d.shapeErr(errs, false, field, ErrTooLarge, "%d entries; the limit is %d", len(v), max)
				return
			}
			for k, e := range v {
				f := joinPath(field, k)
				if msg := badString(k); msg != "" {
					d.shapeErr(errs, false, f, ErrInvalid, "key: %s", msg)
				}
				d.shape(e, t.Elem(), f, "", 0, errs)
			}
		case t.Kind() == reflect.Struct && hasTOMLFields(t):
			d.table(v, t, field, errs)
		default:
			wrong()
		}
	case float64:
		if t.Kind() != reflect.Float64 {
			wrong()
		}
	default: // dates and times: no field of ours takes them
		wrong()
	}
}

// table checks the keys of one TOML table against struct type t.
func (d *doc) table(m map[string]any, t reflect.Type, field string, errs *[]shapeError) {
	keys := tomlKeys(t)
	for k, v := range m {
		i, ok := keys.index[k]
		if !ok {
			where := "at the top level"
			if field != "" {
				where = "in " + field
			}
			msg := fmt.Sprintf("unknown field %s (known fields %s: %s)", strconv.Quote(k), where, strings.Join(keys.names, ", "))
			if s := suggest(k, keys.names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.shapeErr(errs, true, joinPath(field, k), ErrUnknownField, "%s", msg)
			continue
		}
		sf := t.Field(i)
		max, _ := strconv.Atoi(sf.Tag.Get("max"))
		d.shape(v, sf.Type, joinPath(field, k), sf.Tag.Get("want"), max, errs)
	}
}

// anyStrings applies the string rules inside a value decoded as any (an
// inline schema, an expiry date).
func (d *doc) anyStrings(v any, field string, errs *[]shapeError) {
	switch v := v.(type) {
	case string:
		if msg := badString(v); msg != "" {
			d.shapeErr(errs, false, field, ErrInvalid, "%s", msg)
		}
	case []any:
		for i, e := range v {
			d.anyStrings(e, indexPath(field, i), errs)
		}
	case map[string]any:
		for k, e := range v {
			f := joinPath(field, k)
			if msg := badString(k); msg != "" {
				d.shapeErr(errs, false, f, ErrInvalid, "key: %s", msg)
			}
			d.anyStrings(e, f, errs)
		}
	}
}

// badString applies the rules every string value obeys: valid UTF-8 (the
// parser checks the raw bytes, but not what \u escapes produce) and no NUL,
// which no C string, path or environment entry can carry.
func badString(s string) string {
	if !utf8.ValidString(s) {
		return "string is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "string contains a NUL character"
	}
	return ""
}

// keySet is the TOML keys of a struct type, in field order.
type keySet struct {
	names []string
	index map[string]int // key → field index
}

func tomlKeys(t reflect.Type) keySet {
	ks := keySet{index: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ks.names = append(ks.names, name)
		ks.index[name] = i
	}
	return ks
}

func hasTOMLFields(t reflect.Type) bool { return len(tomlKeys(t).names) > 0 }

// describe names what a Go type holds, in TOML terms.
func describe(t reflect.Type) string {
	if t.Implements(wanterType) {
		return reflect.Zero(t).Interface().(wanter).tomlWant()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float64:
		return "a decimal number such as 0.25"
	case reflect.Slice:
		switch e := t.Elem(); {
		case e.Kind() == reflect.String:
			return "an array of strings"
		case e.Kind() == reflect.Struct:
			return "an array of tables"
		}
		return "an array"
	}
	return "a table"
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

// suggest returns the allowed key nearest to k, if it is near enough to be
// a likely typo ("memroy" → "memory"), else "".
func suggest(k string, allowed []string) string {
	best, bestDist := "", 1<<30
	for _, a := range allowed {
		if dist := editDistance(k, a); dist < bestDist {
			best, bestDist = a, dist
		}
	}
	limit := 1
	if len(k) >= 5 {
		limit = 2
	}
	if len(k) >= 9 {
		limit = 3
	}
	if bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours each cost 1.
// Keys are short (and capped by the document size), so the quadratic table
// is fine.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
