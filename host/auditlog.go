package host

import (
	"net/http"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/moatmcp/moat/host/audit"
	"github.com/moatmcp/moat/host/auth"
	"github.com/moatmcp/moat/host/manifest"
)

// auditState remembers whether the audit log could be written last time,
// so that requests are refused while it cannot ([audit] on_failure =
// "refuse"), and served again as soon as a write succeeds.
type auditState struct {
	mu  sync.Mutex
	err error // the last write's failure; nil when it worked
}

// writeAudit appends one record. When it cannot be written, the failure is
// logged, /readyz reports not ready, and — unless the operator chose
// on_failure = "continue" — the error is returned so that the request it
// records is refused.
func (s *Server) writeAudit(rec audit.Record) error {
	rec.Replica = s.replica
	err := s.audit.Log(rec)
	s.auditSt.mu.Lock()
	was := s.auditSt.err
	s.auditSt.err = err
	s.auditSt.mu.Unlock()
	switch {
	case err != nil && was == nil:
		s.log.Error("audit log write failed; refusing requests until it can be written again", "err", err)
	case err == nil && was != nil:
		s.log.Info("audit log writable again; serving")
	}
	if err != nil && s.auditContinues() {
		return nil
	}
	return err
}

// auditContinues reports whether the operator chose to serve without an
// audit trail when it cannot be written.
func (s *Server) auditContinues() bool {
	snap := s.current()
	return snap != nil && snap.cfg.AuditOnFailure == manifest.AuditContinue
}

// auditBroken is the last audit write's failure, or nil.
func (s *Server) auditBroken() error {
	s.auditSt.mu.Lock()
	defer s.auditSt.mu.Unlock()
	return s.auditSt.err
}

// auditGate refuses requests with 503 and an error id while the audit log
// cannot be written. Each refused request tries the log again (its refusal
// is itself a record), so service resumes by itself at the first write
// that works.
func (s *Server) auditGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.auditBroken() != nil && !s.auditContinues() {
			rec := audit.Record{Event: audit.EventRefusal, Outcome: "refused", Reason: "audit_unavailable", Status: http.StatusServiceUnavailable, ClientAddr: clientAddrOf(r)}
			if p, ok := auth.FromContext(r.Context()); ok {
				rec.Principal, rec.AuthMethod = p.ID, p.Method
			}
			if err := s.writeAudit(rec); err != nil {
				id := NewErrorID()
				s.log.Warn("request refused: audit log unavailable", "error_id", id)
				writeJSONRPCError(w, http.StatusServiceUnavailable, headOf(r).ID, &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
					Message: "service unavailable: the audit log cannot be written (error id " + id + ")"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// authDecision records one authentication attempt in the audit log and
// metrics.
func (s *Server) authDecision(r *http.Request, d auth.Decision) {
	rec := audit.Record{Event: audit.EventAuth, Principal: d.PrincipalID, AuthMethod: d.Method, ClientAddr: d.Addr, Outcome: "auth_ok"}
	if !d.OK {
		rec.Outcome, rec.Reason = "auth_failed", d.Reason
		if d.Err != nil {
			rec.ErrorID = NewErrorID()
			s.log.Info("authentication failed", "error_id", rec.ErrorID, "addr", d.Addr, "reason", d.Reason, "err", d.Err)
		}
	}
	_ = s.writeAudit(rec) // a failure is refused by auditGate, right after authentication
	method := d.Method
	if method == "" {
		method = "none" // no credential, or one of no known shape
	}
	s.metrics.AuthDecision(method, d.OK)
	if !d.OK {
		s.metrics.Denied("unauthenticated")
	}
}
