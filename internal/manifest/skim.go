package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moatmcp/moat/internal/bytesize"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// This file holds what `moat build` needs of a manifest's text, so that
// go-toml stays in this package: Skim reads the few keys the build needs
// without loading the module (which the build is about to write), and
// EditTopLevel rewrites top-level string keys in place, keeping comments
// and layout.

// Skim is what `moat build` reads of a manifest before its module exists;
// Load checks the rest afterwards.
type Skim struct {
	Module           string         // module, as written (relative to the manifest)
	SHA256           string         // sha256, as written; "" when not pinned
	InputSchema      map[string]any // [input_schema]; nil when absent
	InputSchemaFile  string         // input_schema_file, as written
	OutputSchema     map[string]any // [output_schema]; nil when absent
	OutputSchemaFile string         // output_schema_file, as written
	Language         string         // language, as written; "" when absent
}

// skimFile is the part of toolFile Skim decodes; other keys are ignored
// (Load is strict about them).
type skimFile struct {
	Module           string         `toml:"module"`
	SHA256           string         `toml:"sha256"`
	InputSchema      map[string]any `toml:"input_schema"`
	InputSchemaFile  string         `toml:"input_schema_file"`
	OutputSchema     map[string]any `toml:"output_schema"`
	OutputSchemaFile string         `toml:"output_schema_file"`
	Language         string         `toml:"language"`
}

// ParseSkim decodes the keys of Skim from a manifest's text, at most 1 MiB.
// Its errors are go-toml's, with their line and column, but without a
// file name: the caller has it.
func ParseSkim(text []byte) (*Skim, error) {
	if len(text) > maxManifestBytes {
		return nil, fmt.Errorf("manifest is %d bytes; the limit is %s: %w", len(text), bytesize.Format(maxManifestBytes), ErrTooLarge)
	}
	var f skimFile
	if err := toml.Unmarshal(text, &f); err != nil {
		return nil, err
	}
	s := Skim(f)
	return &s, nil
}

// Edit sets (or, with Remove, removes) one top-level string key of a
// manifest, for EditTopLevel.
type Edit struct {
	Key, Value string
	Remove     bool
}

// EditTopLevel applies edits to the top-level string keys of a TOML
// document, as text: an existing value is replaced where it stands (its
// line's comment kept), a missing key is added on the line after the one
// before it in edits (or after module), and a removed key loses its line.
func EditTopLevel(text []byte, edits []Edit) ([]byte, error) {
	for i, e := range edits {
		loc, err := findTopLevel(text, e.Key)
		if err != nil {
			return nil, err
		}
		quoted := strconv.Quote(e.Value) // ASCII paths and hex: a valid TOML basic string
		switch {
		case loc.found && e.Remove:
			start := lineStart(text, loc.keyStart)
			end := lineEnd(text, loc.valueEnd)
			text = append(text[:start:start], text[end:]...)
		case loc.found:
			if string(text[loc.valueStart:loc.valueEnd]) == quoted {
				continue
			}
			text = append(text[:loc.valueStart:loc.valueStart], append([]byte(quoted), text[loc.valueEnd:]...)...)
		case !e.Remove:
			after := "module"
			for j := i - 1; j >= 0; j-- {
				if l, _ := findTopLevel(text, edits[j].Key); l.found {
					after = edits[j].Key
					break
				}
			}
			prev, err := findTopLevel(text, after)
			if err != nil {
				return nil, err
			}
			if !prev.found {
				return nil, fmt.Errorf("no top-level %s to add %s after", after, e.Key)
			}
			at := lineEnd(text, prev.valueEnd)
			// Line the "=" up with the previous line's, as manifests do.
			pad := 1
			if eq := bytes.IndexByte(text[lineStart(text, prev.keyStart):at], '='); eq > len(e.Key) {
				pad = eq - len(e.Key)
			}
			line := []byte(e.Key + strings.Repeat(" ", pad) + "= " + quoted + "\n")
			if at > 0 && text[at-1] != '\n' {
				line = append([]byte("\n"), line...)
			}
			text = append(text[:at:at], append(line, text[at:]...)...)
		}
	}
	return text, nil
}

// topLevelLoc is where a top-level key and its value sit in a document.
type topLevelLoc struct {
	found                          bool
	keyStart, valueStart, valueEnd int
}

// findTopLevel finds the top-level key (a plain, undotted key before the
// first table header) with go-toml's parser, so that strings holding "="
// or "[" and multi-line strings cannot mislead it.
func findTopLevel(text []byte, key string) (topLevelLoc, error) {
	var p unstable.Parser
	p.Reset(text)
	for p.NextExpression() {
		n := p.Expression()
		switch n.Kind {
		case unstable.Table, unstable.ArrayTable:
			return topLevelLoc{}, nil
		case unstable.KeyValue:
			it := n.Key()
			it.Next()
			k := it.Node()
			if string(k.Data) != key || it.Next() {
				continue
			}
			v := n.Value()
			if v.Kind != unstable.String {
				return topLevelLoc{}, fmt.Errorf("%s is not a string", key)
			}
			// Raw is the literal with its quotes.
			start, end := int(v.Raw.Offset), int(v.Raw.Offset+v.Raw.Length)
			return topLevelLoc{found: true, keyStart: int(k.Raw.Offset), valueStart: start, valueEnd: end}, nil
		}
	}
	if err := p.Error(); err != nil {
		return topLevelLoc{}, err
	}
	return topLevelLoc{}, nil
}

func lineStart(text []byte, i int) int {
	for i > 0 && text[i-1] != '\n' {
		i--
	}
	return i
}

func lineEnd(text []byte, i int) int {
	for i < len(text) && text[i] != '\n' {
		i++
	}
	if i < len(text) {
		i++
	}
	return i
}

// CheckPublished checks the manifest layer of a published tool (an OCI
// artifact, docs/supply-chain.md) as far as it can be checked away from
// the publisher's files: TOML syntax, known keys, types and size. Files it
// names (module, schema files, mounts) are the publisher's and are not
// looked for.
func CheckPublished(data []byte) error {
	_, err := Parse(filepath.Join(os.TempDir(), "moat-published-check", "manifest.toml"), data)
	for _, bad := range []error{ErrSyntax, ErrUnknownField, ErrType, ErrTooLarge} {
		if errors.Is(err, bad) {
			return err
		}
	}
	return nil
}
