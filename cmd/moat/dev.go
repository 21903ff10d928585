package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/moatmcp/moat/host/audit"
	"github.com/moatmcp/moat/host/manifest"
	"github.com/moatmcp/moat/internal/build"
)

// maxDevFiles bounds the files moat dev looks at in one poll.
const maxDevFiles = 10000

func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat dev", stderr, "usage: moat dev [TOOL_DIR] [--pid PID] [--audit FILE]\n\n"+
		"Watches a tool folder (default: the current one): builds it as moat build\n"+
		"does, then again whenever a source file changes. A running moat serve\n"+
		"that loads the folder (moat serve TOOL_DIR) picks up the new module by\n"+
		"itself within its --watch interval (2s); with --pid it is sent SIGHUP\n"+
		"after each good build and reloads at once. With --audit (the server's\n"+
		"[audit] file) each call of the tool is shown as it happens.\n"+
		"It polls file times (no dependency, any file system). Stop it with Ctrl-C.")
	pid := fs.Int("pid", 0, "the process id of a moat serve to send SIGHUP after each good build")
	auditFile := fs.String("audit", "", "the server's audit log (JSON lines): show this tool's calls")
	every := fs.Duration("every", 500*time.Millisecond, "how often to look for changed files")
	pos, code, ok := parseArgs(fs, args, 0, 1)
	if !ok {
		return code
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	if *every < 10*time.Millisecond {
		fmt.Fprintln(stderr, "moat dev: --every must be at least 10ms")
		return exitUsage
	}
	t := time.NewTicker(*every)
	defer t.Stop()
	d := &devLoop{
		dir:   dir,
		pid:   *pid,
		audit: *auditFile,
		tick:  t.C,
		build: func(ctx context.Context) int { return buildDir(ctx, dir, &build.Options{Log: stderr}, stdout, stderr) },
		hup: func(pid int) error {
			p, err := os.FindProcess(pid)
			if err != nil {
				return err
			}
			return p.Signal(syscall.SIGHUP)
		},
		stdout: stdout,
		stderr: stderr,
	}
	return d.run(ctx)
}

// devLoop is moat dev's state; its clock and its signal are fields so
// that a test drives it one poll at a time.
type devLoop struct {
	dir    string
	pid    int
	audit  string
	tick   <-chan time.Time
	polled chan<- struct{} // if not nil, told after each poll (tests wait on it)
	build  func(context.Context) int
	hup    func(pid int) error
	stdout io.Writer
	stderr io.Writer

	tool      string // the manifest's tool name, once built
	auditAt   int64  // how far the audit log has been read
	auditSeen bool   // the log existed at the last look
}

func (d *devLoop) run(ctx context.Context) int {
	d.skipAudit()
	d.rebuild(ctx)
	last := devFingerprint(d.dir)
	fmt.Fprintf(d.stdout, "watching %s (Ctrl-C to stop)\n", d.dir)
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case <-d.tick:
		}
		if now := devFingerprint(d.dir); now != last {
			d.rebuild(ctx)
			// Taken after the build, so that what the build writes (the
			// module, the pin, the schemas) does not start another.
			last = devFingerprint(d.dir)
		}
		d.showCalls()
		if d.polled != nil {
			d.polled <- struct{}{}
		}
	}
}

// rebuild builds once and, when it worked, tells the server.
func (d *devLoop) rebuild(ctx context.Context) {
	fmt.Fprintf(d.stdout, "%s build\n", time.Now().Format("15:04:05"))
	if code := d.build(ctx); code != exitOK {
		fmt.Fprintf(d.stdout, "build failed (exit %d); fix it and save again\n", code)
		return
	}
	if m, err := build.FindManifest(d.dir); err == nil && m != "" {
		if t, err := manifest.Load(m); err == nil {
			d.tool = t.Name
		}
	}
	if d.pid > 0 {
		if err := d.hup(d.pid); err != nil {
			fmt.Fprintf(d.stderr, "moat dev: signalling moat serve (pid %d): %v\n", d.pid, err)
			return
		}
		fmt.Fprintf(d.stdout, "reloaded moat serve (pid %d)\n", d.pid)
	}
}

// skipAudit starts the call log at the end of the audit file: moat dev
// shows calls made while it runs.
func (d *devLoop) skipAudit() {
	if d.audit == "" {
		return
	}
	if st, err := os.Stat(d.audit); err == nil {
		d.auditAt = st.Size()
		d.auditSeen = true
	}
}

// showCalls prints the tool calls appended to the audit log since the
// last look, one line each. A log that shrank was rotated: it is read
// from its start.
func (d *devLoop) showCalls() {
	if d.audit == "" {
		return
	}
	f, err := os.Open(d.audit)
	if err != nil {
		d.auditSeen = false
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() < d.auditAt {
		d.auditAt = 0
	}
	if _, err := f.Seek(d.auditAt, io.SeekStart); err != nil {
		return
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return // a partial line waits for its end
		}
		if err != nil {
			return
		}
		d.auditAt += int64(len(line))
		if s := formatCall(line, d.tool); s != "" {
			fmt.Fprintln(d.stdout, s)
		}
	}
}

// formatCall turns an audit line into one readable line when it is a call
// of tool (any tool when tool is ""); anything else gives "".
func formatCall(line []byte, tool string) string {
	if len(line) > audit.MaxLineBytes {
		return ""
	}
	var r audit.Record
	if json.Unmarshal(bytes.TrimSpace(line), &r) != nil || r.Event != audit.EventToolCall {
		return ""
	}
	if tool != "" && r.Tool != tool {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s call %s %s", r.Time.Local().Format("15:04:05"), r.Tool, r.Outcome)
	if r.DurationMS > 0 {
		fmt.Fprintf(&b, " %.1fms", r.DurationMS)
	}
	if r.Principal != "" {
		fmt.Fprintf(&b, " by %s", r.Principal)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	if r.ErrorID != "" {
		fmt.Fprintf(&b, " (error id %s)", r.ErrorID)
	}
	if len(r.Args) > 0 {
		fmt.Fprintf(&b, " args %s", r.Args)
	}
	// The fields come from callers and tools: no line breaks or terminal
	// escapes reach the developer's terminal.
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return '?'
		}
		return r
	}, b.String())
}

// devFingerprint sums up the names, sizes and times of the files in a
// tool folder, leaving out what is installed or generated there.
func devFingerprint(dir string) string {
	var b strings.Builder
	n := 0
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.IsDir() {
			switch e.Name() {
			case "node_modules", ".git", ".moat":
				return filepath.SkipDir
			}
			return nil
		}
		if n++; n > maxDevFiles {
			return filepath.SkipAll
		}
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}
