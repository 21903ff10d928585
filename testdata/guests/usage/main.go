// Command usage is a test guest for receipts and traces (package host,
// issue 19): one module that behaves as several tools, chosen by argv[0].
//
//	fetchfile: reads args.file, then GETs args.url through moat.http_request;
//	           prints {"file_bytes":N,"status":S}
//	writetrap: writes args.n bytes to args.file, then traps (a moat.log
//	           call with a pointer outside its memory) before closing it
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/moatmcp/moat/sdk"
)

//go:wasmimport moat log
func moatLog(level int32, msg uint32, n int32)

type args struct {
	File string `json:"file"`
	URL  string `json:"url"`
	N    int    `json:"n"`
}

func main() {
	data, _ := io.ReadAll(os.Stdin)
	var a args
	if err := json.Unmarshal(data, &a); err != nil {
		fmt.Fprintln(os.Stderr, "bad args")
		os.Exit(9)
	}
	switch path.Base(os.Args[0]) {
	case "writetrap":
		f, err := os.Create(a.File)
		if err != nil {
			fmt.Fprintln(os.Stderr, "create:", err)
			os.Exit(3)
		}
		f.WriteString(strings.Repeat("x", a.N))
		moatLog(1, 0xFFFFFF00, 1<<20) // outside memory: the host traps the guest
		f.Close()
	default:
		b, err := os.ReadFile(a.File)
		if err != nil {
			fmt.Fprintln(os.Stderr, "read:", err)
			os.Exit(3)
		}
		status := 0
		if a.URL != "" {
			resp, err := sdk.HTTP("GET", a.URL, map[string]string{"Traceparent": "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01"}, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, "get:", err)
				os.Exit(4)
			}
			status = resp.Status
		}
		fmt.Printf(`{"file_bytes":%d,"status":%d}`, len(b), status)
	}
}
