package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/moatmcp/moat/internal/build"
	"github.com/moatmcp/moat/internal/devloop"
	"github.com/moatmcp/moat/internal/manifest"
)

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

	tool  string            // the manifest's tool name, once built
	calls *devloop.CallTail // the audit log's new calls
}

func (d *devLoop) run(ctx context.Context) int {
	d.calls = devloop.NewCallTail(d.audit)
	d.rebuild(ctx)
	last := devloop.Fingerprint(d.dir)
	fmt.Fprintf(d.stdout, "watching %s (Ctrl-C to stop)\n", d.dir)
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case <-d.tick:
		}
		if now := devloop.Fingerprint(d.dir); now != last {
			d.rebuild(ctx)
			// Taken after the build, so that what the build writes (the
			// module, the pin, the schemas) does not start another.
			last = devloop.Fingerprint(d.dir)
		}
		for _, c := range d.calls.Calls(d.tool) {
			fmt.Fprintln(d.stdout, c)
		}
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
