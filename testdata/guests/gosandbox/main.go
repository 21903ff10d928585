// Command gosandbox is a Go (wasip1) test guest for internal/sandbox. What it
// does depends on argv[0], which the sandbox sets to the tool's name:
//
//	echo   copy stdin to stdout, byte for byte
//	panic  panic (the Go runtime exits with code 2)
//	bomb   allocate and keep 1 MiB blocks until the runtime runs out of memory
//
// It is built by the sandbox tests' TestMain with GOOS=wasip1 GOARCH=wasm.
package main

import (
	"io"
	"os"
)

var keep [][]byte

func main() {
	switch os.Args[0] {
	case "echo":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			os.Exit(1)
		}
	case "panic":
		panic("gosandbox: deliberate panic")
	case "bomb":
		for { // memory.grow backs every block: no need to touch it
			keep = append(keep, make([]byte, 1<<20))
		}
	default:
		os.Exit(64)
	}
}
