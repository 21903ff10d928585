//go:build wasip1

package sdk

import "unsafe"

//go:wasmimport moat http_request
func moatHTTPRequest(req unsafe.Pointer, reqLen uint32, resp unsafe.Pointer, respCap uint32, respLen unsafe.Pointer) uint32

//go:wasmimport moat http_response
func moatHTTPResponse(resp unsafe.Pointer, respCap uint32, respLen unsafe.Pointer) uint32

// firstBuffer is the response buffer tried first; larger responses are
// fetched with moat.http_response into a buffer of the exact size, without
// making the request again.
const firstBuffer = 64 << 10

// hostHTTP sends one request document and returns the response document
// or a non-zero error code.
func hostHTTP(req []byte) ([]byte, uint32) {
	buf := make([]byte, firstBuffer)
	var n uint32
	code := moatHTTPRequest(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)),
		unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)), unsafe.Pointer(&n))
	if code == httpErrBufferTooSmall {
		buf = make([]byte, n)
		code = moatHTTPResponse(unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)), unsafe.Pointer(&n))
	}
	if code != 0 {
		return nil, code
	}
	return buf[:n], 0
}
