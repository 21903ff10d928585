package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fakeDoer answers every request with resp or err and records what the
// guest asked for.
type fakeDoer struct {
	got  []*HTTPRequest
	resp *HTTPResponse
	err  error
}

func (d *fakeDoer) Do(_ context.Context, req *HTTPRequest) (*HTTPResponse, error) {
	d.got = append(d.got, req)
	return d.resp, d.err
}

type codedErr uint32

func (e codedErr) Error() string { return fmt.Sprintf("code %d", uint32(e)) }
func (e codedErr) Errno() uint32 { return uint32(e) }

func TestNetNotGranted(t *testing.T) {
	for _, file := range []string{"net_fetch.wasm", "net_oob.wasm"} {
		_, err := testRT.Load(context.Background(), Spec{Name: "t", Wasm: guest(t, file)})
		var ie *ImportError
		if !errors.As(err, &ie) || *ie != (ImportError{Module: "moat", Name: "http_request", Kind: "function", Grant: "net"}) {
			t.Fatalf("%s: err = %v, want moat.http_request needing the [net] grant", file, err)
		}
		if want := `module imports "moat.http_request", which needs the [net] grant`; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: err = %q, want %q", file, err, want)
		}
	}
}

func TestNetBadSignature(t *testing.T) {
	_, err := testRT.Load(context.Background(), Spec{Name: "t", Wasm: guest(t, "net_badsig.wasm"), HTTP: &fakeDoer{}})
	want := `module imports "moat.http_request" with type (i32, i32) -> (i32), but moat provides (i32, i32, i32, i32, i32) -> (i32)`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestNetRequest(t *testing.T) {
	d := &fakeDoer{resp: &HTTPResponse{Status: 201, URL: "https://api.test/x", Header: map[string]string{"Content-Type": "text/plain"}, Body: []byte("hi <there>")}}
	m := load(t, "net_fetch.wasm", Spec{HTTP: d})
	res, err := m.Call(context.Background(), []byte(`{"method":"POST","url":"https://api.test/x","headers":{"Accept":"text/plain"},"body":"cGluZw=="}`), nil)
	if err != nil || res.Outcome != OutcomeOK {
		t.Fatalf("call: %v %+v", err, res)
	}
	want := `{"status":201,"url":"https://api.test/x","headers":{"Content-Type":"text/plain"},"body":"aGkgPHRoZXJlPg=="}`
	if string(res.Stdout) != want {
		t.Errorf("stdout = %s, want %s", res.Stdout, want)
	}
	if len(d.got) != 1 {
		t.Fatalf("doer called %d times", len(d.got))
	}
	if g := d.got[0]; g.Method != "POST" || g.URL != "https://api.test/x" || g.Header["Accept"] != "text/plain" || string(g.Body) != "ping" {
		t.Errorf("doer got %+v", g)
	}

	// Defaults: GET, no headers, no body; a response too small for the
	// guest's 16-byte buffer is still delivered whole.
	d.got, d.resp = nil, &HTTPResponse{Status: 204}
	res, err = m.Call(context.Background(), []byte(`{"url":"https://api.test/"}`), nil)
	if err != nil || res.Outcome != OutcomeOK {
		t.Fatalf("call: %v %+v", err, res)
	}
	if want := `{"status":204,"url":"","headers":{},"body":null}`; string(res.Stdout) != want {
		t.Errorf("stdout = %s, want %s", res.Stdout, want)
	}
	if g := d.got[0]; g.Method != "GET" || g.Header != nil || g.Body != nil {
		t.Errorf("doer got %+v", g)
	}
}

func TestNetErrors(t *testing.T) {
	ctxDone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		stdin  string
		err    error
		want   string
		called bool
	}{
		{"denied host", `{"url":"https://x.test/"}`, codedErr(HTTPErrDeniedHost), "errno 2 len 0", true},
		{"denied address", `{"url":"https://x.test/"}`, fmt.Errorf("wrapped: %w", codedErr(HTTPErrDeniedAddress)), "errno 5 len 0", true},
		{"response too large", `{"url":"https://x.test/"}`, codedErr(HTTPErrResponseTooLarge), "errno 10 len 0", true},
		{"reserved code", `{"url":"https://x.test/"}`, codedErr(HTTPErrBufferTooSmall), "errno 13 len 0", true},
		{"unknown code", `{"url":"https://x.test/"}`, codedErr(99), "errno 13 len 0", true},
		{"uncoded error", `{"url":"https://x.test/"}`, errors.New("dial tcp 10.0.0.1:443: secret detail"), "errno 13 len 0", true},
		{"deadline", `{"url":"https://x.test/"}`, context.DeadlineExceeded, "errno 8 len 0", true},
		{"not JSON", `GET / HTTP/1.1`, nil, "errno 1 len 0", false},
		{"empty", ``, nil, "errno 1 len 0", false},
		{"no url", `{"method":"GET"}`, nil, "errno 1 len 0", false},
		{"unknown field", `{"url":"https://x.test/","proxy":"http://evil"}`, nil, "errno 1 len 0", false},
		{"two documents", `{"url":"https://x.test/"} {"url":"https://y.test/"}`, nil, "errno 1 len 0", false},
		{"body not base64", `{"url":"https://x.test/","body":"not base64!"}`, nil, "errno 1 len 0", false},
		{"header not a string", `{"url":"https://x.test/","headers":{"A":1}}`, nil, "errno 1 len 0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDoer{err: tc.err}
			m := load(t, "net_fetch.wasm", Spec{HTTP: d})
			res, err := m.Call(context.Background(), []byte(tc.stdin), nil)
			if err != nil || res.Outcome != OutcomeOK {
				t.Fatalf("call: %v %+v", err, res)
			}
			if string(res.Stdout) != tc.want {
				t.Errorf("stdout = %q, want %q", res.Stdout, tc.want)
			}
			if (len(d.got) == 1) != tc.called {
				t.Errorf("doer called %d times, want called=%v", len(d.got), tc.called)
			}
		})
	}
	if got := httpErrno(ctxDone, errors.New("x")); got != HTTPErrTimeout {
		t.Errorf("ended call ctx: errno %d, want %d", got, HTTPErrTimeout)
	}
}

func TestNetOutOfBounds(t *testing.T) {
	m := load(t, "net_oob.wasm", Spec{HTTP: &fakeDoer{resp: &HTTPResponse{Status: 200}}})
	res, err := m.Call(context.Background(), nil, nil)
	if err != nil || res.Outcome != OutcomeTrap {
		t.Fatalf("call: %v %+v, want a trap", err, res)
	}
}

func TestDecodeHTTPRequest(t *testing.T) {
	r, err := decodeHTTPRequest([]byte(`{"method":"PUT","url":"https://a.test/","headers":{"X":"1"},"body":"AAE="}`))
	if err != nil || r.Method != "PUT" || r.URL != "https://a.test/" || r.Header["X"] != "1" || string(r.Body) != "\x00\x01" {
		t.Fatalf("got %+v, %v", r, err)
	}
	if _, err := decodeHTTPRequest([]byte(`{"url":"https://a.test/"}` + strings.Repeat(" ", maxHTTPRequestJSON))); err == nil {
		t.Error("an oversized document decoded")
	}
}

// FuzzDecodeHTTPRequest: the decoder never panics, and what it accepts is
// one object with a URL that re-encodes to an equivalent request.
func FuzzDecodeHTTPRequest(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://a.test/"}`,
		`{"method":"POST","url":"https://a.test/","headers":{"A":"b"},"body":"cGluZw=="}`,
		`{"url":"x","url":"y"}`, `[]`, `null`, `{"url":""}`, `{"url":"a"}garbage`, "{\"url\":\"a\\u0000\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeHTTPRequest(b)
		if err != nil {
			return
		}
		if r.URL == "" || r.Method == "" {
			t.Fatalf("accepted %q as %+v", b, r)
		}
		again, err := json.Marshal(wireRequest{Method: r.Method, URL: r.URL, Headers: r.Header, Body: r.Body})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeHTTPRequest(again)
		if err != nil || r2.Method != r.Method || r2.URL != r.URL || string(r2.Body) != string(r.Body) || len(r2.Header) != len(r.Header) {
			t.Fatalf("round trip of %q: %+v, %v", b, r2, err)
		}
	})
}
