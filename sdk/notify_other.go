//go:build !wasip1

package sdk

import (
	"fmt"
	"os"
)

func hostLog(level Level, msg string) { fmt.Fprintf(os.Stderr, "log[%d]: %s\n", level, msg) }

func hostProgress(progress, total float64, msg string) {
	fmt.Fprintf(os.Stderr, "progress %g/%g: %s\n", progress, total, msg)
}
