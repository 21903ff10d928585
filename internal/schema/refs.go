package schema

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Keywords whose value is one subschema, an array of subschemas, or an object
// of subschemas. Refs may point only at schemas found through these, so a
// schema's graph is fully known before the validator sees it.
var (
	schemaKeywords = []string{
		"additionalProperties", "propertyNames", "unevaluatedProperties",
		"additionalItems", "contains", "unevaluatedItems", "not", "if", "then", "else",
		"items", // a schema, or in draft-07 an array of schemas
	}
	schemaArrayKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
	schemaMapKeywords   = []string{"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"}

	// inPlaceKeywords apply their subschemas to the same instance, so a cycle
	// through them (by way of $ref) never ends: jsonschema-go would recurse
	// until the Go stack overflows, which kills the process.
	inPlaceKeywords      = []string{"not", "if", "then", "else"}
	inPlaceArrayKeywords = []string{"allOf", "anyOf", "oneOf"}
	inPlaceMapKeywords   = []string{"dependentSchemas", "dependencies"}

	// unsupportedKeywords are refused rather than ignored: dynamic references
	// resolve at validation time, which defeats the cycle check, and the
	// 2019-09 recursive ones are not implemented by the validator at all.
	unsupportedKeywords = []string{"$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor"}

	supportedDrafts = []string{
		"https://json-schema.org/draft/2020-12/schema",
		"http://json-schema.org/draft-07/schema#",
		"https://json-schema.org/draft-07/schema#",
	}
)

// index walks the schema tree once, recording every subschema under its
// canonical JSON Pointer and every $anchor, compiling patterns, and refusing
// what the package does not support.
func (s *Schema) index(node any, ptr string, isRoot bool) error {
	s.nodes[ptr] = node
	obj, ok := node.(map[string]any)
	if !ok {
		if _, isBool := node.(bool); isBool {
			return nil
		}
		return fmt.Errorf("%w: at %q: a schema must be an object or a boolean", ErrInvalidSchema, ptr)
	}
	where := func() string {
		if ptr == "" {
			return "at the top level"
		}
		return "at " + strconv.Quote(ptr)
	}
	for _, kw := range unsupportedKeywords {
		if _, ok := obj[kw]; ok {
			return fmt.Errorf("%w: %s: %q is not supported", ErrInvalidSchema, where(), kw)
		}
	}
	if _, ok := obj["$id"]; ok && !isRoot {
		// A nested $id would change the base that "#..." references are
		// resolved against; supporting only the root's keeps one namespace.
		return fmt.Errorf("%w: %s: \"$id\" is only allowed at the top level", ErrInvalidSchema, where())
	}
	if v, ok := obj["$schema"]; ok && isRoot {
		if str, _ := v.(string); !slices.Contains(supportedDrafts, str) {
			return fmt.Errorf("%w: unsupported \"$schema\" (use JSON Schema 2020-12 or draft-07)", ErrInvalidSchema)
		}
	}
	if v, ok := obj["$anchor"]; ok {
		name, _ := v.(string)
		if name == "" {
			return fmt.Errorf("%w: %s: \"$anchor\" must be a non-empty string", ErrInvalidSchema, where())
		}
		if _, dup := s.anchors[name]; dup {
			return fmt.Errorf("%w: duplicate \"$anchor\" %q", ErrInvalidSchema, name)
		}
		s.anchors[name] = ptr
	}
	if v, ok := obj["$ref"]; ok {
		ref, _ := v.(string)
		if !strings.HasPrefix(ref, "#") {
			return fmt.Errorf("%w: %s: \"$ref\" %q", ErrExternalRef, where(), truncate(ref, maxEcho))
		}
	}
	if v, ok := obj["pattern"]; ok {
		if p, isStr := v.(string); isStr {
			if err := s.compilePattern(p); err != nil {
				return fmt.Errorf("%w: %s: bad \"pattern\": %v", ErrInvalidSchema, where(), err)
			}
		}
	}

	for _, kw := range schemaKeywords {
		v, ok := obj[kw]
		if !ok {
			continue
		}
		if arr, isArr := v.([]any); isArr && kw == "items" {
			for i, sub := range arr {
				if err := s.index(sub, ptr+"/items/"+strconv.Itoa(i), false); err != nil {
					return err
				}
			}
			continue
		}
		if err := s.index(v, ptr+"/"+kw, false); err != nil {
			return err
		}
	}
	for _, kw := range schemaArrayKeywords {
		v, ok := obj[kw]
		if !ok {
			continue
		}
		arr, isArr := v.([]any)
		if !isArr {
			return fmt.Errorf("%w: %s: %q must be an array of schemas", ErrInvalidSchema, where(), kw)
		}
		for i, sub := range arr {
			if err := s.index(sub, ptr+"/"+kw+"/"+strconv.Itoa(i), false); err != nil {
				return err
			}
		}
	}
	for _, kw := range schemaMapKeywords {
		v, ok := obj[kw]
		if !ok {
			continue
		}
		m, isMap := v.(map[string]any)
		if !isMap {
			return fmt.Errorf("%w: %s: %q must be an object", ErrInvalidSchema, where(), kw)
		}
		for _, name := range sortedKeys(m) {
			sub := m[name]
			if _, isArr := sub.([]any); isArr && kw == "dependencies" {
				continue // draft-07 property dependencies: a list of names
			}
			if kw == "patternProperties" {
				if err := s.compilePattern(name); err != nil {
					return fmt.Errorf("%w: %s: bad \"patternProperties\" key: %v", ErrInvalidSchema, where(), err)
				}
			}
			if err := s.index(sub, ptr+"/"+kw+"/"+pointerToken(name), false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Schema) compilePattern(p string) error {
	if _, ok := s.patterns[p]; ok {
		return nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return fmt.Errorf("%q does not compile", truncate(p, maxEcho))
	}
	s.patterns[p] = re
	return nil
}

// pointerToken escapes a JSON Pointer reference token without truncating it.
func pointerToken(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// resolveRef returns the canonical pointer of the schema that an in-document
// $ref ("#", "#/json/pointer" or "#anchor") refers to.
func (s *Schema) resolveRef(ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil || !strings.HasPrefix(ref, "#") {
		return "", fmt.Errorf("%w: \"$ref\" %q", ErrExternalRef, truncate(ref, maxEcho))
	}
	frag := u.Fragment
	var ptr string
	switch {
	case frag == "":
		ptr = ""
	case strings.HasPrefix(frag, "/"):
		var b strings.Builder
		for _, tok := range strings.Split(frag[1:], "/") {
			tok = strings.ReplaceAll(tok, "~1", "/")
			tok = strings.ReplaceAll(tok, "~0", "~")
			b.WriteByte('/')
			b.WriteString(pointerToken(tok))
		}
		ptr = b.String()
	default:
		p, ok := s.anchors[frag]
		if !ok {
			return "", fmt.Errorf("%w: \"$ref\" %q: no such \"$anchor\"", ErrInvalidSchema, truncate(ref, maxEcho))
		}
		ptr = p
	}
	if _, ok := s.nodes[ptr]; !ok {
		return "", fmt.Errorf("%w: \"$ref\" %q does not point to a schema in this document", ErrInvalidSchema, truncate(ref, maxEcho))
	}
	return ptr, nil
}

// checkCycles refuses a schema in which following $ref and the in-place
// applicators (allOf, anyOf, oneOf, not, if/then/else, dependentSchemas) can
// lead back to a schema without descending into the instance. A cycle through
// properties or items is fine: every step consumes a level of the document.
func (s *Schema) checkCycles() error {
	const (
		unvisited = iota
		inProgress
		done
	)
	state := map[string]int{}
	var visit func(ptr string) error
	visit = func(ptr string) error {
		switch state[ptr] {
		case inProgress:
			return fmt.Errorf("%w through %q", ErrRefCycle, truncate(ptr, 2*maxEcho))
		case done:
			return nil
		}
		state[ptr] = inProgress
		next, err := s.inPlace(ptr)
		if err != nil {
			return err
		}
		for _, n := range next {
			if err := visit(n); err != nil {
				return err
			}
		}
		state[ptr] = done
		return nil
	}
	for _, ptr := range sortedKeys(s.nodes) {
		if err := visit(ptr); err != nil {
			return err
		}
	}
	return nil
}

// inPlace lists the schemas applied to the same instance as the one at ptr.
func (s *Schema) inPlace(ptr string) ([]string, error) {
	obj, ok := s.nodes[ptr].(map[string]any)
	if !ok {
		return nil, nil
	}
	var next []string
	if v, ok := obj["$ref"]; ok {
		ref, _ := v.(string)
		target, err := s.resolveRef(ref)
		if err != nil {
			return nil, err
		}
		next = append(next, target)
	}
	for _, kw := range inPlaceKeywords {
		if _, ok := obj[kw]; ok {
			next = append(next, ptr+"/"+kw)
		}
	}
	for _, kw := range inPlaceArrayKeywords {
		if arr, ok := obj[kw].([]any); ok {
			for i := range arr {
				next = append(next, ptr+"/"+kw+"/"+strconv.Itoa(i))
			}
		}
	}
	for _, kw := range inPlaceMapKeywords {
		if m, ok := obj[kw].(map[string]any); ok {
			for _, name := range sortedKeys(m) {
				p := ptr + "/" + kw + "/" + pointerToken(name)
				if _, isSchema := s.nodes[p]; isSchema {
					next = append(next, p)
				}
			}
		}
	}
	return next, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// MaxInPlace bounds how many schemas can apply to one value of the
// document: a schema's node counted once for every path that reaches it
// through $ref and the in-place applicators. Without it, a few hundred
// bytes of acyclic references that each name the next one twice
// ({"anyOf":[{"$ref":"#/$defs/a1"},{"$ref":"#/$defs/a1"}]}, a1 likewise…)
// make every validation take 2^n steps.
const MaxInPlace = 10_000

// ErrSchemaFanOut is CompileInput's error for a schema past MaxInPlace.
var ErrSchemaFanOut = fmt.Errorf("%w: more than %d subschemas apply to one value (through \"$ref\", allOf, anyOf, oneOf, not, if/then/else)", ErrInvalidSchema, MaxInPlace)

// checkFanOut counts, for every schema, the schemas applied with it to the
// same value (itself included), over the in-place graph that checkCycles
// found acyclic. Counts are memoised and capped, so the walk is linear in
// the schema.
func (s *Schema) checkFanOut() error {
	count := map[string]int{}
	var visit func(ptr string) (int, error)
	visit = func(ptr string) (int, error) {
		if n, ok := count[ptr]; ok {
			return n, nil
		}
		next, err := s.inPlace(ptr)
		if err != nil {
			return 0, err
		}
		n := 1
		for _, p := range next {
			m, err := visit(p)
			if err != nil {
				return 0, err
			}
			if n += m; n > MaxInPlace {
				return 0, ErrSchemaFanOut
			}
		}
		count[ptr] = n
		return n, nil
	}
	for _, ptr := range sortedKeys(s.nodes) {
		if _, err := visit(ptr); err != nil {
			return err
		}
	}
	return nil
}
