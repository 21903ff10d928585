package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/moatmcp/moat/internal/build"
	"github.com/moatmcp/moat/internal/scaffold"
	"github.com/moatmcp/moat/internal/sdkcopy"
)

func cmdNew(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat new", stderr, "usage: moat new NAME [--lang go|c|assemblyscript] [--dir DIR] [--sdk MOAT_CHECKOUT]\n\n"+
		"Scaffolds a tool folder: the source of a tool that greets by name, its\n"+
		"manifest (NAME.toml) and a test (Go: main_test.go; C and AssemblyScript:\n"+
		"smoke.sh, one moat call). Then, in the folder: moat build, moat call.\n\n"+
		"NAME is 1 to 64 characters of a-z 0-9 _ -, starting with a letter, and\n"+
		"not a Go keyword. The folder must not exist or be empty.\n\n"+
		"A Go tool gets a go.mod and the SDK of this moat binary in .moat/sdk\n"+
		"(nothing is downloaded), except inside moat's own repository, whose\n"+
		"module it joins.")
	lang := fs.String("lang", "go", "go, c or assemblyscript")
	dir := fs.String("dir", "", "the new tool's folder (default ./NAME); it must not exist or be empty")
	sdkDir := fs.String("sdk", "", "Go only: a local checkout of moat for go.mod's replace directive, instead of the SDK copy")
	pos, code, ok := parseArgs(fs, args, 1, 1)
	if !ok {
		return code
	}
	l, err := build.ParseLang(*lang)
	if err != nil {
		fmt.Fprintf(stderr, "moat new: %v\n", err)
		return exitUsage
	}
	res, err := scaffold.New(ctx, pos[0], &scaffold.Options{Lang: l, Dir: *dir, SDK: *sdkDir})
	if res != nil {
		for _, f := range res.Files {
			fmt.Fprintf(stdout, "created %s\n", f)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "moat new: %v\n", err)
		if errors.As(err, new(*scaffold.InternalError)) {
			return exitInternal
		}
		return exitUsage
	}
	if res.SDKCopy {
		fmt.Fprintf(stdout, "created %s: the Go SDK of moat %s\n", filepath.Join(res.Dir, filepath.FromSlash(sdkcopy.Dir)), moatVersion())
	}
	// The next steps are exactly what to type: each line runs as it is.
	fmt.Fprint(stdout, "\nnext:\n")
	for _, c := range res.Next {
		fmt.Fprintf(stdout, "  %s\n", c)
	}
	return exitOK
}
