package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moatmcp/moat/host/manifest"
	"github.com/moatmcp/moat/host/sandbox"
)

// SyncReport says what one Sync changed.
type SyncReport struct {
	Added, Changed, Removed, Kept []string // tool names
	Errors                        []error  // one per manifest that failed; its previous version (if any) keeps serving
}

// OK reports whether every manifest loaded.
func (r *SyncReport) OK() bool { return len(r.Errors) == 0 }

func (r *SyncReport) String() string {
	return fmt.Sprintf("%d added, %d changed, %d removed, %d unchanged, %d failed",
		len(r.Added), len(r.Changed), len(r.Removed), len(r.Kept), len(r.Errors))
}

// Sync makes the served tools match the manifests in dirs: new tools are
// added, changed ones replaced, tools whose manifest is gone removed. It is
// atomic per tool and never leaves a hole: a manifest that fails to load
// keeps the previous version of its tool serving, and the error is in the
// report. Clients are told through notifications/tools/list_changed. Calls
// in flight finish on the version they started with.
//
// Integrity: a pinned tool (sha256 in its manifest) whose manifest changes
// in any way — description, schemas, grants — while the pin stays the same
// is refused, and so is a pin that disappears: changing what an agent is
// told about a tool, or what the tool may do, must go with a new pin (no
// silent "rug pull").
func (h *Host) Sync(ctx context.Context, rt *sandbox.Runtime, dirs []string) *SyncReport {
	rep := &SyncReport{}
	h.syncMu.Lock()
	defer h.syncMu.Unlock()

	type loaded struct {
		m    *manifest.Tool
		fp   string
		file string
	}
	want := map[string]loaded{}
	failedFiles := map[string]bool{}
	for _, dir := range dirs {
		ms, errs := manifest.LoadDir(dir)
		for _, err := range errs {
			rep.Errors = append(rep.Errors, err)
			if f := errorFile(err); f != "" {
				failedFiles[f] = true
			}
		}
		for _, m := range ms {
			if prev, dup := want[m.Name]; dup {
				rep.Errors = append(rep.Errors, fmt.Errorf("%s: name: tool %q is already defined in %s", m.File, m.Name, prev.file))
				failedFiles[m.File] = true
				continue
			}
			want[m.Name] = loaded{m: m, fp: fingerprint(m), file: m.File}
		}
	}

	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		w := want[name]
		old, exists := h.Tool(name)
		if exists && old.fingerprint == w.fp {
			rep.Kept = append(rep.Kept, name)
			continue
		}
		if exists {
			if err := checkPin(old.Manifest, w.m); err != nil {
				rep.Errors = append(rep.Errors, err)
				failedFiles[w.file] = true
				continue
			}
		}
		t, err := LoadTool(ctx, rt, w.m)
		if err != nil {
			rep.Errors = append(rep.Errors, err)
			failedFiles[w.file] = true
			continue
		}
		t.fingerprint = w.fp
		h.AddTool(t)
		if exists {
			rep.Changed = append(rep.Changed, name)
		} else {
			rep.Added = append(rep.Added, name)
		}
	}

	// Remove tools whose manifest is gone — but not those whose manifest
	// is still there and merely broken: they keep serving.
	for _, t := range h.Tools() {
		if _, ok := want[t.Name()]; ok {
			continue
		}
		if failedFiles[t.Manifest.File] {
			if _, err := os.Stat(t.Manifest.File); err == nil {
				rep.Kept = append(rep.Kept, t.Name())
				continue
			}
		}
		h.RemoveTool(t.Name())
		rep.Removed = append(rep.Removed, t.Name())
	}
	return rep
}

// checkPin refuses a change to a pinned tool that does not come with a new
// pin.
func checkPin(old, cur *manifest.Tool) error {
	if !old.Pinned {
		return nil
	}
	if !cur.Pinned {
		return fmt.Errorf("%s: sha256: the pin was removed from a pinned tool; refusing the change (restart moat to accept it)", cur.File)
	}
	if old.SHA256 == cur.SHA256 {
		return fmt.Errorf("%s: sha256: the tool changed but its pin did not; update sha256 to accept the change", cur.File)
	}
	return nil
}

// fingerprint identifies everything about a manifest that matters to
// clients and to the sandbox, so an unchanged tool is not recompiled.
func fingerprint(m *manifest.Tool) string {
	b, err := json.Marshal(struct {
		Name, Title, Description, ModulePath, SHA256 string
		Pinned                                       bool
		InputSchema, OutputSchema                    json.RawMessage
		Result                                       manifest.ResultMode
		Annotations                                  manifest.Annotations
		Mounts                                       []manifest.Mount
		Env                                          []manifest.EnvVar
		Clock, Random                                bool
		Limits                                       manifest.Limits
	}{m.Name, m.Title, m.Description, m.ModulePath, m.SHA256, m.Pinned, m.InputSchema, m.OutputSchema,
		m.Result, m.Annotations, m.Mounts, m.Env, m.Clock, m.Random, m.Limits})
	if err != nil {
		// Never treat an unfingerprintable manifest as unchanged.
		b = []byte(NewErrorID())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// errorFile extracts the manifest file an error is about.
func errorFile(err error) string {
	var me *manifest.Error
	if errors.As(err, &me) && me.File != "" {
		return me.File
	}
	s := err.Error()
	if i := strings.Index(s, ".toml"); i > 0 {
		if f, err := filepath.Abs(s[:i+len(".toml")]); err == nil {
			return f
		}
	}
	return ""
}
