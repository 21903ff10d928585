//go:build !wasip1

package sdk

// hostInput is the host import outside moat: a native build (tests, `go
// run`) has no client to ask. Tests replace it.
var hostInput = func(req []byte) ([]byte, uint32) { return nil, InputErrUnsupported }
