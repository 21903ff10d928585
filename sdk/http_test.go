//go:build !wasip1

package sdk

import (
	"errors"
	"testing"
)

func TestHTTP(t *testing.T) {
	var sent string
	host := func(req []byte) ([]byte, uint32) { // the test's stand-in for the host import
		sent = string(req)
		return []byte(`{"status":404,"url":"https://a.test/x","headers":{"Content-Type":"text/plain"},"body":"bm9wZQ=="}`), 0
	}

	resp, err := httpVia(host, "POST", "https://a.test/x", map[string]string{"Accept": "text/plain"}, []byte("ping"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"method":"POST","url":"https://a.test/x","headers":{"Accept":"text/plain"},"body":"cGluZw=="}`; sent != want {
		t.Errorf("sent %s, want %s", sent, want)
	}
	if resp.Status != 404 || resp.URL != "https://a.test/x" || resp.Header["Content-Type"] != "text/plain" || string(resp.Body) != "nope" {
		t.Errorf("resp = %+v", resp)
	}

	if _, err := httpVia(host, "GET", "https://a.test/", nil, nil); err != nil {
		t.Fatal(err)
	}
	if want := `{"method":"GET","url":"https://a.test/"}`; sent != want {
		t.Errorf("sent %s, want %s", sent, want)
	}

	for _, tc := range []struct {
		code uint32
		want string
	}{
		{HTTPErrDeniedHost, "http: the host is not allowed by the tool's manifest"},
		{HTTPErrTimeout, "http: the request timed out"},
		{99, "http: the request failed (code 99)"},
	} {
		_, err := httpVia(func([]byte) ([]byte, uint32) { return nil, tc.code }, "GET", "https://a.test/", nil, nil)
		if err == nil || err.Error() != tc.want || !errors.Is(err, &HTTPError{Code: tc.code}) {
			t.Errorf("code %d: err = %v, want %q", tc.code, err, tc.want)
		}
	}
	notJSON := func([]byte) ([]byte, uint32) { return []byte("not json"), 0 }
	if _, err := httpVia(notJSON, "GET", "https://a.test/", nil, nil); !errors.Is(err, &HTTPError{Code: HTTPErrFailed}) {
		t.Errorf("bad document: err = %v", err)
	}
}

func TestHTTPOutsideMoat(t *testing.T) {
	if _, err := HTTPGet("https://a.test/"); !errors.Is(err, &HTTPError{Code: HTTPErrFailed}) {
		t.Errorf("err = %v, want HTTPErrFailed", err)
	}
}
