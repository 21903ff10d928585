// Command jsonquery is the json_query tool: it runs a small jq-like path
// query over a JSON document given in its arguments and returns the result.
//
// It is the example of a tool with no grants at all: no mounts, no
// environment, the fake clock and the deterministic random source. Whatever
// it does, it can only compute over its arguments and write a result, so
// the host marks it read-only and closed-world. The query language is in
// query.go and docs/tools.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"github.com/moatmcp/moat/sdk"
)

const (
	// maxDocument bounds the document; the manifest's max_input bounds the
	// whole argument object, to the same size, before the tool starts.
	maxDocument = 256 << 10
	// maxDepth bounds the nesting of arrays and objects in the document.
	// It matches the host: internal/schema refuses arguments nested deeper
	// than 64 levels, and the argument object is one of them.
	maxDepth = 63
)

type input struct {
	Document json.RawMessage `json:"document"`
	Query    string          `json:"query"`
}

type output struct {
	Result any `json:"result"`
}

// The handler is registered at init time, so moat build makes a reactor:
// the Go runtime starts once, when the host loads the module, not per call.
func init() { sdk.Handle(jsonQuery) }

func main() { sdk.Main() }

func jsonQuery(_ context.Context, in input) (output, error) {
	if len(in.Document) == 0 {
		return output{}, sdk.Errorf("document is required")
	}
	if len(in.Document) > maxDocument {
		return output{}, sdk.Errorf("document is %d bytes; the limit is %d", len(in.Document), maxDocument)
	}
	if d := depth(in.Document); d > maxDepth {
		return output{}, sdk.Errorf("document nests %d levels deep; the limit is %d", d, maxDepth)
	}
	q, err := parse(in.Query)
	if err != nil {
		return output{}, sdk.Errorf("%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(in.Document))
	dec.UseNumber() // keep numbers exactly as written, beyond float64
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return output{}, sdk.Errorf("document is not valid JSON")
	}
	res, err := q.eval(doc)
	if err != nil {
		if errors.Is(err, errType) || errors.Is(err, errLimit) {
			return output{}, sdk.Errorf("%v", err)
		}
		return output{}, sdk.Errorf("query failed")
	}
	return output{Result: res}, nil
}

// depth returns the deepest nesting of arrays and objects in doc, which
// must be valid JSON (the SDK has decoded it once already).
func depth(doc []byte) int {
	d, max := 0, 0
	inString := false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			d++
			if d > max {
				max = d
			}
		case ']', '}':
			d--
		}
	}
	return max
}
