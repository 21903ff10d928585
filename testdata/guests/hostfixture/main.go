// Command hostfixture is a test guest for package host: one module that
// behaves as several tools, chosen by argv[0] (the tool name, ABI v1).
//
//	emit:    writes args.stdout to stdout and args.stderr to stderr, exits args.exit
//	notify:  sends args.logs log messages and progress 1..args.steps, then prints "done"
//	counter: increments a global and prints it (isolation check: always 1)
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"unsafe"
)

//go:wasmimport moat log
func moatLog(level int32, msg unsafe.Pointer, n int32)

//go:wasmimport moat progress
func moatProgress(progress, total float64, msg unsafe.Pointer, n int32)

type args struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Exit   int    `json:"exit"`
	Logs   int    `json:"logs"`
	Steps  int    `json:"steps"`
}

var counter int

func main() {
	data, _ := io.ReadAll(os.Stdin)
	var a args
	if err := json.Unmarshal(data, &a); err != nil {
		fmt.Fprintln(os.Stderr, "bad args")
		os.Exit(9)
	}
	switch path.Base(os.Args[0]) {
	case "notify":
		for i := 0; i < a.Logs; i++ {
			msg := fmt.Sprintf("log %d", i+1)
			moatLog(1, unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
		}
		for i := 1; i <= a.Steps; i++ {
			msg := fmt.Sprintf("step %d", i)
			moatProgress(float64(i), float64(a.Steps), unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
		}
		fmt.Print("done")
	case "counter":
		counter++
		fmt.Print(counter)
	default:
		os.Stdout.WriteString(a.Stdout)
		os.Stderr.WriteString(a.Stderr)
		os.Exit(a.Exit)
	}
}
