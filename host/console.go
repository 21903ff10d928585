package host

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/console"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/transport"
)

// This file wires the operator console (internal/console) to the server: the
// read-only view of the serving snapshot it renders, the activity it is
// fed from the audit records, and the HTTP stages in front of it.

// maxAuditVerifyBytes caps the audit file the console verifies; a larger
// one is left to `moat audit verify`, so a page view never reads a huge
// file.
const maxAuditVerifyBytes = 64 << 20

// auditVerifyEvery is how long a verification result is reused.
const auditVerifyEvery = time.Minute

// consoleState is the console's state that outlives snapshots.
type consoleState struct {
	activity *console.Activity

	mu      sync.Mutex
	reloads []console.Reload // newest first, at most console.ReloadsKept

	// auditMu guards audit, and is held while a page view verifies the
	// file (up to maxAuditVerifyBytes), so that two views verify once; it
	// is apart from mu so that a reload never waits on that read.
	auditMu sync.Mutex
	audit   console.AuditState
}

// observe feeds the activity page from one audit record: every call, and
// every refusal (transport, authentication, limits, scopes, a tool not
// granted), is audited, so this is the one place that sees them all.
func (c *consoleState) observe(rec *audit.Record) {
	switch {
	case rec.Event == audit.EventToolCall:
		tool := rec.Tool
		if tool == "" {
			tool = console.OtherTool
		}
		c.activity.Call(tool, string(rec.Outcome), time.Duration(rec.DurationMS*float64(time.Millisecond)))
		if string(rec.Outcome) == "denied" || string(rec.Outcome) == "limited" {
			c.activity.Refused(console.Refusal{Principal: rec.Principal, Tool: rec.Tool, Reason: string(rec.Outcome) + ": " + rec.Reason, Client: rec.ClientAddr})
		}
	case rec.Event == audit.EventRefusal:
		c.activity.Refused(console.Refusal{Principal: rec.Principal, Tool: rec.Tool, Reason: string(rec.Outcome) + ": " + rec.Reason, Status: rec.Status, Client: rec.ClientAddr})
	case rec.Event == audit.EventAuth && rec.Outcome != audit.OutcomeAuthOK:
		// The status (401, 403 or 400) is the authenticator's; the record
		// does not carry it.
		c.activity.Refused(console.Refusal{Principal: rec.Principal, Reason: string(rec.Outcome) + ": " + rec.Reason, Client: rec.ClientAddr})
	}
}

// recordReload keeps rep for the reloads page.
func (c *consoleState) recordReload(rep *ReloadReport, at time.Time) {
	r := console.Reload{At: at.UTC(), OK: rep.OK(), Changes: rep.Changes()}
	if rep.Err != nil {
		r.Error = firstLine(rep.Err.Error())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reloads = slices.Insert(c.reloads, 0, r)
	if len(c.reloads) > console.ReloadsKept {
		c.reloads = c.reloads[:console.ReloadsKept]
	}
}

// consoleSource is the console's view of the server, read per request
// from the snapshot serving then.
func (s *Server) consoleSource(snap *snapshot) *console.Source {
	return &console.Source{
		Tools: func() []console.Capability {
			ms := make([]*manifest.Tool, 0, len(snap.names))
			for _, n := range snap.names {
				ms = append(ms, snap.tools[n].Manifest)
			}
			serving := map[string]bool{}
			for n := range snap.held {
				_, serving[n] = snap.tools[n]
			}
			return console.Capabilities(ms, snap.held, serving)
		},
		Access: func() console.Access {
			ms := make([]*manifest.Tool, 0, len(snap.names))
			for _, n := range snap.names {
				ms = append(ms, snap.tools[n].Manifest)
			}
			// The stdio principal does not exist on HTTP, where the
			// console is served.
			cfg := *snap.cfg
			cfg.Auth.Local = manifest.LocalConfig{}
			return console.AccessMatrix(&cfg, ms, s.clock())
		},
		Activity: s.console.activity,
		Reloads: func() []console.Reload {
			s.console.mu.Lock()
			defer s.console.mu.Unlock()
			return slices.Clone(s.console.reloads)
		},
		Audit: func() console.AuditState { return s.auditState(snap.cfg.AuditFile) },
		Now:   s.clock,
	}
}

func (s *Server) clock() time.Time {
	if s.opts.now != nil {
		return s.opts.now()
	}
	return time.Now()
}

// auditState is the chain's head and whether the file verifies, checked
// at most once a minute and only for a file under maxAuditVerifyBytes.
func (s *Server) auditState(file string) console.AuditState {
	seq, head := s.audit.Head()
	c := &s.console
	c.auditMu.Lock()
	defer c.auditMu.Unlock()
	now := s.clock()
	st := console.AuditState{Seq: seq, Head: head, At: now.UTC()}
	if file != "" && file != "-" {
		st.File = file
	}
	switch {
	case st.File == "":
		st.Verified = "not checked: the log goes to standard error"
		return st
	case c.audit.File == st.File && c.audit.Head == head && now.Sub(c.audit.At) < auditVerifyEvery:
		st.Verified, st.At = c.audit.Verified, c.audit.At
		return st
	}
	st.Verified = verifyAuditFile(st.File, seq, head)
	c.audit = st
	return st
}

// verifyAuditFile says whether the file's chain verifies, and holds the
// record the logger last wrote (seq, head: taken before the file is
// read), in words for the page. A last line still being written is not a
// break. Errors are named by kind, never with the Go error text.
func verifyAuditFile(file string, seq uint64, head string) string {
	f, err := os.Open(file)
	if err != nil {
		return "not checked: the file cannot be opened"
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() > maxAuditVerifyBytes {
		return fmt.Sprintf("not checked here: larger than %d MiB (run `moat audit verify`)", maxAuditVerifyBytes>>20)
	}
	sum, err := audit.VerifyChain(io.LimitReader(f, maxAuditVerifyBytes), nil)
	var ce *audit.ChainError
	switch {
	case errors.As(err, &ce) && ce.Line == sum.Lines+1 && strings.Contains(ce.Reason, "incomplete"):
		// A record being appended as the file was read.
	case ce != nil:
		return "BROKEN: " + ce.Error()
	case err != nil:
		return "not checked: the file cannot be read"
	}
	switch {
	case seq > 0 && sum.LastSeq < seq:
		return fmt.Sprintf("BROKEN: the file ends at seq %d, but the log has written seq %d: its end was cut", sum.LastSeq, seq)
	case seq > 0 && sum.LastSeq == seq && sum.Head != head:
		return fmt.Sprintf("BROKEN: the last line (seq %d) is not the record the log wrote: it was edited", seq)
	}
	return fmt.Sprintf("ok: %d lines, seq %d to %d", sum.Lines, sum.FirstSeq, sum.LastSeq)
}

// consoleHandler is /console behind its stages: the same transport
// checks as /mcp (a foreign Origin or Host is refused), the failed-auth
// limit, authentication, the request ceiling, and the admin scope.
func (s *Server) consoleHandler(snap *snapshot, topts *transport.Options) http.Handler {
	h := s.adminOnly(console.Handler(s.consoleSource(snap)))
	h = s.requestCeiling(snap)(h)
	h = s.authenticateBrowser(snap)(h)
	h = s.authFailureLimit(snap)(h)
	h = transport.Wrap(h, topts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		console.SetHeaders(w.Header())
		h.ServeHTTP(w, r)
	})
}

// adminOnly refuses with 403 a principal without the admin scope, and
// every request when there is no authentication (--no-auth, stdio): the
// console is never served anonymously.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok || !slices.Contains(p.Scopes, console.Scope) {
			rec := audit.Record{Event: audit.EventRefusal, Outcome: audit.OutcomeDenied, Reason: "console: the admin scope is required", Status: http.StatusForbidden, ClientAddr: clientAddrOf(r)}
			if ok {
				rec.Principal, rec.AuthMethod = p.ID, p.Method
			}
			s.metrics.Denied("scope")
			_ = s.writeAudit(rec)
			http.Error(w, "forbidden: the console needs a credential with the admin scope", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticateBrowser is authenticate for the console: a browser may sign
// in with its own password prompt, HTTP Basic with the API key (or token)
// as the password (auth.MiddlewareBasic reads it; nothing is rewritten),
// and a 401 also offers Basic, so the browser asks. Without an
// authenticator the console answers nobody (adminOnly).
func (s *Server) authenticateBrowser(snap *snapshot) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if snap.authn == nil {
			return next
		}
		h := snap.authn.MiddlewareBasic(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(&basicChallenge{ResponseWriter: w}, r)
		})
	}
}

// basicChallenge adds a Basic challenge to a 401.
type basicChallenge struct{ http.ResponseWriter }

func (b *basicChallenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		b.Header().Add("WWW-Authenticate", `Basic realm="moat console", charset="UTF-8"`)
	}
	b.ResponseWriter.WriteHeader(code)
}

func (b *basicChallenge) Unwrap() http.ResponseWriter { return b.ResponseWriter }
