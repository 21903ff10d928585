package sandbox

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/moatmcp/moat/internal/abi"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// moatModule is the import module of moat's host functions (ABI v1).
const moatModule = abi.Module

// Notification limits (ABI v1): a guest cannot flood the client through
// moat.log or moat.progress.
const (
	MaxNotifyMessage = 4 << 10 // bytes per message; longer ones are cut at a UTF-8 boundary
	MaxNotifications = 1000    // per call, log and progress together; later ones are dropped
)

// Hooks receive what a guest reports while it runs. They are called on the
// guest's goroutine, so a slow hook slows the guest (its timeout still
// runs). A nil Hooks or a nil field drops those notifications.
type Hooks struct {
	Log      func(level int, msg string)               // level: 0 debug … 7 emergency (MCP's syslog order)
	Progress func(progress, total float64, msg string) // total <= 0: unknown
	// Input answers moat.input_request (input.go): req is the guest's
	// request document, at most MaxInputRequest bytes, unchecked; the
	// result is the response document. An error with a method
	// Errno() uint32 gives the guest that code (InputErrUnsupported with
	// the response document listing the keys the client cannot answer);
	// ErrInputRequired ends the call with OutcomeInputRequired; any other
	// error is InputErrFailed. nil: every request is InputErrUnsupported.
	Input func(ctx context.Context, req []byte) ([]byte, error)
}

// hostFunc is one function of the moat host module.
type hostFunc struct {
	name            string
	params, results []api.ValueType
	// grant is the manifest grant that links the function; "" means
	// always linked. Functions with a grant are exported by the runtime's
	// moat module like the others, but Load refuses modules that import
	// them without the grant, so an ungranted module never links them.
	grant string
	fn    api.GoModuleFunc
}

var i32, f64 = api.ValueTypeI32, api.ValueTypeF64

// moatFuncs are the moat host functions. ABI v1: log and progress, always
// linked, which only report to the MCP client; exit_code, always linked;
// http_request and http_response, linked with the [net] grant (net.go);
// input_request and input_response, always linked (input.go): asking the
// client is no power over the host, and the client decides what to answer.
var moatFuncs = []hostFunc{
	{name: abi.Log, params: []api.ValueType{i32, i32, i32}, fn: moatLog},
	{name: abi.Progress, params: []api.ValueType{f64, f64, i32, i32}, fn: moatProgress},
	{name: abi.ExitCode, params: []api.ValueType{i32}, fn: moatExitCode},
	{name: httpRequestImport, params: []api.ValueType{i32, i32, i32, i32, i32}, results: []api.ValueType{i32}, grant: netGrant, fn: moatHTTPRequest},
	{name: httpResponseImport, params: []api.ValueType{i32, i32, i32}, results: []api.ValueType{i32}, grant: netGrant, fn: moatHTTPResponse},
	{name: inputRequestImport, params: []api.ValueType{i32, i32, i32, i32, i32}, results: []api.ValueType{i32}, fn: moatInputRequest},
	{name: inputResponseImport, params: []api.ValueType{i32, i32, i32}, results: []api.ValueType{i32}, fn: moatInputResponse},
}

func moatFuncByName(name string) (hostFunc, bool) {
	for _, f := range moatFuncs {
		if f.name == name {
			return f, true
		}
	}
	return hostFunc{}, false
}

// instantiateMoat instantiates the moat host module once per runtime. The
// functions find the current call through the ctx they are called with.
func instantiateMoat(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(moatModule)
	for _, f := range moatFuncs {
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// callState is one call's view for the host functions.
type callState struct {
	hooks *Hooks
	sent  int      // notifications passed to hooks (one guest goroutine: no lock)
	exit  uint32   // moat.exit_code's last value: the code of a call whose entry returns
	input netState // the response document kept for moat.input_response
	// inputRequired is set when Hooks.Input returned ErrInputRequired:
	// the guest was ended there.
	inputRequired bool
}

// exitCode is the code moat.exit_code set for the call in ctx (0 if none).
func exitCode(ctx context.Context) uint32 {
	if st, _ := ctx.Value(callKey{}).(*callState); st != nil {
		return st.exit
	}
	return 0
}

// moatExitCode is moat.exit_code(code i32): the exit code the call ends
// with when its entry function (_start or moat_call) returns normally,
// instead of 0. Unlike proc_exit it does not end the instance, so a
// reactor that reports a tool error this way can be reset and reused.
func moatExitCode(ctx context.Context, _ api.Module, stack []uint64) {
	if st, _ := ctx.Value(callKey{}).(*callState); st != nil {
		st.exit = api.DecodeU32(stack[0])
	}
}

type callKey struct{}

func withCall(ctx context.Context, hooks *Hooks) context.Context {
	return context.WithValue(ctx, callKey{}, &callState{hooks: hooks})
}

// allow counts one notification and says whether it may be sent.
func (s *callState) allow() bool {
	if s.sent >= MaxNotifications {
		return false
	}
	s.sent++
	return true
}

// moatLog is moat.log(level i32, msg_ptr i32, msg_len i32).
func moatLog(ctx context.Context, mod api.Module, stack []uint64) {
	level := int32(api.DecodeI32(stack[0]))
	raw := guestBytes(mod, "log", stack[1], stack[2])
	st, _ := ctx.Value(callKey{}).(*callState)
	if st == nil || st.hooks == nil || st.hooks.Log == nil || !st.allow() {
		return
	}
	st.hooks.Log(int(min(max(level, 0), 7)), capMessage(raw))
}

// moatProgress is moat.progress(progress f64, total f64, msg_ptr i32, msg_len i32).
func moatProgress(ctx context.Context, mod api.Module, stack []uint64) {
	progress, total := api.DecodeF64(stack[0]), api.DecodeF64(stack[1])
	raw := guestBytes(mod, "progress", stack[2], stack[3])
	st, _ := ctx.Value(callKey{}).(*callState)
	if st == nil || st.hooks == nil || st.hooks.Progress == nil {
		return
	}
	// JSON cannot carry NaN or infinities: such a report means nothing.
	if math.IsNaN(progress) || math.IsInf(progress, 0) {
		return
	}
	if math.IsNaN(total) || math.IsInf(total, 0) || total < 0 {
		total = 0
	}
	if !st.allow() {
		return
	}
	st.hooks.Progress(progress, total, capMessage(raw))
}

// guestBytes returns the guest's memory [ptr, ptr+n) without copying. A
// range outside memory traps the guest: the panic becomes the call's
// error (OutcomeTrap).
func guestBytes(mod api.Module, fn string, ptr, n uint64) []byte {
	p, l := api.DecodeU32(ptr), api.DecodeU32(n)
	if l == 0 {
		return nil
	}
	mem := mod.Memory()
	if mem != nil {
		if b, ok := mem.Read(p, l); ok {
			return b
		}
	}
	panic(fmt.Errorf("moat.%s: message [%d, +%d) is outside memory", fn, p, l))
}

// capMessage returns b as valid UTF-8 (invalid bytes become U+FFFD) of at
// most MaxNotifyMessage bytes, cut at a character boundary.
func capMessage(b []byte) string {
	if len(b) > MaxNotifyMessage+utf8.UTFMax {
		b = b[:MaxNotifyMessage+utf8.UTFMax] // enough to cut at a boundary below
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(s) <= MaxNotifyMessage {
		return s
	}
	n := MaxNotifyMessage
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
