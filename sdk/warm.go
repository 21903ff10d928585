package sdk

import (
	"bytes"
	"encoding/json"
)

// warmJSON encodes a zero In and a zero Out once, and decodes the In back,
// as run would, so that encoding/json's per-type caches (struct fields,
// encoders) are built while the program starts. For a reactor that is
// before the snapshot: without it every call, starting from the snapshot,
// rebuilt them by reflection — about half a millisecond of a small Go
// tool's call (docs/performance.md, "The Go guest"). A command build pays
// the same work once, at start instead of in its call.
//
// Errors and panics are ignored: a zero value a type's own MarshalJSON
// refuses leaves that type's cache to be built on first use, as before.
func warmJSON[In, Out any]() {
	defer func() { _ = recover() }()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	var in In
	if enc.Encode(in) == nil {
		dec := json.NewDecoder(bytes.NewReader(b.Bytes()))
		dec.DisallowUnknownFields()
		_ = dec.Decode(new(In))
	}
	var out Out
	_ = enc.Encode(out)
}
