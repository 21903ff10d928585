package audit

// Outcome is what a call or a decision came to: the one vocabulary of the
// audit log's outcome field, the metrics' outcome label (internal/metrics
// takes CallOutcomes) and the host's call results (host/result.go names
// one for every way a run ends). A new outcome is added here, and only
// here.
type Outcome string

// The outcomes of tool calls (EventToolCall), in the order the metrics
// list them.
const (
	OutcomeOK               Outcome = "ok"
	OutcomeToolError        Outcome = "tool_error"
	OutcomeDenied           Outcome = "denied"
	OutcomeLimited          Outcome = "limited"
	OutcomeInvalidArguments Outcome = "invalid_arguments"
	OutcomeInputTooLarge    Outcome = "input_too_large"
	OutcomeBusy             Outcome = "busy"
	OutcomeTimeout          Outcome = "timeout"
	OutcomeMemory           Outcome = "memory"
	OutcomeOutputOverflow   Outcome = "output_overflow"
	OutcomeTrap             Outcome = "trap"
	OutcomeCanceled         Outcome = "canceled"
	OutcomeBadOutput        Outcome = "bad_output"
	OutcomeHostError        Outcome = "host_error"
	OutcomeUnknownTool      Outcome = "unknown_tool"
	OutcomeOverQuota        Outcome = "over_quota"
	// Multi-round-trip calls (host/mrtr.go).
	OutcomeInputRequired       Outcome = "input_required"
	OutcomeInputMismatch       Outcome = "input_mismatch"
	OutcomeInputFailed         Outcome = "input_failed"
	OutcomeTooManyRounds       Outcome = "too_many_rounds"
	OutcomeInvalidRequestState Outcome = "invalid_request_state"
	OutcomeInvalidInput        Outcome = "invalid_input" // a client's answer did not match what the tool asked for
)

// The outcomes of the other events.
const (
	OutcomeAuthOK     Outcome = "auth_ok"     // EventAuth
	OutcomeAuthFailed Outcome = "auth_failed" // EventAuth
	OutcomeRefused    Outcome = "refused"     // EventRefusal: a request refused before MCP
	OutcomeError      Outcome = "error"       // EventReload that was refused; a failed outbound request
	OutcomeResumed    Outcome = "resumed"     // EventAudit: writes resumed after a failure
)

// CallOutcomes are the outcomes a tool call can have, in order.
var CallOutcomes = []Outcome{
	OutcomeOK, OutcomeToolError, OutcomeDenied, OutcomeLimited, OutcomeInvalidArguments,
	OutcomeInputTooLarge, OutcomeBusy, OutcomeTimeout, OutcomeMemory, OutcomeOutputOverflow, OutcomeTrap,
	OutcomeCanceled, OutcomeBadOutput, OutcomeHostError, OutcomeUnknownTool, OutcomeOverQuota,
	OutcomeInputRequired, OutcomeInputMismatch, OutcomeInputFailed, OutcomeTooManyRounds, OutcomeInvalidRequestState,
	OutcomeInvalidInput,
}
