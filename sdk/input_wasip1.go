//go:build wasip1

package sdk

import "unsafe"

//go:wasmimport moat input_request
func moatInputRequest(req unsafe.Pointer, reqLen uint32, resp unsafe.Pointer, respCap uint32, respLen unsafe.Pointer) uint32

//go:wasmimport moat input_response
func moatInputResponse(resp unsafe.Pointer, respCap uint32, respLen unsafe.Pointer) uint32

// hostInput sends one request document and returns the response document
// and the code (the document is set for 0 and InputErrUnsupported). When
// the host does not have the answers yet, moat.input_request does not
// return: the call ends there and runs again once it has them.
func hostInput(req []byte) ([]byte, uint32) {
	buf := make([]byte, 16<<10)
	var n uint32
	code := moatInputRequest(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)),
		unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)), unsafe.Pointer(&n))
	if code == inputErrBufferSmall {
		buf = make([]byte, n)
		code = moatInputResponse(unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)), unsafe.Pointer(&n))
	}
	if code != 0 && code != InputErrUnsupported {
		return nil, code
	}
	if n > uint32(len(buf)) {
		n = 0
	}
	return buf[:n], code
}
