package netpolicy

import (
	"net/http"
	"strings"

	"github.com/moatmcp/moat/internal/manifest"
)

// isHopByHop and managedHeaders are manifest's: the headers a grant may not
// inject are the ones the client never forwards from a guest.
func isHopByHop(canonical string) bool { return manifest.IsHopByHop(canonical) }

func isManaged(canonical string) bool { return manifest.IsClientManaged(canonical) }

// crossHostDropped are the guest headers not carried over a redirect to
// another host:port.
var crossHostDropped = map[string]bool{
	"Authorization": true,
	"Cookie":        true,
	"Cookie2":       true,
}

// CheckHeaderName accepts an RFC 9110 field name of at most 256 bytes
// (manifest.CheckHeaderName).
func CheckHeaderName(name string) error { return manifest.CheckHeaderName(name) }

// CheckHeaderValue refuses control characters other than tab; the error
// never quotes the value (manifest.CheckHeaderValue).
func CheckHeaderValue(v string) error { return manifest.CheckHeaderValue(v) }

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
		if isHopByHop(c) || isManaged(c) {
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
		if isHopByHop(name) || drop[name] {
			continue
		}
		out[name] = strings.Join(vs, ", ")
	}
	return out
}
