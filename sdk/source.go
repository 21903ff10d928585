//go:build !wasip1

package sdk

import "embed"

// Source is this SDK's own source (its .go files and c/moat.h), so that
// the moat binary carries the SDK it was built with: `moat new` and
// `moat build` write it into a Go tool's folder (.moat/sdk), which the
// tool's go.mod replaces github.com/moatmcp/moat with. A tool author who
// has only the moat binary then builds offline, with no checkout and no
// download.
//
// It is not part of a tool's API. The build constraint keeps it out of
// every wasip1 build, so it never changes a tool's module or its pin; only
// native builds (moat itself, go test, the schema probe) carry it.
//
//go:embed *.go c/moat.h
var Source embed.FS
