// Command httpget is the http_get tool: it fetches a URL through the host's
// moat.http_request import and returns the body as text, capped, with
// control characters removed so that a page cannot smuggle terminal escapes
// or invisible text to the agent.
//
// It has no network of its own: the host makes the request, and only to
// the hosts its manifest's [net] grant allows (manifests/http_get.toml).
package main

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moatmcp/moat/sdk"
)

const (
	defaultMaxBytes = 64 << 10
	hardMaxBytes    = 256 << 10 // the manifest's max_output leaves room for this
)

type input struct {
	URL      string `json:"url"`
	MaxBytes int    `json:"max_bytes,omitempty"` // text returned, in bytes; default 64 KiB
}

// The handler is registered at init time, so moat build makes a reactor:
// the Go runtime starts once, when the host loads the module, not per call.
func init() { sdk.Handle(get) }

func main() { sdk.Main() }

func get(_ context.Context, in input) (string, error) {
	limit := in.MaxBytes
	if limit <= 0 {
		limit = defaultMaxBytes
	}
	limit = min(limit, hardMaxBytes)
	resp, err := sdk.HTTPGet(in.URL)
	if err != nil {
		return "", sdk.Errorf("cannot fetch %s: %v", in.URL, err)
	}
	text, cut := clean(resp.Body, limit)
	if resp.Status >= 400 {
		return "", sdk.Errorf("%s answered HTTP %d: %s", in.URL, resp.Status, firstLine(text))
	}
	if cut {
		text += fmt.Sprintf("\n[cut: showing %d of %d bytes]", len(text), len(resp.Body))
	}
	return text, nil
}

// clean returns b as valid UTF-8 text of at most limit bytes, cut at a
// character boundary, keeping newlines and tabs but dropping every other
// control character (C0, DEL, C1 — terminal escapes start with one), the
// Unicode format characters that reorder or hide text (bidi overrides,
// zero-width ones) and carriage returns. cut reports whether text was
// left out.
func clean(b []byte, limit int) (text string, cut bool) {
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == '\n' || r == '\t':
		case r == utf8.RuneError && size == 1:
			r = unicode.ReplacementChar
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		if sb.Len()+utf8.RuneLen(r) > limit {
			return sb.String(), true
		}
		sb.WriteRune(r)
	}
	return sb.String(), false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s, _ = clean([]byte(s), 200)
		s += "…"
	}
	return s
}
