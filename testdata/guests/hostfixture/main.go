// Command hostfixture is a test guest for package host: one module that
// behaves as several tools, chosen by argv[0] (the tool name, ABI v1).
//
//	emit:    writes args.stdout to stdout and args.stderr to stderr, exits args.exit
//	notify:  sends args.logs log messages and progress 1..args.steps, then prints "done"
//	counter: increments a global and prints it (isolation check: always 1)
//	ask:     passes args.doc to moat.input_request with a buffer of args.cap
//	         bytes (args.cap2 for input_response after code 11) and prints
//	         "code=N len=L resp=…"; args.again asks input_response once more
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

//go:wasmimport moat input_request
func moatInputRequest(req unsafe.Pointer, reqLen uint32, resp unsafe.Pointer, respCap uint32, respLen unsafe.Pointer) uint32

//go:wasmimport moat input_response
func moatInputResponse(resp unsafe.Pointer, respCap uint32, respLen unsafe.Pointer) uint32

type args struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Exit   int    `json:"exit"`
	Logs   int    `json:"logs"`
	Steps  int    `json:"steps"`
	Doc    string `json:"doc"`
	Cap    int    `json:"cap"`
	Cap2   int    `json:"cap2"`
	Again  bool   `json:"again"`
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
	case "ask":
		doc := []byte(a.Doc)
		buf := make([]byte, a.Cap+1) // +1: never a nil pointer
		var n uint32
		code := moatInputRequest(unsafe.Pointer(unsafe.SliceData(doc)), uint32(len(doc)), unsafe.Pointer(unsafe.SliceData(buf)), uint32(a.Cap), unsafe.Pointer(&n))
		fmt.Printf("code=%d len=%d", code, n)
		if code == 11 {
			buf = make([]byte, a.Cap2+1)
			code = moatInputResponse(unsafe.Pointer(unsafe.SliceData(buf)), uint32(a.Cap2), unsafe.Pointer(&n))
			fmt.Printf(" then code=%d len=%d", code, n)
		}
		if (code == 0 || code == 2) && n > 0 && int(n) < len(buf) {
			fmt.Printf(" resp=%s", buf[:n])
		}
		if a.Again {
			code = moatInputResponse(unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)), unsafe.Pointer(&n))
			fmt.Printf(" again code=%d", code)
		}
	case "counter":
		counter++
		fmt.Print(counter)
	default:
		os.Stdout.WriteString(a.Stdout)
		os.Stderr.WriteString(a.Stderr)
		os.Exit(a.Exit)
	}
}
