//go:build wasip1

package sdk

import "unsafe"

//go:wasmimport moat log
func moatLog(level int32, msg unsafe.Pointer, n int32)

//go:wasmimport moat progress
func moatProgress(progress, total float64, msg unsafe.Pointer, n int32)

func hostLog(level Level, msg string) {
	moatLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}

func hostProgress(progress, total float64, msg string) {
	moatProgress(progress, total, unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}
