// Command goreactor is a Go reactor test guest (built with
// -buildmode=c-shared): each call runs moat_call, which reads a command
// from stdin. "count" increments a package-level counter and prints it;
// "put X" keeps X in memory; "get" prints what was kept (or "empty");
// "echo" copies stdin; "panic" panics; "exit N" exits with N.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

var (
	counter int
	kept    []byte
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
	default:
		os.Stdout.Write(in)
	}
}

func main() {}
