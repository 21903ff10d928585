package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moatmcp/moat/internal/audit"
)

// cmdAudit implements "moat audit verify [--prev HASH] [--head HASH] FILE..."
// and "moat audit verify DIR".
//
// Files are verified in the order given, each continuing the chain of the one
// before (oldest rotated file first), so a rotation set verifies as one
// chain. It prints "ok: N records" and exits 0, or prints
// "broken at line K: reason" (naming the file when there are several) and
// exits 1; usage errors exit 2.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usageText = `usage: moat audit verify [--prev HASH|genesis] [--head HASH] FILE...
       moat audit verify DIR
       moat audit show [--tool NAME] [--principal ID] [--outcome OUTCOME] [--since TIME] [--until TIME] FILE...

Checks the hash chain of audit log files and reports the first broken link:
an edited, removed, reordered or truncated line. Several files (oldest
first, e.g. audit.log.2 audit.log.1 audit.log) must form one chain. A first
file that starts mid-chain (after rotation) is accepted and reported, unless
--prev pins its first link. --head checks the hash of the last line against
one recorded elsewhere, which also catches lines cut from the end.
With one folder, every chain in it is verified on its own: one per replica
behind a load balancer, each with its rotated files (NAME, NAME.1, NAME.2,
…; the highest number is the oldest), reported one line per chain with the
replica its records name.
Exit 0: intact; 1: broken; 2: usage or read error.
`
	if len(args) > 0 && args[0] == "show" {
		return cmdAuditShow(ctx, args[1:], stdout, stderr) // auditshow.go
	}
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
	if len(files) == 1 {
		if st, err := os.Stat(files[0]); err == nil && st.IsDir() {
			if *prev != "" || *head != "" {
				fmt.Fprintln(stderr, "moat audit verify: --prev and --head pin one chain: name its files, not a folder")
				return exitUsage
			}
			return verifyDir(ctx, files[0], stdout, stderr)
		}
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

// verifyDir verifies every chain in dir: its regular files grouped by
// name without a trailing ".N" (a rotation set), oldest first. Hidden
// files and compressed rotations (.gz, .zst, .xz) are skipped, with a note
// for the latter.
func verifyDir(ctx context.Context, dir string, stdout, stderr io.Writer) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Fprintf(stderr, "moat audit verify: %v\n", err)
		return exitUsage
	}
	type part struct {
		n    int // rotation number; 0 for the live file
		path string
	}
	chains := map[string][]part{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
			continue
		}
		switch filepath.Ext(name) {
		case ".gz", ".zst", ".xz", ".bz2":
			fmt.Fprintf(stdout, "%s: skipped: compressed (decompress it to verify it with its chain)\n", name)
			continue
		}
		base, n := name, 0
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			if k, err := strconv.Atoi(name[i+1:]); err == nil && k > 0 && strconv.Itoa(k) == name[i+1:] {
				base, n = name[:i], k
			}
		}
		chains[base] = append(chains[base], part{n, filepath.Join(dir, name)})
	}
	if len(chains) == 0 {
		fmt.Fprintf(stderr, "moat audit verify: %s holds no audit log\n", dir)
		return exitUsage
	}
	code := exitOK
	for _, base := range slices.Sorted(maps.Keys(chains)) {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "moat audit verify: interrupted")
			return exitUsage
		}
		parts := chains[base]
		slices.SortFunc(parts, func(a, b part) int { return b.n - a.n }) // oldest first
		opts := audit.VerifyOptions{}
		total, replica := 0, ""
		for _, p := range parts {
			s, err := verifyFile(p.path, &opts)
			var ce *audit.ChainError
			switch {
			case errors.As(err, &ce):
				fmt.Fprintf(stdout, "%s: %s\n", filepath.Base(p.path), ce)
				code = exitToolErr
			case err != nil:
				fmt.Fprintf(stderr, "moat audit verify: %v\n", err)
				return exitUsage
			}
			if err != nil {
				total = -1
				break
			}
			total += s.Lines
			if s.Lines > 0 {
				opts = audit.VerifyOptions{Prev: s.Head, Seq: s.LastSeq + 1}
				if r := replicaOf(p.path); r != "" {
					replica = r
				}
			}
		}
		if total < 0 {
			continue
		}
		line := fmt.Sprintf("%s: ok: %d records", base, total)
		if len(parts) > 1 {
			line += fmt.Sprintf(" in %d files", len(parts))
		}
		if replica != "" {
			line += " (replica " + replica + ")"
		}
		fmt.Fprintln(stdout, line)
	}
	return code
}

// replicaOf is the replica the first record of an audit file names, or
// "" (a log written before records named their replica).
func replicaOf(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReaderSize(io.LimitReader(f, 1<<20), 64<<10).ReadString('\n')
	var rec struct {
		Replica string `json:"replica"`
	}
	if json.Unmarshal([]byte(line), &rec) != nil || len(rec.Replica) > 63 {
		return ""
	}
	for _, c := range rec.Replica { // printed to a terminal: no control bytes
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return ""
		}
	}
	return rec.Replica
}
