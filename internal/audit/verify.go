package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ChainError reports the first broken link of an audit log.
type ChainError struct {
	Line   int    // 1-based line number in the file
	Reason string // what is wrong, for a human
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("broken at line %d: %s", e.Line, e.Reason)
}

// VerifyOptions anchors a verification. A nil *VerifyOptions means no
// anchors.
type VerifyOptions struct {
	// Prev is the Prev the first line must carry: the Head hash of the file
	// before this one in a rotation, or Genesis. Empty: any Prev is accepted
	// (and reported in Summary.FirstPrev), so a file that starts mid-chain
	// after rotation verifies on its own.
	Prev string
	// Seq is the Seq the first line must carry. Zero: 1 when the first Prev
	// is Genesis, otherwise any.
	Seq uint64
	// Head is the hash the last line must have: a head recorded elsewhere
	// (Logger.Head). Empty: not checked. With it, lines removed from the end
	// are caught, and so is an edit of the last line.
	Head string
}

// Summary describes a verified log.
type Summary struct {
	Lines     int
	FirstSeq  uint64 // 0 for an empty log
	FirstPrev string // Genesis when the file starts a chain
	LastSeq   uint64
	Head      string // hash of the last line; the Prev the next file must carry
}

// VerifyChain reads an audit log and reports the first broken link as a
// *ChainError: a line that is not a record, a Prev that is not the hash of
// the line before (that line was edited, or a line was removed or moved), a
// Seq that does not follow, or a last line without its newline. The first
// line may carry any Prev (a rotated file starts mid-chain) unless opts
// pins it. An empty log verifies with 0 lines. On error the Summary covers
// the lines before the broken one.
func VerifyChain(r io.Reader, opts *VerifyOptions) (Summary, error) {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	var s Summary
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for n := 1; ; n++ {
		line = line[:0]
		complete := false
		for {
			chunk, err := br.ReadSlice('\n')
			if len(line)+len(chunk) > MaxLineBytes+1 {
				return s, &ChainError{n, fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}
			}
			line = append(line, chunk...)
			if err == nil {
				complete = true
				break
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				break
			}
			return s, fmt.Errorf("audit: read line %d: %w", n, err)
		}
		if len(line) == 0 {
			break // clean end of input
		}
		if !complete {
			return s, &ChainError{n, "last line is incomplete (no newline): truncated"}
		}
		body := line[:len(line)-1]
		link, err := parseLink(body)
		if err != nil {
			return s, &ChainError{n, err.Error()}
		}
		if s.Lines == 0 {
			switch {
			case opts.Prev != "" && link.Prev != opts.Prev:
				return s, &ChainError{n, fmt.Sprintf("first prev %s, want %s", short(link.Prev), short(opts.Prev))}
			case opts.Seq != 0 && link.Seq != opts.Seq:
				return s, &ChainError{n, fmt.Sprintf("first seq %d, want %d", link.Seq, opts.Seq)}
			case opts.Seq == 0 && link.Prev == Genesis && link.Seq != 1:
				return s, &ChainError{n, fmt.Sprintf("chain starts (genesis prev) with seq %d, want 1", link.Seq)}
			case link.Prev != Genesis && link.Seq < 2:
				return s, &ChainError{n, fmt.Sprintf("seq %d with a non-genesis prev", link.Seq)}
			}
			s.FirstSeq, s.FirstPrev = link.Seq, link.Prev
		} else {
			if link.Seq != s.LastSeq+1 {
				return s, &ChainError{n, fmt.Sprintf("seq %d after seq %d: a line was removed, moved or added", link.Seq, s.LastSeq)}
			}
			if link.Prev != s.Head {
				return s, &ChainError{n, fmt.Sprintf("prev does not match the hash of line %d: line %d was edited or lines were replaced", n-1, n-1)}
			}
		}
		s.Lines++
		s.LastSeq = link.Seq
		s.Head = hashLine(body)
	}
	if opts.Head != "" && s.Head != opts.Head {
		return s, &ChainError{s.Lines + 1, fmt.Sprintf("log ends at seq %d with hash %s, want head %s: the end of the log was edited or cut", s.LastSeq, short(s.Head), short(opts.Head))}
	}
	return s, nil
}

// link is the part of a record the chain is made of.
type link struct {
	Seq  uint64
	Prev string
}

// parseLink decodes the seq and prev of one line, which must be a JSON
// object holding each exactly once.
func parseLink(line []byte) (link, error) {
	var l link
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return l, errors.New("not a JSON object")
	}
	var seenSeq, seenPrev bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return l, errors.New("not valid JSON")
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return l, errors.New("not valid JSON")
		}
		switch key {
		case "seq":
			if seenSeq {
				return l, errors.New("seq appears twice")
			}
			seenSeq = true
			if err := json.Unmarshal(raw, &l.Seq); err != nil || l.Seq == 0 {
				return l, errors.New("seq is not a positive integer")
			}
		case "prev":
			if seenPrev {
				return l, errors.New("prev appears twice")
			}
			seenPrev = true
			if err := json.Unmarshal(raw, &l.Prev); err != nil || !isHash(l.Prev) {
				return l, errors.New("prev is not a hex sha256")
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return l, errors.New("not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return l, errors.New("data after the record")
	}
	if !seenSeq || !seenPrev {
		return l, errors.New("record lacks seq or prev")
	}
	return l, nil
}

// isHash reports whether s is 64 lower-case hex digits, as hashLine makes.
func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// short abbreviates a hash for messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
