package audit

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/moatmcp/moat/internal/procstat"
)

// callRecord is a record like the one the host writes for a C echo call
// (host/call.go): a principal, a trace id, a replica and a receipt.
func callRecord() Record {
	return Record{Event: EventToolCall, RequestID: "7", Principal: "ci", AuthMethod: "api_key",
		ClientAddr: "127.0.0.1:53412", Tool: "echo", Args: json.RawMessage(`{"text":"hello"}`),
		Outcome: OutcomeOK, DurationMS: 0.087, BytesIn: 16, BytesOut: 42, Replica: "bench-host",
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		Used: &Used{WallMS: 0.081, MemoryPeak: 131072, OutputBytes: 5,
			Module:   "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Instance: "reset"}}
}

// BenchmarkLogCall is one call's record, written to a file by one
// goroutine: encode, write(2), hash.
func BenchmarkLogCall(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := callRecord()
	b.ReportAllocs()
	cpu := procstat.CPU()
	for b.Loop() {
		if err := l.Log(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(procstat.CPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkLogParallel is BenchmarkLogCall from 4 goroutines at once, as
// under `moat bench --clients 4`.
func BenchmarkLogParallel(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := callRecord()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((4 + procs - 1) / procs)
	b.ReportAllocs()
	cpu := procstat.CPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Log(r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(procstat.CPU()-cpu)/float64(b.N), "cpu-ns/op")
}
