package host

import (
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/ratelimit"
	"github.com/moatmcp/moat/internal/state"
)

// openState opens the shared state store of [state] url, for the life of
// the process (a reload cannot change it: restartOnly). Without a url it
// leaves s.store nil: each snapshot's limiter keeps its buckets in this
// process, as before. Redis being down is not an error here: the store
// starts down, the server is not ready, and it recovers by itself.
func (s *Server) openState(cfg *manifest.Config) error {
	s.replica = cfg.State.Replica
	if s.replica == "" {
		if h, err := os.Hostname(); err == nil {
			s.replica = h
		}
	}
	sc := cfg.State
	if sc.URL == "" {
		return nil
	}
	pw, err := state.ReadPassword(sc.PasswordFile, sc.PasswordEnv)
	if err != nil {
		return fmt.Errorf("%s: [state]: %w", cfg.File, err)
	}
	rs, err := state.Open(&state.Options{URL: sc.URL, Password: pw, Prefix: sc.Prefix, Timeout: sc.Timeout,
		OnChange: func(err error) {
			// One line per transition, never per request.
			s.metrics.StateUp(err == nil)
			if err != nil {
				s.log.Error("state store unavailable: "+stateConsequence(sc.OnFailure), "url", sc.URL, "err", err)
			} else {
				s.log.Info("state store available: limits are shared", "url", sc.URL, "replica", s.replica)
			}
		}})
	if err != nil {
		return fmt.Errorf("%s: [state]: %w", cfg.File, err)
	}
	s.store = rs
	s.storeRefuses = sc.OnFailure != manifest.StateLocal
	if !s.storeRefuses {
		s.store = state.Fallback(rs, ratelimit.NewLocalStore(ratelimit.TableOptions{}))
	}
	return nil
}

func stateConsequence(m manifest.StateFailureMode) string {
	if m == manifest.StateLocal {
		return "each replica limits on its own until it answers ([state] on_failure = \"local\")"
	}
	return "refusing requests with 503 until it answers ([state] on_failure = \"refuse\")"
}

// stateBroken is why the server is not ready because of its state store,
// or "".
func (s *Server) stateBroken() string {
	if s.store != nil && s.storeRefuses && s.store.Health() != nil {
		return "state store unavailable"
	}
	return ""
}

// stateFailure answers a request whose limit could not be checked: 503
// with an error id (fail closed), and an audit record. A store that is
// down was logged once when it went down; here the request's own line is
// at debug level, so an outage does not flood the log. A corrupt key
// (another program wrote it) is a warning each time: it is rare, and the
// operator must find it.
func (s *Server) stateFailure(w http.ResponseWriter, r *http.Request, err error) {
	id := newErrorID()
	if errors.Is(err, state.ErrCorrupt) {
		s.log.Warn("request refused: a state key holds a value moat did not write; delete it", "error_id", id, "err", err)
	} else {
		s.log.Debug("request refused: state store unavailable", "error_id", id, "err", err)
	}
	rec := audit.Record{Event: audit.EventRefusal, Outcome: audit.OutcomeRefused, Reason: "state_unavailable", Status: http.StatusServiceUnavailable, ClientAddr: clientAddrOf(r), ErrorID: id}
	if p, ok := auth.FromContext(r.Context()); ok {
		rec.Principal, rec.AuthMethod = p.ID, p.Method
	}
	_ = s.writeAudit(rec)
	w.Header().Set("Retry-After", "1")
	writeJSONRPCError(w, http.StatusServiceUnavailable, headOf(r).ID, stateError(id))
}

// stateError is the client-facing error of a request refused because its
// limits could not be checked.
func stateError(id string) *jsonrpc.Error {
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "service unavailable: shared limits cannot be checked; retry later (error id " + id + ")"}
}
