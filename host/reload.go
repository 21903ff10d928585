package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moatmcp/moat/internal/approval"
	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/manifest"
)

// ReloadReport says what one reload did.
type ReloadReport struct {
	// Err is why the reload was refused; the previous snapshot keeps
	// serving, whole. nil when the new snapshot serves.
	Err error
	// What changed, by name (empty when Err is set).
	ToolsAdded, ToolsChanged, ToolsRemoved []string
	KeysAdded, KeysChanged, KeysRemoved    []string
	// SessionsEnded counts the MCP sessions of revoked credentials that
	// were closed.
	SessionsEnded int
	// ListenStreamsEnded counts the subscriptions/listen streams of
	// revoked credentials that were closed (listen.go).
	ListenStreamsEnded int
	// Held are the tools moat.lock holds (docs/supply-chain.md), each with
	// why: the readable diff against what was approved. A held tool's
	// approved version keeps serving, if one was.
	Held map[string]string
}

// OK reports whether the new snapshot serves.
func (r *ReloadReport) OK() bool { return r.Err == nil }

// Changes lists what changed, one line per tool or key, for the log and
// the audit record.
func (r *ReloadReport) Changes() []string {
	var out []string
	add := func(kind, verb string, names []string) {
		for _, n := range names {
			out = append(out, kind+" "+n+" "+verb)
		}
	}
	add("tool", "added", r.ToolsAdded)
	add("tool", "changed", r.ToolsChanged)
	add("tool", "removed", r.ToolsRemoved)
	add("key", "added", r.KeysAdded)
	add("key", "changed", r.KeysChanged)
	add("key", "removed", r.KeysRemoved)
	var held []string
	for name := range r.Held {
		held = append(held, name)
	}
	sort.Strings(held)
	add("tool", "held for approval", held)
	return out
}

// changeSet is the difference between two snapshots.
type changeSet struct {
	toolsAdded, toolsChanged, toolsRemoved []string
	keysAdded, keysChanged, keysRemoved    []string
	// revoked are principal ids whose credential no longer works: removed
	// keys and keys whose secret changed. Their sessions are ended.
	revoked map[string]bool
	// jwtChanged: [auth.jwt] changed or went away; sessions of JWT
	// principals are ended (their next request authenticates anew).
	jwtChanged bool
	// listChanged: what tools/list shows may differ.
	listChanged bool
}

func diff(prev, cur *snapshot) *changeSet {
	ch := &changeSet{revoked: map[string]bool{}}
	if prev == nil {
		return ch
	}
	for _, name := range cur.names {
		old, ok := prev.tools[name]
		switch {
		case !ok:
			ch.toolsAdded = append(ch.toolsAdded, name)
		case old != cur.tools[name]:
			ch.toolsChanged = append(ch.toolsChanged, name)
		}
	}
	for _, name := range prev.names {
		if _, ok := cur.tools[name]; !ok {
			ch.toolsRemoved = append(ch.toolsRemoved, name)
		}
	}
	for id, d := range cur.keys {
		old, ok := prev.keys[id]
		switch {
		case !ok:
			ch.keysAdded = append(ch.keysAdded, id)
		case old != d:
			ch.keysChanged = append(ch.keysChanged, id)
		}
	}
	for id := range prev.keys {
		if _, ok := cur.keys[id]; !ok {
			ch.keysRemoved = append(ch.keysRemoved, id)
			ch.revoked[id] = true
		}
	}
	for _, id := range ch.keysChanged {
		// Any change to a key's entry ends its sessions: a new hash
		// revokes the old secret, and narrower grants or a new expiry
		// must not ride on a session opened under the old ones.
		ch.revoked[id] = true
	}
	ch.jwtChanged = prev.jwt != "" && prev.jwt != cur.jwt
	for _, l := range [][]string{ch.keysAdded, ch.keysChanged, ch.keysRemoved} {
		sort.Strings(l)
	}
	// Scopes, grants and the [auth.local] principal decide what each
	// caller's list shows; tell clients to look again on any change.
	ch.listChanged = len(ch.toolsAdded)+len(ch.toolsChanged)+len(ch.toolsRemoved)+
		len(ch.keysAdded)+len(ch.keysChanged)+len(ch.keysRemoved) > 0 || ch.jwtChanged
	return ch
}

// Reload builds a whole new snapshot from the files and swaps it in. If
// any file is broken, or a change needs a restart, the previous snapshot
// keeps serving, whole, and the report's Err names the file, line and
// field. Calls in flight finish under the snapshot they started with; the
// next request sees the new one: a revoked key is refused at its next
// request, and its sessions are ended. Every reload is logged, audited and
// counted in metrics, refused ones too.
func (s *Server) Reload(ctx context.Context) *ReloadReport {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	rep := &ReloadReport{}
	prev := s.current()
	if prev == nil {
		rep.Err = fmt.Errorf("server closed")
		return rep
	}
	// A reload is also when the audit file is reopened, so that logrotate's
	// rename-then-SIGHUP starts a new file that continues the chain
	// (docs/audit.md). Reopen keeps the old file on any error.
	if err := s.audit.Reopen(); err != nil {
		s.log.Error("audit log not reopened; records still go to the file open before", "err", err)
	}
	cfg, err := s.loadConfig()
	var snap *snapshot
	var ch *changeSet
	if err == nil {
		snap, ch, err = s.build(ctx, cfg, prev)
	}
	if err != nil {
		rep.Err = err
		s.log.Error("reload refused; the previous configuration keeps serving", "err", err)
		s.metrics.Reload(false)
		s.metrics.LoadError("reload")
		s.auditReload(rep)
		return rep
	}
	rep.ToolsAdded, rep.ToolsChanged, rep.ToolsRemoved = ch.toolsAdded, ch.toolsChanged, ch.toolsRemoved
	rep.KeysAdded, rep.KeysChanged, rep.KeysRemoved = ch.keysAdded, ch.keysChanged, ch.keysRemoved
	rep.Held = snap.held
	rep.SessionsEnded = s.install(snap, ch)
	rep.ListenStreamsEnded = s.endListens(ch)
	s.logHeld(snap)
	s.metrics.Reload(true)
	s.auditReload(rep)
	s.log.Info("reload finished", "changes", rep.Changes(), "sessions_ended", rep.SessionsEnded, "listen_streams_ended", rep.ListenStreamsEnded)
	return rep
}

// install makes snap the serving snapshot: it tells the go-sdk what tools
// changed (clients get notifications/tools/list_changed), ends the sessions
// of revoked credentials, and closes the previous snapshot's own tools once
// its last call has finished. It returns the number of sessions ended.
func (s *Server) install(snap *snapshot, ch *changeSet) int {
	prev := s.snap.Swap(snap)
	s.syncSDKTools(prev, snap)
	ended := 0
	if ch != nil {
		ended = s.endSessions(ch)
		if ch.listChanged && len(ch.toolsAdded)+len(ch.toolsChanged)+len(ch.toolsRemoved) == 0 {
			s.notifyListChanged()
		}
	}
	if prev != nil {
		prev.retire()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			<-prev.drained
			if err := prev.closeTools(context.Background(), snap); err != nil {
				s.log.Warn("closing replaced tools", "err", err)
			}
		}()
	}
	return ended
}

// logHeld tells the operator which tools moat.lock holds, and why.
func (s *Server) logHeld(snap *snapshot) {
	names := make([]string, 0, len(snap.held))
	for name := range snap.held {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		_, serving := snap.tools[name]
		s.log.Warn("tool held for approval", "tool", name, "previous_version_serving", serving, "why", snap.held[name])
	}
}

// auditReload writes the reload's record: what changed per tool and per
// key, or why it was refused (the error names files and fields, never a
// secret: manifest errors never echo values taken from the environment).
func (s *Server) auditReload(rep *ReloadReport) {
	rec := audit.Record{Event: audit.EventReload, Outcome: audit.OutcomeOK, Changes: rep.Changes()}
	if rep.Err != nil {
		rec.Outcome = audit.OutcomeError
		rec.ErrorID = newErrorID()
		rec.Reason = firstLine(rep.Err.Error())
	}
	s.writeAudit(rec)
	s.console.recordReload(rep, s.clock())
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (and more: see the log)"
	}
	return s
}

// watch reloads whenever a file a snapshot was built from changes (by
// size, modification time or existence), or a manifest appears in a
// manifest folder. It polls metadata rather than using inotify: it needs
// no dependency, works on every OS and filesystem, and a couple of
// seconds' delay is fine for a config change.
func (s *Server) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := s.stamp()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closed:
			return
		case <-t.C:
		}
		cur := s.stamp()
		if cur == last {
			continue
		}
		s.log.Info("configuration files changed: reloading")
		s.Reload(ctx)
		// Whether or not it took: a broken file is reported once, and
		// reloaded again when it changes.
		last = cur
	}
}

// stamp is the name, size and modification time of every file the serving
// snapshot depends on, and of the manifests now in its folders.
func (s *Server) stamp() string {
	snap := s.current()
	if snap == nil {
		return ""
	}
	files := slices.Clone(snap.files)
	for _, d := range snap.cfg.ManifestDirs {
		m, _ := filepath.Glob(filepath.Join(d, "*.toml"))
		files = append(files, m...)
	}
	sort.Strings(files)
	files = slices.Compact(files)
	var b strings.Builder
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(&b, "%s:missing\n", f)
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d\n", f, st.Size(), st.ModTime().UnixNano())
	}
	return b.String()
}

// snapshotFiles is every file a snapshot is built from: moat.toml and the
// files it names, each manifest and the files it references, and the
// approval lock of each manifest folder (there or not).
func snapshotFiles(cfg *manifest.Config, ms []*manifest.Tool) []string {
	files := slices.Clone(cfg.Files)
	for _, d := range cfg.ManifestDirs {
		files = append(files, filepath.Join(d, approval.FileName))
	}
	for _, m := range ms {
		files = append(files, m.Files...)
	}
	sort.Strings(files)
	return slices.Compact(files)
}
