package sandbox

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/wasmbin"

	"github.com/moatmcp/moat/internal/bytesize"

	"github.com/tetratelabs/wazero"
)

const guestDir = "../../testdata/guests"

var (
	testRT    *Runtime // shared by the tests: one runtime, one cache
	goSandbox []byte   // testdata/guests/gosandbox built for wasip1
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "moat-sandbox-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if goSandbox, err = buildGoGuest(tmp, "gosandbox"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	testRT, err = New(ctx, &Options{CacheDir: filepath.Join(tmp, "cache")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testRT.Close(ctx)
	return m.Run()
}

// buildGoGuest builds testdata/guests/NAME with GOOS=wasip1 GOARCH=wasm.
func buildGoGuest(dir, name string) ([]byte, error) {
	out := filepath.Join(dir, name+".wasm")
	cmd := exec.Command("go", "build", "-o", out, "./"+filepath.ToSlash(filepath.Join(guestDir, name)))
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s: %v\n%s", name, err, msg)
	}
	return os.ReadFile(out)
}

func guest(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(guestDir, file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// load loads spec (Wasm from file unless set) and closes it after the test.
func load(t testing.TB, file string, spec Spec) *Module {
	t.Helper()
	if spec.Wasm == nil {
		spec.Wasm = guest(t, file)
	}
	if spec.Name == "" {
		spec.Name = strings.TrimSuffix(file, ".wasm")
	}
	m, err := testRT.Load(context.Background(), spec)
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func TestCall(t *testing.T) {
	tests := []struct {
		name     string
		file     string // in testdata/guests; "" = the Go guest
		spec     Spec
		stdin    string
		outcome  Outcome
		exitCode uint32
		stdout   string // exact, unless stdoutLen is set
		// stdoutLen, stderrLen: exact lengths, for floods
		stdoutLen, stderrLen int
		stderrHas            string
	}{
		{name: "wat echo", file: "lim_echo.wasm", stdin: `{"a":[1,2,"\u00e9"]}`, outcome: OutcomeOK, stdout: `{"a":[1,2,"\u00e9"]}`},
		{name: "wat echo empty", file: "lim_echo.wasm", stdin: "", outcome: OutcomeOK, stdout: ""},
		{name: "c echo", file: "lim_cecho.wasm", stdin: "héllo\x00\xff", outcome: OutcomeOK, stdout: "héllo\x00\xff"},
		{name: "go echo", spec: Spec{Name: "echo"}, stdin: `{"x":1}`, outcome: OutcomeOK, stdout: `{"x":1}`},
		{name: "exit 0", file: "lim_exit.wasm", stdin: "0", outcome: OutcomeOK, exitCode: 0},
		{name: "moat.exit_code, then return", file: "lim_exitcode.wasm", stdin: "r", outcome: OutcomeExit, exitCode: 7},
		{name: "moat.exit_code, then proc_exit(0)", file: "lim_exitcode.wasm", stdin: "p", outcome: OutcomeExit, exitCode: 7},
		{name: "exit 1", file: "lim_exit.wasm", stdin: "1", outcome: OutcomeExit, exitCode: 1},
		{name: "exit 3", file: "lim_exit.wasm", stdin: "3", outcome: OutcomeExit, exitCode: 3},
		{name: "exit 255", file: "lim_exit.wasm", stdin: "255", outcome: OutcomeExit, exitCode: 255},
		{name: "unreachable", file: "lim_trap.wasm", outcome: OutcomeTrap},
		{name: "out of bounds load", file: "lim_oob.wasm", outcome: OutcomeTrap},
		// A generous timeout: unwinding a deep stack under -race on a busy
		// machine took longer than the default 10 s once, which made it
		// a timeout.
		{name: "stack overflow", file: "lim_recurse.wasm", spec: Spec{Limits: Limits{Timeout: 5 * time.Minute}}, outcome: OutcomeTrap},
		{name: "go panic", spec: Spec{Name: "panic"}, outcome: OutcomeExit, exitCode: 2, stderrHas: "gosandbox: deliberate panic"},
		{name: "wat memory bomb", file: "lim_membomb.wasm", spec: Spec{Limits: Limits{MemoryBytes: 4 << 20}}, outcome: OutcomeMemory},
		{name: "wat own max", file: "lim_ownmax.wasm", outcome: OutcomeMemory},
		{name: "c malloc bomb", file: "lim_cmalloc.wasm", spec: Spec{Limits: Limits{MemoryBytes: 4 << 20}}, outcome: OutcomeMemory, stderrHas: "out of memory"},
		{name: "go memory bomb", spec: Spec{Name: "bomb", Limits: Limits{MemoryBytes: 16 << 20}}, outcome: OutcomeMemory, stderrHas: "out of memory"},
		{name: "stdout flood", file: "lim_stdout_flood.wasm", spec: Spec{Limits: Limits{MaxOutputBytes: 10000}}, outcome: OutcomeOutputOverflow, stdoutLen: 10000},
		{name: "stderr flood", file: "lim_stderr_flood.wasm", spec: Spec{Limits: Limits{MaxStderrBytes: 5000}}, outcome: OutcomeOutputOverflow, stderrLen: 5000},
		{name: "stdout flood default cap", file: "lim_stdout_flood.wasm", outcome: OutcomeOutputOverflow, stdoutLen: DefaultMaxOutputBytes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if tc.file == "" {
				spec.Wasm = goSandbox
			}
			m := load(t, tc.file, spec)
			res, err := m.Call(context.Background(), []byte(tc.stdin), nil)
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if res.Outcome != tc.outcome || res.ExitCode != tc.exitCode {
				t.Fatalf("outcome %v exit %d, want %v exit %d (err %v, stderr %q)", res.Outcome, res.ExitCode, tc.outcome, tc.exitCode, res.Err, res.Stderr)
			}
			if (res.Err == nil) != (tc.outcome == OutcomeOK) {
				t.Errorf("Err = %v for outcome %v", res.Err, res.Outcome)
			}
			switch {
			case tc.stdoutLen > 0:
				if len(res.Stdout) != tc.stdoutLen {
					t.Errorf("len(stdout) = %d, want %d", len(res.Stdout), tc.stdoutLen)
				}
			case string(res.Stdout) != tc.stdout:
				t.Errorf("stdout = %q, want %q", res.Stdout, tc.stdout)
			}
			if tc.stderrLen > 0 && len(res.Stderr) != tc.stderrLen {
				t.Errorf("len(stderr) = %d, want %d", len(res.Stderr), tc.stderrLen)
			}
			if !strings.Contains(string(res.Stderr), tc.stderrHas) {
				t.Errorf("stderr = %q, want it to contain %q", res.Stderr, tc.stderrHas)
			}
		})
	}
}

// TestCallTimeout checks that a looping guest is stopped at its timeout.
// The bound on Duration is a correctness bound (the guest was stopped at
// all), not a speed target.
func TestCallTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	m := load(t, "lim_loop.wasm", Spec{Limits: Limits{Timeout: timeout}})
	res, err := m.Call(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeTimeout {
		t.Fatalf("outcome %v, want timeout (err %v)", res.Outcome, res.Err)
	}
	// Only the lower bound: how soon after its timeout a guest is seen
	// stopped depends on the machine's load, and a guest never stopped
	// would not return at all.
	if res.Duration < timeout {
		t.Errorf("Duration = %v, want at least the timeout %v", res.Duration, timeout)
	}
}

// TestCallSleepTimeout: a guest granted the real clock sleeps an hour at a
// time; the call's timeout must still stop it.
func TestCallSleepTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	m := load(t, "lim_sleep.wasm", Spec{RealClock: true, Limits: Limits{Timeout: timeout}})
	res, err := m.Call(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeTimeout { // after an hour's sleep it would not have returned
		t.Fatalf("outcome %v after %v, want timeout (err %v)", res.Outcome, res.Duration, res.Err)
	}
}

// startLooper starts a looping call with a long timeout and returns a
// channel with its result and the func that cancels it.
func startLooper(t *testing.T, m *Module) (<-chan *Result, context.CancelFunc) {
	t.Helper()
	m.mu.Lock()
	if m.testStarted == nil {
		m.testStarted = make(chan struct{}, 16)
	}
	m.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Result, 1)
	go func() {
		res, err := m.Call(ctx, nil, nil)
		if err != nil {
			t.Errorf("looper: %v", err)
		}
		done <- res
	}()
	return done, cancel
}

// waitRunning waits until n calls of m have started (hold their slot and
// their memory): an event from Call itself, not a poll.
func waitRunning(m *Module, n int) {
	for range n {
		<-m.testStarted
	}
}

func TestCallCanceled(t *testing.T) {
	m := load(t, "lim_loop.wasm", Spec{Limits: Limits{Timeout: time.Minute}})
	done, cancel := startLooper(t, m)
	waitRunning(m, 1)
	cancel()
	res := <-done
	if res == nil || res.Outcome != OutcomeCanceled {
		t.Fatalf("result %+v, want canceled", res)
	}
}

func TestCallCanceledBeforeStart(t *testing.T) {
	m := load(t, "lim_echo.wasm", Spec{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := m.Call(ctx, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeCanceled {
		t.Fatalf("outcome %v, want canceled", res.Outcome)
	}
}

// TestRunawaysDoNotStarve runs two looping guests (as many as this
// machine has cores) and checks that a third, quick call still completes.
func TestRunawaysDoNotStarve(t *testing.T) {
	loop := load(t, "lim_loop.wasm", Spec{Limits: Limits{Timeout: 10 * time.Minute}})
	echo := load(t, "lim_echo.wasm", Spec{})
	done1, cancel1 := startLooper(t, loop)
	done2, cancel2 := startLooper(t, loop)
	waitRunning(loop, 2)

	res, err := echo.Call(context.Background(), []byte("still here"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeOK || string(res.Stdout) != "still here" {
		t.Errorf("third call: outcome %v stdout %q, want ok %q", res.Outcome, res.Stdout, "still here")
	}
	cancel1()
	cancel2()
	for _, done := range []<-chan *Result{done1, done2} {
		if r := <-done; r == nil || r.Outcome != OutcomeCanceled {
			t.Errorf("looper: %+v, want canceled", r)
		}
	}
}

func TestCallBusy(t *testing.T) {
	m := load(t, "lim_loop.wasm", Spec{Limits: Limits{Timeout: time.Minute, MaxConcurrency: 1}})
	done, cancel := startLooper(t, m)
	defer func() { cancel(); <-done }()
	waitRunning(m, 1)

	ctx, stop := context.WithCancel(context.Background())
	stop()
	res, err := m.Call(ctx, nil, nil)
	if !errors.Is(err, ErrBusy) || res != nil {
		t.Fatalf("Call = %v, %v; want ErrBusy", res, err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v should wrap the ctx's cause", err)
	}
}

// TestCallBusySlotWait: WithSlotWait bounds how long a call waits for a
// slot ([rate_limits] concurrency_wait), well under the module's timeout.
func TestCallBusySlotWait(t *testing.T) {
	m := load(t, "lim_loop.wasm", Spec{Limits: Limits{Timeout: time.Hour, MaxConcurrency: 1}})
	done, cancel := startLooper(t, m)
	defer func() { cancel(); <-done }()
	waitRunning(m, 1)

	res, err := m.Call(WithSlotWait(context.Background(), time.Millisecond), nil, nil)
	if !errors.Is(err, ErrBusy) || res != nil || err.Error() != "too many concurrent calls (1 running): no slot freed within 1ms" {
		t.Fatalf("Call = %v, %v; want ErrBusy after 1ms", res, err)
	}
}

func TestCallInputTooLarge(t *testing.T) {
	m := load(t, "lim_echo.wasm", Spec{Limits: Limits{MaxInputBytes: 10}})
	res, err := m.Call(context.Background(), []byte("0123456789"), nil)
	if err != nil || res.Outcome != OutcomeOK || string(res.Stdout) != "0123456789" {
		t.Fatalf("at the cap: %+v, %v; want ok", res, err)
	}
	res, err = m.Call(context.Background(), []byte("0123456789x"), nil)
	if !errors.Is(err, ErrInputTooLarge) || res != nil {
		t.Fatalf("over the cap: %v, %v; want ErrInputTooLarge", res, err)
	}
}

func TestCallAfterClose(t *testing.T) {
	m := load(t, "lim_echo.wasm", Spec{})
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Call(context.Background(), nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call after Close: %v, want ErrClosed", err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestCloseStopsCalls: Close waits for calls in flight, and stops them when
// its own ctx ends first.
func TestCloseStopsCalls(t *testing.T) {
	m := load(t, "lim_loop.wasm", Spec{Limits: Limits{Timeout: 10 * time.Minute}})
	done, cancel := startLooper(t, m)
	defer cancel()
	waitRunning(m, 1)
	ctx, stop := context.WithCancel(context.Background())
	stop()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r == nil || r.Outcome != OutcomeCanceled {
		t.Fatalf("in-flight call: %+v, want canceled", r)
	}
}

// sysReport is what lim_sys prints.
type sysReport struct {
	args, env []string
	time      int64
	rand      string
}

func runSys(t *testing.T, m *Module) sysReport {
	t.Helper()
	res, err := m.Call(context.Background(), nil, nil)
	if err != nil || res.Outcome != OutcomeOK {
		t.Fatalf("lim_sys: %+v, %v", res, err)
	}
	var r sysReport
	for _, line := range strings.Split(strings.TrimSuffix(string(res.Stdout), "\n"), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "arg":
			r.args = append(r.args, v)
		case "env":
			r.env = append(r.env, v)
		case "time":
			r.time, _ = strconv.ParseInt(v, 10, 64)
		case "rand":
			r.rand = v
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	return r
}

func TestSysArgsEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
	}{
		{name: "no env", env: nil},
		{name: "declared env", env: []string{"LANG=C.UTF-8", "EMPTY=", "EQ=a=b"}},
	}
	t.Setenv("MOAT_SANDBOX_LEAK", "host value") // must never reach a guest
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, "lim_sys.wasm", Spec{Name: "my_tool", Env: tc.env})
			r := runSys(t, m)
			if want := []string{"my_tool"}; fmt.Sprint(r.args) != fmt.Sprint(want) {
				t.Errorf("args = %q, want %q", r.args, want)
			}
			if fmt.Sprintf("%q", r.env) != fmt.Sprintf("%q", tc.env) && !(len(r.env) == 0 && len(tc.env) == 0) {
				t.Errorf("env = %q, want exactly %q", r.env, tc.env)
			}
		})
	}
}

func TestSysClockRandom(t *testing.T) {
	fake := load(t, "lim_sys.wasm", Spec{Name: "fake"})
	real := load(t, "lim_sys.wasm", Spec{Name: "real", RealClock: true, RealRandom: true})
	f1, f2 := runSys(t, fake), runSys(t, fake)
	r1, r2 := runSys(t, real), runSys(t, real)

	if f1.time != f2.time || f1.rand != f2.rand {
		t.Errorf("fake clock/random differ between calls: %d %s vs %d %s", f1.time, f1.rand, f2.time, f2.rand)
	}
	now := time.Now().UnixNano()
	if d := now - f1.time; d < 24*int64(time.Hour) {
		t.Errorf("fake clock %d is within a day of now %d", f1.time, now)
	}
	if d := now - r1.time; d < 0 || d > int64(time.Hour) {
		t.Errorf("real clock %d is not within an hour before now %d", r1.time, now)
	}
	if r1.rand == r2.rand || r1.rand == f1.rand || len(r1.rand) != 32 {
		t.Errorf("crypto random %s, %s (fake %s): want two different 16-byte values", r1.rand, r2.rand, f1.rand)
	}
}

// TestCommandSysDefaults pins what a command without the clock and random
// grants reads, on every call and in concurrent calls (which each take
// their own pooled commandIO): wazero's defaults for a new instance, the
// fake epoch (2022-01-01) and math/rand seeded with 42.
func TestCommandSysDefaults(t *testing.T) {
	m := load(t, "lim_sys.wasm", Spec{Name: "fake", Limits: Limits{MaxConcurrency: 4}})
	want := make([]byte, 16)
	mrand.New(mrand.NewSource(42)).Read(want)
	check := func(r sysReport) error {
		if r.time != fakeEpoch || r.rand != hex.EncodeToString(want) {
			return fmt.Errorf("time %d, rand %s; want %d, %x", r.time, r.rand, fakeEpoch, want)
		}
		return nil
	}
	for i := range 3 {
		if err := check(runSys(t, m)); err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			res, err := m.Call(context.Background(), nil, nil)
			if err != nil || res.Outcome != OutcomeOK {
				errs <- fmt.Errorf("call: %v, %v", res, err)
				return
			}
			if !strings.Contains(string(res.Stdout), fmt.Sprintf("time %d\nrand %x\n", fakeEpoch, want)) {
				errs <- fmt.Errorf("concurrent call read %q", res.Stdout)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMounts(t *testing.T) {
	rw := t.TempDir()
	spec := Spec{Mounts: []Mount{
		{HostDir: "../../testdata/public-files", GuestPath: "/data", ReadOnly: true},
		{HostDir: rw, GuestPath: "/out"},
	}}
	m := load(t, "lim_fs.wasm", spec)
	readme, err := os.ReadFile("../../testdata/public-files/README.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cmd     string
		outcome Outcome
		stdout  string
	}{
		{cmd: "r /data/README.txt", outcome: OutcomeOK, stdout: string(readme)},
		{cmd: "w /data/new.txt", outcome: OutcomeExit, stdout: "error: Read-only file system\n"},
		{cmd: "r /data/../../../etc/passwd", outcome: OutcomeExit, stdout: "error: Operation not permitted\n"},
		{cmd: "r /etc/passwd", outcome: OutcomeExit, stdout: "error: Capabilities insufficient\n"},
		{cmd: "w /out/new.txt", outcome: OutcomeOK, stdout: ""},
		{cmd: "r /out/new.txt", outcome: OutcomeOK, stdout: "hi"},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			res, err := m.Call(context.Background(), []byte(tc.cmd), nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.outcome || string(res.Stdout) != tc.stdout {
				t.Errorf("got %v %q, want %v %q", res.Outcome, res.Stdout, tc.outcome, tc.stdout)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(rw, "new.txt")); err != nil || string(b) != "hi" {
		t.Errorf("host file: %q, %v; want \"hi\"", b, err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		spec Spec
		want string // the exact error text
		is   error  // or, if set, the sentinel/type it must match and a prefix
	}{
		{name: "not wasm", spec: Spec{Wasm: []byte("#!/bin/sh\necho hi\n")}, want: "not a WebAssembly module"},
		{name: "empty", spec: Spec{Wasm: []byte{}}, want: "not a WebAssembly module"},
		{name: "component", spec: Spec{Wasm: []byte("\x00asm\x0d\x00\x01\x00")}, want: wasmbin.ErrVersion.Error()},
		{name: "truncated", spec: Spec{Wasm: []byte("\x00asm\x01\x00\x00\x00\x01\x05")}, want: "compile: "},
		{name: "unknown import", file: "lim_import_env.wasm", want: `module imports "env.foo", which moat does not provide`},
		{name: "moat import without grant", file: "lim_import_net.wasm", want: `module imports "moat.http_request", which needs the [net] grant`},
		{name: "unknown wasi function", file: "lim_import_wasi_bogus.wasm", want: `module imports "wasi_snapshot_preview1.fd_teleport", which moat does not provide`},
		{name: "moat.log wrong type", file: "lim_import_badsig.wasm", want: `module imports "moat.log" with type (i64) -> (), but moat provides (i32, i32, i32) -> ()`},
		{name: "no _start", file: "lim_nostart.wasm", want: "module exports no _start function (ABI v1 needs a WASI command module)"},
		{name: "memory over limit", file: "lim_bigmem.wasm", spec: Spec{Limits: Limits{MemoryBytes: 1 << 20}}, want: "module declares a minimum memory of 6400KiB (100 pages), over its limit of 1MiB"},
		{name: "no name", file: "lim_echo.wasm", spec: Spec{Name: "-"}, want: "module has no name"},
		{name: "env without =", file: "lim_echo.wasm", spec: Spec{Env: []string{"LANG"}}, want: `env entry "LANG" is not NAME=value`},
		{name: "env empty name", file: "lim_echo.wasm", spec: Spec{Env: []string{"=x"}}, want: `env entry "" is not NAME=value`},
		{name: "env twice", file: "lim_echo.wasm", spec: Spec{Env: []string{"A=1", "A=2"}}, want: "env A declared twice"},
		{name: "env NUL", file: "lim_echo.wasm", spec: Spec{Env: []string{"A=1\x00B=2"}}, want: "env A contains a NUL byte"},
		{name: "relative guest path", file: "lim_echo.wasm", spec: Spec{Mounts: []Mount{{HostDir: ".", GuestPath: "data"}}}, want: `mount "data": guest path must be absolute and clean`},
		{name: "unclean guest path", file: "lim_echo.wasm", spec: Spec{Mounts: []Mount{{HostDir: ".", GuestPath: "/data/../etc"}}}, want: `mount "/data/../etc": guest path must be absolute and clean`},
		{name: "guest path twice", file: "lim_echo.wasm", spec: Spec{Mounts: []Mount{{HostDir: ".", GuestPath: "/d"}, {HostDir: ".", GuestPath: "/d"}}}, want: "mount /d: guest path mounted twice"},
		{name: "missing host dir", file: "lim_echo.wasm", spec: Spec{Mounts: []Mount{{HostDir: "/nonexistent/moat", GuestPath: "/d"}}}, want: "mount /d: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if spec.Wasm == nil {
				spec.Wasm = guest(t, tc.file)
			}
			switch spec.Name {
			case "":
				spec.Name = "t"
			case "-":
				spec.Name = ""
			}
			m, err := testRT.Load(context.Background(), spec)
			if err == nil {
				m.Close(context.Background())
				t.Fatalf("Load succeeded, want %q", tc.want)
			}
			if strings.HasSuffix(tc.want, ": ") {
				if !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("err = %q, want prefix %q", err, tc.want)
				}
			} else if err.Error() != tc.want {
				t.Fatalf("err = %q,\nwant  %q", err, tc.want)
			}
		})
	}
}

func TestLoadImportError(t *testing.T) {
	_, err := testRT.Load(context.Background(), Spec{Name: "t", Wasm: guest(t, "lim_import_net.wasm")})
	var ie *ImportError
	if !errors.As(err, &ie) || *ie != (ImportError{Module: "moat", Name: "http_request", Kind: "function", Grant: "net"}) {
		t.Fatalf("err = %#v, want an *ImportError for moat.http_request needing net", err)
	}
}

// TestLoadGoMinimum: a Go guest declares a few MiB of minimum memory; under
// a smaller limit it is refused at load, not on every call.
func TestLoadGoMinimum(t *testing.T) {
	pages, err := declaredMinPages(goSandbox)
	if err != nil || pages < 2 {
		t.Fatalf("declaredMinPages = %d, %v", pages, err)
	}
	limit := uint64(pages-1) * pageSize
	_, err = testRT.Load(context.Background(), Spec{Name: "echo", Wasm: goSandbox, Limits: Limits{MemoryBytes: limit}})
	want := fmt.Sprintf("module declares a minimum memory of %s (%d pages), over its limit of %s",
		bytesize.Format(uint64(pages)*pageSize), pages, bytesize.Format(limit))
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	load(t, "", Spec{Name: "echo", Wasm: goSandbox, Limits: Limits{MemoryBytes: uint64(pages) * pageSize}})
}

func TestLoadMemoryAtLimit(t *testing.T) {
	// 100 pages fit a 100-page limit exactly; a call runs.
	m := load(t, "lim_bigmem.wasm", Spec{Limits: Limits{MemoryBytes: 100 * pageSize}})
	res, err := m.Call(context.Background(), nil, nil)
	if err != nil || res.Outcome != OutcomeOK {
		t.Fatalf("%+v, %v; want ok", res, err)
	}
}

func TestNotify(t *testing.T) {
	type note struct {
		kind            string
		level           int
		progress, total float64
		msg             string
	}
	tests := []struct {
		mode    string
		outcome Outcome
		notes   []note
		count   int // when notes is nil: how many notes
	}{
		{mode: "l", outcome: OutcomeOK, notes: []note{
			{kind: "log", level: 3, msg: "hello"},
			{kind: "log", level: 7, msg: "high"},
			{kind: "log", level: 0, msg: "low"},
		}},
		{mode: "p", outcome: OutcomeOK, notes: []note{
			{kind: "progress", progress: 1, total: 10, msg: "step"},
			{kind: "progress", progress: 2, total: 0, msg: ""},
		}},
		{mode: "b", outcome: OutcomeTrap, notes: nil, count: 0},
		{mode: "f", outcome: OutcomeOK, count: MaxNotifications},
		{mode: "g", outcome: OutcomeOK, notes: []note{{kind: "log", level: 1, msg: strings.Repeat("a", 4095)}}},
	}
	m := load(t, "lim_notify.wasm", Spec{})
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			var got []note
			hooks := &Hooks{
				Log: func(level int, msg string) { got = append(got, note{kind: "log", level: level, msg: msg}) },
				Progress: func(p, total float64, msg string) {
					got = append(got, note{kind: "progress", progress: p, total: total, msg: msg})
				},
			}
			res, err := m.Call(context.Background(), []byte(tc.mode), hooks)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.outcome {
				t.Fatalf("outcome %v, want %v (err %v)", res.Outcome, tc.outcome, res.Err)
			}
			if tc.notes == nil {
				if len(got) != tc.count {
					t.Errorf("%d notifications, want %d", len(got), tc.count)
				}
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.notes) {
				t.Errorf("notifications:\n got %v\nwant %v", got, tc.notes)
			}
		})
	}
	// Concurrent calls each see only their own notifications.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int
			hooks := &Hooks{Log: func(int, string) { n++ }}
			res, err := m.Call(context.Background(), []byte("f"), hooks)
			if err != nil || res.Outcome != OutcomeOK || n != MaxNotifications {
				t.Errorf("concurrent call %d: %d notifications, %v, %v", i, n, res, err)
			}
		}()
	}
	wg.Wait()
	// Without hooks the same calls run and drop everything.
	for _, mode := range []string{"l", "p", "f"} {
		if res, err := m.Call(context.Background(), []byte(mode), nil); err != nil || res.Outcome != OutcomeOK {
			t.Errorf("mode %s without hooks: %+v, %v", mode, res, err)
		}
	}
	if res, err := m.Call(context.Background(), []byte("b"), &Hooks{}); err != nil || res.Outcome != OutcomeTrap {
		t.Errorf("bad pointer with empty hooks: %+v, %v; want trap", res, err)
	}
}

func TestCapMessage(t *testing.T) {
	long := strings.Repeat("a", MaxNotifyMessage)
	tests := []struct {
		name, in, want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "short", in: "hello", want: "hello"},
		{name: "at cap", in: long, want: long},
		{name: "over cap", in: long + "b", want: long},
		{name: "rune across cap", in: long[1:] + "é", want: long[1:]},
		{name: "4-byte rune across cap", in: long[2:] + "😀", want: long[2:]},
		{name: "invalid byte", in: "a\xffb", want: "a\uFFFDb"},
		{name: "invalid bytes pushed over cap", in: long[4:] + "\xff\xff", want: long[4:] + "\uFFFD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := capMessage([]byte(tc.in)); got != tc.want {
				t.Errorf("capMessage = %q (len %d), want len %d", trunc(got), len(got), len(tc.want))
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 20 {
		return s[:10] + "…" + s[len(s)-10:]
	}
	return s
}

func TestOutcomeString(t *testing.T) {
	want := map[Outcome]string{
		OutcomeOK: "ok", OutcomeExit: "exit", OutcomeTimeout: "timeout", OutcomeMemory: "memory",
		OutcomeOutputOverflow: "output_overflow", OutcomeTrap: "trap", OutcomeCanceled: "canceled", Outcome(42): "outcome(42)",
	}
	for o, s := range want {
		if o.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(o), o.String(), s)
		}
	}
}

func TestLimitsDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Limits
		want Limits
	}{
		{name: "zero", in: Limits{}, want: Limits{MemoryBytes: 64 << 20, Timeout: 10 * time.Second, MaxInputBytes: 1 << 20, MaxOutputBytes: 1 << 20, MaxStderrBytes: 64 << 10, MaxConcurrency: 8}},
		{name: "rounds memory up", in: Limits{MemoryBytes: 1, Timeout: time.Second, MaxInputBytes: 1, MaxOutputBytes: 2, MaxStderrBytes: 3, MaxConcurrency: 1}, want: Limits{MemoryBytes: 64 << 10, Timeout: time.Second, MaxInputBytes: 1, MaxOutputBytes: 2, MaxStderrBytes: 3, MaxConcurrency: 1}},
		{name: "caps memory at 4 GiB", in: Limits{MemoryBytes: 1 << 40}, want: Limits{MemoryBytes: 4 << 30, Timeout: 10 * time.Second, MaxInputBytes: 1 << 20, MaxOutputBytes: 1 << 20, MaxStderrBytes: 64 << 10, MaxConcurrency: 8}},
		{name: "overflowing memory", in: Limits{MemoryBytes: ^uint64(0)}, want: Limits{MemoryBytes: 4 << 30, Timeout: 10 * time.Second, MaxInputBytes: 1 << 20, MaxOutputBytes: 1 << 20, MaxStderrBytes: 64 << 10, MaxConcurrency: 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults(); got != tc.want {
				t.Errorf("withDefaults = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCacheDir(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the CacheDir to use
		want  error                                 // nil: New succeeds
	}{
		{name: "created", setup: func(t *testing.T, dir string) string { return filepath.Join(dir, "a", "b") }},
		{name: "existing private", setup: func(t *testing.T, dir string) string { return mkdir(t, dir, "c", 0o700) }},
		{name: "group readable", setup: func(t *testing.T, dir string) string { return mkdir(t, dir, "c", 0o750) }},
		{name: "world writable", setup: func(t *testing.T, dir string) string { return mkdir(t, dir, "c", 0o777) }, want: ErrInsecureCacheDir},
		{name: "group writable", setup: func(t *testing.T, dir string) string { return mkdir(t, dir, "c", 0o770) }, want: ErrInsecureCacheDir},
		{name: "symlink", setup: func(t *testing.T, dir string) string {
			target := mkdir(t, dir, "target", 0o700)
			link := filepath.Join(dir, "link")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, want: ErrInsecureCacheDir},
		{name: "insecure wazero subdir", setup: func(t *testing.T, dir string) string {
			c := mkdir(t, dir, "c", 0o700)
			mkdir(t, c, "wazero-anything", 0o777)
			return c
		}, want: ErrInsecureCacheDir},
		{name: "other owner", setup: func(t *testing.T, dir string) string {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			c := mkdir(t, dir, "c", 0o700)
			if err := os.Chown(c, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			return c
		}, want: ErrInsecureCacheDir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t, t.TempDir())
			r, err := New(ctx, &Options{CacheDir: dir})
			if r != nil {
				defer r.Close(ctx)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				fi, err := os.Lstat(dir)
				if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
					t.Fatalf("cache dir %v, %v", fi.Mode(), err)
				}
				return
			}
			if !errors.Is(err, tc.want) || r != nil {
				t.Fatalf("New = %v, %v; want %v", r, err, tc.want)
			}
		})
	}
}

func mkdir(t *testing.T, parent, name string, mode os.FileMode) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.Mkdir(d, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return d
}

func TestNoCache(t *testing.T) {
	ctx := context.Background()
	r, err := New(ctx, &Options{NoCache: true, CacheDir: "/nonexistent/never/created"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	m, err := r.Load(ctx, Spec{Name: "echo", Wasm: guest(t, "lim_echo.wasm")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Call(ctx, []byte("x"), nil)
	if err != nil || res.Outcome != OutcomeOK || string(res.Stdout) != "x" {
		t.Fatalf("%+v, %v", res, err)
	}
	if _, err := os.Stat("/nonexistent/never/created"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NoCache created the cache dir: %v", err)
	}
	// Closing the runtime closes its modules.
	r.Close(ctx)
	if _, err := m.Call(ctx, nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Call after Runtime.Close: %v, want ErrClosed", err)
	}
	if err := m.Close(ctx); err != nil {
		t.Errorf("Module.Close after Runtime.Close: %v", err)
	}
	if _, err := r.Load(ctx, Spec{Name: "echo", Wasm: guest(t, "lim_echo.wasm")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Runtime.Close: %v, want ErrClosed", err)
	}
}

// TestConcurrentCalls runs the same module from several goroutines; each
// call must see only its own stdin.
func TestConcurrentCalls(t *testing.T) {
	m := load(t, "lim_echo.wasm", Spec{Limits: Limits{MaxConcurrency: 4}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				in := fmt.Sprintf("g%d-i%d", g, i)
				res, err := m.Call(context.Background(), []byte(in), nil)
				if err != nil || res.Outcome != OutcomeOK || !bytes.Equal(res.Stdout, []byte(in)) {
					t.Errorf("call %s: %+v, %v", in, res, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestPooledMemoryIsZero: command instances reuse the memories of
// finished calls (memoryAllocator.recycle); each call must still find
// its memory zeroed and its data segments in place, whatever the call
// before it wrote, concurrent or not.
func TestPooledMemoryIsZero(t *testing.T) {
	m := load(t, "lim_memleft.wasm", Spec{Name: "memleft", Limits: Limits{MaxConcurrency: 4}})
	if len(m.data) != 1 {
		t.Fatalf("%d data segments taken out of the module, want 1 (commandData)", len(m.data))
	}
	zero := string(make([]byte, 16)) + "0123456789abcdef" // 16 zero bytes, then the data segment
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				res, err := m.Call(context.Background(), []byte(fmt.Sprintf("secret-%d-%04d....overwritten-data", g, i)), nil)
				if err != nil || res.Outcome != OutcomeOK {
					t.Errorf("call %d/%d: %v, %v", g, i, res, err)
					return
				}
				if string(res.Stdout) != zero {
					t.Errorf("call %d/%d found %q in its fresh memory", g, i, res.Stdout)
					return
				}
				if res.Memory != pageSize { // one page, declared
					t.Errorf("call %d/%d: Memory = %d", g, i, res.Memory)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestCommandData: which command modules have their data segments written
// by the allocator instead of by wazero.
func TestCommandData(t *testing.T) {
	const page = 65536
	mod := func(memory, data string, body ...byte) []byte {
		// (type (func)) (func (export "_start")) (memory …) (data …)
		b := []byte("\x00asm\x01\x00\x00\x00")
		b = append(b, 1, 4, 1, 0x60, 0, 0) // type
		b = append(b, 3, 2, 1, 0)          // function
		b = append(b, 5, byte(len(memory)))
		b = append(b, memory...)
		b = append(b, 7, 10, 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0) // export
		if data != "" && strings.HasPrefix(data, "\x01") {             // a passive segment needs a data count
			b = append(b, 12, 1, 1)
		}
		code := append([]byte{0}, body...) // no locals
		code = append(code, 0x0b)
		b = append(b, 10, byte(len(code)+2), 1, byte(len(code)))
		b = append(b, code...)
		if data != "" {
			b = append(b, 11, byte(len(data)))
			b = append(b, data...)
		}
		return b
	}
	oneActive := "\x01\x00\x41\x10\x0b\x03abc"       // at 16
	pastMin := "\x01\x00\x41\xff\xff\x03\x0b\x03abc" // at 65535: past one page
	passive := "\x01\x01\x03abc"
	tests := []struct {
		name string
		wasm []byte
		ok   bool
	}{
		{"one active segment", mod("\x01\x00\x01", oneActive), true},
		{"no data section", mod("\x01\x00\x01", ""), false},
		{"segment past the minimum", mod("\x01\x00\x01", pastMin), false},
		{"passive segment", mod("\x01\x00\x01", passive, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 0), false},
		{"data.drop in the code", mod("\x01\x00\x01", oneActive, 0xfc, 9, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := wazero.NewRuntime(context.Background())
			defer rt.Close(context.Background())
			if _, err := rt.CompileModule(context.Background(), tt.wasm); err != nil {
				t.Fatalf("the test module is not valid: %v", err)
			}
			out, segs, ok := commandData(tt.wasm, page)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && (len(segs) != 1 || string(segs[0].data) != "abc" || segs[0].off != 16 || len(out) >= len(tt.wasm)) {
				t.Fatalf("segs %+v, %d → %d bytes", segs, len(tt.wasm), len(out))
			}
		})
	}
}

// TestCallFIFOSwappedIn: a guest reads a name over and over while someone
// with access to the mounted folder keeps renaming a FIFO onto it. Every
// call ends, by itself or by its timeout. Bad input: one open(2) caught
// between rootfs's stat and its open blocked in the host call, past the
// timeout, holding its slot until restart.
func TestCallFIFOSwappedIn(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	keep := filepath.Join(dir, "keep.fifo")
	target := filepath.Join(root, "name")
	for _, err := range []error{os.Mkdir(root, 0o755), syscall.Mkfifo(keep, 0o644), os.WriteFile(target, []byte("regular\n"), 0o644)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	const timeout = 10 * time.Second // generous: only a call that blocks needs it
	m := load(t, "fs_probe.wasm", Spec{
		Mounts: []Mount{{HostDir: root, GuestPath: "/data"}},
		Limits: Limits{Timeout: timeout, MaxConcurrency: 1},
	})
	script := []byte(strings.Repeat("open /data 1 name\n", 200)) // 200 path_opens per call

	const swaps = 500
	raced := make(chan struct{})
	go func() {
		defer close(raced)
		fifoTmp, fileTmp := filepath.Join(root, ".fifo.tmp"), filepath.Join(root, ".file.tmp")
		for range swaps {
			_ = os.Remove(fifoTmp)
			for _, err := range []error{os.Link(keep, fifoTmp), os.Rename(fifoTmp, target),
				os.WriteFile(fileTmp, []byte("regular\n"), 0o644), os.Rename(fileTmp, target)} {
				if err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()

	outcomes := map[string]int{}
	called := make(chan error, 1)
	go func() {
		for {
			select {
			case <-raced:
				called <- nil
				return
			default:
			}
			res, err := m.Call(context.Background(), script, nil)
			if err != nil {
				called <- err
				return
			}
			if res.Outcome != OutcomeOK {
				called <- fmt.Errorf("call: %v (%v)", res.Outcome, res.Err)
				return
			}
			for _, line := range strings.Split(strings.TrimSuffix(string(res.Stdout), "\n"), "\n") {
				switch line {
				case `ok regular\n`, "err EACCES", "err ENOENT":
					outcomes[line]++
				default:
					called <- fmt.Errorf("open: %q", line)
					return
				}
			}
		}
	}()
	<-raced
	select {
	case err := <-called:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(timeout + 30*time.Second): // the timeout, then far beyond any call
		t.Error("a call outlived its timeout: blocked on a FIFO swapped in after the stat")
		if f, err := os.OpenFile(keep, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close() // release the blocked open
		}
		<-called
	}
	t.Logf("opens after %d swaps: %v", swaps, outcomes)
}
