package audit

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// chain returns a log of n records as lines (each with its newline).
func chain(t testing.TB, n int) []string {
	t.Helper()
	var buf bytes.Buffer
	l := New(&buf)
	l.now = fixedNow
	for i := 0; i < n; i++ {
		if err := l.Log(Record{Event: EventToolCall, Tool: "echo", Principal: "alice", Outcome: "ok", BytesIn: i}); err != nil {
			t.Fatal(err)
		}
	}
	return strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

func TestVerify(t *testing.T) {
	lines := chain(t, 5)
	for i := range lines {
		if !strings.HasSuffix(lines[i], "\n") {
			lines[i] += "\n"
		}
	}
	join := func(ls ...string) string { return strings.Join(ls, "") }
	edit := func(line, from, to string) string {
		if !strings.Contains(line, from) {
			t.Fatalf("edit: %q not in line", from)
		}
		return strings.Replace(line, from, to, 1)
	}
	for _, c := range []struct {
		name     string
		log      string
		opts     *VerifyOptions
		lines    int
		wantLine int    // 0: no error
		reason   string // exact ChainError.Reason
	}{
		{name: "intact", log: join(lines...), lines: 5},
		{name: "empty", log: "", lines: 0},
		{name: "intact from genesis", log: join(lines...), opts: &VerifyOptions{Prev: Genesis, Seq: 1}, lines: 5},
		{name: "edited line", log: join(lines[0], edit(lines[1], `"principal":"alice"`, `"principal":"bob"`), lines[2], lines[3], lines[4]),
			lines: 2, wantLine: 3, reason: "prev does not match the hash of line 2: line 2 was edited or lines were replaced"},
		{name: "edited first line", log: join(edit(lines[0], `"outcome":"ok"`, `"outcome":"denied"`), lines[1], lines[2]),
			lines: 1, wantLine: 2, reason: "prev does not match the hash of line 1: line 1 was edited or lines were replaced"},
		{name: "edited seq", log: join(lines[0], edit(lines[1], `"seq":2`, `"seq":3`), lines[2]),
			lines: 1, wantLine: 2, reason: "seq 3 after seq 1: a line was removed, moved or added"},
		{name: "removed line", log: join(lines[0], lines[1], lines[3], lines[4]),
			lines: 2, wantLine: 3, reason: "seq 4 after seq 2: a line was removed, moved or added"},
		{name: "removed first line", log: join(lines[1], lines[2]), opts: &VerifyOptions{Prev: Genesis},
			lines: 0, wantLine: 1, reason: "first prev " + lines[1][strings.Index(lines[1], `"prev":"`)+8:][:12] + "…, want 000000000000…"},
		{name: "reordered pair", log: join(lines[0], lines[2], lines[1], lines[3]),
			lines: 1, wantLine: 2, reason: "seq 3 after seq 1: a line was removed, moved or added"},
		{name: "duplicated line", log: join(lines[0], lines[1], lines[1], lines[2]),
			lines: 2, wantLine: 3, reason: "seq 2 after seq 2: a line was removed, moved or added"},
		{name: "truncated last line", log: join(lines[0], lines[1], lines[2][:20]),
			lines: 2, wantLine: 3, reason: "last line is incomplete (no newline): truncated"},
		{name: "last newline removed", log: join(lines[0], strings.TrimSuffix(lines[1], "\n")),
			lines: 1, wantLine: 2, reason: "last line is incomplete (no newline): truncated"},
		{name: "lines cut from the end, head anchored", log: join(lines[0], lines[1], lines[2]),
			opts:  &VerifyOptions{Head: hashLine([]byte(strings.TrimSuffix(lines[4], "\n")))},
			lines: 3, wantLine: 4, reason: "log ends at seq 3 with hash " + hashLine([]byte(strings.TrimSuffix(lines[2], "\n")))[:12] + "…, want head " + hashLine([]byte(strings.TrimSuffix(lines[4], "\n")))[:12] + "…: the end of the log was edited or cut"},
		{name: "edited last line, head anchored", log: join(lines[0], edit(lines[1], "alice", "carol")),
			opts:  &VerifyOptions{Head: hashLine([]byte(strings.TrimSuffix(lines[1], "\n")))},
			lines: 2, wantLine: 3, reason: "log ends at seq 2 with hash " + hashLine([]byte(strings.TrimSuffix(edit(lines[1], "alice", "carol"), "\n")))[:12] + "…, want head " + hashLine([]byte(strings.TrimSuffix(lines[1], "\n")))[:12] + "…: the end of the log was edited or cut"},
		{name: "rotated file alone", log: join(lines[2], lines[3]), lines: 2},
		{name: "rotated file, wrong seq anchor", log: join(lines[2], lines[3]), opts: &VerifyOptions{Seq: 4},
			lines: 0, wantLine: 1, reason: "first seq 3, want 4"},
		{name: "genesis with seq 2", log: edit(lines[0], `"seq":1`, `"seq":2`),
			lines: 0, wantLine: 1, reason: "chain starts (genesis prev) with seq 2, want 1"},
		{name: "blank line", log: join(lines[0], "\n", lines[1]), lines: 1, wantLine: 2, reason: "not a JSON object"},
		{name: "garbage line", log: join(lines[0], "hello\n"), lines: 1, wantLine: 2, reason: "not a JSON object"},
		{name: "array", log: "[1]\n", wantLine: 1, reason: "not a JSON object"},
		{name: "no prev", log: `{"seq":1}` + "\n", wantLine: 1, reason: "record lacks seq or prev"},
		{name: "prev upper case", log: `{"seq":1,"prev":"` + strings.ToUpper(hashLine(nil)) + `"}` + "\n", wantLine: 1, reason: "prev is not a hex sha256"},
		{name: "seq zero", log: `{"seq":0,"prev":"` + Genesis + `"}` + "\n", wantLine: 1, reason: "seq is not a positive integer"},
		{name: "seq fraction", log: `{"seq":1.5,"prev":"` + Genesis + `"}` + "\n", wantLine: 1, reason: "seq is not a positive integer"},
		{name: "seq twice", log: `{"seq":1,"seq":1,"prev":"` + Genesis + `"}` + "\n", wantLine: 1, reason: "seq appears twice"},
		{name: "prev twice", log: `{"seq":1,"prev":"` + Genesis + `","prev":"` + Genesis + `"}` + "\n", wantLine: 1, reason: "prev appears twice"},
		{name: "two objects on a line", log: `{"seq":1,"prev":"` + Genesis + `"}{}` + "\n", wantLine: 1, reason: "data after the record"},
		{name: "broken JSON", log: `{"seq":1,"prev":` + "\n", wantLine: 1, reason: "not valid JSON"},
		{name: "line too long", log: strings.Repeat(" ", MaxLineBytes+1) + "\n", wantLine: 1, reason: "line longer than 65536 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := VerifyChain(strings.NewReader(c.log), c.opts)
			if s.Lines != c.lines {
				t.Errorf("lines: got %d, want %d", s.Lines, c.lines)
			}
			if c.wantLine == 0 {
				if err != nil {
					t.Errorf("err: %v, want nil", err)
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("err: %v, want *ChainError", err)
			}
			if ce.Line != c.wantLine || ce.Reason != c.reason {
				t.Errorf("got  line %d %q\nwant line %d %q", ce.Line, ce.Reason, c.wantLine, c.reason)
			}
		})
	}
}

func TestChainErrorMessage(t *testing.T) {
	err := &ChainError{Line: 7, Reason: "seq 9 after seq 6: a line was removed, moved or added"}
	if got, want := err.Error(), "broken at line 7: seq 9 after seq 6: a line was removed, moved or added"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestVerifyEditedLineWithRecomputedSeqStillBreaks(t *testing.T) {
	// Replacing a line by a well-formed forgery with the right seq and prev
	// still breaks the next link, because the forgery's hash differs.
	lines := chain(t, 3)
	forged := strings.Replace(lines[1], `"tool":"echo"`, `"tool":"rm"`, 1)
	_, err := verifyLines(strings.NewReader(lines[0] + forged + lines[2] + "\n"))
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Line != 3 {
		t.Errorf("got %v, want a broken link at line 3", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	log := strings.Join(chain(b, 1000), "") + "\n"
	b.SetBytes(int64(len(log)))
	for b.Loop() {
		if n, err := verifyLines(strings.NewReader(log)); err != nil || n != 1000 {
			b.Fatal(n, err)
		}
	}
}

// verifyLines is VerifyChain without anchors, as a line count.
func verifyLines(r io.Reader) (int, error) {
	s, err := VerifyChain(r, nil)
	return s.Lines, err
}
