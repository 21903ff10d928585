package host

import (
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/telemetry"
)

// writeAudit appends one record. When it cannot be written the failure
// is logged, /readyz reports not ready, and — unless the operator chose
// [audit] on_failure = "continue" — the error is returned so that the
// request it records is refused. The audit package keeps the chain whole
// across failures and retries by itself (audit.Logger.Ready).
func (s *Server) writeAudit(rec audit.Record) error {
	rec.Replica = s.replica
	s.console.observe(&rec)
	err := s.audit.Log(rec)
	if err == nil {
		if ev := s.opts.events; ev != nil && ev.audited != nil {
			ev.audited(rec)
		}
		return nil
	}
	s.log.Error("audit log write failed", "event", rec.Event, "err", err)
	if s.audit.Refuses(err) {
		return err
	}
	return nil
}

// auditBroken is why the audit log cannot be written now, or nil (always
// nil under on_failure = "continue"). It retries a failing log at most
// once a second.
func (s *Server) auditBroken() error { return s.audit.Ready() }

// auditGate refuses requests with 503 and an error id while the audit log
// cannot be written ([audit] on_failure = "refuse"). The log retries by
// itself, so service resumes within a second of the disk taking writes
// again.
func (s *Server) auditGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.auditBroken(); err != nil {
			id := newErrorID()
			s.log.Warn("request refused: the audit log cannot be written", "error_id", id, "err", err)
			w.Header().Set("Retry-After", "1")
			writeJSONRPCError(w, http.StatusServiceUnavailable, headOf(r).ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
				Message: "service unavailable: the audit log cannot be written (error id " + id + ")"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authDecision records one authentication attempt in the audit log and
// metrics. An error means the record could not be written and the request
// must be refused (auth.Options.Record): it carries the error id logged
// with it.
func (s *Server) authDecision(r *http.Request, d auth.Decision) error {
	rec := audit.Record{Event: audit.EventAuth, Principal: d.PrincipalID, AuthMethod: d.Method, ClientAddr: d.Addr, Outcome: audit.OutcomeAuthOK, TraceID: telemetry.TraceID(r.Context())}
	if !d.OK {
		rec.Outcome, rec.Reason = audit.OutcomeAuthFailed, d.Reason
		if d.Err != nil {
			rec.ErrorID = newErrorID()
			s.log.Info("authentication failed", "error_id", rec.ErrorID, "addr", d.Addr, "reason", d.Reason, "err", d.Err)
		}
	}
	werr := s.writeAudit(rec)
	method := d.Method
	if method == "" {
		method = "none" // no credential, or one of no known shape
	}
	s.metrics.AuthDecision(method, d.OK)
	if !d.OK {
		s.metrics.Denied("unauthenticated")
	}
	if werr != nil {
		id := newErrorID()
		s.log.Error("request refused: its authentication could not be recorded", "error_id", id, "err", werr)
		return idError{id: id, err: werr}
	}
	return nil
}

// idError is an error that carries the error id it was logged under.
type idError struct {
	id  string
	err error
}

func (e idError) Error() string   { return e.err.Error() }
func (e idError) Unwrap() error   { return e.err }
func (e idError) ErrorID() string { return e.id }
