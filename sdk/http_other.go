//go:build !wasip1

package sdk

// hostHTTP is the host import outside moat: a native build (tests, `go
// run`) has no host to police the request, so it fails rather than reach
// the network unchecked. Tests call httpVia with their own stand-in.
func hostHTTP([]byte) ([]byte, uint32) { return nil, HTTPErrFailed }
