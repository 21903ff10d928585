package host

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCloseWhileServing: Close stops a Serve whose context never ends and
// returns once the goroutines the Server started have ended (it waits for
// them), rather than waiting for a context nobody cancels.
func TestCloseWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "moat.toml")
	tools := filepath.Join(dir, "tools") // empty: a server with no tool still serves
	if err := os.Mkdir(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("[tools]\ndirs = [%q]\n[sandbox]\ncache_dir = %q\n[audit]\nfile = %q\n", tools, sharedCache(t), filepath.Join(dir, "audit.log"))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), &Options{ConfigFile: cfg, NoAuth: true, Listener: ln, Notice: &syncBuf{}})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	// Serving: the listener answers (the request waits in its backlog
	// until Serve accepts it).
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	closed := make(chan error, 1)
	go func() { closed <- s.Close(context.Background()) }()
	bound := time.NewTimer(60 * time.Second) // a broken Close hangs; not a timing assertion
	defer bound.Stop()
	for range 2 {
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("Close: %v", err)
			}
			closed = nil
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
			served = nil
		case <-bound.C:
			t.Fatal("Close did not stop Serve")
		}
	}
}
