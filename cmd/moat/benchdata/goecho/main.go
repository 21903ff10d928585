// Command goecho is the Go twin of echo.wat for `moat bench`: it copies
// stdin to stdout, so the difference between the two is the cost of the Go
// runtime's start-up in every fresh instance.
package main

import (
	"io"
	"os"
)

func main() { io.Copy(os.Stdout, os.Stdin) }
