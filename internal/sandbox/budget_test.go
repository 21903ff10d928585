package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// holdDoer blocks every request until release is closed, after telling
// entered: a guest in moat.http_request is a call that holds its memory
// for exactly as long as the test wants.
type holdDoer struct {
	entered chan struct{}
	release chan struct{}
}

func newHoldDoer() *holdDoer {
	return &holdDoer{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (d *holdDoer) Do(ctx context.Context, _ *HTTPRequest) (*HTTPResponse, error) {
	d.entered <- struct{}{}
	select {
	case <-d.release:
		return &HTTPResponse{Status: 204}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// budgetRuntime is a Runtime of its own with a guest memory budget of
// max, so that the shared one's budget is not touched.
func budgetRuntime(t *testing.T, max uint64) *Runtime {
	t.Helper()
	rt, err := New(context.Background(), &Options{NoCache: true, MaxGuestMemory: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

func loadOn(t *testing.T, rt *Runtime, spec Spec) *Module {
	t.Helper()
	m, err := rt.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

const fetchReq = `{"url":"https://api.test/"}`

// TestHostMemoryBudget: a budget smaller than two calls' memory, three
// callers at once. Bad input: 8 memory-hungry calls took the host to
// 1.6 GiB; nothing bounded guest memory across calls.
func TestHostMemoryBudget(t *testing.T) {
	const limit = 4 << 20
	rt := budgetRuntime(t, 6<<20) // one call fits, two do not
	d := newHoldDoer()
	m := loadOn(t, rt, Spec{Name: "fetch", Wasm: guest(t, "net_fetch.wasm"), HTTP: d,
		Limits: Limits{MemoryBytes: limit, Timeout: time.Minute}})

	t.Run("three callers, one runs", func(t *testing.T) {
		rt.budget.wait = time.Millisecond // the outcome does not depend on it: the first call holds until released
		first := make(chan error, 1)
		go func() {
			res, err := m.Call(context.Background(), []byte(fetchReq), nil)
			if err == nil && res.Outcome != OutcomeOK {
				err = errors.New(res.Outcome.String())
			}
			first <- err
		}()
		<-d.entered // the first call holds its 4 MiB
		if used, max := rt.InUse(); used != limit || max != 6<<20 {
			t.Fatalf("InUse() = %d, %d; want %d, %d", used, max, limit, 6<<20)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = m.Call(context.Background(), []byte(fetchReq), nil)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if !errors.Is(err, ErrHostMemoryBudget) {
				t.Errorf("caller %d: %v, want ErrHostMemoryBudget", i+2, err)
			} else if want := "the host is out of guest memory; retry later: 4MiB of 6MiB held by calls in flight, 4MiB more needed"; err.Error() != want {
				t.Errorf("caller %d: %q, want %q", i+2, err, want)
			}
		}
		d.release <- struct{}{}
		if err := <-first; err != nil {
			t.Fatalf("first caller: %v", err)
		}
		if used, _ := rt.InUse(); used != 0 {
			t.Fatalf("InUse() = %d after every call ended", used)
		}
	})

	t.Run("a waiting caller gets the memory freed", func(t *testing.T) {
		rt.budget.wait = time.Hour // bounded by the release below, not by time
		first := make(chan error, 1)
		go func() {
			_, err := m.Call(context.Background(), []byte(fetchReq), nil)
			first <- err
		}()
		<-d.entered
		waiting := make(chan struct{})
		rt.budget.mu.Lock()
		rt.budget.onWait = func() { close(waiting) }
		rt.budget.mu.Unlock()
		t.Cleanup(func() { rt.budget.mu.Lock(); rt.budget.onWait = nil; rt.budget.mu.Unlock() })
		second := make(chan error, 1)
		go func() {
			res, err := m.Call(context.Background(), []byte(fetchReq), nil)
			if err == nil && res.Outcome != OutcomeOK {
				err = errors.New(res.Outcome.String())
			}
			second <- err
		}()
		<-waiting
		d.release <- struct{}{} // the first call ends: the second may start
		if err := <-first; err != nil {
			t.Fatalf("first caller: %v", err)
		}
		<-d.entered
		d.release <- struct{}{}
		if err := <-second; err != nil {
			t.Fatalf("waiting caller: %v", err)
		}
	})

	t.Run("a waiting caller's context ends", func(t *testing.T) {
		rt.budget.wait = time.Hour
		first := make(chan error, 1)
		go func() {
			_, err := m.Call(context.Background(), []byte(fetchReq), nil)
			first <- err
		}()
		<-d.entered
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := m.Call(ctx, []byte(fetchReq), nil)
		if !errors.Is(err, ErrHostMemoryBudget) || !errors.Is(err, context.Canceled) {
			t.Errorf("canceled caller: %v, want ErrHostMemoryBudget and context.Canceled", err)
		}
		d.release <- struct{}{}
		if err := <-first; err != nil {
			t.Fatalf("first caller: %v", err)
		}
	})
}

func TestLoadOverHostMemoryBudget(t *testing.T) {
	rt := budgetRuntime(t, 6<<20)
	_, err := rt.Load(context.Background(), Spec{Name: "echo", Wasm: guest(t, "lim_echo.wasm"), Limits: Limits{MemoryBytes: 8 << 20}})
	want := "memory limit of 8MiB is over the host's guest memory budget of 6MiB ([sandbox] max_guest_memory)"
	if err == nil || err.Error() != want {
		t.Fatalf("Load: %v, want %q", err, want)
	}
}

func TestDefaultMaxGuestMemory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, meminfo string
		want          uint64
	}{
		{"4 GiB", "MemTotal:        4194304 kB\nMemFree:         1000 kB\n", 4 << 30},
		{"not first", "Foo: 1 kB\nMemTotal: 1024 kB\n", 1 << 20},
		{"no unit", "MemTotal: 1024\n", 0},
		{"other unit", "MemTotal: 1024 MB\n", 0},
		{"garbage", "MemTotal: lots kB\n", 0},
		{"absurd", "MemTotal: 99999999999999999 kB\n", 0},
		{"missing", "MemFree: 10 kB\n", 0},
	} {
		if got := readMemTotal(write(tc.name, tc.meminfo)); got != tc.want {
			t.Errorf("readMemTotal(%s) = %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := readMemTotal(filepath.Join(dir, "nonexistent")); got != 0 {
		t.Errorf("readMemTotal(missing file) = %d", got)
	}
	for _, tc := range []struct {
		in   string
		want uint64
	}{{"max\n", 0}, {"1073741824\n", 1 << 30}, {"", 0}, {"-1", 0}} {
		if got := readCgroupMax(write("memory.max", tc.in)); got != tc.want {
			t.Errorf("readCgroupMax(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	got := DefaultMaxGuestMemory()
	if got == 0 || got > maxDefaultGuestMemory {
		t.Errorf("DefaultMaxGuestMemory() = %d", got)
	}
	if total := readMemTotal("/proc/meminfo"); total > 0 && got > total/2 {
		t.Errorf("DefaultMaxGuestMemory() = %d, over half of MemTotal %d", got, total)
	}
}

// TestTrimAfterBurst: once the last call of a burst that allocated more
// than trimmer.growth has ended, the trimmer runs.
func TestTrimAfterBurst(t *testing.T) {
	oldQuiet, oldEvery := trimQuiet, trimEvery
	trimQuiet, trimEvery = 0, 0
	t.Cleanup(func() { trimQuiet, trimEvery = oldQuiet, oldEvery })
	rt := budgetRuntime(t, 1<<30)
	trimmed := make(chan struct{}, 4)
	rt.budget.trimmer.onTrim = func() { trimmed <- struct{}{} }
	m := loadOn(t, rt, Spec{Name: "membomb", Wasm: guest(t, "lim_membomb.wasm"), Limits: Limits{MemoryBytes: 32 << 20}})

	var wg sync.WaitGroup
	for range 4 { // 4 × 32 MiB: over trimmer.growth
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := m.Call(context.Background(), nil, nil)
			if err != nil || res.Outcome != OutcomeMemory {
				t.Errorf("membomb: %v %v", res, err)
			}
		}()
	}
	wg.Wait()
	select {
	case <-trimmed:
	case <-time.After(time.Minute): // generous: the trim is due at once
		t.Fatal("no trim after the burst")
	}
	// (Calls may have ended and started again within the burst, so there
	// can be a trim before the last one: only "at least one" is certain.)
	if !strings.Contains(ErrHostMemoryBudget.Error(), "retry later") {
		t.Error("ErrHostMemoryBudget does not tell the client to retry")
	}
}
