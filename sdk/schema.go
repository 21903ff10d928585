package sdk

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Errors returned by InputSchema and OutputSchema.
var (
	// ErrUnsupportedType is a Go type that has no JSON Schema: a channel, a
	// function, a complex number, a recursive struct, a map whose keys are
	// not strings or integers, or a top-level type that is not an object.
	ErrUnsupportedType = errors.New("type has no JSON Schema")
	// ErrBadTag is a `jsonschema` struct tag that does not parse or does not
	// fit the field's type.
	ErrBadTag = errors.New("bad jsonschema tag")
)

// InputSchema returns the JSON Schema (2020-12) of the arguments a handler
// taking T accepts, as compact JSON with sorted keys. T must be a struct, a
// pointer to one, a map with string keys, or an interface (any object).
//
// The schema follows encoding/json, which is what decodes the arguments:
//
//   - a struct is an object with additionalProperties false (Run refuses
//     unknown fields too); its properties are the fields encoding/json
//     sees, under their json names, embedded structs flattened;
//   - a field is required unless its json tag says omitempty or omitzero,
//     or its type is a pointer (in arguments, a pointer means optional);
//   - a slice is an array, a [N]T array has exactly N items, a []byte is a
//     base64 string, a map is an object, time.Time is a date-time string,
//     an interface or a json.Marshaler is any value;
//   - the `desc` tag is the field's description, and the `jsonschema` tag
//     adds keywords (see below).
//
// The `jsonschema` tag is a comma-separated list of keywords:
//
//	Path  string   `json:"path" desc:"File path, e.g. notes/a.md" jsonschema:"minLength=1,maxLength=1024"`
//	Mode  string   `json:"mode,omitempty" jsonschema:"enum=fast|thorough,default=fast"`
//	Max   int      `json:"max,omitempty" jsonschema:"minimum=1,maximum=2000"`
//	Tags  []string `json:"tags" jsonschema:"maxItems=10,maxLength=32,uniqueItems"`
//
// Keywords: minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers);
// minLength, maxLength, pattern, format (strings); enum=a|b|c and default
// (any scalar, parsed as the field's type); minItems, maxItems, uniqueItems
// (arrays); required and optional (override the rule above). On a slice,
// the array keywords apply to the array and the others to its items. A
// pattern may contain commas: a segment that does not start with a keyword
// belongs to the one before it.
//
// # Notes
//
//   - Recursive types are refused ([ErrUnsupportedType]): every nested
//     struct is written out in place, with no $ref.
//   - The result is deterministic, so it can be pinned and diffed.
func InputSchema[T any]() ([]byte, error) {
	return generate(reflect.TypeFor[T](), false)
}

// OutputSchema returns the JSON Schema (2020-12) of the structured result a
// handler returning T writes, or nil when T is string or Text (a text
// result has no schema). T must otherwise be a struct, a pointer to one, or
// a map with string keys: MCP structured results are objects.
//
// It follows the same rules as InputSchema, with one difference that keeps
// the schema true to what encoding/json writes: a pointer, slice or map
// field without omitempty may be null.
func OutputSchema[T any]() ([]byte, error) {
	t := reflect.TypeFor[T]()
	if t == reflect.TypeFor[string]() || t == reflect.TypeFor[Text]() {
		return nil, nil
	}
	return generate(t, true)
}

// node is one JSON Schema, marshalled with its keys in a fixed order.
type node struct {
	Type                 any              `json:"type,omitempty"` // string or []string
	Description          string           `json:"description,omitempty"`
	Format               string           `json:"format,omitempty"`
	ContentEncoding      string           `json:"contentEncoding,omitempty"`
	Enum                 []any            `json:"enum,omitempty"`
	Default              any              `json:"default,omitempty"`
	Minimum              json.Number      `json:"minimum,omitempty"`
	Maximum              json.Number      `json:"maximum,omitempty"`
	ExclusiveMinimum     json.Number      `json:"exclusiveMinimum,omitempty"`
	ExclusiveMaximum     json.Number      `json:"exclusiveMaximum,omitempty"`
	MinLength            *uint64          `json:"minLength,omitempty"`
	MaxLength            *uint64          `json:"maxLength,omitempty"`
	Pattern              string           `json:"pattern,omitempty"`
	Items                *node            `json:"items,omitempty"`
	MinItems             *uint64          `json:"minItems,omitempty"`
	MaxItems             *uint64          `json:"maxItems,omitempty"`
	UniqueItems          bool             `json:"uniqueItems,omitempty"`
	Properties           map[string]*node `json:"properties,omitempty"`
	Required             []string         `json:"required,omitempty"`
	AdditionalProperties any              `json:"additionalProperties,omitempty"` // *node or false
}

// typeName is the node's single JSON type, or "" for any value.
func (n *node) typeName() string {
	switch t := n.Type.(type) {
	case string:
		return t
	case []string:
		return t[0]
	}
	return ""
}

// notNull undoes nullable.
func (n *node) notNull() {
	t, ok := n.Type.([]string)
	if !ok {
		return
	}
	n.Type = t[0]
	if k := len(n.Enum); k > 0 && n.Enum[k-1] == nil {
		n.Enum = n.Enum[:k-1]
	}
}

// nullable lets n be null as well.
func (n *node) nullable() {
	t, ok := n.Type.(string)
	if !ok {
		return // any value, or already nullable
	}
	n.Type = []string{t, "null"}
	if n.Enum != nil {
		n.Enum = append(n.Enum, nil)
	}
}

var (
	typeTime          = reflect.TypeFor[time.Time]()
	typeRawMessage    = reflect.TypeFor[json.RawMessage]()
	typeNumber        = reflect.TypeFor[json.Number]()
	typeMarshaler     = reflect.TypeFor[json.Marshaler]()
	typeUnmarshaler   = reflect.TypeFor[json.Unmarshaler]()
	typeTextMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// generator walks one top-level type.
type generator struct {
	output bool
	// inProgress holds the struct types being expanded, to refuse recursion.
	inProgress map[reflect.Type]bool
}

func generate(t reflect.Type, output bool) ([]byte, error) {
	g := &generator{output: output, inProgress: map[reflect.Type]bool{}}
	top := t
	for top.Kind() == reflect.Pointer {
		top = top.Elem()
	}
	var n *node
	var err error
	switch {
	case top.Kind() == reflect.Interface && !output:
		// Arguments are always an object; any object will do.
		n = &node{Type: "object"}
	case top.Kind() == reflect.Struct && !isSpecial(top), top.Kind() == reflect.Map:
		n, err = g.schema(top, top.String())
	default:
		what := "arguments"
		if output {
			what = "a structured result"
		}
		return nil, fmt.Errorf("%w: %s: %s must be a JSON object (a struct or a map); return a string for a text result", ErrUnsupportedType, t, what)
	}
	if err != nil {
		return nil, err
	}
	n.notNull() // results and arguments are objects: a nil top-level map is the author's bug
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// isSpecial reports whether encoding/json writes t some way other than by
// its kind.
func isSpecial(t reflect.Type) bool {
	if t == typeTime || t == typeRawMessage || t == typeNumber {
		return true
	}
	pt := reflect.PointerTo(t)
	return t.Implements(typeMarshaler) || pt.Implements(typeMarshaler) ||
		pt.Implements(typeUnmarshaler) || t.Implements(typeTextMarshaler) || pt.Implements(typeTextMarshaler)
}

// schema is the schema of values of type t; at names the place in errors.
func (g *generator) schema(t reflect.Type, at string) (*node, error) {
	switch t {
	case typeTime:
		return &node{Type: "string", Format: "date-time"}, nil
	case typeRawMessage:
		return &node{}, nil
	case typeNumber:
		return &node{Type: "number"}, nil
	}
	pt := reflect.PointerTo(t)
	if t.Kind() != reflect.Pointer && (t.Implements(typeMarshaler) || pt.Implements(typeMarshaler) || pt.Implements(typeUnmarshaler)) {
		return &node{}, nil // its own encoding: any value
	}
	if t.Kind() != reflect.Pointer && (t.Implements(typeTextMarshaler) || pt.Implements(typeTextMarshaler)) {
		return &node{Type: "string"}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return &node{Type: "boolean"}, nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		lo, hi := intRange(t)
		return &node{Type: "integer", Minimum: lo, Maximum: hi}, nil
	case reflect.Int, reflect.Int64:
		return &node{Type: "integer"}, nil
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return &node{Type: "integer", Minimum: "0"}, nil
	case reflect.Float32, reflect.Float64:
		return &node{Type: "number"}, nil
	case reflect.String:
		return &node{Type: "string"}, nil
	case reflect.Interface:
		return &node{}, nil
	case reflect.Pointer:
		n, err := g.schema(t.Elem(), at)
		if err != nil {
			return nil, err
		}
		if g.output {
			n.nullable()
		}
		return n, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(typeTextMarshaler) && !t.Elem().Implements(typeMarshaler) {
			n := &node{Type: "string", ContentEncoding: "base64"}
			if g.output {
				n.nullable()
			}
			return n, nil
		}
		items, err := g.schema(t.Elem(), at+"[]")
		if err != nil {
			return nil, err
		}
		n := &node{Type: "array", Items: items}
		if g.output {
			n.nullable()
		}
		return n, nil
	case reflect.Array:
		items, err := g.schema(t.Elem(), at+"[]")
		if err != nil {
			return nil, err
		}
		l := uint64(t.Len())
		return &node{Type: "array", Items: items, MinItems: &l, MaxItems: &l}, nil
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !reflect.PointerTo(t.Key()).Implements(typeTextMarshaler) && !t.Key().Implements(typeTextMarshaler) {
				return nil, fmt.Errorf("%w: %s: map keys of type %s", ErrUnsupportedType, at, t.Key())
			}
		}
		vals, err := g.schema(t.Elem(), at+"[key]")
		if err != nil {
			return nil, err
		}
		n := &node{Type: "object"}
		if vals.Type != nil || vals.Items != nil || vals.Properties != nil {
			n.AdditionalProperties = vals
		}
		if g.output {
			n.nullable()
		}
		return n, nil
	case reflect.Struct:
		return g.object(t, at)
	}
	return nil, fmt.Errorf("%w: %s: %s", ErrUnsupportedType, at, t)
}

// intRange is the bounds of a small integer type, which JSON Schema can hold
// exactly (int64's cannot be: the validator keeps numbers as float64).
func intRange(t reflect.Type) (lo, hi json.Number) {
	bits := t.Bits()
	if t.Kind() >= reflect.Uint {
		return "0", json.Number(strconv.FormatUint(1<<bits-1, 10))
	}
	return json.Number(strconv.FormatInt(-1<<(bits-1), 10)), json.Number(strconv.FormatInt(1<<(bits-1)-1, 10))
}

// object is the schema of a struct.
func (g *generator) object(t reflect.Type, at string) (*node, error) {
	if g.inProgress[t] {
		return nil, fmt.Errorf("%w: %s: recursive type %s", ErrUnsupportedType, at, t)
	}
	g.inProgress[t] = true
	defer delete(g.inProgress, t)

	n := &node{Type: "object", AdditionalProperties: false}
	for _, f := range jsonFields(t) {
		fat := at + "." + f.sf.Name
		var fn *node
		var err error
		if f.quoted {
			fn = &node{Type: "string"}
		} else {
			fn, err = g.fieldSchema(f, fat)
			if err != nil {
				return nil, err
			}
		}
		required := !f.omit && !f.viaPointer && !(f.sf.Type.Kind() == reflect.Pointer && !g.output)
		if d := f.sf.Tag.Get("desc"); d != "" {
			fn.Description = d
		}
		if tag, ok := f.sf.Tag.Lookup("jsonschema"); ok {
			if required, err = applyTag(fn, tag, required, f.sf.Type, fat); err != nil {
				return nil, err
			}
		}
		if n.Properties == nil {
			n.Properties = map[string]*node{}
		}
		n.Properties[f.name] = fn
		if required {
			n.Required = append(n.Required, f.name)
		}
	}
	return n, nil
}

// fieldSchema is the schema of one field: its type's, except that an
// output field with omitempty is never null itself (encoding/json leaves
// it out instead), though what is inside it may be.
func (g *generator) fieldSchema(f jsonField, at string) (*node, error) {
	n, err := g.schema(f.sf.Type, at)
	if err != nil {
		return nil, err
	}
	switch f.sf.Type.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		if f.omit {
			n.notNull()
		}
	}
	return n, nil
}

// jsonField is one property encoding/json writes for a struct.
type jsonField struct {
	name       string
	sf         reflect.StructField
	index      []int
	tagged     bool
	omit       bool // omitempty or omitzero: may be absent
	quoted     bool // the ",string" option: written as a JSON string
	viaPointer bool // promoted through an embedded pointer, absent when it is nil
}

// jsonFields lists the fields encoding/json reads and writes for t, with its
// rules for embedded structs: a shallower field hides a deeper one of the
// same name, a tagged one wins at equal depth, and otherwise both vanish.
func jsonFields(t reflect.Type) []jsonField {
	type level struct {
		t          reflect.Type
		index      []int
		viaPointer bool
	}
	var fields []jsonField
	depthOf := map[string]int{}
	visited := map[reflect.Type]bool{}
	current := []level{{t: t}}
	for depth := 0; len(current) > 0; depth++ {
		var next []level
		var here []jsonField
		for _, lv := range current {
			if visited[lv.t] {
				continue
			}
			visited[lv.t] = true
			for i := 0; i < lv.t.NumField(); i++ {
				sf := lv.t.Field(i)
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTagName(name) {
					name = ""
				}
				index := append(append([]int(nil), lv.index...), i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct && !isSpecial(ft) {
					next = append(next, level{t: ft, index: index, viaPointer: lv.viaPointer || sf.Type.Kind() == reflect.Pointer})
					continue
				}
				f := jsonField{name: name, sf: sf, index: index, tagged: name != "", viaPointer: lv.viaPointer}
				if f.name == "" {
					f.name = sf.Name
				}
				for _, o := range strings.Split(opts, ",") {
					switch o {
					case "omitempty", "omitzero":
						f.omit = true
					case "string":
						switch ft.Kind() {
						case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
							reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
							reflect.Float32, reflect.Float64, reflect.String:
							f.quoted = true
						}
					}
				}
				here = append(here, f)
			}
		}
		// Resolve names first seen at this depth.
		byName := map[string][]jsonField{}
		var order []string
		for _, f := range here {
			if _, hidden := depthOf[f.name]; hidden {
				continue
			}
			if byName[f.name] == nil {
				order = append(order, f.name)
			}
			byName[f.name] = append(byName[f.name], f)
		}
		for _, name := range order {
			depthOf[name] = depth
			cands := byName[name]
			var tagged []jsonField
			for _, c := range cands {
				if c.tagged {
					tagged = append(tagged, c)
				}
			}
			switch {
			case len(cands) == 1:
				fields = append(fields, cands[0])
			case len(tagged) == 1:
				fields = append(fields, tagged[0])
			}
		}
		current = next
	}
	// encoding/json writes fields in index order.
	sortByIndex(fields)
	return fields
}

func sortByIndex(fs []jsonField) {
	less := func(a, b []int) bool {
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return len(a) < len(b)
	}
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && less(fs[j].index, fs[j-1].index); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// validTagName is encoding/json's rule for a usable json tag name.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c > 127):
			return false
		}
	}
	return true
}

// tagKeywords are the keywords of the jsonschema tag; flags take no value.
var tagKeywords = map[string]bool{
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true,
	"minLength": true, "maxLength": true, "pattern": true, "format": true,
	"enum": true, "default": true, "minItems": true, "maxItems": true,
	"uniqueItems": false, "required": false, "optional": false,
}

// splitTag splits a jsonschema tag into keyword=value items, gluing a
// segment that does not start with a keyword onto the previous one, so that
// a pattern may hold commas.
func splitTag(tag string) []string {
	var items []string
	for _, seg := range strings.Split(tag, ",") {
		key, _, _ := strings.Cut(seg, "=")
		if _, known := tagKeywords[strings.TrimSpace(key)]; !known && len(items) > 0 {
			items[len(items)-1] += "," + seg
			continue
		}
		items = append(items, seg)
	}
	return items
}

// applyTag adds a field's jsonschema keywords to its schema n and returns
// whether the field is required.
func applyTag(n *node, tag string, required bool, ft reflect.Type, at string) (bool, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadTag, at, fmt.Sprintf(format, args...))
	}
	for _, item := range splitTag(tag) {
		key, val, hasVal := strings.Cut(item, "=")
		key = strings.TrimSpace(key)
		takesValue, known := tagKeywords[key]
		switch {
		case key == "" && !hasVal:
			continue
		case !known:
			return false, bad("unknown keyword %q", key)
		case takesValue && !hasVal:
			return false, bad("%s needs a value (%s=...)", key, key)
		case !takesValue && hasVal:
			return false, bad("%s takes no value", key)
		}
		// Array keywords go on the array; the rest on a slice's items.
		target := n
		elemT := ft
		for elemT.Kind() == reflect.Pointer {
			elemT = elemT.Elem()
		}
		switch key {
		case "minItems", "maxItems", "uniqueItems", "required", "optional":
		default:
			if target.typeName() == "array" {
				target = target.Items
				elemT = elemT.Elem()
				for elemT.Kind() == reflect.Pointer {
					elemT = elemT.Elem()
				}
			}
		}
		typ := target.typeName()
		switch key {
		case "required":
			required = true
		case "optional":
			required = false
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			if typ != "integer" && typ != "number" {
				return false, bad("%s needs a number field, not %s", key, typeOrAny(typ))
			}
			num, err := parseNumber(val)
			if err != nil {
				return false, bad("%s: %v", key, err)
			}
			switch key {
			case "minimum":
				target.Minimum = num
			case "maximum":
				target.Maximum = num
			case "exclusiveMinimum":
				target.ExclusiveMinimum = num
			case "exclusiveMaximum":
				target.ExclusiveMaximum = num
			}
		case "minLength", "maxLength", "minItems", "maxItems":
			want := "string"
			if key == "minItems" || key == "maxItems" {
				want = "array"
			}
			if typ != want {
				return false, bad("%s needs a%s %s field, not %s", key, map[bool]string{true: "n"}[want == "array"], want, typeOrAny(typ))
			}
			u, err := strconv.ParseUint(val, 10, 53)
			if err != nil {
				return false, bad("%s: %q is not a non-negative integer", key, val)
			}
			switch key {
			case "minLength":
				target.MinLength = &u
			case "maxLength":
				target.MaxLength = &u
			case "minItems":
				target.MinItems = &u
			case "maxItems":
				target.MaxItems = &u
			}
		case "uniqueItems":
			if typ != "array" {
				return false, bad("uniqueItems needs an array field, not %s", typeOrAny(typ))
			}
			target.UniqueItems = true
		case "pattern", "format":
			if typ != "string" {
				return false, bad("%s needs a string field, not %s", key, typeOrAny(typ))
			}
			if key == "pattern" {
				if _, err := regexp.Compile(val); err != nil {
					return false, bad("pattern %q does not compile", val)
				}
				target.Pattern = val
			} else {
				target.Format = val
			}
		case "enum":
			for _, s := range strings.Split(val, "|") {
				v, err := parseScalar(s, typ, elemT)
				if err != nil {
					return false, bad("enum: %v", err)
				}
				target.Enum = append(target.Enum, v)
			}
			if _, isNullable := target.Type.([]string); isNullable {
				target.Enum = append(target.Enum, nil)
			}
		case "default":
			v, err := parseScalar(val, typ, elemT)
			if err != nil {
				return false, bad("default: %v", err)
			}
			target.Default = v
		}
	}
	return required, nil
}

func typeOrAny(typ string) string {
	if typ == "" {
		return "any value"
	}
	return typ
}

// parseNumber checks that s is a finite JSON number.
func parseNumber(s string) (json.Number, error) {
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') || !json.Valid([]byte(s)) {
		return "", fmt.Errorf("%q is not a JSON number", s)
	}
	return json.Number(s), nil
}

// parseScalar reads an enum or default value as the field's JSON type.
func parseScalar(s, typ string, t reflect.Type) (any, error) {
	switch typ {
	case "string":
		return s, nil
	case "integer":
		if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uintptr {
			u, err := strconv.ParseUint(s, 10, t.Bits())
			if err != nil {
				return nil, fmt.Errorf("%q is not a %s", s, t)
			}
			return u, nil
		}
		i, err := strconv.ParseInt(s, 10, t.Bits())
		if err != nil {
			return nil, fmt.Errorf("%q is not a %s", s, t)
		}
		return i, nil
	case "number":
		return parseNumber(s)
	case "boolean":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean", s)
		}
		return b, nil
	}
	return nil, fmt.Errorf("needs a string, number or boolean field, not %s", typeOrAny(typ))
}
