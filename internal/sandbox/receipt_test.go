package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReceiptReactor: a reactor's reused instance records each call's
// file opens on that call's receipt (the view asks the instance's
// current call), and every receipt names the module and its memory.
func TestReceiptReactor(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "g"), []byte("hi"), 0o644)
	m := load(t, "", Spec{Name: "goreactor", Wasm: goReactor(t), Isolation: IsolationShared,
		Mounts: []Mount{{HostDir: dir, GuestPath: "/data", ReadOnly: true}}})
	for _, tc := range []struct {
		in, file string
		read     int64
	}{
		{"read /data/f", "f", 5},
		{"read /data/g", "g", 2},
		{"count", "", 0},
	} {
		r := &Receipt{}
		res, err := m.Call(WithReceipt(context.Background(), r), []byte(tc.in), nil)
		if err != nil || res.Outcome != OutcomeOK {
			t.Fatalf("%s: %v %+v", tc.in, err, res)
		}
		files := r.Files.Files()
		switch {
		case tc.file == "" && len(files) != 0:
			t.Errorf("%s: files %v; want none", tc.in, files)
		case tc.file != "" && (len(files) != 1 || files[0].Mount != "/data" || files[0].Path != tc.file || files[0].Write || files[0].BytesRead() != tc.read):
			t.Errorf("%s: receipt files %+v", tc.in, files)
		}
		if !strings.HasPrefix(r.Module, "sha256:") || r.MemoryPeak == 0 || r.OutputBytes != len(res.Stdout) || r.Instance == "" || r.Wall <= 0 {
			t.Errorf("%s: receipt %+v", tc.in, r)
		}
	}
}

// TestReceiptWithoutOne: a call without a receipt runs as before.
func TestReceiptWithoutOne(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644)
	m := load(t, "", Spec{Name: "goreactor", Wasm: goReactor(t), Mounts: []Mount{{HostDir: dir, GuestPath: "/data", ReadOnly: true}}})
	res, err := m.Call(context.Background(), []byte("read /data/f"), nil)
	if err != nil || string(res.Stdout) != "hello" {
		t.Fatalf("%v %+v", err, res)
	}
}
