package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moatmcp/moat/internal/approval"
	"github.com/moatmcp/moat/internal/manifest"
)

const approveUsage = `usage: moat approve (TOOL... | --all) [--lock FILE] MANIFEST_DIR

Records in moat.lock (default: MANIFEST_DIR/moat.lock) the current state of
the named tools, or of every tool with --all (which also drops entries of
tools no longer there): module and manifest digests, a digest of name,
title, description and schemas, and the grants. moat serve holds a tool
whose description or schemas changed or whose grants widened since it was
approved, and serves the approved version until this command records the
new one. Prints each change it approves. Review moat.lock in git.`

func cmdApprove(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := newFlags("moat approve", stderr, approveUsage)
	all := fl.Bool("all", false, "approve every tool in MANIFEST_DIR")
	lockPath := fl.String("lock", "", "lock file (default MANIFEST_DIR/moat.lock)")
	pos, code, ok := parseArgs(fl, args, 1, -1)
	if !ok {
		return code
	}
	dir, names := pos[len(pos)-1], pos[:len(pos)-1]
	if *all == (len(names) > 0) {
		fl.Usage()
		return exitUsage
	}
	if *lockPath == "" {
		*lockPath = filepath.Join(dir, approval.FileName)
	}
	tools, errs := manifest.LoadDir(dir)
	for _, e := range errs {
		fmt.Fprintln(stderr, e)
	}
	if len(errs) > 0 {
		fmt.Fprintln(stderr, "moat approve: nothing recorded: fix the manifests above first")
		return exitUsage
	}
	lock, err := approval.Load(*lockPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		lock = approval.NewLock()
	case err != nil:
		fmt.Fprintf(stderr, "moat approve: %v\n", err)
		return exitUsage
	}
	byName := map[string]*manifest.Tool{}
	for _, t := range tools {
		byName[t.Name] = t
	}
	if *all {
		for _, t := range tools {
			names = append(names, t.Name)
		}
		for name := range lock.Tools {
			if _, ok := byName[name]; !ok {
				delete(lock.Tools, name)
				fmt.Fprintf(stdout, "%s: removed (no manifest defines it)\n", name)
			}
		}
	}
	slices.Sort(names)
	changed := 0
	for _, name := range slices.Compact(names) {
		t, ok := byName[name]
		if !ok {
			fmt.Fprintf(stderr, "moat approve: no tool %q in %s\n", name, dir)
			return exitUsage
		}
		at, err := approval.FromManifest(t, nil)
		if err != nil {
			fmt.Fprintf(stderr, "moat approve: %v\n", err)
			return exitUsage
		}
		d, diff := lock.Check(at)
		if d == approval.Approved {
			continue
		}
		changed++
		fmt.Fprintf(stdout, "%s: %s → approved\n", name, d)
		for _, line := range strings.Split(strings.TrimSuffix(diff.String(), "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(stdout, "  %s\n", line)
			}
		}
		lock.Approve(at)
	}
	if err := lock.Write(*lockPath); err != nil {
		fmt.Fprintf(stderr, "moat approve: %v\n", err)
		return exitUsage
	}
	if changed == 0 {
		fmt.Fprintf(stdout, "nothing to approve; %s is current\n", *lockPath)
	} else {
		fmt.Fprintf(stdout, "wrote %s\n", *lockPath)
	}
	return exitOK
}
