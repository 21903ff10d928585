//go:build !wasip1

package sdk

// hostInput is the host import outside moat: a native build (tests, `go
// run`) has no client to ask. Tests give the functions of input.go their
// own stand-in (asker).
func hostInput([]byte) ([]byte, uint32) { return nil, InputErrUnsupported }
