package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/moatmcp/moat/internal/jsonstr"
)

// The record appender: Log encodes a Record by hand rather than with
// encoding/json, whose reflection was a third of Log's CPU on the call
// path (issue 20). The bytes must stay exactly what json.Encoder with
// SetEscapeHTML(false) wrote before, because the chain hashes them and
// the verifiers and readers of the log know that format: FuzzRecordEncoding
// compares the two byte for byte over random records, and
// TestAppenderKnowsEveryField fails when a field is added to Record,
// Used, FileUsed or NetUsed until it is written here and listed below.

// The JSON keys (with their options) the appender writes, in order, for
// each struct it encodes. TestAppenderKnowsEveryField compares them with
// the structs' json tags.
var (
	recordKeys = []string{"time", "seq", "event", "request_id,omitempty", "error_id,omitempty",
		"principal,omitempty", "auth_method,omitempty", "client_addr,omitempty", "tool,omitempty",
		"args,omitempty", "outcome", "reason,omitempty", "host,omitempty", "method,omitempty",
		"status,omitempty", "duration_ms,omitempty", "exit_code,omitempty", "bytes_in,omitempty",
		"bytes_out,omitempty", "changes,omitempty", "replica,omitempty", "trace_id,omitempty",
		"used,omitempty", "prev"}
	usedKeys = []string{"wall_ms", "memory_peak_bytes", "output_bytes", "module,omitempty",
		"instance,omitempty", "bytes_read", "bytes_written", "files,omitempty", "files_omitted,omitempty",
		"net,omitempty", "net_omitted,omitempty", "net_bytes_out", "net_bytes_in"}
	fileUsedKeys = []string{"mount", "path", "mode", "read", "written"}
	netUsedKeys  = []string{"host", "method", "status,omitempty", "outcome", "bytes_out", "bytes_in",
		"secret_headers,omitempty"}
)

// Errors of the appender, for values encoding/json refuses too.
var (
	errNotFinite = errors.New("not a finite number")
	errBadTime   = errors.New("time not representable in RFC 3339")
)

// appendRecord appends r as one JSON object, without a newline, exactly
// as json.Encoder with SetEscapeHTML(false) encodes it. r.Args must be
// valid JSON or empty (Log makes sure of it).
func appendRecord(b []byte, r *Record) ([]byte, error) {
	b, err := appendRecordBody(b, r)
	if err != nil {
		return b, err
	}
	b = append(b, `,"prev":`...)
	b = jsonstr.Append(b, r.Prev, false)
	return append(b, '}'), nil
}

// appendRecordBody appends r's object up to, not including, its last
// field, prev: the Logger appends prev from its head without making a
// string of it.
func appendRecordBody(b []byte, r *Record) ([]byte, error) {
	var err error
	b = append(b, `{"time":`...)
	if b, err = appendTime(b, r.Time); err != nil {
		return b, fmt.Errorf("time: %w", err)
	}
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"event":`...)
	b = jsonstr.Append(b, r.Event, false)
	b = appendOptString(b, `,"request_id":`, r.RequestID, false)
	b = appendOptString(b, `,"error_id":`, r.ErrorID, false)
	b = appendOptString(b, `,"principal":`, r.Principal, false)
	b = appendOptString(b, `,"auth_method":`, r.AuthMethod, false)
	b = appendOptString(b, `,"client_addr":`, r.ClientAddr, false)
	b = appendOptString(b, `,"tool":`, r.Tool, false)
	if len(r.Args) > 0 {
		b = append(b, `,"args":`...)
		if b, err = appendCompactJSON(b, r.Args); err != nil {
			return b, fmt.Errorf("args: %w", err)
		}
	}
	b = append(b, `,"outcome":`...)
	b = jsonstr.Append(b, string(r.Outcome), false)
	b = appendOptString(b, `,"reason":`, r.Reason, false)
	b = appendOptString(b, `,"host":`, r.Host, false)
	b = appendOptString(b, `,"method":`, r.Method, false)
	b = appendOptInt(b, `,"status":`, int64(r.Status))
	if r.DurationMS != 0 {
		b = append(b, `,"duration_ms":`...)
		if b, err = appendFloat(b, r.DurationMS); err != nil {
			return b, fmt.Errorf("duration_ms: %w", err)
		}
	}
	if r.ExitCode != nil {
		b = append(b, `,"exit_code":`...)
		b = strconv.AppendUint(b, uint64(*r.ExitCode), 10)
	}
	b = appendOptInt(b, `,"bytes_in":`, int64(r.BytesIn))
	b = appendOptInt(b, `,"bytes_out":`, int64(r.BytesOut))
	if len(r.Changes) > 0 {
		b = append(b, `,"changes":`...)
		b = appendStrings(b, r.Changes, false)
	}
	b = appendOptString(b, `,"replica":`, r.Replica, false)
	b = appendOptString(b, `,"trace_id":`, r.TraceID, false)
	if r.Used != nil {
		b = append(b, `,"used":`...)
		if b, err = appendUsed(b, r.Used, false); err != nil {
			return b, fmt.Errorf("used: %w", err)
		}
	}
	return b, nil
}

// appendUsed appends u as encoding/json does: with html, as json.Marshal
// (which escapes <, > and &); without, as the Logger's encoder.
func appendUsed(b []byte, u *Used, html bool) ([]byte, error) {
	var err error
	b = append(b, `{"wall_ms":`...)
	if b, err = appendFloat(b, u.WallMS); err != nil {
		return b, fmt.Errorf("wall_ms: %w", err)
	}
	b = append(b, `,"memory_peak_bytes":`...)
	b = strconv.AppendUint(b, u.MemoryPeak, 10)
	b = append(b, `,"output_bytes":`...)
	b = strconv.AppendInt(b, int64(u.OutputBytes), 10)
	b = appendOptString(b, `,"module":`, u.Module, html)
	b = appendOptString(b, `,"instance":`, u.Instance, html)
	b = append(b, `,"bytes_read":`...)
	b = strconv.AppendInt(b, u.BytesRead, 10)
	b = append(b, `,"bytes_written":`...)
	b = strconv.AppendInt(b, u.BytesWritten, 10)
	if len(u.Files) > 0 {
		b = append(b, `,"files":[`...)
		for i := range u.Files {
			if i > 0 {
				b = append(b, ',')
			}
			f := &u.Files[i]
			b = append(b, `{"mount":`...)
			b = jsonstr.Append(b, f.Mount, html)
			b = append(b, `,"path":`...)
			b = jsonstr.Append(b, f.Path, html)
			b = append(b, `,"mode":`...)
			b = jsonstr.Append(b, f.Mode, html)
			b = append(b, `,"read":`...)
			b = strconv.AppendInt(b, f.Read, 10)
			b = append(b, `,"written":`...)
			b = strconv.AppendInt(b, f.Written, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendOptInt(b, `,"files_omitted":`, int64(u.FilesOmitted))
	if len(u.Net) > 0 {
		b = append(b, `,"net":[`...)
		for i := range u.Net {
			if i > 0 {
				b = append(b, ',')
			}
			n := &u.Net[i]
			b = append(b, `{"host":`...)
			b = jsonstr.Append(b, n.Host, html)
			b = append(b, `,"method":`...)
			b = jsonstr.Append(b, n.Method, html)
			b = appendOptInt(b, `,"status":`, int64(n.Status))
			b = append(b, `,"outcome":`...)
			b = jsonstr.Append(b, n.Outcome, html)
			b = append(b, `,"bytes_out":`...)
			b = strconv.AppendInt(b, n.BytesOut, 10)
			b = append(b, `,"bytes_in":`...)
			b = strconv.AppendInt(b, n.BytesIn, 10)
			if len(n.Secrets) > 0 {
				b = append(b, `,"secret_headers":`...)
				b = appendStrings(b, n.Secrets, html)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendOptInt(b, `,"net_omitted":`, int64(u.NetOmitted))
	b = append(b, `,"net_bytes_out":`...)
	b = strconv.AppendInt(b, u.NetBytesOut, 10)
	b = append(b, `,"net_bytes_in":`...)
	b = strconv.AppendInt(b, u.NetBytesIn, 10)
	return append(b, '}'), nil
}

// appendOptString appends key and s unless s is empty (omitempty).
func appendOptString(b []byte, key, s string, html bool) []byte {
	if s == "" {
		return b
	}
	return jsonstr.Append(append(b, key...), s, html)
}

// appendOptInt appends key and v unless v is 0 (omitempty).
func appendOptInt(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), v, 10)
}

// appendStrings appends a JSON array of strings.
func appendStrings(b []byte, ss []string, html bool) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, s, html)
	}
	return append(b, ']')
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds), refusing what it refuses: a year outside [0,9999] or a
// zone offset of 24 hours or more.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	if b[n0+len("9999")] != '-' {
		return b, errBadTime
	}
	if b[len(b)-1] != 'Z' {
		c := b[len(b)-len("Z07:00")]
		h := b[len(b)-len("07:00"):]
		if '0' <= c && c <= '9' || 10*(h[0]-'0')+(h[1]-'0') >= 24 {
			return b, errBadTime
		}
	}
	return append(b, '"'), nil
}

// appendFloat appends f as encoding/json encodes a float64: like
// strconv's shortest 'f' form, with an exponent (not padded to two
// digits) below 1e-6 and from 1e21; NaN and infinities are refused.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, errNotFinite
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-07 → e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendCompactJSON appends the valid JSON raw without insignificant
// whitespace, as encoding/json writes a json.RawMessage. A document
// without whitespace outside its strings (a Summarize'd Args) is already
// compact and is copied as it is.
func appendCompactJSON(b, raw []byte) ([]byte, error) {
	if isCompact(raw) {
		return append(b, raw...), nil
	}
	var c bytes.Buffer
	if err := json.Compact(&c, raw); err != nil {
		return b, err
	}
	return append(b, c.Bytes()...), nil
}

// isCompact reports whether raw has no JSON whitespace outside its
// strings. For valid JSON that means json.Compact would not change it.
func isCompact(raw []byte) bool {
	inString, escaped := false, false
	for _, c := range raw {
		switch {
		case escaped:
			escaped = false
		case inString:
			if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return false
		}
	}
	return true
}
