package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// ChildEnv is the environment variable with which a program that serves
// as Options.Child is told to run ChildMain instead of its usual work.
const ChildEnv = "MOAT_BENCH_CHILD"

// The child protocol, one line each: the parent writes the Load (JSON);
// the child connects and warms up, then writes "ready"; the parent reads
// its own usage and writes "go"; the child runs the load and writes its
// Result (JSON), or "error: …" at any point.
const (
	lineReady = "ready"
	lineGo    = "go"
	linePfxEr = "error: "
)

// maxChildLine bounds a line of the child protocol.
const maxChildLine = 64 << 10

// ChildMain runs one load as the child of Measure: it reads the Load from
// in and follows the protocol above on out. It returns a process exit
// code (0 after a result was written).
func ChildMain(ctx context.Context, in io.Reader, out io.Writer) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 4096), maxChildLine)
	fail := func(err error) int {
		fmt.Fprintf(out, "%s%s\n", linePfxEr, strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	if !sc.Scan() {
		return fail(fmt.Errorf("%w: no load spec", ErrBadSpec))
	}
	var load Load
	if err := json.Unmarshal(sc.Bytes(), &load); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadSpec, err))
	}
	if err := load.check(); err != nil {
		return fail(err)
	}
	load = load.withDefaults()
	r, err := newRunner(ctx, load)
	if err != nil {
		return fail(err)
	}
	defer r.close()
	if err := r.warmup(ctx); err != nil {
		return fail(err)
	}
	fmt.Fprintln(out, lineReady)
	if !sc.Scan() || sc.Text() != lineGo {
		return fail(fmt.Errorf("%w: expected %q", ErrBadSpec, lineGo))
	}
	res, err := r.run(ctx)
	if err != nil {
		return fail(err)
	}
	b, _ := json.Marshal(res)
	fmt.Fprintf(out, "%s\n", b)
	return 0
}

// runChild runs load in cmd (a program calling ChildMain), reading this
// process's usage just before the child's clients start and just after
// they stop.
func runChild(ctx context.Context, cmd *exec.Cmd, load Load, before, after *usage) (Result, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrChild, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrChild, err)
	}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("%w: start: %w", ErrChild, err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 4096), maxChildLine)
	line := func() (string, error) {
		if !sc.Scan() {
			return "", fmt.Errorf("%w: it exited without an answer", ErrChild)
		}
		if msg, ok := strings.CutPrefix(sc.Text(), linePfxEr); ok {
			return "", fmt.Errorf("%w: %s", ErrChild, msg)
		}
		return sc.Text(), nil
	}
	spec, _ := json.Marshal(load)
	if _, err := fmt.Fprintf(stdin, "%s\n", spec); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrChild, err)
	}
	if l, err := line(); err != nil {
		return Result{}, err
	} else if l != lineReady {
		return Result{}, fmt.Errorf("%w: expected %q", ErrChild, lineReady)
	}
	*before = readUsage()
	if _, err := fmt.Fprintln(stdin, lineGo); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrChild, err)
	}
	l, err := line()
	*after = readUsage()
	if err != nil {
		return Result{}, err
	}
	var res Result
	if err := json.Unmarshal([]byte(l), &res); err != nil {
		return Result{}, fmt.Errorf("%w: bad result: %w", ErrChild, err)
	}
	return res, nil
}
