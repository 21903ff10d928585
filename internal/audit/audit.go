// Package audit writes moat's audit trail: one JSON line per tools/call and
// per authentication decision, answering "who called what, with what, and
// what happened" after the fact.
//
// It is the last stage of the call path (transport → authenticate → rate
// limit → MCP server → authorise → validate → sandbox → result → audit), and
// the authentication stage writes here too, for successes and failures.
//
// Three properties matter more than anything else here:
//
//   - No secrets. A Record carries a principal id, never a credential, and an
//     argument summary made by Summarize, never raw arguments: values the
//     schema or manifest marks sensitive, and strings that look like
//     credentials, are replaced by "[REDACTED]"; long strings are truncated.
//     File contents never reach the log.
//   - No lost records. Each record is written with one Write of one line and
//     is not buffered in the process; with Options.Sync it is also fsynced.
//   - Tamper evidence. Each record's "prev" is the hex SHA-256 of the previous
//     line's bytes (without its newline), starting from 64 zeros, and "seq"
//     counts up by one. Verify (and `moat audit verify`) reports the first
//     broken link: an edited, removed, reordered or truncated line.
//
// # Notes
//
//   - The chain shows that lines were changed, not who changed them: anyone
//     who can rewrite the whole file can recompute it. Ship the log off the
//     host (or record Logger.Head somewhere else now and then) to anchor it.
//     A chain alone also cannot show that lines were cut from the end of the
//     last file; compare with an anchored head (VerifyOptions.Head).
//   - One process per file: two Loggers appending to the same file would
//     interleave two chains.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
	"unicode/utf8"
)

// Event names.
const (
	EventToolCall   = "tool_call"
	EventAuth       = "auth"
	EventNetRequest = "net_request"
	EventReload     = "reload"
	// EventRefusal is a request refused before any tool ran: over a rate
	// or a cap (429), too large (413), a bad Origin or Host (403), a
	// missing scope (403). Reason says which; Status is the HTTP status.
	// Failed authentications are EventAuth.
	EventRefusal = "refusal"
)

// Genesis is the Prev of the first record of a chain.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// MaxLineBytes bounds one line of the log. Log refuses a record whose line
// would be longer (it cannot happen with a Summarize'd Args and the field
// caps Log applies); Verify and Open refuse longer lines.
const MaxLineBytes = 64 << 10

// maxFieldBytes caps each free-form string field (Reason, Principal, Tool,
// ClientAddr, ...) so one record cannot grow without bound.
const maxFieldBytes = 1024

// MaxChanges caps Record.Changes, so one reload of many tools stays one
// bounded line.
const MaxChanges = 32

// Record is one audit line. Field names are the JSON keys. It never holds a
// credential or file contents: Principal is an id, Args is the output of
// Summarize.
type Record struct {
	Time       time.Time       `json:"time"`
	Seq        uint64          `json:"seq"`
	Event      string          `json:"event"` // EventToolCall, EventAuth, EventNetRequest, EventReload
	RequestID  string          `json:"request_id,omitempty"`
	ErrorID    string          `json:"error_id,omitempty"`
	Principal  string          `json:"principal,omitempty"` // id only
	AuthMethod string          `json:"auth_method,omitempty"`
	ClientAddr string          `json:"client_addr,omitempty"`
	Tool       string          `json:"tool,omitempty"`
	Args       json.RawMessage `json:"args,omitempty"` // from Summarize
	// Outcome is what the call or decision came to (outcome.go).
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
	// Host, Method and Status describe one outbound request of a tool
	// (EventNetRequest): the host name only, never the path, query or
	// header values.
	Host       string  `json:"host,omitempty"`
	Method     string  `json:"method,omitempty"`
	Status     int     `json:"status,omitempty"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	ExitCode   *uint32 `json:"exit_code,omitempty"`
	BytesIn    int     `json:"bytes_in,omitempty"`
	BytesOut   int     `json:"bytes_out,omitempty"`
	// Changes says what a reload (EventReload) changed, one entry per tool
	// or key: "tool read_file changed", "key ci added". Names only, never a
	// key's hash or any secret. At most MaxChanges entries are kept.
	Changes []string `json:"changes,omitempty"`
	// Replica names the moat process that wrote the record ([state]
	// replica, default the host name), so that the chains of several
	// replicas behind one load balancer can be told apart and verified
	// together (moat audit verify DIR).
	Replica string `json:"replica,omitempty"`
	// TraceID is the W3C trace id of the request the record belongs to
	// (32 hex digits), when it came with one or moat traces it: an
	// operator goes from the record to the trace, and from a log line
	// (which carries the same trace_id) to the record.
	TraceID string `json:"trace_id,omitempty"`
	// Used is a tool call's receipt (EventToolCall): what the host saw the
	// call use. Present for every call that got past authorisation, limits
	// and quotas (zero sizes and no instance when none ran); nil before.
	Used *Used `json:"used,omitempty"`
	// Prev is the hex SHA-256 of the previous line's bytes, without its
	// newline; Genesis for the first record of a chain.
	Prev string `json:"prev"`
}

var (
	// ErrClosed is returned by Log and Reopen after Close.
	ErrClosed = errors.New("audit log closed")
	// ErrTornTail means an existing log file does not end with a newline:
	// the last write was cut short (a crash, a full disk) or the file was
	// edited. Open refuses to append to it rather than hide the damage; move
	// the file aside (it still verifies up to the torn line) and start anew.
	ErrTornTail = errors.New("audit log ends with an incomplete line")
	// ErrBadTail means the last line of an existing log file is not an audit
	// record, so the chain cannot be continued from it.
	ErrBadTail = errors.New("audit log's last line is not an audit record")
	// ErrChainMismatch means Reopen found a non-empty file at the path whose
	// last line is not the last line this Logger wrote: another writer.
	ErrChainMismatch = errors.New("audit log file does not continue this logger's chain")
	// ErrRecordTooLarge is returned by Log for a record whose line would
	// exceed MaxLineBytes.
	ErrRecordTooLarge = errors.New("audit record too large")
	// ErrWriteFailed wraps every error of Log that means the record is not
	// in the log because the sink failed (a full disk, an I/O error), and
	// the error of Ready while the log is failing.
	ErrWriteFailed = errors.New("audit log cannot be written")
)

// OnFailure is what the host does with a request whose audit record (of
// the call, or of its authentication decision) cannot be written.
type OnFailure string

const (
	// OnFailureRefuse, the default: the request is refused (503 with an
	// error id), /readyz reports not ready, and service resumes by itself
	// once a record can be written again. An audit trail with holes in it
	// cannot answer "who called what" for the calls in the holes, and a
	// full disk is exactly when an attacker would like calls to go
	// unrecorded: fail closed.
	OnFailureRefuse OnFailure = "refuse"
	// OnFailureContinue: requests are served while records are lost
	// (each failure is still logged by the host, and Ready stays nil). For
	// operators who value availability over a complete trail, and say so.
	OnFailureContinue OnFailure = "continue"
)

// ParseOnFailure reads the [audit] on_failure setting: "" (the default)
// and "refuse" refuse, "continue" continues; anything else is an error.
func ParseOnFailure(s string) (OnFailure, error) {
	switch OnFailure(s) {
	case "", OnFailureRefuse:
		return OnFailureRefuse, nil
	case OnFailureContinue:
		return OnFailureContinue, nil
	}
	return "", fmt.Errorf("audit: on_failure %q: want %q or %q", s, OnFailureRefuse, OnFailureContinue)
}

// EventAudit is a record the Logger writes about itself: Outcome
// "resumed" after writes failed (Reason says how many records were lost
// and since when).
const EventAudit = "audit"

// retryEvery bounds how often Ready retries a failing log: often enough
// that service resumes within a second of the disk having room again,
// rarely enough that a probe loop cannot hammer a failing disk.
const retryEvery = time.Second

// Options configures a Logger opened by OpenWith. A nil *Options means the
// defaults.
type Options struct {
	// Sync calls fsync after every record. Zero: no fsync; the record is in
	// the kernel when Log returns (it survives a process crash, not a power
	// failure).
	Sync bool
	// Now returns the time recorded for a Record whose Time is zero, and
	// paces Ready's retries. Nil: time.Now. The time is always stored in
	// UTC.
	Now func() time.Time
	// OnFailure is the policy Refuses and Ready apply when a record
	// cannot be written. Zero: OnFailureRefuse.
	OnFailure OnFailure
}

// Logger appends Records to a sink as hash-chained JSON lines.
//
// # Notes
//
//   - Safe for concurrent use: records are serialised, so seq and prev
//     follow the order of the writes in the file.
//   - A failed write leaves the chain as it was: the head only moves when
//     a line was written in full. Part of a line written to a file before
//     the failure (a disk that filled mid-line) is cut off again with
//     ftruncate, at once or, if that fails too, before the next write; to
//     a writer that cannot be truncated (New), the rest of the line is
//     written before the next record, so the file never holds a torn line
//     in the middle of the chain.
//   - While writes fail, the Logger is failing: Ready reports it (and
//     retries, at most once a second) and the first record written again
//     is an EventAudit "resumed" record saying how many records were lost
//     since when, so the gap is itself on the record.
type Logger struct {
	mu        sync.Mutex
	line      []byte // the line being written (encode), reused
	path      string // "" for a writer not opened by path
	w         io.Writer
	f         *os.File // non-nil when the Logger owns a file
	sync      bool
	now       func() time.Time
	onFailure OnFailure
	seq       uint64   // seq of the last record written
	head      lineHash // hash of the last line written
	closed    bool

	// Failure state; all zero while writes succeed.
	failErr   error     // the last write failure
	failSince time.Time // the first failure of this run of failures
	lost      uint64    // records not written since failSince
	lastRetry time.Time // Ready's last retry
	torn      int64     // bytes of a partial line at the end of f, to cut off
	// pending is the unwritten rest of a line partly written to a writer
	// that cannot be truncated, with that line's seq and hash.
	pending     []byte
	pendingSeq  uint64
	pendingHash lineHash
}

// lineHash is a line's hash as the chain writes it, hex SHA-256: kept as
// an array so that moving the head allocates nothing.
type lineHash [2 * sha256.Size]byte

// Open opens the log at path for appending: "" or "-" means stderr;
// otherwise the file is opened O_APPEND|O_CREATE with mode 0600, and if it
// already holds records the chain continues from its last line (the next
// record's Prev is that line's hash and its Seq follows).
func Open(path string) (*Logger, error) { return OpenWith(path, nil) }

// OpenWith is Open with options.
func OpenWith(path string, opts *Options) (*Logger, error) {
	l := newLogger(opts)
	if path == "" || path == "-" {
		l.w = os.Stderr
		return l, nil
	}
	f, seq, head, err := openFile(path)
	if err != nil {
		return nil, err
	}
	l.path, l.w, l.f, l.seq = path, f, f, seq
	copy(l.head[:], head)
	return l, nil
}

// New returns a Logger that writes to w, starting a new chain. Close does
// not close w.
func New(w io.Writer) *Logger {
	l := newLogger(nil)
	l.w = w
	return l
}

func newLogger(opts *Options) *Logger {
	l := &Logger{now: time.Now, onFailure: OnFailureRefuse}
	copy(l.head[:], Genesis)
	if opts != nil {
		l.sync = opts.Sync
		if opts.Now != nil {
			l.now = opts.Now
		}
		if opts.OnFailure == OnFailureContinue {
			l.onFailure = OnFailureContinue
		}
	}
	return l
}

// NewWith is New with options (Sync applies only to files and is ignored).
func NewWith(w io.Writer, opts *Options) *Logger {
	l := newLogger(opts)
	l.w = w
	return l
}

// openFile opens path for appending and reads the chain state from its last
// line.
func openFile(path string) (f *os.File, seq uint64, head string, err error) {
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, "", fmt.Errorf("audit: open %s: %w", path, err)
	}
	seq, head, err = readTail(path)
	if err != nil {
		f.Close()
		return nil, 0, "", fmt.Errorf("audit: %s: %w", path, err)
	}
	return f, seq, head, nil
}

// readTail returns the seq and hash of the last line of the file at path, or
// (0, Genesis) for an empty or missing file.
func readTail(path string) (uint64, string, error) {
	r, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, Genesis, nil
	}
	if err != nil {
		return 0, "", err
	}
	defer r.Close()
	st, err := r.Stat()
	if err != nil {
		return 0, "", err
	}
	size := st.Size()
	if size == 0 {
		return 0, Genesis, nil
	}
	// The last line is at most MaxLineBytes plus its newline; read that much
	// from the end.
	n := int64(MaxLineBytes + 1)
	if n > size {
		n = size
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
		return 0, "", err
	}
	if buf[len(buf)-1] != '\n' {
		return 0, "", ErrTornTail
	}
	buf = buf[:len(buf)-1]
	i := bytes.LastIndexByte(buf, '\n')
	if i < 0 && n < size {
		return 0, "", fmt.Errorf("%w: longer than %d bytes", ErrBadTail, MaxLineBytes)
	}
	line := buf[i+1:]
	link, err := parseLink(line)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %v", ErrBadTail, err)
	}
	return link.Seq, hashLine(line), nil
}

// Log fills in r.Time (when zero), r.Seq and r.Prev, and appends r as one
// line. Free-form string fields longer than 1 KiB are truncated; Args that is
// not valid JSON, or longer than MaxSummaryBytes, is replaced by a marker
// object (Args should come from Summarize).
func (l *Logger) Log(r Record) error {
	r.Time = r.Time.UTC()
	clip(&r.Event)
	clip(&r.RequestID)
	clip(&r.ErrorID)
	clip(&r.Principal)
	clip(&r.AuthMethod)
	clip(&r.ClientAddr)
	clip(&r.Tool)
	o := string(r.Outcome)
	clip(&o)
	r.Outcome = Outcome(o)
	clip(&r.Reason)
	if len(r.Changes) > MaxChanges {
		more := len(r.Changes) - MaxChanges + 1
		r.Changes = append(r.Changes[:MaxChanges-1:MaxChanges-1], fmt.Sprintf("… and %d more", more))
	} else {
		r.Changes = append([]string(nil), r.Changes...) // clipped below: not the caller's
	}
	for i := range r.Changes {
		clip(&r.Changes[i])
	}
	r.Used = r.Used.bounded()
	if len(r.Args) > 0 && (len(r.Args) > MaxSummaryBytes || !json.Valid(r.Args)) {
		r.Args = json.RawMessage(fmt.Sprintf(`{"_unparsed":%d}`, len(r.Args)))
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if err := l.recover(); err != nil {
		l.lost++
		return err
	}
	if err := l.append(&r); err != nil {
		if errors.Is(err, ErrWriteFailed) {
			l.lost++
		}
		return err
	}
	return nil
}

// append writes r as the next link of the chain: it fills in r.Time
// (when zero) and r.Seq; the line's prev is l.head (r.Prev is not read).
// Call with l.mu held.
func (l *Logger) append(r *Record) error {
	if r.Time.IsZero() {
		r.Time = l.now().UTC()
	}
	r.Seq = l.seq + 1
	line, err := l.encode(r)
	if err != nil {
		return err
	}
	n, err := l.w.Write(line)
	if err == nil && n < len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		l.undo(line, n, r.Seq)
		return l.fail(fmt.Errorf("write: %w", err))
	}
	l.seq, l.head = r.Seq, hashOf(line[:len(line)-1])
	if l.sync && l.f != nil {
		if err := l.f.Sync(); err != nil {
			// The line is in the file and the chain goes on from it, but it
			// may not survive a power loss: the log is failing.
			return l.fail(fmt.Errorf("sync: %w", err))
		}
	}
	return nil
}

// undo deals with the n bytes of line that reached the sink before a
// write failed: cut them off a file, or keep the rest of the line to
// finish it before the next record. Call with l.mu held.
func (l *Logger) undo(line []byte, n int, seq uint64) {
	if n <= 0 {
		return
	}
	if l.f == nil {
		l.pending = bytes.Clone(line[n:])
		l.pendingSeq, l.pendingHash = seq, hashOf(line[:len(line)-1])
		return
	}
	l.torn = int64(n)
	_ = l.repair() // if it fails, recover tries again before the next write
}

// repair cuts a partial line off the end of the file. Call with l.mu held.
func (l *Logger) repair() error {
	if l.torn == 0 || l.f == nil {
		return nil
	}
	st, err := l.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < l.torn { // truncated under us (copytruncate): nothing of ours left
		l.torn = 0
		return nil
	}
	if err := l.f.Truncate(st.Size() - l.torn); err != nil {
		return err
	}
	l.torn = 0
	return nil
}

// fail records a write failure and returns it, wrapping ErrWriteFailed.
// Call with l.mu held.
func (l *Logger) fail(err error) error {
	if l.failErr == nil {
		l.failSince = l.now()
	}
	l.failErr = fmt.Errorf("audit: %w: %w", ErrWriteFailed, err)
	return l.failErr
}

// recover brings a failing Logger back: it cuts off or finishes a partial
// line, then writes the "resumed" record. nil means the log is healthy
// and the chain is consistent. Call with l.mu held.
func (l *Logger) recover() error {
	if l.failErr == nil {
		return nil
	}
	if err := l.repair(); err != nil {
		return l.fail(fmt.Errorf("cut off a partial line: %w", err))
	}
	if len(l.pending) > 0 {
		n, err := l.w.Write(l.pending)
		if err == nil && n < len(l.pending) {
			err = io.ErrShortWrite
		}
		l.pending = l.pending[max(n, 0):]
		if err != nil {
			return l.fail(fmt.Errorf("finish a partial line: %w", err))
		}
		l.pending = nil
		l.seq, l.head = l.pendingSeq, l.pendingHash
		l.lost-- // that record is in the log after all, late
	}
	since, lost := l.failSince, l.lost
	err := l.append(&Record{
		Event:   EventAudit,
		Outcome: OutcomeResumed,
		Reason:  fmt.Sprintf("%d records could not be written since %s", lost, since.UTC().Format(time.RFC3339Nano)),
	})
	if err != nil {
		return err
	}
	l.failErr, l.failSince, l.lost = nil, time.Time{}, 0
	return nil
}

// Ready reports whether requests may be served as far as the audit log
// is concerned: nil while records are written, or whatever happens under
// OnFailureContinue; otherwise the last write failure, wrapping
// ErrWriteFailed. While failing, Ready itself retries (at most once per
// second, by writing the "resumed" record), so that a /readyz probe
// brings the service back once the disk has room again, even if no
// request comes. It does no I/O while the log is healthy.
func (l *Logger) Ready() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.failErr == nil {
		return nil
	}
	if now := l.now(); now.Sub(l.lastRetry) >= retryEvery || now.Before(l.lastRetry) {
		l.lastRetry = now
		_ = l.recover()
	}
	if l.failErr == nil || l.onFailure == OnFailureContinue {
		return nil
	}
	return l.failErr
}

// Refuses reports whether a request whose record Log answered err for
// must be refused: Log failed, and the policy is OnFailureRefuse. The
// host answers such a request 503 with an error id; the record it could
// not write is then the error's only trace, in the server log.
func (l *Logger) Refuses(err error) bool {
	return err != nil && l.onFailure != OnFailureContinue
}

// OnFailure returns the Logger's policy.
func (l *Logger) OnFailure() OnFailure { return l.onFailure }

// encode appends r as one JSON line, newline included, with l.head as
// its prev, to the Logger's own buffer, reused from one record to the
// next (the line is valid until the next call). The bytes are those of
// json.Encoder with HTML escaping off (encode.go), so that the line reads
// as what was recorded. Call with l.mu held.
func (l *Logger) encode(r *Record) ([]byte, error) {
	b, err := appendRecordBody(l.line[:0], r)
	if err == nil {
		b = append(b, `,"prev":"`...)
		b = append(b, l.head[:]...)
		b = append(b, "\"}\n"...)
	}
	if cap(b) > 64<<10 { // one large record does not pin its buffer
		l.line = nil
	} else {
		l.line = b[:0]
	}
	if err != nil {
		return nil, fmt.Errorf("audit: encode record: %w", err)
	}
	if len(b) > MaxLineBytes+1 {
		return nil, ErrRecordTooLarge
	}
	return b, nil
}

// Head returns the seq and hash of the last record written (0 and Genesis
// before the first). Recording it elsewhere from time to time anchors the
// chain: see VerifyOptions.Head.
func (l *Logger) Head() (seq uint64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, string(l.head[:])
}

// Reopen closes and reopens the log file at the same path, for logrotate:
// after the old file was renamed, the records go to a new file, and the chain
// continues across files (the new file's first Prev is the hash of the last
// line written to the old one). If the path already holds records (no
// rotation happened), its last line must be the last line this Logger wrote,
// else Reopen returns ErrChainMismatch and keeps writing to the old file. For
// stderr or a writer given to New, Reopen does nothing.
func (l *Logger) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.f == nil {
		return nil
	}
	// A partial line is cut off the file it is in, or never: once the
	// path holds another file, repair must not cut that one.
	_ = l.repair()
	f, seq, head, err := openFile(l.path)
	if err != nil {
		return err
	}
	if head != Genesis && (head != string(l.head[:]) || seq != l.seq) {
		f.Close()
		return fmt.Errorf("audit: reopen %s: %w", l.path, ErrChainMismatch)
	}
	old := l.f
	l.w, l.f, l.torn = f, f, 0
	if err := old.Close(); err != nil {
		return fmt.Errorf("audit: close rotated file: %w", err)
	}
	return nil
}

// Close flushes (fsyncs, for a file) and closes the log. Later calls to Log
// return ErrClosed. Closing twice is not an error.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.f == nil {
		return nil
	}
	serr := l.f.Sync()
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("audit: close: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("audit: sync: %w", serr)
	}
	return nil
}

// hashLine is the chain's link: hex SHA-256 of the line without its newline.
func hashLine(line []byte) string {
	h := hashOf(line)
	return string(h[:])
}

// hashOf is hashLine without the string.
func hashOf(line []byte) (h lineHash) {
	sum := sha256.Sum256(line)
	hex.Encode(h[:], sum[:])
	return h
}

// clip truncates *s to maxFieldBytes on a rune boundary.
func clip(s *string) {
	if len(*s) > maxFieldBytes {
		*s = truncateUTF8(*s, maxFieldBytes) + "…"
	}
}

// truncateUTF8 returns the longest prefix of s of at most n bytes that does
// not split a multi-byte rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
