// Command goreactor is a Go reactor test guest (built with
// -buildmode=c-shared): each call runs moat_call, which reads a command
// from stdin. "count" increments a package-level counter and prints it;
// "put X" keeps X in memory; "get" prints what was kept (or "empty");
// "echo" copies stdin; "panic" panics; "exit N" exits with N; "code N" sets exit code N with moat.exit_code and
// returns; "close"
// closes stdout and reports on stderr; "grow" allocates 32 MiB (the
// memory grows); "clock" prints the monotonic time since init and the wall clock; "rand" prints 8 bytes of
// crypto/rand; "read P" prints the file P; "leak P" opens P and leaves
// it open; "closefd N" closes descriptor N.
package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	counter int
	kept    []byte
	start   = time.Now()
	big     []byte
	leaked  []*os.File
)

//go:wasmexport moat_call
func moatCall() {
	in, _ := io.ReadAll(os.Stdin)
	cmd, arg, _ := strings.Cut(string(in), " ")
	switch cmd {
	case "count":
		counter++
		fmt.Print(counter)
	case "put":
		kept = append([]byte(nil), arg...)
		fmt.Print("ok")
	case "get":
		if kept == nil {
			fmt.Print("empty")
		} else {
			os.Stdout.Write(kept)
		}
	case "panic":
		panic("asked to")
	case "exit":
		n, _ := strconv.Atoi(arg)
		os.Exit(n)
	case "code": // a tool error without ending the instance
		n, _ := strconv.Atoi(arg)
		fmt.Fprint(os.Stderr, "failed")
		exitCode(int32(n))
	case "close":
		fmt.Fprint(os.Stderr, os.Stdout.Close())
	case "grow":
		big = make([]byte, 32<<20)
		big[len(big)-1] = 1
		fmt.Print(len(big))
	case "rand":
		var b [8]byte
		rand.Read(b[:])
		fmt.Printf("%x", b)
	case "read": // read the file at arg and close it
		b, err := os.ReadFile(arg)
		if err != nil {
			fmt.Fprint(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(b)
	case "leak": // open the file at arg and leave it open
		f, err := os.Open(arg)
		if err != nil {
			fmt.Fprint(os.Stderr, err)
			os.Exit(1)
		}
		leaked = append(leaked, f)
		fmt.Print("ok")
	case "closefd": // close descriptor arg (3 is the first mount)
		n, _ := strconv.Atoi(arg)
		fmt.Print(syscall.Close(n))
	case "clock":
		fmt.Print(int64(time.Since(start)), " ", time.Now().UnixNano())
	default:
		os.Stdout.Write(in)
	}
}

//go:wasmimport moat exit_code
func exitCode(code int32)

func main() {}
