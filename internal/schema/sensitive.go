package schema

import (
	"sort"
	"strings"
)

// maxSensitiveNodes bounds the work SensitivePaths does on one schema.
const maxSensitiveNodes = 10000

// SensitivePaths returns the JSON Pointers (in the form audit.Summarize
// takes) of every value the schema marks sensitive with
// "x-moat-sensitive": true, "writeOnly": true or "format": "password". The
// sensitive-field set belongs to the compiled schema: it resolves $ref with
// the same resolver as validation ("#", "#/json/pointer" and "#anchor"), so
// what the validator checks and what the audit log hides cannot disagree.
//
// It follows properties (→ "/name"), items, prefixItems and contains
// (→ "/*": any index), additionalProperties and patternProperties (→ "/*":
// any member), allOf/anyOf/oneOf/not/if/then/else (same path) and $ref (same
// path). A $ref that recurses into itself is walked once more under "/**",
// so a marker inside a recursive structure covers every depth. The result
// is sorted and without duplicates. A schema too large to walk completely
// (over 10000 nodes visited) gives [""], which redacts the whole arguments:
// missing a marker is worse than hiding values. A nil schema gives nil.
func (s *Schema) SensitivePaths() []string {
	if s == nil {
		return nil
	}
	w := sensitiveWalker{s: s, found: map[string]bool{}, onStack: map[string]bool{}, starred: map[string]bool{}}
	w.onStack[""] = true // the root is being walked: "$ref":"#" recurses
	w.walk(s.nodes[""], "")
	if w.nodes > maxSensitiveNodes {
		return []string{""}
	}
	out := make([]string, 0, len(w.found))
	for p := range w.found {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

type sensitiveWalker struct {
	s       *Schema
	found   map[string]bool
	onStack map[string]bool // canonical pointers of the $ref targets being walked
	starred map[string]bool // target+"\x00"+prefix walked under "/**"
	nodes   int
}

func (w *sensitiveWalker) walk(node any, path string) {
	w.nodes++
	if w.nodes > maxSensitiveNodes {
		return
	}
	sch, ok := node.(map[string]any)
	if !ok {
		return
	}
	if sch["x-moat-sensitive"] == true || sch["writeOnly"] == true || sch["format"] == "password" {
		w.found[path] = true
	}
	if props, ok := sch["properties"].(map[string]any); ok {
		for name, sub := range props {
			w.walk(sub, path+"/"+pointerToken(name))
		}
	}
	for _, k := range []string{"items", "contains", "additionalItems", "unevaluatedItems"} {
		w.walk(sch[k], path+"/*")
	}
	for _, k := range []string{"items", "prefixItems"} { // draft-07's tuple items, 2020-12's prefixItems
		if items, ok := sch[k].([]any); ok {
			for _, sub := range items {
				w.walk(sub, path+"/*")
			}
		}
	}
	w.walk(sch["additionalProperties"], path+"/*")
	w.walk(sch["unevaluatedProperties"], path+"/*")
	if pp, ok := sch["patternProperties"].(map[string]any); ok {
		for _, sub := range pp {
			w.walk(sub, path+"/*")
		}
	}
	for _, k := range inPlaceArrayKeywords {
		if subs, ok := sch[k].([]any); ok {
			for _, sub := range subs {
				w.walk(sub, path)
			}
		}
	}
	for _, k := range inPlaceKeywords {
		w.walk(sch[k], path)
	}
	if ref, ok := sch["$ref"].(string); ok {
		w.ref(ref, path)
	}
}

// ref walks a $ref at path. A target already being walked is a recursion:
// it is walked once more under path+"/**" (which matches every depth), once
// per target and prefix, so the walk ends.
func (w *sensitiveWalker) ref(ref, path string) {
	target, err := w.s.resolveRef(ref)
	if err != nil { // compile refused such schemas; nothing to follow
		return
	}
	node := w.s.nodes[target]
	if w.onStack[target] {
		prefix, _, starred := strings.Cut(path, "/**")
		key := target + "\x00" + prefix
		if w.starred[key] {
			return
		}
		w.starred[key] = true
		if !starred {
			path += "/**"
		}
		w.walk(node, path)
		return
	}
	w.onStack[target] = true
	w.walk(node, path)
	delete(w.onStack, target)
}
