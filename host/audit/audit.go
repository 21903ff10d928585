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
	// Outcome is one of ok, tool_error, denied, limited, invalid_arguments,
	// input_too_large, busy, timeout, memory, output_overflow, trap,
	// canceled, bad_output, host_error for calls; auth_ok, auth_failed for
	// authentication; ok or error for reloads.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
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
)

// Options configures a Logger opened by OpenWith. A nil *Options means the
// defaults.
type Options struct {
	// Sync calls fsync after every record. Zero: no fsync; the record is in
	// the kernel when Log returns (it survives a process crash, not a power
	// failure).
	Sync bool
	// Now returns the time recorded for a Record whose Time is zero. Nil:
	// time.Now. The time is always stored in UTC.
	Now func() time.Time
}

// Logger appends Records to a sink as hash-chained JSON lines.
//
// # Notes
//
//   - Safe for concurrent use: records are serialised, so seq and prev
//     follow the order of the writes in the file.
//   - After a failed write the Logger is not poisoned: the chain head only
//     moves when a line was written in full, and a partial line left behind
//     shows up as a broken link in Verify, which is what it is.
type Logger struct {
	mu     sync.Mutex
	path   string // "" for a writer not opened by path
	w      io.Writer
	f      *os.File // non-nil when the Logger owns a file
	sync   bool
	now    func() time.Time
	seq    uint64 // seq of the last record written
	head   string // hash of the last line written
	closed bool
}

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
	l.path, l.w, l.f, l.seq, l.head = path, f, f, seq, head
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
	l := &Logger{head: Genesis, now: time.Now}
	if opts != nil {
		l.sync = opts.Sync
		if opts.Now != nil {
			l.now = opts.Now
		}
	}
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
	clip(&r.Outcome)
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
	if len(r.Args) > 0 && (len(r.Args) > MaxSummaryBytes || !json.Valid(r.Args)) {
		r.Args = json.RawMessage(fmt.Sprintf(`{"_unparsed":%d}`, len(r.Args)))
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if r.Time.IsZero() {
		r.Time = l.now().UTC()
	}
	r.Seq = l.seq + 1
	r.Prev = l.head
	line, err := marshalLine(&r)
	if err != nil {
		return err
	}
	if _, err := l.w.Write(line); err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	l.seq, l.head = r.Seq, hashLine(line[:len(line)-1])
	if l.sync && l.f != nil {
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("audit: sync: %w", err)
		}
	}
	return nil
}

// marshalLine encodes r as one JSON line, newline included. HTML escaping is
// off so that the line reads as what was recorded; the encoding is
// deterministic either way, which is all the chain needs.
func marshalLine(r *Record) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil { // Encode appends '\n'
		return nil, fmt.Errorf("audit: encode record: %w", err)
	}
	if b.Len() > MaxLineBytes+1 {
		return nil, ErrRecordTooLarge
	}
	return b.Bytes(), nil
}

// Head returns the seq and hash of the last record written (0 and Genesis
// before the first). Recording it elsewhere from time to time anchors the
// chain: see VerifyOptions.Head.
func (l *Logger) Head() (seq uint64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.head
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
	f, seq, head, err := openFile(l.path)
	if err != nil {
		return err
	}
	if head != Genesis && (head != l.head || seq != l.seq) {
		f.Close()
		return fmt.Errorf("audit: reopen %s: %w", l.path, ErrChainMismatch)
	}
	old := l.f
	l.w, l.f = f, f
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
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
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
