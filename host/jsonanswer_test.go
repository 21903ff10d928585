package host

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sseEvent frames one JSON-RPC message as the go-sdk does.
func sseEvent(msg string) string { return "event: message\ndata: " + msg + "\n\n" }

const (
	answer7      = `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hi"}]}}`
	progressNote = `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1}}`
	elicit       = `{"jsonrpc":"2.0","id":1,"method":"elicitation/create","params":{"message":"?","requestedSchema":{"type":"object"}}}`
	errorOf7     = `{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"unknown tool"}}`
	answerOf8    = `{"jsonrpc":"2.0","id":8,"result":{}}`
)

// answerRequest is a POST of a request with id 7 (its head as parseHead
// leaves it), accepting accept.
func answerRequest(accept string, id json.RawMessage, method string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader("{}"))
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	return r.WithContext(context.WithValue(r.Context(), headKey{}, &requestHead{ID: id, Method: method}))
}

// sdkLike writes status, the content type and the chunks, flushing after
// each, as the go-sdk's stream does.
func sdkLike(status int, ct string, chunks ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Mcp-Session-Id", "S1")
		w.WriteHeader(status)
		for _, c := range chunks {
			io.WriteString(w, c)
			w.(http.Flusher).Flush()
		}
	})
}

// TestJSONAnswers: a stream holding only the response goes out as JSON;
// anything else exactly as the go-sdk wrote it.
func TestJSONAnswers(t *testing.T) {
	t.Parallel()
	const both = "application/json, text/event-stream"
	tests := []struct {
		name     string
		accept   string
		id       string
		method   string
		status   int
		ct       string
		chunks   []string
		wantJSON string // "": the go-sdk's bytes and content type, untouched
	}{
		{"the response alone", both, "7", "tools/call", 200, "text/event-stream", []string{sseEvent(answer7)}, answer7},
		{"an error response alone", both, "7", "tools/call", 200, "text/event-stream", []string{sseEvent(errorOf7)}, errorOf7},
		{"the response in pieces", both, "7", "tools/call", 200, "text/event-stream",
			[]string{"event: mess", "age\nda", "ta: " + answer7[:20], answer7[20:] + "\n", "\n"}, answer7},
		{"CRLF lines, an id and a comment", both, "7", "tools/call", 200, "text/event-stream",
			[]string{": hello\r\nid: 3\r\nevent: message\r\ndata: " + answer7 + "\r\n\r\n"}, answer7},
		{"data over two lines", both, "7", "tools/call", 200, "text/event-stream",
			[]string{"data: {\"jsonrpc\":\"2.0\",\ndata: \"id\":7,\"result\":{}}\n\n"}, "{\"jsonrpc\":\"2.0\",\n\"id\":7,\"result\":{}}"},
		{"a string id", both, `"a"`, "initialize", 200, "text/event-stream",
			[]string{sseEvent(`{"jsonrpc":"2.0","id":"a","result":{}}`)}, `{"jsonrpc":"2.0","id":"a","result":{}}`},
		{"progress first", both, "7", "tools/call", 200, "text/event-stream", []string{sseEvent(progressNote), sseEvent(answer7)}, ""},
		{"an elicitation first", both, "7", "tools/call", 200, "text/event-stream", []string{sseEvent(elicit), sseEvent(answer7)}, ""},
		{"something after the response", both, "7", "tools/call", 200, "text/event-stream", []string{sseEvent(answer7), sseEvent(progressNote)}, ""},
		{"a stray newline after the response", both, "7", "tools/call", 200, "text/event-stream", []string{sseEvent(answer7) + "\n"}, ""},
		{"another request's response", both, "7", "tools/call", 200, "text/event-stream", []string{sseEvent(answerOf8)}, ""},
		{"an event of another type", both, "7", "tools/call", 200, "text/event-stream", []string{"event: ping\ndata: " + answer7 + "\n\n"}, ""},
		{"an event without data", both, "7", "tools/call", 200, "text/event-stream", []string{"id: 1\n\n", sseEvent(answer7)}, ""},
		{"not JSON", both, "7", "tools/call", 200, "text/event-stream", []string{sseEvent("{nope")}, ""},
		{"both result and error", both, "7", "tools/call", 200, "text/event-stream",
			[]string{sseEvent(`{"jsonrpc":"2.0","id":7,"result":{},"error":{"code":1,"message":"x"}}`)}, ""},
		{"an incomplete event at the end", both, "7", "tools/call", 200, "text/event-stream", []string{"data: " + answer7 + "\n"}, ""},
		{"nothing written", both, "7", "tools/call", 200, "text/event-stream", nil, ""},
		{"an HTTP error", both, "7", "tools/call", 404, "text/plain", []string{"session not found\n"}, ""},
		{"a JSON answer already", both, "7", "tools/call", 200, "application/json", []string{answer7}, ""},
		{"an event stream error status", both, "7", "tools/call", 400, "text/event-stream", []string{sseEvent(errorOf7)}, ""},
		{"SSE only accepted", "text/event-stream", "7", "tools/call", 200, "text/event-stream", []string{sseEvent(answer7)}, ""},
		{"a wildcard accepted", "*/*", "7", "tools/call", 200, "text/event-stream", []string{sseEvent(answer7)}, answer7},
		{"no Accept", "", "7", "tools/call", 200, "text/event-stream", []string{sseEvent(answer7)}, ""},
		{"a notification (no id)", both, "", "notifications/initialized", 200, "text/event-stream", []string{sseEvent(answer7)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			var id json.RawMessage
			if tc.id != "" {
				id = json.RawMessage(tc.id)
			}
			(&Server{}).jsonAnswers(sdkLike(tc.status, tc.ct, tc.chunks...)).ServeHTTP(w, answerRequest(tc.accept, id, tc.method))
			if w.Code != tc.status || w.Header().Get("Mcp-Session-Id") != "S1" {
				t.Errorf("status %d, session %q; want %d and the go-sdk's headers kept", w.Code, w.Header().Get("Mcp-Session-Id"), tc.status)
			}
			if tc.wantJSON != "" {
				if ct := w.Header().Get("Content-Type"); ct != "application/json" || w.Body.String() != tc.wantJSON {
					t.Errorf("answered %q %q; want application/json %q", ct, w.Body.String(), tc.wantJSON)
				}
				return
			}
			if ct, body := w.Header().Get("Content-Type"), w.Body.String(); ct != tc.ct || body != strings.Join(tc.chunks, "") {
				t.Errorf("answered %q %q; want the go-sdk's %q %q", ct, body, tc.ct, strings.Join(tc.chunks, ""))
			}
		})
	}
}

// TestJSONAnswerStreamsWhatComesFirst: an event other than the response
// reaches the client while the call still runs (an elicitation the call
// waits on must), not when the handler returns.
func TestJSONAnswerStreamsWhatComesFirst(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := (&Server{}).jsonAnswers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, sseEvent(elicit))
		w.(http.Flusher).Flush()
		<-release // the client's answer to the elicitation
		io.WriteString(w, sseEvent(answer7))
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, answerRequest("application/json, text/event-stream", json.RawMessage("7"), "tools/call").WithContext(
			context.WithValue(r.Context(), headKey{}, &requestHead{ID: json.RawMessage("7"), Method: "tools/call"})))
	}))
	defer srv.Close()
	defer close(release)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q, want text/event-stream", ct)
	}
	first := make([]byte, len(sseEvent(elicit)))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != sseEvent(elicit) {
		t.Fatalf("first event %q (%v), want the elicitation before the call ends", first, err)
	}
}

// TestJSONAnswerTooLarge: a response past maxJSONAnswer is streamed as
// written, not held.
func TestJSONAnswerTooLarge(t *testing.T) {
	t.Parallel()
	big := `{"jsonrpc":"2.0","id":7,"result":{"text":"` + strings.Repeat("x", maxJSONAnswer) + `"}}`
	w := httptest.NewRecorder()
	(&Server{}).jsonAnswers(sdkLike(200, "text/event-stream", sseEvent(big))).ServeHTTP(w, answerRequest("application/json, text/event-stream", json.RawMessage("7"), "tools/call"))
	if ct := w.Header().Get("Content-Type"); ct != "text/event-stream" || w.Body.String() != sseEvent(big) {
		t.Fatalf("answered %q with %d bytes; want the stream as written", ct, w.Body.Len())
	}
}

// FuzzJSONAnswer: whatever the go-sdk writes, in whatever pieces, the
// client gets it byte for byte, or, as JSON, exactly the data of the
// one event that was written, which is a response to the request.
func FuzzJSONAnswer(f *testing.F) {
	f.Add(sseEvent(answer7), 5)
	f.Add(sseEvent(progressNote)+sseEvent(answer7), 17)
	f.Add("data: "+answer7+"\r\n\r\n", 3)
	f.Add("event: message\rdata: "+answer7+"\r\r", 1)
	f.Add(": x\n\ndata: "+answer7+"\n\n", 9)
	f.Fuzz(func(t *testing.T, stream string, cut int) {
		var chunks []string
		if cut <= 0 {
			cut = 1
		}
		for s := stream; len(s) > 0; {
			n := min(cut, len(s))
			chunks = append(chunks, s[:n])
			s = s[n:]
		}
		w := httptest.NewRecorder()
		(&Server{}).jsonAnswers(sdkLike(200, "text/event-stream", chunks...)).ServeHTTP(w, answerRequest("application/json, text/event-stream", json.RawMessage("7"), "tools/call"))
		switch ct := w.Header().Get("Content-Type"); ct {
		case "text/event-stream":
			if w.Body.String() != stream {
				t.Fatalf("streamed %q, the go-sdk wrote %q", w.Body.String(), stream)
			}
		case "application/json":
			data, n := firstEvent([]byte(stream))
			if n != len(stream) || !bytes.Equal(data, w.Body.Bytes()) || !isResponseTo(data, json.RawMessage("7")) {
				t.Fatalf("answered JSON %q for the stream %q", w.Body.String(), stream)
			}
		default:
			t.Fatalf("content type %q", ct)
		}
	})
}

// TestSessionAnswers: in a 2025-11-25 session, a call that streams
// nothing is answered as JSON; one that reports progress keeps its
// stream, progress first.
func TestSessionAnswers(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{http: true, noAuth: true, tools: map[string]string{
		"emit":   manifestText(guests["hostfixture"], `name = "emit"`),
		"notify": manifestText(guests["hostfixture"], `name = "notify"`),
	}})
	code, sid, _ := post(t, ts, "POST", initializeBody, "")
	if code != 200 || sid == "" {
		t.Fatalf("initialize: %d, session %q", code, sid)
	}
	post(t, ts, "POST", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, sid)
	for _, c := range []struct {
		name, body, wantType string
		want                 []string
	}{
		{"plain call", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"x"}}}`,
			"application/json", []string{`"text":"x"`}},
		{"call with progress", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"notify","arguments":{"steps":2},"_meta":{"progressToken":"p"}}}`,
			"text/event-stream", []string{`"method":"notifications/progress"`, `"id":3`}},
	} {
		resp, b := doHTTP(t, mcpRequest(context.Background(), "POST", ts.url+"/mcp", c.body, sid))
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != c.wantType {
			t.Errorf("%s: %d %q, want 200 %q: %s", c.name, resp.StatusCode, ct, c.wantType, b)
		}
		last := -1
		for _, w := range c.want {
			i := strings.Index(string(b), w)
			if i <= last {
				t.Errorf("%s: %q missing or out of order in %s", c.name, w, b)
			}
			last = i
		}
		if c.wantType == "application/json" && !json.Valid(b) {
			t.Errorf("%s: not one JSON value: %s", c.name, b)
		}
	}
}
