package host

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
)

// jsonAnswers answers a request the go-sdk would answer with a stream of
// server-sent events holding nothing but its response as that response in
// one application/json body, when the client accepts JSON: MCP's
// Streamable HTTP lets a server answer a POST either way, and a stream is
// only worth its framing when something is streamed. It serves the calls
// the direct path (fastcall.go) does not take: every 2025-11-25 session
// request, and the 2026-07-28 ones the go-sdk answers.
//
// What the client gets is decided by what the go-sdk writes, not guessed
// beforehand:
//   - While the first event is incomplete, nothing is sent (its headers
//     are held, flushes wait).
//   - If that first event is anything but the request's response (a
//     progress or log notification, an elicitation request the call waits
//     on), the held headers and bytes go out at once and the rest streams
//     through untouched: byte for byte what the go-sdk wrote.
//   - If it is the response, the go-sdk ends the stream after it; when its
//     handler returns with nothing after that event, the event's data is
//     sent as the JSON body (the other headers kept). Anything else —
//     more events, an error status, another content type, more than
//     maxJSONAnswer bytes — goes out as the go-sdk wrote it.
func (s *Server) jsonAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := headOf(r).ID
		if s.streamAnswers || r.Method != http.MethodPost || len(id) == 0 || headOf(r).Method == "" || !acceptsJSON(r.Header.Values("Accept")) {
			next.ServeHTTP(w, r)
			return
		}
		a := &jsonAnswer{w: w, id: id}
		next.ServeHTTP(a, r)
		a.finish()
	})
}

// maxJSONAnswer bounds what jsonAnswers holds back for one request: a
// response larger than this is streamed as the go-sdk wrote it.
const maxJSONAnswer = 8 << 20

// acceptsJSON reports whether Accept values list application/json (or a
// range covering it).
func acceptsJSON(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && (mt == "application/json" || mt == "application/*" || mt == "*/*") {
				return true
			}
		}
	}
	return false
}

// The states of a jsonAnswer.
const (
	answerUndecided = iota // holding the headers and the bytes so far
	answerStreaming        // passing everything through
)

// jsonAnswer is the ResponseWriter jsonAnswers hands the go-sdk for one
// request. One goroutine at a time writes it (net/http's rule for a
// ResponseWriter).
type jsonAnswer struct {
	w        http.ResponseWriter
	id       json.RawMessage // the request's id
	state    int
	status   int  // the held status (0: none yet)
	response bool // the first event is complete and is the response
	buf      []byte
}

func (a *jsonAnswer) Header() http.Header { return a.w.Header() }

// Unwrap lets http.ResponseController reach the connection (deadlines);
// flushes go through Flush below.
func (a *jsonAnswer) Unwrap() http.ResponseWriter { return a.w }

func (a *jsonAnswer) WriteHeader(code int) {
	if a.state == answerStreaming || a.status != 0 {
		if a.state == answerStreaming {
			a.w.WriteHeader(code)
		}
		return
	}
	if code != http.StatusOK || !isEventStream(a.w.Header().Get("Content-Type")) {
		a.state = answerStreaming
		a.w.WriteHeader(code)
		return
	}
	a.status = code
}

func (a *jsonAnswer) Write(p []byte) (int, error) {
	if a.state == answerUndecided && a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	if a.state == answerStreaming {
		return a.w.Write(p)
	}
	a.buf = append(a.buf, p...)
	switch {
	case len(a.buf) > maxJSONAnswer:
		return len(p), a.stream()
	case a.response:
		return len(p), nil // more after the response: finish streams it all
	}
	data, n := firstEvent(a.buf)
	if n == 0 {
		return len(p), nil // the first event is not complete yet
	}
	if !isResponseTo(data, a.id) {
		return len(p), a.stream()
	}
	a.response = true
	return len(p), nil
}

// Flush passes a flush on once streaming; before that there is nothing
// the client may see yet.
func (a *jsonAnswer) Flush() {
	if a.state != answerStreaming {
		return
	}
	if f, ok := a.w.(http.Flusher); ok {
		f.Flush()
	}
}

// stream sends what was held and passes everything after it through.
func (a *jsonAnswer) stream() error {
	a.state = answerStreaming
	a.w.WriteHeader(a.status)
	_, err := a.w.Write(a.buf)
	a.buf = nil
	if f, ok := a.w.(http.Flusher); ok {
		f.Flush()
	}
	return err
}

// finish sends what is still held once the go-sdk's handler returned: the
// response alone as JSON, anything else as it was written.
func (a *jsonAnswer) finish() {
	if a.state == answerStreaming || a.status == 0 {
		return
	}
	if a.response {
		if data, n := firstEvent(a.buf); n == len(a.buf) {
			h := a.w.Header()
			h.Set("Content-Type", "application/json")
			h.Del("Content-Length")
			a.w.WriteHeader(a.status)
			a.w.Write(data)
			return
		}
	}
	a.stream()
}

// isEventStream reports whether a Content-Type is text/event-stream.
func isEventStream(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/event-stream"
}

// firstEvent parses the first server-sent event in b (the WHATWG event
// stream format: lines ending in \n, \r\n or \r; a blank line ends an
// event; "data" fields joined with \n; comments and other fields
// skipped). It returns the event's data and the bytes it took, or 0 while
// b holds no complete event. An event whose type is not "message" (the
// only type MCP sends) has no data here.
func firstEvent(b []byte) (data []byte, n int) {
	var out []byte
	seen, other := false, false // a data field seen; an event type other than message
	for i := 0; i < len(b); {
		end := bytes.IndexAny(b[i:], "\r\n")
		if end < 0 {
			return nil, 0
		}
		line := b[i : i+end]
		i += end + 1
		if b[i-1] == '\r' {
			if i >= len(b) {
				return nil, 0 // a \r that may be the first half of \r\n
			}
			if b[i] == '\n' {
				i++
			}
		}
		if len(line) == 0 {
			if other {
				return nil, i
			}
			return out, i
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if seen {
				out = append(out, '\n')
			}
			seen = true
			out = append(out, value...)
		case "event":
			other = other || string(value) != "message"
		}
	}
	return nil, 0
}

// isResponseTo reports whether data is a JSON-RPC response to the request
// with id: an object with that id and a result or an error, and no method.
func isResponseTo(data []byte, id json.RawMessage) bool {
	var m struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  *string         `json:"method"`
		Result  json.RawMessage `json:"result"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &m) != nil || m.JSONRPC != "2.0" || m.Method != nil || (m.Result == nil) == (m.Error == nil) {
		return false
	}
	if bytes.Equal(m.ID, id) { // the go-sdk writes the id as it came: no compacting needed
		return true
	}
	var got, want bytes.Buffer
	return json.Compact(&got, m.ID) == nil && json.Compact(&want, id) == nil && bytes.Equal(got.Bytes(), want.Bytes())
}
