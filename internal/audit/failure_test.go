package audit

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/testclock"
)

// fullDisk passes writes to w until full is set; then it writes at most
// room bytes of each (a disk that fills mid-line) and fails with ENOSPC.
type fullDisk struct {
	w    io.Writer
	full bool
	room int
}

func (d *fullDisk) Write(p []byte) (int, error) {
	if !d.full {
		return d.w.Write(p)
	}
	n := min(d.room, len(p))
	d.room -= n
	n, _ = d.w.Write(p[:n])
	return n, &os.PathError{Op: "write", Path: "/var/log/moat/audit.log", Err: syscall.ENOSPC}
}

func TestParseOnFailure(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    OnFailure
		wantErr bool
	}{
		{"", OnFailureRefuse, false},
		{"refuse", OnFailureRefuse, false},
		{"continue", OnFailureContinue, false},
		{"Refuse", "", true},
		{"ignore", "", true},
		{" refuse", "", true},
	} {
		got, err := ParseOnFailure(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseOnFailure(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestWriteFailureFailsClosed: with the sink full, Log reports the record
// lost, Refuses says refuse, Ready reports not ready; once the sink has
// room, Ready's retry (paced by the clock) brings the log back, and the
// chain on the sink verifies, with a "resumed" record counting the loss.
// Bad input: records were dropped with only a log line, and calls served.
func TestWriteFailureFailsClosed(t *testing.T) {
	for _, room := range []int{0, 10} { // nothing written, or part of a line
		t.Run(map[int]string{0: "nothing written", 10: "part of a line written"}[room], func(t *testing.T) {
			var out bytes.Buffer
			clock := testclock.New(t0)
			disk := &fullDisk{w: &out}
			l := NewWith(disk, &Options{Now: clock.Now})
			if err := l.Log(Record{Event: EventToolCall, Tool: "echo", Outcome: "ok"}); err != nil {
				t.Fatal(err)
			}
			seq, head := l.Head()

			disk.full, disk.room = true, room
			for i := range 3 {
				err := l.Log(Record{Event: EventAuth, Outcome: "auth_ok"})
				if !errors.Is(err, ErrWriteFailed) || !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("Log %d on a full disk: %v, want ErrWriteFailed wrapping ENOSPC", i, err)
				}
				if !l.Refuses(err) {
					t.Fatalf("Refuses(%v) = false under the default policy", err)
				}
			}
			if s, h := l.Head(); s != seq || h != head {
				t.Fatalf("head moved on failed writes: %d %s → %d %s", seq, head, s, h)
			}
			if err := l.Ready(); !errors.Is(err, ErrWriteFailed) {
				t.Fatalf("Ready on a full disk: %v, want ErrWriteFailed", err)
			}

			disk.full = false // the operator made room
			if err := l.Ready(); !errors.Is(err, ErrWriteFailed) {
				t.Fatalf("Ready within a second of its last retry: %v, want still failing", err)
			}
			clock.Advance(time.Second)
			if err := l.Ready(); err != nil {
				t.Fatalf("Ready after the disk has room: %v", err)
			}
			if err := l.Log(Record{Event: EventToolCall, Tool: "echo", Outcome: "ok"}); err != nil {
				t.Fatal(err)
			}

			n, err := verifyLines(strings.NewReader(out.String()))
			if err != nil {
				t.Fatalf("chain after recovery: %v\n%s", err, out.String())
			}
			// The first record; with part of a line written, the record
			// whose write failed first, finished before anything else; the
			// resumed record; the last record.
			want := 3
			if room > 0 {
				want = 4
			}
			if n != want {
				t.Fatalf("%d records, want %d:\n%s", n, want, out.String())
			}
			lost := map[int]string{0: "3", 10: "2"}[room] // a finished partial line is not lost
			if !strings.Contains(out.String(), `"event":"audit"`) ||
				!strings.Contains(out.String(), `"outcome":"resumed","reason":"`+lost+` records could not be written since 2025-06-01T12:00:00.123456789Z"`) {
				t.Errorf("no resumed record counting %s lost records:\n%s", lost, out.String())
			}
		})
	}
}

func TestOnFailureContinue(t *testing.T) {
	disk := &fullDisk{w: io.Discard, full: true}
	l := NewWith(disk, &Options{OnFailure: OnFailureContinue})
	err := l.Log(Record{Event: EventToolCall, Outcome: "ok"})
	if !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Log: %v, want ErrWriteFailed", err)
	}
	if l.Refuses(err) {
		t.Error("Refuses = true under OnFailureContinue")
	}
	if err := l.Ready(); err != nil {
		t.Errorf("Ready under OnFailureContinue: %v", err)
	}
	if l.OnFailure() != OnFailureContinue {
		t.Errorf("OnFailure() = %q", l.OnFailure())
	}
}

// TestFileWriteFailureCutsPartialLine: a file that fills mid-line is cut
// back to its last whole line at once, so the file verifies and can be
// reopened while the disk is still full, and the chain continues from the
// last record written once it has room.
func TestFileWriteFailureCutsPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	clock := testclock.New(t0)
	l, err := OpenWith(path, &Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Log(Record{Event: EventToolCall, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	disk := &fullDisk{w: l.f, full: true, room: 25}
	l.w = disk
	if err := l.Log(Record{Event: EventToolCall, Outcome: "ok"}); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Log: %v, want ErrWriteFailed", err)
	}
	if _, _, err := readTail(path); err != nil {
		t.Fatalf("the file after a failed write: %v (a partial line left behind?)", err)
	}
	if s := verifyFile(t, path, nil); s.Lines != 1 {
		t.Fatalf("%d records, want 1", s.Lines)
	}
	disk.full = false
	clock.Advance(time.Second)
	if err := l.Ready(); err != nil {
		t.Fatal(err)
	}
	if err := l.Log(Record{Event: EventToolCall, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	if s := verifyFile(t, path, nil); s.Lines != 3 {
		t.Fatalf("%d records, want 3 (one, resumed, one)", s.Lines)
	}
}
