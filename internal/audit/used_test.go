package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestUsedBounded: a receipt of the most files and requests, with names a
// hostile guest chose to be as long as JSON can make them, still leaves a
// record that is written; what is left out is counted, the totals stay.
func TestUsedBounded(t *testing.T) {
	evil := strings.Repeat("\x01", 256)
	u := &Used{BytesRead: 64 * 10, NetBytesIn: 32 * 7}
	for range 64 {
		u.Files = append(u.Files, FileUsed{Mount: "/data", Path: evil, Mode: "read", Read: 10})
	}
	for range 32 {
		u.Net = append(u.Net, NetUsed{Host: strings.Repeat("a", 253) + ":443", Method: "GET", Outcome: "ok", BytesIn: 7, Secrets: []string{"Authorization"}})
	}
	var buf bytes.Buffer
	l := New(&buf)
	if err := l.Log(Record{Event: EventToolCall, Tool: "t", Outcome: "ok", Used: u}); err != nil {
		t.Fatalf("Log: %v", err)
	}
	var r Record
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	got := r.Used
	if len(got.Files)+got.FilesOmitted != 64 || len(got.Net)+got.NetOmitted != 32 || got.FilesOmitted == 0 {
		t.Errorf("files %d + %d omitted, net %d + %d omitted", len(got.Files), got.FilesOmitted, len(got.Net), got.NetOmitted)
	}
	if got.BytesRead != 640 || got.NetBytesIn != 224 {
		t.Errorf("totals changed: %d %d", got.BytesRead, got.NetBytesIn)
	}
	if b, _ := json.Marshal(got); len(b) > MaxUsedBytes {
		t.Errorf("receipt of %d bytes", len(b))
	}
	if len(u.Files) != 64 || u.FilesOmitted != 0 {
		t.Error("the caller's receipt was changed")
	}
	small := &Used{Files: []FileUsed{{Mount: "/d", Path: "a", Mode: "read"}}}
	if b := small.bounded(); len(b.Files) != 1 || b.FilesOmitted != 0 {
		t.Errorf("a small receipt was cut: %+v", b)
	}
}
