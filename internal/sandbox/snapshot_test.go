package sandbox

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/sandbox/reactor"
	"github.com/moatmcp/moat/internal/wasmbin"
)

var (
	reactorOnce sync.Once
	reactorWasm []byte
	reactorErr  error
)

// goReactor builds testdata/guests/goreactor with -buildmode=c-shared once.
func goReactor(t testing.TB) []byte {
	t.Helper()
	reactorOnce.Do(func() {
		dir, err := os.MkdirTemp("", "moat-reactor")
		if err != nil {
			reactorErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "goreactor.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./"+filepath.ToSlash(filepath.Join(guestDir, "goreactor")))
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			reactorErr = errors.New("build goreactor: " + err.Error() + "\n" + string(msg))
			return
		}
		reactorWasm, reactorErr = os.ReadFile(out)
	})
	if reactorErr != nil {
		t.Fatal(reactorErr)
	}
	return reactorWasm
}

type reactorStep struct {
	principal string // "" = none
	in        string
	want      string
	outcome   Outcome
}

// TestReactorIsolation runs the same sequence of calls under every
// isolation mode and checks what each call sees of the calls before it.
func TestReactorIsolation(t *testing.T) {
	ok := OutcomeOK
	tests := []struct {
		name    string
		iso     Isolation
		recycle int
		steps   []reactorStep
	}{
		{"per-call counter starts at 1 every call", IsolationPerCall, 0, []reactorStep{
			{"", "count", "1", ok}, {"", "count", "1", ok}, {"alice", "count", "1", ok}, {"alice", "count", "1", ok},
		}},
		{"per-call memory never reaches the next call", IsolationPerCall, 0, []reactorStep{
			{"alice", "put secret", "ok", ok}, {"alice", "get", "empty", ok}, {"bob", "get", "empty", ok},
		}},
		{"per-call: stdout closed by one call is open for the next", IsolationPerCall, 0, []reactorStep{
			{"", "close", "", ok}, {"", "echo", "echo", ok}, {"", "close", "", ok}, {"", "count", "1", ok},
		}},
		{"per-call: a call that grew the memory is not reused", IsolationPerCall, 0, []reactorStep{
			{"", "count", "1", ok}, {"", "grow", "33554432", ok}, {"", "count", "1", ok}, {"", "get", "empty", ok},
		}},
		{"per-call: a tool error through moat.exit_code keeps the instance, reset", IsolationPerCall, 0, []reactorStep{
			{"", "put secret", "ok", ok}, {"", "code 3", "", OutcomeExit}, {"", "get", "empty", ok}, {"", "count", "1", ok},
		}},
		{"shared: a tool error through moat.exit_code keeps the instance as it is", IsolationShared, 0, []reactorStep{
			{"", "count", "1", ok}, {"", "code 3", "", OutcomeExit}, {"", "count", "2", ok},
		}},
		{"per-call: after a trap or an exit the next call starts afresh", IsolationPerCall, 0, []reactorStep{
			{"", "put secret", "ok", ok}, {"", "panic", "", OutcomeTrap}, {"", "get", "empty", ok},
			{"", "put secret", "ok", ok}, {"", "exit 3", "", OutcomeExit}, {"", "get", "empty", ok}, {"", "exit 0", "", ok}, {"", "get", "empty", ok},
		}},
		{"shared reuses one instance", IsolationShared, 0, []reactorStep{
			{"", "count", "1", ok}, {"", "count", "2", ok}, {"bob", "count", "3", ok},
		}},
		{"shared discards the instance after an error", IsolationShared, 0, []reactorStep{
			{"", "count", "1", ok}, {"", "count", "2", ok}, {"", "panic", "", OutcomeTrap}, {"", "count", "1", ok},
		}},
		{"shared discards the instance after exit 0", IsolationShared, 0, []reactorStep{
			{"", "count", "1", ok}, {"", "exit 0", "", ok}, {"", "count", "1", ok},
		}},
		{"shared recycles after N calls", IsolationShared, 2, []reactorStep{
			{"", "count", "1", ok}, {"", "count", "2", ok}, {"", "count", "1", ok}, {"", "count", "2", ok},
		}},
		{"per-principal never shares between principals", IsolationPerPrincipal, 0, []reactorStep{
			{"alice", "count", "1", ok}, {"alice", "count", "2", ok}, {"bob", "count", "1", ok}, {"alice", "count", "3", ok},
			{"alice", "put secret", "ok", ok}, {"bob", "get", "empty", ok}, {"alice", "get", "secret", ok},
		}},
		{"per-principal without a principal shares with nobody", IsolationPerPrincipal, 0, []reactorStep{
			{"", "count", "1", ok}, {"", "count", "1", ok}, {"", "put secret", "ok", ok}, {"", "get", "empty", ok},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := load(t, "", Spec{Name: "goreactor", Wasm: goReactor(t), Isolation: tt.iso})
			if tt.recycle > 0 { // DefaultRecycleAfter is 100: a shorter life, before any call
				m.rx.recycle = tt.recycle
			}
			if m.Isolation() != tt.iso {
				t.Fatalf("Isolation() = %v, want %v", m.Isolation(), tt.iso)
			}
			for i, st := range tt.steps {
				ctx := context.Background()
				if st.principal != "" {
					ctx = WithPrincipal(ctx, st.principal)
				}
				res, err := m.Call(ctx, []byte(st.in), nil)
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, st.in, err)
				}
				if res.Outcome != st.outcome {
					t.Fatalf("step %d (%s): outcome %v, want %v (%v)", i, st.in, res.Outcome, st.outcome, res.Err)
				}
				if st.outcome == OutcomeOK && string(res.Stdout) != st.want {
					t.Fatalf("step %d (%s): stdout %q, want %q", i, st.in, res.Stdout, st.want)
				}
			}
			// Per-call isolation is reached by a reset in place here (no
			// mounts, no table writes): check that the steps above ran
			// in reset instances, not only in fresh ones.
			m.rx.pool.Settle()
			if ok, why := m.ResetInPlace(); ok != (tt.iso == IsolationPerCall) {
				t.Errorf("ResetInPlace() = %v (%s)", ok, why)
			} else if ok && m.Resets() == 0 {
				t.Errorf("Resets() = 0 after %d calls", len(tt.steps))
			}
		})
	}
}

// TestReactorResetState checks what a reset instance gives each call
// besides memory: the same clock reading and the same (deterministic)
// random bytes as the first call, stdout after a
// call closed it (fd_close on stdio is refused, reset.go).
func TestReactorResetState(t *testing.T) {
	m := load(t, "", Spec{Name: "goreactor", Wasm: goReactor(t)})
	call := func(in string) *Result {
		t.Helper()
		res, err := m.Call(context.Background(), []byte(in), nil)
		if err != nil || res.Outcome != OutcomeOK {
			t.Fatalf("%s: %v, %v", in, res, err)
		}
		return res
	}
	if res := call("echo"); res.Memory != uint64(m.rx.img.Pages)*pageSize {
		t.Errorf("Memory = %d, want the snapshot's %d pages", res.Memory, m.rx.img.Pages)
	}
	first := string(call("clock").Stdout)
	for range 3 {
		if got := string(call("clock").Stdout); got != first {
			t.Fatalf("clock: %s, first call %s: time carried over from an earlier call", got, first)
		}
	}
	firstRand := string(call("rand").Stdout)
	for range 3 {
		if got := string(call("rand").Stdout); got != firstRand {
			t.Fatalf("rand: %s, first call %s: the deterministic source carried over from an earlier call", got, firstRand)
		}
	}
	if res := call("close"); !strings.Contains(strings.ToLower(string(res.Stderr)), "not supported") {
		t.Errorf("closing stdout: stderr %q, want the refusal", res.Stderr)
	}
	if got := string(call("echo").Stdout); got != "echo" {
		t.Errorf("after close: %q", got)
	}
	m.rx.pool.Settle()
	if m.Resets() < 10 {
		t.Errorf("Resets() = %d, want ≥ 10", m.Resets())
	}
}

// TestReactorResetMounts: with mounts, an instance is reset in place only
// when its call left the descriptor table as it found it.
func TestReactorResetMounts(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := load(t, "", Spec{Name: "goreactor", Wasm: goReactor(t), Mounts: []Mount{{HostDir: dir, GuestPath: "/data", ReadOnly: true}}})
	if ok, why := m.ResetInPlace(); !ok {
		t.Fatalf("ResetInPlace() = false: %s", why)
	}
	steps := []struct {
		in, want string
		reset    bool // the instance is reset after the call
	}{
		{"read /data/f", "hello", true},
		{"put secret", "ok", true},
		{"get", "empty", true},
		{"leak /data/f", "ok", false}, // a file left open
		{"read /data/f", "hello", true},
		{"closefd 3", "<nil>", false}, // the mount closed
		{"read /data/f", "hello", true},
		{"closefd 1", "", false}, // stdout closed (fd_close is not redirected with mounts)
		{"get", "empty", true},
		{"code 3", "", true}, // a tool error through moat.exit_code: the instance is reset, not replaced
		{"get", "empty", true},
	}
	var want uint64
	for i, st := range steps {
		res, err := m.Call(context.Background(), []byte(st.in), nil)
		wantOutcome := OutcomeOK
		if strings.HasPrefix(st.in, "code ") {
			wantOutcome = OutcomeExit
		}
		if err != nil || res.Outcome != wantOutcome || string(res.Stdout) != st.want {
			t.Fatalf("step %d (%s): %v %q %q, %v; want %q", i, st.in, res.Outcome, res.Stdout, res.Stderr, err, st.want)
		}
		m.rx.pool.Settle()
		if st.reset {
			want++
		}
		if got := m.Resets(); got != want {
			t.Fatalf("step %d (%s): Resets() = %d, want %d", i, st.in, got, want)
		}
	}
}

// TestReadFDs pins readFDs to the wazero in go.mod: if an upgrade moves
// the descriptor table, reset in place stops for modules with mounts
// (safe, slower), and this test says so.
func TestReadFDs(t *testing.T) {
	m := load(t, "", Spec{Name: "goreactor", Wasm: goReactor(t), Mounts: []Mount{{HostDir: t.TempDir(), GuestPath: "/data"}, {HostDir: t.TempDir(), GuestPath: "/more"}}})
	in, err := m.restore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer in.mod.Close(context.Background())
	fds, ok := readFDs(in.mod)
	if !ok {
		t.Fatal("readFDs: wazero's descriptor table is not where fdtable.go looks")
	}
	if want := []int32{0, 1, 2, 3, 4}; !slices.Equal(fds.fds, want) {
		t.Fatalf("descriptors %v, want %v (stdio and two mounts)", fds.fds, want)
	}
	if _, ok := readFDs(nil); ok {
		t.Error("readFDs(nil) = ok")
	}
}

// TestReactorTableWrites: a reactor whose calls change its table is not
// reset in place (wazero cannot restore a table), and every call still
// sees the table the snapshot had.
func TestReactorTableWrites(t *testing.T) {
	m := load(t, "lim_rx_table.wasm", Spec{Name: "table"})
	if ok, why := m.ResetInPlace(); ok || why != "it uses table.set" {
		t.Fatalf("ResetInPlace() = %v, %q", ok, why)
	}
	for i := range 3 {
		res, err := m.Call(context.Background(), nil, nil)
		if err != nil || res.Outcome != OutcomeOK || string(res.Stdout) != "a" {
			t.Fatalf("call %d: %v %q, %v; want \"a\"", i, res.Outcome, res.Stdout, err)
		}
	}
}

// TestResetModuleReserved: a module may not import the host module that
// stands in for fd_close itself.
func TestResetModuleReserved(t *testing.T) {
	wasm := guest(t, "lim_echo.wasm")
	out, err := redirectImport(wasm, "wasi_snapshot_preview1", "fd_write", resetModule)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := redirectImport(out, "wasi_snapshot_preview1", "fd_close", resetModule); err == nil || !strings.Contains(err.Error(), "reserves") {
		t.Fatalf("err = %v, want the reserved-name refusal", err)
	}
}

// TestReactorOutcomes checks that a reactor's calls report like a
// command's.
func TestReactorOutcomes(t *testing.T) {
	m := load(t, "", Spec{Name: "goreactor", Wasm: goReactor(t)})
	tests := []struct {
		in      string
		outcome Outcome
		code    uint32
		stdout  string
	}{
		{"echo", OutcomeOK, 0, "echo"},
		{`{"msg":"hi"}`, OutcomeOK, 0, `{"msg":"hi"}`},
		{"exit 0", OutcomeOK, 0, ""},
		{"exit 3", OutcomeExit, 3, ""},
		{"panic", OutcomeTrap, 0, ""}, // a panic in a wasmexport aborts: unreachable,
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			res, err := m.Call(context.Background(), []byte(tt.in), nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.outcome || res.ExitCode != tt.code || string(res.Stdout) != tt.stdout {
				t.Fatalf("got %v/%d %q, want %v/%d %q (%v)", res.Outcome, res.ExitCode, res.Stdout, tt.outcome, tt.code, tt.stdout, res.Err)
			}
		})
	}
	if m.SnapshotBytes() <= 0 {
		t.Errorf("SnapshotBytes() = %d, want > 0", m.SnapshotBytes())
	}
}

// TestReactorConcurrentShared runs shared calls from several goroutines:
// every call answers, and no more instances stay idle than the
// concurrency limit.
func TestReactorConcurrentShared(t *testing.T) {
	m := load(t, "", Spec{Name: "goreactor", Wasm: goReactor(t), Isolation: IsolationShared, Limits: Limits{MaxConcurrency: 3}})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				res, err := m.Call(context.Background(), []byte("echo"), nil)
				if err == nil && (res.Outcome != OutcomeOK || string(res.Stdout) != "echo") {
					err = errors.New("bad result " + res.Outcome.String() + " " + string(res.Stdout))
				}
				if err != nil && !errors.Is(err, ErrBusy) {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := m.IdleInstances(); n < 1 || n > 3 {
		t.Errorf("IdleInstances() = %d, want 1..3", n)
	}
}

func TestIsolationNeedsReactor(t *testing.T) {
	for _, iso := range []Isolation{IsolationShared, IsolationPerPrincipal} {
		_, err := testRT.Load(context.Background(), Spec{Name: "echo", Wasm: guest(t, "lim_echo.wasm"), Isolation: iso})
		if err == nil {
			t.Fatalf("%v: loaded a command module", iso)
		}
	}
}

// TestLoadIsolationModes: the zero Isolation is per-call; a spelling the
// manifest would refuse is refused by Load too (manifest.Isolation is the
// one vocabulary).
func TestLoadIsolationModes(t *testing.T) {
	m := load(t, "", Spec{Name: "goreactor", Wasm: goReactor(t)})
	if m.Isolation() != IsolationPerCall || m.Isolation().String() != "per-call" {
		t.Errorf("zero isolation loads as %q", m.Isolation())
	}
	for _, bad := range []Isolation{"Shared", "per_call", "none"} {
		if _, err := testRT.Load(context.Background(), Spec{Name: "x", Wasm: guest(t, "lim_echo.wasm"), Isolation: bad}); err == nil ||
			err.Error() != `isolation "`+string(bad)+`" is not an isolation mode` {
			t.Errorf("Load with isolation %q: %v", bad, err)
		}
	}
}

func TestAsReactor(t *testing.T) {
	shape, ok, err := asReactor(goReactor(t))
	if err != nil || !ok {
		t.Fatalf("goreactor: ok %v, err %v", ok, err)
	}
	if len(shape.globals) == 0 {
		t.Fatal("no globals exported")
	}
	names, err := wasmbin.Exports(mustSection(t, shape.wasm, 7))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range shape.globals {
		if names[g] != 3 {
			t.Errorf("%s not exported as a global", g)
		}
	}
	if _, ok, err := asReactor(goSandbox); ok || err != nil {
		t.Errorf("command module: ok %v, err %v", ok, err)
	}
}

func mustSection(t *testing.T, b []byte, id byte) []byte {
	t.Helper()
	secs, err := wasmbin.Sections(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs {
		if s.ID == id {
			return s.Body
		}
	}
	t.Fatalf("no section %d", id)
	return nil
}

// FuzzAsReactor feeds arbitrary bytes to the export-section rewriter: it
// must never panic, and what it returns must parse again.
func FuzzAsReactor(f *testing.F) {
	f.Add(guest(f, "lim_echo.wasm"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x07\x0d\x01\x09moat_call\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		shape, ok, err := asReactor(b)
		if err != nil || !ok {
			return
		}
		if _, err := wasmbin.Sections(shape.wasm); err != nil {
			t.Fatalf("rewritten module does not parse: %v", err)
		}
	})
}

// BenchmarkReactor measures one call of the Go reactor echo in each mode,
// next to BenchmarkCall's go_echo (a command paying the runtime's start-up).
func BenchmarkReactor(b *testing.B) {
	ctx := context.Background()
	for _, iso := range []Isolation{IsolationPerCall, IsolationShared} {
		b.Run(iso.String(), func(b *testing.B) {
			m := load(b, "", Spec{Name: "echo", Wasm: goReactor(b), Isolation: iso})
			b.ReportMetric(float64(m.SnapshotBytes()), "snapshot-bytes")
			for b.Loop() {
				res, err := m.Call(ctx, benchInput, nil)
				if err != nil || res.Outcome != OutcomeOK || len(res.Stdout) != len(benchInput) {
					b.Fatalf("%+v, %v", res, err)
				}
			}
		})
	}
}

// TestIdlePoolTrimAfterBurst: after a burst, the pool goes back to what the calls
// since the last trim needed within two trim windows, keeping the most
// recently used instance; a steady load keeps what it uses. The burst is
// made by hand (three instances put back, as three calls at once would)
// and the trims are run by hand (the timer only records them), so that
// neither the scheduler nor the clock decides what is tested.
func TestIdlePoolTrimAfterBurst(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, &Options{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	timers := manualPoolTimer(rt)
	m := loadOn(t, rt, Spec{Name: "goreactor", Wasm: goReactor(t), Limits: Limits{MaxConcurrency: 4}})
	p := m.rx.pool
	p.Settle()
	p.Drain(ctx)
	burst := func(n int) {
		for range n {
			in, err := m.restore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p.Put(ctx, in, "")
		}
	}
	burst(3)
	select {
	case <-timers:
	default:
		t.Fatal("no trim scheduled with 3 idle instances")
	}
	// The first trim after the burst sees a window the burst was in (the
	// low-water mark of the drained pool): it keeps all three.
	p.Trim()
	if n := m.IdleInstances(); n != 3 {
		t.Fatalf("IdleInstances() = %d after the first trim, want 3", n)
	}
	// A call in the next window takes one (and its reset puts it back):
	// two were not needed, and go; the last one used stays.
	if res, err := m.Call(ctx, []byte("count"), nil); err != nil || string(res.Stdout) != "1" {
		t.Fatalf("call: %v, %v", res, err)
	}
	p.Settle()
	p.Trim()
	if n := m.IdleInstances(); n != 1 {
		t.Fatalf("IdleInstances() = %d after the second trim, want 1", n)
	}
	if n := rt.idle.Len(); n != 1 {
		t.Fatalf("host-wide idle count %d, want 1", n)
	}
	if res, err := m.Call(ctx, []byte("count"), nil); err != nil || string(res.Stdout) != "1" {
		t.Fatalf("after the trim: %v, %v", res, err)
	}
}

// TestReadFDsPinnedToWazero: fdtable.go reads wazero's unexported
// descriptor table by reflection along wazero 1.12's layout; the wazero in
// go.mod must be the version that layout was checked against.
func TestReadFDsPinnedToWazero(t *testing.T) {
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Skip("not run from the module tree")
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/tetratelabs/wazero (v\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod names no wazero version")
	}
	if got := string(m[1]); got != fdLayoutWazero {
		t.Fatalf("go.mod has wazero %s, fdtable.go follows %s's layout: re-check readFDs's path (TestReadFDs), then update fdLayoutWazero", got, fdLayoutWazero)
	}
}

// TestIdleInstancesHostWideCap: each module keeps at most its
// max_concurrency idle instances, and the runtime at most
// MaxIdleInstances across all modules: past it, a finished instance is
// closed, not kept; one taken for a call frees its place.
func TestIdleInstancesHostWideCap(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, &Options{NoCache: true, MaxIdleInstances: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	manualPoolTimer(rt) // no trim while the test counts
	var mods []*Module
	for _, name := range []string{"a", "b"} {
		m := loadOn(t, rt, Spec{Name: name, Wasm: goReactor(t), Limits: Limits{MaxConcurrency: 4}})
		m.rx.pool.Settle()
		m.rx.pool.Drain(ctx)
		mods = append(mods, m)
	}
	put := func(m *Module, n int) {
		for range n {
			in, err := m.restore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m.rx.pool.Put(ctx, in, "")
		}
	}
	put(mods[0], 2)
	put(mods[1], 2) // one over the host-wide cap of 3: closed
	if a, b, n := mods[0].IdleInstances(), mods[1].IdleInstances(), rt.idle.Len(); a != 2 || b != 1 || n != 3 {
		t.Fatalf("idle a=%d b=%d, pool %d; want 2, 1, 3", a, b, n)
	}
	if in, ok := mods[0].rx.pool.Take(""); !ok {
		t.Fatal("no idle instance to take")
	} else {
		in.mod.Close(ctx)
	}
	put(mods[1], 1) // the taken one's place
	if b, n := mods[1].IdleInstances(), rt.idle.Len(); b != 2 || n != 3 {
		t.Fatalf("after a take: idle b=%d, pool %d; want 2, 3", b, n)
	}
	mods[1].rx.pool.Drain(ctx)
	if n := rt.idle.Len(); n != 1 {
		t.Fatalf("pool %d after draining b; want 1", n)
	}
}

// manualPoolTimer makes the idle pools of modules loaded on rt from now
// on schedule their trims on a channel instead of a clock: a test runs
// them (Pool.Trim) when it chooses. The channel receives each scheduled
// trim; it holds 64, and later ones are dropped.
func manualPoolTimer(rt *Runtime) <-chan func() {
	timers := make(chan func(), 64)
	rt.poolTimer = func(_ time.Duration, f func()) reactor.Timer {
		select {
		case timers <- f:
		default:
		}
		return stoppedTimer{}
	}
	return timers
}

type stoppedTimer struct{}

func (stoppedTimer) Stop() bool { return true }
