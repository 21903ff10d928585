package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moatmcp/moat/host/audit"
)

// cmdAudit implements "moat audit verify [--prev HASH] [--head HASH] FILE...".
//
// Files are verified in the order given, each continuing the chain of the one
// before (oldest rotated file first), so a rotation set verifies as one
// chain. It prints "ok: N records" and exits 0, or prints
// "broken at line K: reason" (naming the file when there are several) and
// exits 1; usage errors exit 2.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usageText = `usage: moat audit verify [--prev HASH|genesis] [--head HASH] FILE...

Checks the hash chain of audit log files and reports the first broken link:
an edited, removed, reordered or truncated line. Several files (oldest
first, e.g. audit.log.2 audit.log.1 audit.log) must form one chain. A first
file that starts mid-chain (after rotation) is accepted and reported, unless
--prev pins its first link. --head checks the hash of the last line against
one recorded elsewhere, which also catches lines cut from the end.
Exit 0: intact; 1: broken; 2: usage or read error.
`
	if code, ok := subcommand(args, "verify", usageText, stdout, stderr); !ok {
		return code
	}
	fs := newFlags("moat audit verify", stderr, strings.TrimSuffix(usageText, "\n"))
	prev := fs.String("prev", "", `the prev the first record must carry ("genesis" for a chain's first file)`)
	head := fs.String("head", "", "the hash the last record must have (from a head recorded elsewhere)")
	files, code, ok := parseArgs(fs, args[1:], 1, -1)
	if !ok {
		return code
	}
	if *prev == "genesis" {
		*prev = audit.Genesis
	}

	total := 0
	var first audit.Summary
	var last audit.Summary
	opts := audit.VerifyOptions{Prev: *prev}
	for i, name := range files {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "moat audit verify: interrupted")
			return exitUsage
		}
		if i == len(files)-1 {
			opts.Head = *head
		}
		s, err := verifyFile(name, &opts)
		var ce *audit.ChainError
		switch {
		case errors.As(err, &ce):
			if len(files) > 1 {
				fmt.Fprintf(stdout, "%s: %s\n", name, ce)
			} else {
				fmt.Fprintln(stdout, ce)
			}
			return exitToolErr
		case err != nil:
			fmt.Fprintf(stderr, "moat audit verify: %v\n", err)
			return exitUsage
		}
		if total == 0 && s.Lines > 0 {
			first = s
		}
		total += s.Lines
		if s.Lines > 0 {
			last = s
			// The next file continues this one.
			opts = audit.VerifyOptions{Prev: s.Head, Seq: s.LastSeq + 1}
		}
	}
	fmt.Fprintf(stdout, "ok: %d records\n", total)
	if total > 0 {
		if first.FirstPrev != audit.Genesis && *prev == "" {
			fmt.Fprintf(stdout, "note: starts mid-chain at seq %d (prev %s): verify it together with the file before it\n", first.FirstSeq, first.FirstPrev)
		}
		fmt.Fprintf(stdout, "head: seq %d hash %s\n", last.LastSeq, last.Head)
	}
	return exitOK
}

func verifyFile(name string, opts *audit.VerifyOptions) (audit.Summary, error) {
	f, err := os.Open(name)
	if err != nil {
		return audit.Summary{}, err
	}
	defer f.Close()
	return audit.VerifyChain(f, opts)
}
