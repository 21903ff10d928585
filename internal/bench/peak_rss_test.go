package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/procstat"
)

// TestMeasurePeakRSS is the measurement behind issue 20's "64 concurrent
// clients on one Go reactor tool": a moat serving that one tool (per-call
// isolation, the bench's echo, built here from
// cmd/moat/benchdata/goreactor) in this test process, loaded by 64 raw
// clients from a child process; it logs the process's peak RSS (VmHWM)
// before and after the load and the calls served. Nothing else lives in
// this process, so the peak is the server's. A manual measurement: it
// runs only with MOAT_MEASURE_PEAK=1 and asserts nothing.
//
//	MOAT_MEASURE_PEAK=1 go test ./internal/bench -run TestMeasurePeakRSS -v -count 1
//
// MOAT_MEASURE_CLIENTS sets the clients (default 64), MOAT_MEASURE_SECONDS
// the load's length (default 10).
func TestMeasurePeakRSS(t *testing.T) {
	if os.Getenv("MOAT_MEASURE_PEAK") != "1" {
		t.Skip("a manual measurement: MOAT_MEASURE_PEAK=1")
	}
	clients, secs := envInt(t, "MOAT_MEASURE_CLIENTS", 64), envInt(t, "MOAT_MEASURE_SECONDS", 10)
	ctx := context.Background()
	tmp := t.TempDir()
	wasm := filepath.Join(tmp, "rx.wasm")
	build := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", wasm, ".")
	build.Dir = filepath.Join("..", "..", "cmd", "moat", "benchdata", "goreactor")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Go reactor: %v\n%s", err, out)
	}
	b, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	url := serveOne(t, "echo_go_rx", b)
	t.Logf("serving one Go reactor tool: RSS %d MiB, peak %d MiB; %s", procstat.RSS()>>20, procstat.PeakRSS()>>20, heapLine())
	cell, err := Measure(ctx, "go-rx", Load{URL: url, Tool: "echo_go_rx", Clients: clients, Duration: time.Duration(secs) * time.Second}, childOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d clients, %d s: %d calls (%.0f/s), %d errors; RSS after %d MiB, peak %d MiB",
		clients, secs, cell.Calls, cell.Rate(), cell.Errors, procstat.RSS()>>20, procstat.PeakRSS()>>20)
	t.Logf("after: %s", heapLine())
}

// heapLine is the Go heap's shape, for the log.
func heapLine() string {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return fmt.Sprintf("Go heap in use %d MiB, idle %d MiB (released %d MiB), sys %d MiB, GCs %d",
		m.HeapInuse>>20, m.HeapIdle>>20, m.HeapReleased>>20, m.Sys>>20, m.NumGC)
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
