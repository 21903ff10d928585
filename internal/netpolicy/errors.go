package netpolicy

import (
	"errors"
	"fmt"
)

// Kind classifies why a request failed. The values are the error codes of
// the moat.http_request host import (ABI v1, docs/abi.md), so the sandbox
// can hand them to the guest unchanged; they never change meaning.
type Kind uint32

const (
	KindBadRequest       Kind = 1  // malformed URL, method or header; CR, LF or NUL; userinfo
	KindDeniedHost       Kind = 2  // host or port not in the allowlist
	KindDeniedScheme     Kind = 3  // plain http to a host not in http_hosts, or not http(s)
	KindDeniedMethod     Kind = 4  // method not in methods
	KindDeniedAddress    Kind = 5  // the host resolves to an address class that is refused
	KindDNS              Kind = 6  // the name did not resolve
	KindConnect          Kind = 7  // TCP or TLS failed
	KindTimeout          Kind = 8  // the request's or the call's time ran out
	KindRequestTooLarge  Kind = 9  // body over max_request
	KindResponseTooLarge Kind = 10 // body over max_response
	// 11 and 12 are the sandbox's (buffer too small, no pending response).
	KindFailed Kind = 13 // anything else: a protocol error, a reset mid-body
)

var kindNames = map[Kind]string{
	KindBadRequest:       "bad_request",
	KindDeniedHost:       "denied_host",
	KindDeniedScheme:     "denied_scheme",
	KindDeniedMethod:     "denied_method",
	KindDeniedAddress:    "denied_address",
	KindDNS:              "dns",
	KindConnect:          "connect",
	KindTimeout:          "timeout",
	KindRequestTooLarge:  "request_too_large",
	KindResponseTooLarge: "response_too_large",
	KindFailed:           "failed",
}

// String returns the kind's log name, e.g. "denied_host".
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

// Error is every error Policy.Do returns. Msg is written for the
// operator's log: it names hosts, ports, methods and address classes, never
// header values, bodies, query strings or the underlying Go error text
// (Err keeps that, for errors.Is and for a debug log only).
type Error struct {
	Kind Kind
	Msg  string
	Err  error // the cause, if any; may hold Go error text
}

func (e *Error) Error() string { return "net: " + e.Kind.String() + ": " + e.Msg }

func (e *Error) Unwrap() error { return e.Err }

// Errno returns the ABI error code of the failure (see Kind). The sandbox
// finds it through an interface, so it does not import this package.
func (e *Error) Errno() uint32 { return uint32(e.Kind) }

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the Kind of err, KindFailed if it carries none, and 0 for
// nil.
func KindOf(err error) Kind {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindFailed
}

// ErrConfig is wrapped by every error New returns.
var ErrConfig = errors.New("invalid net policy")
