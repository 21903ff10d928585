package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/moatmcp/moat/internal/abi"

	"github.com/tetratelabs/wazero/api"
)

// Input requests (ABI v1, docs/abi.md): a tool asks the MCP client for
// input mid-call — a form the user fills in (elicitation), a completion
// (sampling), the client's roots — through moat.input_request. The sandbox
// only moves bytes: the host (Hooks.Input) parses the request document,
// decides how it is answered and writes the response document. With the
// MCP 2026-07-28 multi-round-trip design the host usually cannot answer
// at once: Hooks.Input returns ErrInputRequired, the guest is ended there
// (OutcomeInputRequired), and the host runs the call again, from the
// start, once the client has the answers.

// Error codes of moat.input_request and moat.input_response (ABI v1).
// 11–13 mean what they mean for moat.http_request.
const (
	InputOK                uint32 = 0
	InputErrBadRequest     uint32 = 1  // the request document is malformed, too large, or asks too much
	InputErrUnsupported    uint32 = 2  // the client cannot answer some of the requests; the response document lists their keys
	InputErrBufferTooSmall uint32 = 11 // the response is kept; *resp_len_ptr holds its size: call input_response
	InputErrNoResponse     uint32 = 12 // input_response with no response kept
	InputErrFailed         uint32 = 13 // the client did not answer (an error, a timeout, a closed session)
	maxInputErrno                 = InputErrFailed
	inputRequestImport            = abi.InputRequest
	inputResponseImport           = abi.InputResponse
)

// MaxInputRequest is the largest request document a guest may pass to
// moat.input_request; larger ones get InputErrBadRequest without being read.
const MaxInputRequest = 64 << 10

// ErrInputRequired is what Hooks.Input returns when the answers are not
// known yet: the guest is ended where it asked, and the call's Outcome is
// OutcomeInputRequired.
var ErrInputRequired = errors.New("input required")

// inputCode maps a Hooks.Input error to the guest's code.
func inputCode(err error) uint32 {
	var coded interface{ Errno() uint32 }
	if errors.As(err, &coded) {
		if c := coded.Errno(); c >= InputErrBadRequest && c <= maxInputErrno && c != InputErrBufferTooSmall && c != InputErrNoResponse {
			return c
		}
	}
	return InputErrFailed
}

// moatInputRequest is moat.input_request(req_ptr, req_len, resp_ptr,
// resp_cap, resp_len_ptr i32) -> errno i32. On InputOK and
// InputErrUnsupported a response document is delivered like
// moat.http_request's (InputErrBufferTooSmall, then input_response).
func moatInputRequest(ctx context.Context, mod api.Module, stack []uint64) {
	reqPtr, reqLen := stack[0], stack[1]
	respPtr, respCap, lenPtr := api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), api.DecodeU32(stack[4])
	writeLen(mod, lenPtr, 0)
	st, _ := ctx.Value(callKey{}).(*callState)
	if st == nil {
		stack[0] = api.EncodeU32(InputErrFailed)
		return
	}
	st.input.pending = nil
	if api.DecodeU32(reqLen) > MaxInputRequest {
		stack[0] = api.EncodeU32(InputErrBadRequest)
		return
	}
	doc := guestBytes(mod, inputRequestImport, reqPtr, reqLen)
	if st.hooks == nil || st.hooks.Input == nil {
		stack[0] = api.EncodeU32(InputErrUnsupported)
		return
	}
	// The hook may keep nothing of the guest's memory: pass a copy.
	resp, err := st.hooks.Input(ctx, append([]byte(nil), doc...))
	switch {
	case errors.Is(err, ErrInputRequired):
		// End the guest here: the panic unwinds it, and outcome() reads
		// the flag rather than the wrapped error.
		st.inputRequired = true
		panic(ErrInputRequired)
	case err != nil && inputCode(err) == InputErrUnsupported:
		// The list of keys is short (the host caps keys and their
		// number): written when it fits, never kept for input_response,
		// so the code the guest sees stays InputErrUnsupported.
		writeLen(mod, lenPtr, uint32(len(resp)))
		if len(resp) > 0 && uint32(len(resp)) <= respCap && !mod.Memory().Write(respPtr, resp) {
			panic(fmt.Errorf("moat.input_request: response buffer [%d, +%d) is outside memory", respPtr, len(resp)))
		}
		stack[0] = api.EncodeU32(InputErrUnsupported)
		return
	case err != nil:
		stack[0] = api.EncodeU32(inputCode(err))
		return
	}
	st.input.pending = resp
	stack[0] = api.EncodeU32(deliver(mod, &st.input, respPtr, respCap, lenPtr))
}

// moatInputResponse is moat.input_response(resp_ptr, resp_cap,
// resp_len_ptr i32) -> errno i32: the response kept by the last
// input_request that returned InputErrBufferTooSmall.
func moatInputResponse(ctx context.Context, mod api.Module, stack []uint64) {
	respPtr, respCap, lenPtr := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	st, _ := ctx.Value(callKey{}).(*callState)
	if st == nil || st.input.pending == nil {
		writeLen(mod, lenPtr, 0)
		stack[0] = api.EncodeU32(InputErrNoResponse)
		return
	}
	stack[0] = api.EncodeU32(deliver(mod, &st.input, respPtr, respCap, lenPtr))
}

// inputRequired reports whether the call in ctx was ended by
// ErrInputRequired.
func inputRequired(ctx context.Context) bool {
	st, _ := ctx.Value(callKey{}).(*callState)
	return st != nil && st.inputRequired
}
