package sandbox

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"time"
)

// callIO is an instance's stdio and context, switched for every call so
// that a reused instance writes each call's output to that call only.
type callIO struct {
	ctx    context.Context
	stdin  *bytes.Reader
	stdout io.Writer
	stderr io.Writer
}

func (c *callIO) set(ctx context.Context, stdin []byte, stdout, stderr io.Writer) {
	c.ctx, c.stdout, c.stderr = ctx, stdout, stderr
	c.stdin = nil
	if stdin != nil {
		c.stdin = bytes.NewReader(stdin)
	}
}

// clear detaches the instance from the call that ended: output between
// calls is dropped, stdin is empty.
func (c *callIO) clear() {
	c.ctx, c.stdin, c.stdout, c.stderr = nil, nil, nil, nil
}

func (c *callIO) context() context.Context {
	if c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

// Read implements io.Reader: the current call's stdin.
func (c *callIO) Read(p []byte) (int, error) {
	if c.stdin == nil {
		return 0, io.EOF
	}
	return c.stdin.Read(p)
}

type stdoutOf struct{ c *callIO }

func (w stdoutOf) Write(p []byte) (int, error) {
	if w.c.stdout == nil {
		return len(p), nil // between calls (a leftover goroutine): dropped
	}
	return w.c.stdout.Write(p)
}

type stderrOf struct{ c *callIO }

func (w stderrOf) Write(p []byte) (int, error) {
	if w.c.stderr == nil {
		return len(p), nil
	}
	return w.c.stderr.Write(p)
}

// fakeClock is wazero's fake monotonic clock (1 ms per reading) with a
// settable start, so a restored instance continues the template's time.
type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) nanotime() int64 { return c.t.Add(int64(time.Millisecond)) }

// fakeWall is wazero's fake wall clock (2022-01-01, then 1 ms per
// reading), restartable so that a reset instance reads what a new one
// would.
type fakeWall struct{ t atomic.Int64 }

// fakeEpoch is wazero's fake wall-clock start (platform.FakeEpochNanos).
const fakeEpoch = 1640995200000 * int64(time.Millisecond)

func newFakeWall() *fakeWall {
	w := &fakeWall{}
	w.restart()
	return w
}

func (w *fakeWall) restart() { w.t.Store(fakeEpoch - int64(time.Millisecond)) }

func (w *fakeWall) walltime() (sec int64, nsec int32) {
	t := w.t.Add(int64(time.Millisecond))
	return t / 1e9, int32(t % 1e9)
}
