//lint:file-ignore SA1019 sampling and roots are deprecated by protocol 2026-07-28 (SEP-2577) but still served through their deprecation window: a tool may ask for them (moat.input_request), and older sessions are asked through the SDK's deprecated calls; docs/abi.md.

package host

// Multi-round-trip tool calls: a tool asks the MCP client for input
// mid-call (moat.input_request: elicitation, sampling, roots) and gets the
// answers back. This file is the go-sdk side of it; the sandbox only moves
// the documents (internal/sandbox/input.go).
//
// Every call runs in a fresh instance, so the design is replay. The guest
// runs from the start; each time it asks, the host looks at the rounds of
// questions it has answers for:
//
//   - the guest's n-th ask is answered with round n's answers, if the
//     request document is the same as the one round n recorded (the same
//     keys, methods and params: a SHA-256 of its canonical JSON); a
//     different ask ends the call with a tool error (input_mismatch);
//   - an ask past the last round ends the guest there (the sandbox's
//     ErrInputRequired), and the call's result is what the client must
//     answer.
//
// A call that finishes without asking every recorded round is refused too:
// the answers would have been given to questions the tool no longer asks.
//
// How the client is asked depends on the protocol era of the request:
//
//   - 2026-07-28 (and stdio clients without initialize): the result is
//     input_required with the guest's requests and a requestState, sealed
//     (internal/sealed) and bound to the principal, the tool (name and
//     manifest digest) and a digest of the arguments, with an expiry
//     ([request_state] ttl) and a nonce. The client retries the tools/call
//     with inputResponses and the requestState; each retry is a tools/call
//     like any other (authorised, rate limited, validated, audited). The
//     answers of the last round are taken from inputResponses, by key, and
//     must be of the kind that was asked; a key missing or of the wrong
//     kind makes the host ask that round again (a new input_required).
//     Answers sent without a requestState are ignored: the host asked
//     nothing.
//   - 2025-11-25 and older sessions: the host asks the client itself
//     (ServerSession.Elicit, CreateMessage, ListRoots) between runs and
//     runs the guest again, within the same tools/call. No instance, slot
//     or guest memory is held while a person answers, and the tool's time
//     limit counts only its own runs.
//
// A request the client did not declare the capability for is never sent:
// moat.input_request returns InputErrUnsupported with the keys.
//
// Replay protection: each requestState is single-use. Its nonce is taken
// in the state store (a counted slot of one, internal/state) when a retry
// opens it, until the state would expire; a second use is refused. With
// [state] url the record is shared, so a state used on one replica is
// refused on every other.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/ratelimit"
	"github.com/moatmcp/moat/internal/sandbox"
	"github.com/moatmcp/moat/internal/sealed"
	"github.com/moatmcp/moat/internal/state"
)

// Limits of multi-round-trip calls.
const (
	// maxInputRounds is how many rounds of questions one call may ask.
	maxInputRounds = 8
	// MaxInputRequests is how many requests one round may hold.
	MaxInputRequests = 8
	// MaxRequestState is the longest requestState accepted, in bytes.
	MaxRequestState = 64 << 10
	// inputWait bounds how long a session's client may take to answer one
	// round (2025-11-25 sessions; a person may be filling in a form).
	inputWait = 10 * time.Minute
	// requestStatePurpose separates these tokens from any other use of
	// the key.
	requestStatePurpose = "moat requestState v1"
	maxKeyFileBytes     = 1 << 10
)

// inputKey is the form of a request's key (the client echoes it back).
var inputKey = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// inputErrno is an error Hooks.Input returns to give the guest a code.
type inputErrno uint32

func (e inputErrno) Error() string { return fmt.Sprintf("input request refused (code %d)", uint32(e)) }
func (e inputErrno) Errno() uint32 { return uint32(e) }

// inputSealing is the server's requestState machinery, for the process's
// life: a reload cannot change the key (restartOnly).
type inputSealing struct {
	sealer *sealed.Sealer
	ttl    time.Duration
	store  state.Store      // the nonces of used requestStates
	now    func() time.Time // the sealer's clock
}

// openInputSealing reads [request_state]'s key, or makes one for this
// process when none is configured.
func (s *Server) openInputSealing(cfg *manifest.Config) error {
	rs := cfg.RequestState
	key, err := readSealingKey(rs.KeyFile, rs.KeyEnv)
	if err != nil {
		return fmt.Errorf("%s: [request_state]: %w", cfg.File, err)
	}
	if key == nil {
		key = sealed.NewKey()
		if cfg.State.URL != "" {
			// Replicas share limits, so a retry may land on another one,
			// which cannot open this process's requestStates.
			s.log.Warn("no [request_state] key_file or key_env: a tool call waiting for input can only be continued on this replica", "config", cfg.File)
		}
	}
	sl, err := sealed.New(key, &sealed.Options{Purpose: requestStatePurpose, MaxToken: MaxRequestState, Now: s.opts.now})
	if err != nil {
		return fmt.Errorf("%s: [request_state]: %w", cfg.File, err)
	}
	store := s.store
	if store == nil {
		store = ratelimit.NewLocalStore(ratelimit.TableOptions{})
	}
	ttl := rs.TTL
	if ttl <= 0 {
		ttl = manifest.DefaultRequestStateTTL
	}
	now := s.opts.now
	if now == nil {
		now = time.Now
	}
	s.inputs = &inputSealing{sealer: sl, ttl: ttl, store: store, now: now}
	return nil
}

// readSealingKey reads a 32-byte key, as 64 hex digits or base64, from
// the first line of file or from the environment variable env; nil
// without either. A key file others may read is refused.
func readSealingKey(file, env string) ([]byte, error) {
	var text string
	switch {
	case file != "":
		fi, err := os.Stat(file)
		if err != nil {
			return nil, fmt.Errorf("key_file: %w", err)
		}
		if fi.Mode().Perm()&0o007 != 0 {
			return nil, fmt.Errorf("key_file %s: readable by other users (mode %v): chmod o-rwx it", file, fi.Mode().Perm())
		}
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("key_file: %w", err)
		}
		defer f.Close()
		buf := make([]byte, maxKeyFileBytes+1)
		n, _ := f.Read(buf)
		if n > maxKeyFileBytes {
			return nil, fmt.Errorf("key_file %s: longer than %d bytes", file, maxKeyFileBytes)
		}
		text, _, _ = strings.Cut(string(buf[:n]), "\n")
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return nil, fmt.Errorf("key_env: $%s is not set", env)
		}
		text = v
	default:
		return nil, nil
	}
	key, ok := decodeKey(strings.TrimSpace(text))
	if !ok {
		return nil, errors.New("the key must be 32 bytes written as 64 hex digits or in base64 (openssl rand -hex 32)")
	}
	return key, nil
}

func decodeKey(s string) ([]byte, bool) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == sealed.KeySize {
		return b, true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == sealed.KeySize {
			return b, true
		}
	}
	return nil, false
}

// requestState is the sealed message of a requestState.
type requestState struct {
	V          int          `json:"v"`
	Nonce      string       `json:"n"` // the replay record's key
	Principal  string       `json:"p"`
	Tool       string       `json:"t"`
	ToolDigest string       `json:"td"` // the manifest's digest: another version of the tool is another tool
	Args       string       `json:"a"`  // argsDigest of the call's arguments
	Rounds     []inputRound `json:"r"`  // every round asked; the last one waits for its answers
}

// inputRound is one round of questions: what was asked and, once known,
// the answers.
type inputRound struct {
	Ask     string                     `json:"q"`           // askDigest of the request document
	Kinds   map[string]string          `json:"k"`           // key → method
	Answers map[string]json.RawMessage `json:"a,omitempty"` // key → the client's result; nil while unanswered
}

// replay drives one run of a guest through the rounds answered so far
// (Hooks.Input).
type replay struct {
	caps func() *mcp.ClientCapabilities // tests: fixed capabilities; nil: req's (clientCaps)
	req  *mcp.CallToolRequest           // the call, whose capabilities clientCaps decodes
	// capsOnce and capsOf: req's capabilities, decoded on first use (only
	// a guest that asks for input needs them; the go-sdk decodes _meta
	// anew on each read), without a sync.OnceValue's allocations per call.
	capsOnce sync.Once
	capsOf   *mcp.ClientCapabilities
	rounds   []inputRound // answered
	next     int          // the round the guest's next ask must match
	pending  *inputRound  // the guest asked past the answered rounds
	asked    mcp.InputRequestMap
	problem  audit.Outcome  // why the guest was ended other than for input: input_mismatch, too_many_rounds, invalid_input
	invalid  *elicitProblem // the answer refused, for invalid_input (elicit.go)
}

// clientCaps is the capabilities the client declared for this call.
func (r *replay) clientCaps() *mcp.ClientCapabilities {
	if r.caps != nil {
		return r.caps()
	}
	r.capsOnce.Do(func() { r.capsOf = r.req.ClientCapabilities() })
	return r.capsOf
}

// ask is Hooks.Input.
func (r *replay) ask(_ context.Context, doc []byte) ([]byte, error) {
	reqs, err := parseInputRequests(doc)
	if err != nil {
		return nil, inputErrno(sandbox.InputErrBadRequest)
	}
	if keys := r.unanswerable(reqs); len(keys) > 0 {
		b, _ := json.Marshal(keys)
		return b, inputErrno(sandbox.InputErrUnsupported)
	}
	if checkElicitSchemas(reqs) != nil {
		return nil, inputErrno(sandbox.InputErrBadRequest) // a requestedSchema moat cannot check answers against
	}
	digest, kinds, err := askDigest(reqs)
	if err != nil {
		return nil, inputErrno(sandbox.InputErrBadRequest)
	}
	if r.next < len(r.rounds) {
		rd := r.rounds[r.next]
		if rd.Ask != digest {
			r.problem = audit.OutcomeInputMismatch
			return nil, sandbox.ErrInputRequired // ends the guest
		}
		// The answers are the client's: checked against what was asked
		// before the guest sees them (elicit.go).
		checked, prob := checkAnswers(reqs, rd.Answers)
		if prob != nil {
			r.problem, r.invalid = audit.OutcomeInvalidInput, prob
			return nil, sandbox.ErrInputRequired
		}
		r.next++
		return json.Marshal(checked)
	}
	if len(r.rounds) >= maxInputRounds {
		r.problem = audit.OutcomeTooManyRounds
		return nil, sandbox.ErrInputRequired
	}
	r.pending = &inputRound{Ask: digest, Kinds: kinds}
	r.asked = reqs
	return nil, sandbox.ErrInputRequired
}

// parseInputRequests reads a guest's request document: a JSON object of
// key → {"method", "params"}, the MCP inputRequests shape, with 1 to
// MaxInputRequests keys of the inputKey form.
func parseInputRequests(doc []byte) (mcp.InputRequestMap, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 || len(raw) > MaxInputRequests {
		return nil, errors.New("wrong number of requests")
	}
	for k, v := range raw {
		if !inputKey.MatchString(k) || len(v) == 0 || v[0] != '{' {
			return nil, errors.New("bad key or request")
		}
	}
	var reqs mcp.InputRequestMap
	if err := json.Unmarshal(doc, &reqs); err != nil {
		return nil, err
	}
	return reqs, nil
}

// methodOf names an input request's MCP method.
func methodOf(r mcp.InputRequest) string {
	switch r.(type) {
	case *mcp.ElicitParams:
		return "elicitation/create"
	case *mcp.CreateMessageParams, *mcp.CreateMessageWithToolsParams:
		return "sampling/createMessage"
	case *mcp.ListRootsParams:
		return "roots/list"
	}
	return ""
}

// unanswerable lists, sorted, the keys of requests the client did not
// declare the capability for.
func (r *replay) unanswerable(reqs mcp.InputRequestMap) []string {
	var keys []string
	for k, v := range reqs {
		var need manifest.ClientCapability
		switch methodOf(v) {
		case "elicitation/create":
			need = manifest.CapElicitation
		case "sampling/createMessage":
			need = manifest.CapSampling
		case "roots/list":
			need = manifest.CapRoots
		}
		if need == "" || !declares(r.clientCaps(), need) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// askDigest is the SHA-256 of a round's canonical JSON (the go-sdk's
// encoding, map keys sorted), and its methods by key.
func askDigest(reqs mcp.InputRequestMap) (string, map[string]string, error) {
	b, err := json.Marshal(reqs)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	kinds := make(map[string]string, len(reqs))
	for k, v := range reqs {
		kinds[k] = methodOf(v)
	}
	return hex.EncodeToString(sum[:]), kinds, nil
}

// argsDigest is the SHA-256 of the arguments' canonical JSON (decoded and
// encoded again: key order and spacing do not matter).
func argsDigest(args json.RawMessage) string {
	b := []byte(args)
	if len(b) == 0 || string(b) == "null" {
		b = []byte("{}")
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if dec.Decode(&v) == nil {
		if c, err := json.Marshal(v); err == nil {
			b = c
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// answerKind reports whether resp answers a request of method.
func answerKind(method string, resp mcp.InputResponse) bool {
	switch resp.(type) {
	case *mcp.ElicitResult:
		return method == "elicitation/create"
	case *mcp.CreateMessageResult, *mcp.CreateMessageWithToolsResult:
		return method == "sampling/createMessage"
	case *mcp.ListRootsResult:
		return method == "roots/list"
	}
	return false
}

// answers takes the answers of rd from a retry's inputResponses; false if
// one is missing or not of the kind asked.
func answers(rd inputRound, got mcp.InputResponseMap) (map[string]json.RawMessage, bool) {
	out := make(map[string]json.RawMessage, len(rd.Kinds))
	for k, method := range rd.Kinds {
		v, ok := got[k]
		if !ok || v == nil || !answerKind(method, v) {
			return nil, false
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, false
		}
		out[k] = b
	}
	return out, true
}

// inputRefusal is a requestState refused before the call ran: the
// client's error carries an error id and a fixed message; kind is the
// audit reason.
type inputRefusal struct {
	kind string
	id   string
	wire *jsonrpc.Error
}

func (e *inputRefusal) Error() string { return "requestState refused: " + e.kind }

// requestStateErrors are the client's messages by refusal kind.
var requestStateErrors = map[string]string{
	"too_large":       fmt.Sprintf("invalid requestState: longer than %d bytes", MaxRequestState),
	"malformed":       "invalid requestState: malformed",
	"tampered":        "invalid requestState: it does not authenticate (altered, or sealed by another server)",
	"expired":         "invalid requestState: expired; call the tool again without it",
	"other_principal": "invalid requestState: it was issued to another caller",
	"other_tool":      "invalid requestState: it was issued for another tool, or another version of this one",
	"other_arguments": "invalid requestState: it was issued for other arguments",
	"replayed":        "invalid requestState: it was already used; retry with the latest one, or call the tool again without it",
}

func refuseState(kind string) *inputRefusal {
	id := newErrorID()
	return &inputRefusal{kind: kind, id: id, wire: &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("%s (error id %s)", requestStateErrors[kind], id)}}
}

// open checks a retry's requestState: authentic, not expired, for this
// principal, tool and arguments, and not used before (which it records).
func (in *inputSealing) open(ctx context.Context, token, principal string, t *Tool, args json.RawMessage) (*requestState, error) {
	msg, err := in.sealer.Open(token)
	switch {
	case errors.Is(err, sealed.ErrTooLarge):
		return nil, refuseState("too_large")
	case errors.Is(err, sealed.ErrExpired):
		return nil, refuseState("expired")
	case errors.Is(err, sealed.ErrTampered):
		return nil, refuseState("tampered")
	case err != nil:
		return nil, refuseState("malformed")
	}
	var st requestState
	if err := json.Unmarshal(msg, &st); err != nil || st.V != 1 || len(st.Rounds) == 0 || len(st.Rounds) > maxInputRounds || st.Nonce == "" {
		return nil, refuseState("malformed") // sealed by us, so a bug or an old version
	}
	switch {
	case st.Principal != principal:
		return nil, refuseState("other_principal")
	case st.Tool != t.Name() || st.ToolDigest != t.digest:
		return nil, refuseState("other_tool")
	case st.Args != argsDigest(args):
		return nil, refuseState("other_arguments")
	}
	ttl := in.ttl
	if exp, ok := sealed.Expiry(token); ok {
		ttl = max(exp.Sub(in.now()), time.Second)
	}
	member := newErrorID()
	ok, err := in.store.Acquire(ctx, member, ttl, state.Counter{Key: "input:" + st.Nonce, Max: 1})
	if err != nil {
		return nil, fmt.Errorf("recording the requestState's use: %w", err)
	}
	if !ok {
		return nil, refuseState("replayed")
	}
	return &st, nil
}

// seal makes the requestState of a call that waits for r.pending.
func (in *inputSealing) seal(principal string, t *Tool, args json.RawMessage, r *replay) (string, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	st := requestState{V: 1, Nonce: hex.EncodeToString(nonce[:]), Principal: principal, Tool: t.Name(), ToolDigest: t.digest,
		Args: argsDigest(args), Rounds: append(slices.Clip(r.rounds), *r.pending)}
	b, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	return in.sealer.Seal(b, in.ttl)
}

// multiRoundTrip reports whether the client of req takes input_required
// results: the same rule as the go-sdk's (a session initialised with a
// version before 2026-07-28 does not; requests without initialize, as
// every stateless one, do), so the go-sdk marks the result the way moat
// built it.
func multiRoundTrip(req *mcp.CallToolRequest) bool {
	if req.Session == nil {
		return true
	}
	ip := req.Session.InitializeParams()
	return ip == nil || ip.ProtocolVersion >= statelessEra
}

// callRounds runs t for req, replaying the guest through the rounds of
// input already answered (see the top of this file). The error is an
// *inputRefusal when the requestState is refused, another error for
// host faults; the result and info are t.Call's otherwise.
func (s *Server) callRounds(ctx context.Context, p *auth.Principal, t *Tool, req *mcp.CallToolRequest, hooks sandbox.Hooks) (*mcp.CallToolResult, *callInfo, error) {
	args := req.Params.Arguments
	rp := &replay{req: req}
	mrtr := multiRoundTrip(req)
	if mrtr && req.Params.RequestState != "" {
		st, err := s.inputs.open(ctx, req.Params.RequestState, p.ID, t, args)
		if err != nil {
			return nil, &callInfo{BytesIn: len(args)}, err
		}
		last := st.Rounds[len(st.Rounds)-1]
		rp.rounds = st.Rounds[:len(st.Rounds)-1]
		if a, ok := answers(last, req.Params.InputResponses); ok {
			last.Answers = a
			rp.rounds = append(rp.rounds, last)
		} // else: the guest asks that round again, and the client gets it again
	}
	h := hooks
	h.Input = rp.ask
	for {
		res, info, err := t.Call(ctx, args, &h)
		if err != nil || info.Run == nil {
			return res, info, err
		}
		switch {
		case rp.problem == audit.OutcomeInvalidInput:
			info.Outcome = rp.problem
			return s.invalidInput(t, rp.invalid, info), info, nil
		case rp.problem != "":
			info.Outcome = rp.problem
			if rp.problem == audit.OutcomeTooManyRounds {
				return toolError(fmt.Sprintf("tool %s asked for input more than %d times in one call", t.Name(), maxInputRounds)), info, nil
			}
			return toolError(fmt.Sprintf("tool %s asked for other input than it asked before; call it again without requestState", t.Name())), info, nil
		case info.Run.Outcome != sandbox.OutcomeInputRequired:
			if rp.next < len(rp.rounds) && (info.Outcome == "ok" || info.Outcome == "tool_error") {
				info.Outcome = "input_mismatch"
				return toolError(fmt.Sprintf("tool %s finished without asking the questions it was answered; call it again without requestState", t.Name())), info, nil
			}
			return res, info, nil
		case mrtr:
			token, err := s.inputs.seal(p.ID, t, args, rp)
			if errors.Is(err, sealed.ErrTooLarge) {
				info.Outcome = "input_too_large"
				return toolError(fmt.Sprintf("the answers to tool %s's questions are too large to carry between rounds (limit %d bytes)", t.Name(), MaxRequestState)), info, nil
			}
			if err != nil {
				return nil, info, fmt.Errorf("sealing requestState: %w", err)
			}
			info.Outcome = "input_required"
			return &mcp.CallToolResult{InputRequests: rp.asked, RequestState: token}, info, nil
		}
		// An older client: ask it now, in its session, and run again.
		got, err := askSession(ctx, req.Session, rp.asked)
		var mismatch *elicitMismatch
		if errors.As(err, &mismatch) {
			// The go-sdk checked the content first (sdkerrors.go); the
			// same outcome as when moat's check refuses it.
			info.Outcome = audit.OutcomeInvalidInput
			return s.invalidInput(t, &elicitProblem{key: mismatch.key, kind: "schema"}, info), info, nil
		}
		if err != nil {
			id := newErrorID()
			s.log.Info("the client did not answer a tool's request for input", "error_id", id, "tool", t.Name(), "principal", p.ID, "err", err)
			info.Outcome = "input_failed"
			return toolError(fmt.Sprintf("the client did not answer tool %s's request for input (error id %s)", t.Name(), id)), info, nil
		}
		rp.pending.Answers = got
		rp.rounds = append(rp.rounds, *rp.pending)
		rp.pending, rp.asked, rp.next = nil, nil, 0
	}
}

// invalidInput is the tool error of a call whose client's answer was
// refused (elicit.go); info gets the audit reason and error id.
func (s *Server) invalidInput(t *Tool, p *elicitProblem, info *callInfo) *mcp.CallToolResult {
	id := newErrorID()
	info.Reason, info.ErrorID = p.reason(), id
	s.log.Info("a client's answer to a tool's request for input was refused", "error_id", id, "tool", t.Name(), "reason", info.Reason)
	return toolError(fmt.Sprintf("%s (error id %s)", p.message(t.Name()), id))
}

// elicitMismatch is an elicitation answer the go-sdk refused as not
// matching the requestedSchema (askSession).
type elicitMismatch struct {
	key string
	err error
}

func (e *elicitMismatch) Error() string { return fmt.Sprintf("request %q: %v", e.key, e.err) }
func (e *elicitMismatch) Unwrap() error { return e.err }

// askSession sends one round of requests to a session's client and
// returns its answers by key. An elicitation answer the go-sdk refused
// for its content is an *elicitMismatch.
func askSession(ctx context.Context, ss *mcp.ServerSession, reqs mcp.InputRequestMap) (map[string]json.RawMessage, error) {
	if ss == nil {
		return nil, errors.New("no session")
	}
	ctx, cancel := context.WithTimeout(ctx, inputWait)
	defer cancel()
	keys := slices.Sorted(maps.Keys(reqs))
	out := make(map[string]json.RawMessage, len(reqs))
	for _, k := range keys {
		var res any
		var err error
		switch p := reqs[k].(type) {
		case *mcp.ElicitParams:
			res, err = ss.Elicit(ctx, p)
		case *mcp.CreateMessageParams:
			res, err = ss.CreateMessage(ctx, p)
		case *mcp.CreateMessageWithToolsParams:
			res, err = ss.CreateMessageWithTools(ctx, p)
		case *mcp.ListRootsParams:
			res, err = ss.ListRoots(ctx, p)
		default:
			err = fmt.Errorf("request %q: unknown kind %T", k, p)
		}
		if _, elicit := reqs[k].(*mcp.ElicitParams); elicit && sdkElicitContentMismatch(err) {
			return nil, &elicitMismatch{key: k, err: err}
		}
		if err != nil {
			return nil, fmt.Errorf("request %q: %w", k, err)
		}
		b, err := json.Marshal(res)
		if err != nil {
			return nil, fmt.Errorf("request %q: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

// missingClientCaps lists, in order, the capabilities of need that the
// client did not declare (at initialize, or in a 2026-07-28 request's _meta).
func missingClientCaps(need []manifest.ClientCapability, c *mcp.ClientCapabilities) []manifest.ClientCapability {
	var missing []manifest.ClientCapability
	for _, n := range need {
		if !declares(c, n) {
			missing = append(missing, n)
		}
	}
	return missing
}

// declares reports whether the client's capabilities include n.
func declares(c *mcp.ClientCapabilities, n manifest.ClientCapability) bool {
	if c == nil {
		return false
	}
	switch n {
	case manifest.CapElicitation:
		return c.Elicitation != nil
	case manifest.CapSampling:
		return c.Sampling != nil
	case manifest.CapRoots:
		return c.RootsV2 != nil || c.Roots.ListChanged
	}
	return false
}

// missingCapabilityError is MissingRequiredClientCapabilityError (-32021):
// data.requiredCapabilities is a ClientCapabilities object keyed by what is
// missing. The go-sdk answers it with HTTP 400 under 2026-07-28.
func missingCapabilityError(missing []manifest.ClientCapability) error {
	// A map, not mcp.ClientCapabilities, whose Roots field is always
	// encoded: requiredCapabilities names only what is missing.
	caps := map[string]struct{}{}
	names := make([]string, len(missing))
	for i, m := range missing {
		names[i] = string(m)
		caps[string(m)] = struct{}{}
	}
	data, err := json.Marshal(struct {
		RequiredCapabilities map[string]struct{} `json:"requiredCapabilities"`
	}{caps})
	if err != nil {
		data = nil
	}
	return &jsonrpc.Error{Code: mcp.CodeMissingRequiredClientCapabilities,
		Message: "this tool needs a client capability the client did not declare: " + strings.Join(names, ", "), Data: data}
}
