package schema

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxEcho caps any value echoed back in a message.
const maxEcho = 64

// maxExplainDepth bounds explain's recursion. The schema graph is acyclic
// without descending (checkCycles) and the document is at most MaxDepth deep,
// so this is only a backstop.
const maxExplainDepth = 4096

// finding is the first failure explain found.
type finding struct {
	path string
	msg  string
}

// explain walks the schema and the document together to find the first
// failing keyword and where in the document it applies. It only runs after
// jsonschema-go has rejected the document: the verdict is the validator's,
// explain only words it. It covers the keywords tool schemas use (type, enum,
// const, numeric and string bounds, pattern, required, properties,
// additionalProperties, items, $ref, allOf…); for the rest (not, if/then/else,
// contains, unevaluated*) it returns nil and Validate falls back to naming the
// keyword.
func (s *Schema) explain(doc any) *finding {
	root := s.tree.(map[string]any)
	draft7 := false
	if v, _ := root["$schema"].(string); strings.Contains(v, "draft-07") {
		draft7 = true
	}
	e := &explainer{s: s, draft7: draft7}
	return e.walk(root, doc, nil, 0)
}

type explainer struct {
	s      *Schema
	draft7 bool
}

func fail(path *pathElem, msg string) *finding {
	return &finding{path: path.pointer(), msg: msg}
}

func child(path *pathElem, key string) *pathElem {
	return &pathElem{parent: path, key: key, isKey: true}
}

func (e *explainer) walk(schema, v any, path *pathElem, depth int) *finding {
	if depth > maxExplainDepth {
		return nil
	}
	depth++
	sch, ok := schema.(map[string]any)
	if !ok {
		if b, isBool := schema.(bool); isBool && !b {
			return fail(path, "not allowed")
		}
		return nil
	}

	if ref, ok := sch["$ref"].(string); ok {
		if ptr, err := e.s.resolveRef(ref); err == nil {
			if f := e.walk(e.s.nodes[ptr], v, path, depth); f != nil {
				return f
			}
		}
		if e.draft7 {
			return nil // draft-07 ignores a $ref's siblings
		}
	}

	got := jsonType(v)
	if t, ok := sch["type"]; ok {
		var want []string
		switch t := t.(type) {
		case string:
			want = []string{t}
		case []any:
			for _, w := range t {
				if w, ok := w.(string); ok {
					want = append(want, w)
				}
			}
		}
		matched := false
		for _, w := range want {
			if w == got || (w == "number" && got == "integer") {
				matched = true
			}
		}
		if !matched && len(want) > 0 {
			if len(want) == 1 {
				return fail(path, "expected "+want[0]+", got "+got)
			}
			return fail(path, "expected one of "+strings.Join(want, ", ")+"; got "+got)
		}
	}
	if enum, ok := sch["enum"].([]any); ok {
		found := false
		for _, x := range enum {
			if equal(x, v) {
				found = true
				break
			}
		}
		if !found {
			return fail(path, "must be one of "+listValues(enum))
		}
	}
	if c, ok := sch["const"]; ok && !equal(c, v) {
		return fail(path, "must be "+render(c))
	}

	if n, ok := toRat(v); ok {
		if f := numberBounds(sch, n, path); f != nil {
			return f
		}
	}
	if str, ok := v.(string); ok {
		n := utf8.RuneCountInString(str)
		if m, ok := toInt(sch["minLength"]); ok && n < m {
			return fail(path, "must be at least "+strconv.Itoa(m)+" characters long")
		}
		if m, ok := toInt(sch["maxLength"]); ok && n > m {
			return fail(path, "must be at most "+strconv.Itoa(m)+" characters long")
		}
		if p, ok := sch["pattern"].(string); ok {
			if re := e.s.patterns[p]; re != nil && !re.MatchString(str) {
				return fail(path, "must match the pattern "+quote(p))
			}
		}
	}

	if all, ok := sch["allOf"].([]any); ok {
		for _, sub := range all {
			if f := e.walk(sub, v, path, depth); f != nil {
				return f
			}
		}
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		alts, ok := sch[kw].([]any)
		if !ok || len(alts) == 0 {
			continue
		}
		var found []*finding
		for _, sub := range alts {
			if f := e.walk(sub, v, path, depth); f != nil {
				found = append(found, f)
			}
		}
		if len(found) == len(alts) {
			if len(alts) == 1 {
				return found[0]
			}
			return fail(path, noFormMatches(path.pointer(), found))
		}
	}

	switch v := v.(type) {
	case []any:
		return e.array(sch, v, path, depth)
	case map[string]any:
		return e.object(sch, v, path, depth)
	}
	return nil
}

// msgRequiredMissing is the finding of a missing required property.
const msgRequiredMissing = "required property is missing"

// maxFormsListed caps how many alternatives a message spells out.
const maxFormsListed = 4

// noFormMatches words the failure of every alternative of an anyOf or
// oneOf at base: which one came closest and what it expected, and what the
// others expected, so that the agent can fix its call in one go. The
// closest is the one whose failure lies deepest in the document (it
// matched the most before failing); at equal depth, one that failed below
// base rather than on base's own type; then the first.
func noFormMatches(base string, found []*finding) string {
	// All failed on the type of the value itself: say the types.
	var types []string
	got := ""
	for _, f := range found {
		w, g, ok := typeMismatch(f)
		if !ok || f.path != base || (got != "" && g != got) {
			types = nil
			break
		}
		types, got = append(types, w), g
	}
	if types != nil {
		return "expected " + strings.Join(types, " or ") + ", got " + got
	}
	best, bestScore := 0, -1
	for i, f := range found {
		score := 4 * strings.Count(f.path, "/")
		if f.msg != msgRequiredMissing {
			score += 2 // the property is there: it matched more than a missing one
		}
		if _, _, isType := typeMismatch(f); !(isType && f.path == base) {
			score++
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	var b strings.Builder
	b.WriteString("does not match any of the ")
	b.WriteString(strconv.Itoa(len(found)))
	b.WriteString(" allowed forms; the closest is form ")
	b.WriteString(strconv.Itoa(best + 1))
	b.WriteString(": ")
	b.WriteString(describeFinding(base, found[best]))
	if len(found) <= maxFormsListed {
		for i, f := range found {
			if i == best {
				continue
			}
			b.WriteString("; form ")
			b.WriteString(strconv.Itoa(i + 1))
			b.WriteString(": ")
			b.WriteString(describeFinding(base, f))
		}
	}
	return b.String()
}

// typeMismatch splits a finding of the form "expected T, got U".
func typeMismatch(f *finding) (want, got string, ok bool) {
	rest, ok := strings.CutPrefix(f.msg, "expected ")
	if !ok {
		return "", "", false
	}
	want, got, ok = strings.Cut(rest, ", got ")
	return want, got, ok && !strings.Contains(want, " ")
}

// describeFinding words one alternative's failure relative to base.
func describeFinding(base string, f *finding) string {
	if f.msg == msgRequiredMissing {
		if name, ok := strings.CutPrefix(f.path, base+"/"); ok && !strings.Contains(name, "/") {
			return "expected the property " + strconv.Quote(name) + ", which is missing"
		}
	}
	if f.path == base {
		return f.msg
	}
	return strconv.Quote(f.path) + ": " + f.msg
}

func numberBounds(sch map[string]any, n *big.Rat, path *pathElem) *finding {
	cmp := func(kw string) (int, string, bool) {
		b, ok := toRat(sch[kw])
		if !ok {
			return 0, "", false
		}
		return n.Cmp(b), render(sch[kw]), true
	}
	if c, b, ok := cmp("minimum"); ok && c < 0 {
		return fail(path, "must be >= "+b)
	}
	if c, b, ok := cmp("maximum"); ok && c > 0 {
		return fail(path, "must be <= "+b)
	}
	if c, b, ok := cmp("exclusiveMinimum"); ok && c <= 0 {
		return fail(path, "must be > "+b)
	}
	if c, b, ok := cmp("exclusiveMaximum"); ok && c >= 0 {
		return fail(path, "must be < "+b)
	}
	if m, ok := toFloat(sch["multipleOf"]); ok && m != 0 {
		// The same float arithmetic as jsonschema-go, so both agree.
		nf, _ := n.Float64()
		if _, frac := math.Modf(nf / m); frac != 0 {
			return fail(path, "must be a multiple of "+render(sch["multipleOf"]))
		}
	}
	return nil
}

func (e *explainer) array(sch map[string]any, v []any, path *pathElem, depth int) *finding {
	at := func(i int) *pathElem { return &pathElem{parent: path, index: i} }
	prefix, _ := sch["prefixItems"].([]any)
	rest := sch["items"]
	if tuple, ok := rest.([]any); ok { // draft-07 tuple form
		prefix, rest = tuple, sch["additionalItems"]
	}
	for i, sub := range prefix {
		if i >= len(v) {
			break
		}
		if f := e.walk(sub, v[i], at(i), depth); f != nil {
			return f
		}
	}
	if rest != nil {
		for i := len(prefix); i < len(v); i++ {
			if f := e.walk(rest, v[i], at(i), depth); f != nil {
				if f.msg == "not allowed" {
					f.msg = "no more than " + strconv.Itoa(len(prefix)) + " items allowed"
				}
				return f
			}
		}
	}
	if m, ok := toInt(sch["minItems"]); ok && len(v) < m {
		return fail(path, "must have at least "+strconv.Itoa(m)+" items")
	}
	if m, ok := toInt(sch["maxItems"]); ok && len(v) > m {
		return fail(path, "must have at most "+strconv.Itoa(m)+" items")
	}
	if u, _ := sch["uniqueItems"].(bool); u {
		seen := make(map[string]int, len(v))
		for i, item := range v {
			key := canonical(item)
			if j, dup := seen[key]; dup {
				return fail(at(i), "duplicate of item "+strconv.Itoa(j)+" (items must be unique)")
			}
			seen[key] = i
		}
	}
	return nil
}

func (e *explainer) object(sch map[string]any, v map[string]any, path *pathElem, depth int) *finding {
	if req, ok := sch["required"].([]any); ok {
		for _, name := range req {
			if name, ok := name.(string); ok {
				if _, present := v[name]; !present {
					return fail(child(path, name), msgRequiredMissing)
				}
			}
		}
	}
	keys := sortedKeys(v)
	props, _ := sch["properties"].(map[string]any)
	patterns, _ := sch["patternProperties"].(map[string]any)
	evaluated := map[string]bool{}
	for _, k := range keys {
		if sub, ok := props[k]; ok {
			evaluated[k] = true
			if f := e.walk(sub, v[k], child(path, k), depth); f != nil {
				return f
			}
		}
		for _, p := range sortedKeys(patterns) {
			if re := e.s.patterns[p]; re != nil && re.MatchString(k) {
				evaluated[k] = true
				if f := e.walk(patterns[p], v[k], child(path, k), depth); f != nil {
					return f
				}
			}
		}
	}
	if addl, ok := sch["additionalProperties"]; ok {
		for _, k := range keys {
			if evaluated[k] {
				continue
			}
			if b, isBool := addl.(bool); isBool && !b {
				msg := "unexpected property"
				if len(props) > 0 {
					msg += " (allowed: " + listNames(sortedKeys(props)) + ")"
				}
				return fail(child(path, k), msg)
			}
			if f := e.walk(addl, v[k], child(path, k), depth); f != nil {
				return f
			}
		}
	}
	if names, ok := sch["propertyNames"]; ok {
		for _, k := range keys {
			if f := e.walk(names, k, nil, depth); f != nil {
				return fail(child(path, k), "property name "+f.msg)
			}
		}
	}
	if m, ok := toInt(sch["minProperties"]); ok && len(v) < m {
		return fail(path, "must have at least "+strconv.Itoa(m)+" properties")
	}
	if m, ok := toInt(sch["maxProperties"]); ok && len(v) > m {
		return fail(path, "must have at most "+strconv.Itoa(m)+" properties")
	}
	for _, kw := range []string{"dependentRequired", "dependencies"} {
		deps, _ := sch[kw].(map[string]any)
		for _, dprop := range sortedKeys(deps) {
			names, isList := deps[dprop].([]any)
			if _, present := v[dprop]; !present || !isList {
				continue
			}
			for _, name := range names {
				if name, ok := name.(string); ok {
					if _, present := v[name]; !present {
						return fail(child(path, name), "required when "+quote(dprop)+" is present")
					}
				}
			}
		}
	}
	return nil
}

// jsonType names the JSON Schema type of a decoded value. A whole float is an
// integer, as in JSON Schema.
func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case int64, uint64:
		return "integer"
	case float64:
		if v == math.Trunc(v) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func toRat(v any) (*big.Rat, bool) {
	switch v := v.(type) {
	case int64:
		return new(big.Rat).SetInt64(v), true
	case uint64:
		return new(big.Rat).SetUint64(v), true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false
		}
		return new(big.Rat).SetFloat64(v), true
	}
	return nil, false
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

func toInt(v any) (int, bool) {
	switch v := v.(type) {
	case int64:
		if v >= 0 && v <= math.MaxInt32 {
			return int(v), true
		}
	case float64:
		if v >= 0 && v <= math.MaxInt32 && v == math.Trunc(v) {
			return int(v), true
		}
	}
	return 0, false
}

// equal compares two decoded values as JSON Schema does: numbers by value.
func equal(a, b any) bool {
	if ra, ok := toRat(a); ok {
		rb, ok := toRat(b)
		return ok && ra.Cmp(rb) == 0
	}
	switch a := a.(type) {
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	}
	return a == b
}

// canonical encodes a value so that equal values encode alike (keys sorted,
// 1 and 1.0 both "1"), for uniqueItems without a quadratic comparison.
func canonical(v any) string {
	switch v := v.(type) {
	case float64:
		if r, ok := toRat(v); ok && r.IsInt() {
			return r.Num().String()
		}
	case int64, uint64:
		r, _ := toRat(v)
		return r.Num().String()
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = canonical(x)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range sortedKeys(v) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			b.WriteString(canonical(v[k]))
		}
		b.WriteByte('}')
		return b.String()
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// render writes a schema value (not a document value) for a message,
// truncated.
func render(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return "a fixed value"
	}
	return truncate(string(data), maxEcho)
}

func listValues(vals []any) string {
	parts := make([]string, len(vals))
	for i, x := range vals {
		parts[i] = render(x)
	}
	return truncate(strings.Join(parts, ", "), 2*maxEcho)
}

func listNames(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = strconv.Quote(n)
	}
	return truncate(strings.Join(parts, ", "), 2*maxEcho)
}

// quote quotes s for a message, truncated to maxEcho bytes.
func quote(s string) string { return strconv.Quote(truncate(s, maxEcho)) }

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// knownKeywords are the keywords failedKeyword may name; anything else in a
// validator message is not passed on.
var knownKeywords = []string{
	"type", "enum", "const", "multipleOf", "minimum", "maximum", "exclusiveMinimum",
	"exclusiveMaximum", "minLength", "maxLength", "pattern", "anyOf", "oneOf", "not",
	"contains", "minContains", "maxContains", "minItems", "maxItems", "uniqueItems",
	"minProperties", "maxProperties", "required", "dependentRequired", "dependentSchemas",
	"unevaluatedItems", "unevaluatedProperties", "propertyNames", "additionalProperties",
}

// failedKeyword extracts the keyword that failed from a jsonschema-go error,
// which reads "validating root: validating /properties/x: maxLength: …".
func failedKeyword(msg string) string {
	for _, seg := range strings.Split(msg, ": ") {
		if strings.HasPrefix(seg, "validating ") {
			continue
		}
		if strings.HasPrefix(seg, "unexpected additional properties") {
			return "additionalProperties"
		}
		for _, kw := range knownKeywords {
			if seg == kw || strings.HasPrefix(seg, kw+"[") {
				return kw
			}
		}
		return ""
	}
	return ""
}
