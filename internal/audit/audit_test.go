package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)

func fixedNow() time.Time { return t0 }

func u32(v uint32) *uint32 { return &v }

// TestRecordPerOutcome asserts the exact line written for each outcome: field
// names, omitted empty fields, seq and prev of a fresh chain.
func TestRecordPerOutcome(t *testing.T) {
	call := func(outcome Outcome, exit *uint32, out int) Record {
		return Record{
			Event: EventToolCall, RequestID: "req-1", Principal: "alice", AuthMethod: "api_key",
			ClientAddr: "10.0.0.1:5555", Tool: "echo", Args: json.RawMessage(`{"q":"hi"}`),
			Outcome: outcome, DurationMS: 1.5, ExitCode: exit, BytesIn: 10, BytesOut: out,
		}
	}
	const head = `{"time":"2025-06-01T12:00:00.123456789Z","seq":1,"event":"tool_call","request_id":"req-1",`
	const who = `"principal":"alice","auth_method":"api_key","client_addr":"10.0.0.1:5555","tool":"echo","args":{"q":"hi"},`
	const genesis = `"prev":"` + Genesis + `"}`
	for _, c := range []struct {
		name string
		rec  Record
		want string
	}{
		{"ok", call("ok", u32(0), 5),
			head + who + `"outcome":"ok","duration_ms":1.5,"exit_code":0,"bytes_in":10,"bytes_out":5,` + genesis},
		{"tool_error", call("tool_error", u32(3), 7),
			head + who + `"outcome":"tool_error","duration_ms":1.5,"exit_code":3,"bytes_in":10,"bytes_out":7,` + genesis},
		{"timeout", call("timeout", nil, 0),
			head + who + `"outcome":"timeout","duration_ms":1.5,"bytes_in":10,` + genesis},
		{"memory", call("memory", nil, 0),
			head + who + `"outcome":"memory","duration_ms":1.5,"bytes_in":10,` + genesis},
		{"output_overflow", call("output_overflow", nil, 4096),
			head + who + `"outcome":"output_overflow","duration_ms":1.5,"bytes_in":10,"bytes_out":4096,` + genesis},
		{"invalid_arguments", call("invalid_arguments", nil, 0),
			head + who + `"outcome":"invalid_arguments","duration_ms":1.5,"bytes_in":10,` + genesis},
		{"denied", Record{Event: EventToolCall, RequestID: "req-1", ErrorID: "e-42", Principal: "alice",
			Tool: "rm", Outcome: "denied", Reason: "tool not granted"},
			head + `"error_id":"e-42","principal":"alice","tool":"rm","outcome":"denied","reason":"tool not granted",` + genesis},
		{"limited", Record{Event: EventToolCall, RequestID: "req-1", Principal: "alice", Tool: "echo",
			Outcome: "limited", Reason: "principal"},
			head + `"principal":"alice","tool":"echo","outcome":"limited","reason":"principal",` + genesis},
		{"host_error", Record{Event: EventToolCall, RequestID: "req-1", ErrorID: "e-7", Tool: "echo", Outcome: "host_error"},
			head + `"error_id":"e-7","tool":"echo","outcome":"host_error",` + genesis},
		{"auth_ok", Record{Event: EventAuth, Principal: "alice", AuthMethod: "jwt", ClientAddr: "[::1]:1", Outcome: "auth_ok"},
			`{"time":"2025-06-01T12:00:00.123456789Z","seq":1,"event":"auth","principal":"alice","auth_method":"jwt","client_addr":"[::1]:1","outcome":"auth_ok",` + genesis},
		{"auth_failed", Record{Event: EventAuth, AuthMethod: "api_key", ClientAddr: "1.2.3.4:9", Outcome: "auth_failed", Reason: "unknown key"},
			`{"time":"2025-06-01T12:00:00.123456789Z","seq":1,"event":"auth","auth_method":"api_key","client_addr":"1.2.3.4:9","outcome":"auth_failed","reason":"unknown key",` + genesis},
		{"reload", Record{Event: EventReload, Outcome: "ok", Reason: "3 tools"},
			`{"time":"2025-06-01T12:00:00.123456789Z","seq":1,"event":"reload","outcome":"ok","reason":"3 tools",` + genesis},
		{"time given in another zone is stored in UTC", Record{Time: t0.In(time.FixedZone("x", 3600)), Event: EventReload, Outcome: "ok"},
			`{"time":"2025-06-01T12:00:00.123456789Z","seq":1,"event":"reload","outcome":"ok",` + genesis},
		{"args that are not JSON are replaced", Record{Event: EventToolCall, Tool: "echo", Args: json.RawMessage(`{"a":`), Outcome: "ok"},
			`{"time":"2025-06-01T12:00:00.123456789Z","seq":1,"event":"tool_call","tool":"echo","args":{"_unparsed":5},"outcome":"ok",` + genesis},
		{"html characters are not escaped", Record{Event: EventReload, Outcome: "error", Reason: "<a&b>"},
			`{"time":"2025-06-01T12:00:00.123456789Z","seq":1,"event":"reload","outcome":"error","reason":"<a&b>",` + genesis},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf)
			l.now = fixedNow
			if err := l.Log(c.rec); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != c.want+"\n" {
				t.Errorf("line:\n got  %s\n want %s", got, c.want)
			}
			seq, hash := l.Head()
			if seq != 1 || hash != hashLine([]byte(c.want)) {
				t.Errorf("head: got %d %s", seq, hash)
			}
		})
	}
}

func TestLogChainsRecords(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	l.now = fixedNow
	for i := 0; i < 3; i++ {
		if err := l.Log(Record{Event: EventReload, Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	prev := Genesis
	for i, line := range lines[:3] {
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Seq != uint64(i+1) || r.Prev != prev {
			t.Errorf("line %d: seq %d prev %s, want %d %s", i+1, r.Seq, r.Prev, i+1, prev)
		}
		prev = hashLine([]byte(strings.TrimSuffix(line, "\n")))
	}
	if n, err := verifyLines(&buf); n != 3 || err != nil {
		t.Errorf("Verify: %d, %v", n, err)
	}
}

func TestLogClipsLongFields(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	long := strings.Repeat("é", 600) // 1200 bytes
	if err := l.Log(Record{Event: EventToolCall, Reason: long, Principal: long, Outcome: "ok",
		Args: json.RawMessage(`"` + strings.Repeat("a", MaxSummaryBytes) + `"`)}); err != nil {
		t.Fatal(err)
	}
	var r Record
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("é", 512) + "…"
	if r.Reason != want || r.Principal != want {
		t.Errorf("clipped to %d/%d bytes, want %d", len(r.Reason), len(r.Principal), len(want))
	}
	if string(r.Args) != fmt.Sprintf(`{"_unparsed":%d}`, MaxSummaryBytes+2) {
		t.Errorf("args: %s", r.Args)
	}
}

func TestLogAfterClose(t *testing.T) {
	l := New(&bytes.Buffer{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Log(Record{Event: EventReload, Outcome: "ok"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Log after Close: %v, want ErrClosed", err)
	}
	if err := l.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reopen after Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

type failWriter struct{ fail bool }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.fail {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestFailedWriteDoesNotAdvanceChain(t *testing.T) {
	w := &failWriter{}
	l := New(w)
	_ = l.Log(Record{Event: EventReload, Outcome: "ok"})
	seq, head := l.Head()
	w.fail = true
	if err := l.Log(Record{Event: EventReload, Outcome: "ok"}); err == nil {
		t.Fatal("Log: no error from a failing writer")
	}
	if s, h := l.Head(); s != seq || h != head {
		t.Errorf("head moved on a failed write: %d %s → %d %s", seq, head, s, h)
	}
}

// logN writes n records to a new file logger at path and closes it.
func logN(t *testing.T, path string, n int) {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := l.Log(Record{Event: EventToolCall, Tool: "echo", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func verifyFile(t *testing.T, path string, opts *VerifyOptions) Summary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := VerifyChain(f, opts)
	if err != nil {
		t.Fatalf("verify %s: %v", filepath.Base(path), err)
	}
	return s
}

func TestOpenCreatesPrivateFileAndContinuesChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	logN(t, path, 2)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	logN(t, path, 3) // a restart: the chain continues from the last line
	s := verifyFile(t, path, &VerifyOptions{Prev: Genesis})
	if s.Lines != 5 || s.FirstSeq != 1 || s.LastSeq != 5 {
		t.Errorf("summary %+v, want 5 lines, seq 1..5", s)
	}
}

func TestOpenRefusesDamagedTail(t *testing.T) {
	for _, c := range []struct {
		name    string
		content string
		want    error
	}{
		{"torn last line", `{"seq":1,"prev":"` + Genesis + `"}` + "\n" + `{"seq":2,"pr`, ErrTornTail},
		{"not a record", "hello\n", ErrBadTail},
		{"no prev", `{"seq":1}` + "\n", ErrBadTail},
		{"line too long", strings.Repeat("x", MaxLineBytes+10) + "\n", ErrBadTail},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := Open(path)
			if !errors.Is(err, c.want) {
				t.Errorf("Open: %v, want %v", err, c.want)
			}
			if l != nil {
				l.Close()
			}
		})
	}
}

func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 3; i++ {
		if err := l.Log(Record{Event: EventToolCall, Tool: "echo", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	// logrotate: rename, then SIGHUP → Reopen.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Log(Record{Event: EventToolCall, Tool: "late", Outcome: "ok"}); err != nil { // still to the old file
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := l.Log(Record{Event: EventToolCall, Tool: "echo", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	old := verifyFile(t, path+".1", &VerifyOptions{Prev: Genesis})
	if old.Lines != 4 || old.LastSeq != 4 {
		t.Errorf("old file: %+v, want 4 lines", old)
	}
	// On its own the new file verifies, starting mid-chain…
	alone := verifyFile(t, path, nil)
	if alone.Lines != 2 || alone.FirstSeq != 5 || alone.FirstPrev != old.Head {
		t.Errorf("new file alone: %+v", alone)
	}
	// …and it continues the old file's chain exactly.
	verifyFile(t, path, &VerifyOptions{Prev: old.Head, Seq: old.LastSeq + 1})
}

func TestReopenWithoutRotationAndAfterCopyTruncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	log := func() {
		t.Helper()
		if err := l.Log(Record{Event: EventReload, Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	log()
	if err := l.Reopen(); err != nil { // SIGHUP with nothing rotated
		t.Fatal(err)
	}
	log()
	verifyFile(t, path, &VerifyOptions{Prev: Genesis, Head: head(l)})
	if err := os.Truncate(path, 0); err != nil { // logrotate copytruncate
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	log()
	s := verifyFile(t, path, &VerifyOptions{Head: head(l)})
	if s.Lines != 1 || s.FirstSeq != 3 {
		t.Errorf("after copytruncate: %+v", s)
	}
}

func head(l *Logger) string { _, h := l.Head(); return h }

func TestReopenRefusesAnotherChain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Log(Record{Event: EventReload, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	logN(t, path, 1) // another writer started a chain at the path
	if err := l.Reopen(); !errors.Is(err, ErrChainMismatch) {
		t.Fatalf("Reopen: %v, want ErrChainMismatch", err)
	}
	// Still writing to the old file, chain intact.
	if err := l.Log(Record{Event: EventReload, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	if s := verifyFile(t, path+".1", &VerifyOptions{Prev: Genesis, Head: head(l)}); s.Lines != 2 {
		t.Errorf("old file: %+v", s)
	}
}

func TestStderrSink(t *testing.T) {
	for _, p := range []string{"", "-"} {
		l, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if l.w != os.Stderr || l.f != nil {
			t.Errorf("Open(%q): not stderr", p)
		}
		if err := l.Reopen(); err != nil {
			t.Errorf("Reopen on stderr: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close on stderr: %v", err)
		}
	}
}

func TestSyncOption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := OpenWith(path, &Options{Sync: true, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Log(Record{Event: EventReload, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !bytes.HasPrefix(b, []byte(`{"time":"2025-06-01T12:00:00.123456789Z","seq":1,`)) {
		t.Errorf("line: %s", b)
	}
}

func TestConcurrentLogKeepsChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := l.Log(Record{Event: EventToolCall, Tool: fmt.Sprintf("t%d", g), Outcome: "ok", BytesIn: i}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s := verifyFile(t, path, &VerifyOptions{Prev: Genesis, Head: head(l)})
	if s.Lines != goroutines*each {
		t.Errorf("lines %d, want %d", s.Lines, goroutines*each)
	}
}

func BenchmarkLog(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := Record{Event: EventToolCall, RequestID: "req-1", Principal: "alice", Tool: "echo",
		Args: json.RawMessage(`{"q":"hello"}`), Outcome: "ok", DurationMS: 1.2, ExitCode: u32(0), BytesIn: 13, BytesOut: 20}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Log(r); err != nil {
			b.Fatal(err)
		}
	}
}
