package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/host/sandbox"
)

// watch reloads the tools on SIGHUP and whenever a manifest, or a module or
// schema file a tool uses, changes. It polls file metadata rather than
// using inotify: it needs no dependency, works on every OS and filesystem,
// and a couple of seconds' delay is fine for a config change.
func watch(ctx context.Context, h *host.Host, rt *sandbox.Runtime, dirs []string, every time.Duration, log *slog.Logger, after func(*host.SyncReport)) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	last := snapshot(h, dirs)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading tools")
		case <-tick:
			cur := snapshot(h, dirs)
			if cur == last {
				continue
			}
			log.Info("tool files changed: reloading")
		}
		rep := h.Sync(ctx, rt, dirs)
		last = snapshot(h, dirs)
		for _, err := range rep.Errors {
			log.Error("reload: manifest refused; its previous version keeps serving", "err", err)
		}
		if after != nil {
			after(rep)
		}
		log.Info("reload finished", "added", rep.Added, "changed", rep.Changed, "removed", rep.Removed, "failed", len(rep.Errors))
	}
}

// snapshot is the name, size and modification time of every file a reload
// depends on: the manifests, and the modules of the loaded tools.
func snapshot(h *host.Host, dirs []string) string {
	var files []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, "*.toml"))
		files = append(files, m...)
	}
	for _, t := range h.Tools() {
		files = append(files, t.Manifest.ModulePath)
	}
	sort.Strings(files)
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
