package netpolicy

import (
	"fmt"
	"net/http"
	"strings"
)

// hopByHop are the headers of one connection, not of the message (RFC
// 9110 7.6.1): never forwarded either way.
var hopByHop = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
}

func isHopByHop(canonical string) bool { return hopByHop[canonical] }

// managedHeaders are set by the HTTP client from the request itself; a
// guest value is dropped rather than allowed to disagree with it.
var managedHeaders = map[string]bool{
	"Host":           true,
	"Content-Length": true,
}

// crossHostDropped are the guest headers not carried over a redirect to
// another host:port.
var crossHostDropped = map[string]bool{
	"Authorization": true,
	"Cookie":        true,
	"Cookie2":       true,
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// CheckHeaderName accepts an RFC 9110 field name of at most 256 bytes.
func CheckHeaderName(name string) error {
	if len(name) > 256 || !isToken(name) {
		return fmt.Errorf("%q is not a valid header name", name)
	}
	return nil
}

// CheckHeaderValue refuses control characters other than tab — above all
// CR, LF and NUL, which would split or end the header. The error never
// quotes the value.
func CheckHeaderValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("header value contains control character %#x", c)
		}
	}
	return nil
}

// guestHeaders checks the guest's headers and returns them canonical,
// without hop-by-hop and client-managed ones.
func guestHeaders(h map[string]string) (http.Header, error) {
	if len(h) > MaxHeaders {
		return nil, errorf(KindBadRequest, "%d headers; the limit is %d", len(h), MaxHeaders)
	}
	out := make(http.Header, len(h))
	size := 0
	for name, v := range h {
		size += len(name) + len(v)
		if err := CheckHeaderName(name); err != nil {
			return nil, errorf(KindBadRequest, "a header name is malformed")
		}
		if err := CheckHeaderValue(v); err != nil {
			return nil, errorf(KindBadRequest, "header %s: the value contains a control character", name)
		}
		c := http.CanonicalHeaderKey(name)
		if _, dup := out[c]; dup {
			return nil, errorf(KindBadRequest, "header %s is given twice", c)
		}
		if hopByHop[c] || managedHeaders[c] {
			continue
		}
		out[c] = []string{v}
	}
	if size > MaxHeaderBytes {
		return nil, errorf(KindBadRequest, "headers are %d bytes; the limit is %d", size, MaxHeaderBytes)
	}
	return out, nil
}

// responseHeaders flattens h for the guest, without hop-by-hop headers
// (and those Connection names).
func responseHeaders(h http.Header) map[string]string {
	drop := map[string]bool{}
	for _, v := range h["Connection"] {
		for _, f := range strings.Split(v, ",") {
			drop[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
		}
	}
	out := make(map[string]string, len(h))
	for name, vs := range h {
		if hopByHop[name] || drop[name] {
			continue
		}
		out[name] = strings.Join(vs, ", ")
	}
	return out
}
