// Package statetest starts a real redis-server for tests: on a loopback
// port, in a temporary folder, with persistence off, stopped when the
// test ends. Tests that need one skip with a message when redis-server is
// not installed (.ci/run installs it from Debian's redis-server package).
package statetest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startTimeout bounds how long a redis-server may take to get ready.
const startTimeout = 15 * time.Second

// Redis is one redis-server process.
type Redis struct {
	t    testing.TB
	Port int
	args []string
	cmd  *exec.Cmd
	// read is closed when the goroutine reading cmd's output has ended
	// (at its EOF, when the process exits): Stop waits for it before
	// cmd.Wait, which must not run while the pipe is being read.
	read chan struct{}
	// password is --requirepass's, sent by Do.
	password string
}

// Start starts redis-server on a free loopback port with extra args (e.g.
// "--requirepass", "s3cret"), or skips t when it is not installed. It is
// stopped when t ends.
func Start(t testing.TB, extra ...string) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (apt-get install redis-server); skipping the Redis-backed test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &Redis{t: t, Port: port, args: extra}
	for i, a := range extra {
		if a == "--requirepass" && i+1 < len(extra) {
			r.password = extra[i+1]
		}
	}
	r.Restart()
	t.Cleanup(r.Stop)
	return r
}

// URL is redis://127.0.0.1:PORT/0.
func (r *Redis) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(r.Port) + "/0" }

// Addr is 127.0.0.1:PORT.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// Restart starts the server again on the same port after Stop (or the
// first time), waiting until it accepts connections.
func (r *Redis) Restart() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatal("statetest: Restart while running")
	}
	args := append([]string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.t.TempDir(), "--logfile", ""}, r.args...)
	cmd := exec.Command("redis-server", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	ready, read := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		var last []string
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "Ready to accept connections") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
			last = append(last, line)
		}
		ready <- fmt.Errorf("redis-server exited before it was ready: %s", strings.Join(last, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			<-read
			_ = cmd.Wait()
			r.t.Fatal(err)
		}
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-read
		_ = cmd.Wait()
		r.t.Fatalf("redis-server not ready after %v", startTimeout)
	}
	r.cmd, r.read = cmd, read
}

// Stop kills the server and waits for it; a no-op when it is stopped.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.read
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Do sends one command with redis-cli's inline protocol and returns the
// first line of the reply: enough for INFO fields, SET, HSET and DBSIZE in
// tests without a client library.
func (r *Redis) Do(args ...string) string {
	r.t.Helper()
	c, err := net.DialTimeout("tcp", r.Addr(), 5*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	if r.password != "" {
		b.WriteString("*2\r\n$4\r\nAUTH\r\n$" + strconv.Itoa(len(r.password)) + "\r\n" + r.password + "\r\n")
	}
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		r.t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if r.password != "" {
		if _, err := br.ReadString('\n'); err != nil {
			r.t.Fatal(err)
		}
	}
	line, err := br.ReadString('\n')
	if err != nil {
		r.t.Fatal(err)
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "$") {
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return ""
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			r.t.Fatal(err)
		}
		return string(buf[:n])
	}
	return line
}

// Info is one field of INFO (e.g. "used_memory"), "" when absent.
func (r *Redis) Info(field string) string {
	r.t.Helper()
	for _, line := range strings.Split(r.Do("INFO", "memory"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}
