package sdk

import (
	"encoding/json"
	"fmt"
)

// Response is an HTTP response the host fetched for the tool.
type Response struct {
	Status int               // e.g. 200
	URL    string            // the final URL, after any redirects the host followed
	Header map[string]string // canonical names; repeated headers joined with ", "
	Body   []byte            // at most the manifest's net.max_response
}

// HTTP error codes (ABI v1, moat.http_request). An *HTTPError carries one.
const (
	HTTPErrBadRequest       = 1  // malformed URL or header (CR, LF, NUL), userinfo in the URL
	HTTPErrDeniedHost       = 2  // host or port not granted by the manifest's net.allow
	HTTPErrDeniedScheme     = 3  // plain http not granted for the host (net.http_hosts)
	HTTPErrDeniedMethod     = 4  // method not granted (net.methods)
	HTTPErrDeniedAddress    = 5  // the host resolves to a private, loopback or metadata address
	HTTPErrDNS              = 6  // the name did not resolve
	HTTPErrConnect          = 7  // TCP or TLS failed
	HTTPErrTimeout          = 8  // net.timeout or the call's own time limit passed
	HTTPErrRequestTooLarge  = 9  // body over net.max_request
	HTTPErrResponseTooLarge = 10 // body over net.max_response
	HTTPErrFailed           = 13 // anything else
	httpErrBufferTooSmall   = 11
	httpErrNoResponse       = 12
)

var httpErrText = map[uint32]string{
	HTTPErrBadRequest:       "the request is malformed",
	HTTPErrDeniedHost:       "the host is not allowed by the tool's manifest",
	HTTPErrDeniedScheme:     "plain http is not allowed for the host: use https",
	HTTPErrDeniedMethod:     "the method is not allowed by the tool's manifest",
	HTTPErrDeniedAddress:    "the host resolves to an address tools may not reach",
	HTTPErrDNS:              "the host name did not resolve",
	HTTPErrConnect:          "the connection failed",
	HTTPErrTimeout:          "the request timed out",
	HTTPErrRequestTooLarge:  "the request body is too large",
	HTTPErrResponseTooLarge: "the response is too large",
	HTTPErrFailed:           "the request failed",
}

// HTTPError is a request the host refused or could not make. Its text is
// fit for the agent: it says what kind of failure, nothing more (the host
// never tells a tool why in detail, e.g. which address a name resolved
// to).
type HTTPError struct {
	Code uint32 // an HTTPErr* constant
}

func (e *HTTPError) Error() string {
	if s, ok := httpErrText[e.Code]; ok {
		return "http: " + s
	}
	return fmt.Sprintf("http: the request failed (code %d)", e.Code)
}

// Is makes errors.Is(err, &HTTPError{Code: HTTPErrDeniedHost}) work.
func (e *HTTPError) Is(target error) bool {
	t, ok := target.(*HTTPError)
	return ok && t.Code == e.Code
}

// HTTPGet fetches url with GET through the host. It needs the manifest's
// [net] grant for the URL's host; redirects are followed by the host, each
// hop checked against the grant.
//
//	resp, err := sdk.HTTPGet("https://api.github.com/repos/owner/name")
func HTTPGet(url string) (*Response, error) { return HTTP("GET", url, nil, nil) }

// HTTP makes one request through the host. headers may be nil; headers the
// manifest injects (credentials) replace the tool's of the same name, and
// the tool never sees their values. A status such as 404 is a Response,
// not an error; an error is always an *HTTPError.
func HTTP(method, url string, headers map[string]string, body []byte) (*Response, error) {
	return httpVia(hostHTTP, method, url, headers, body)
}

// httpVia is HTTP through call, the host import (hostHTTP in a tool; a
// stand-in in tests, so that they replace no package state).
func httpVia(call func([]byte) ([]byte, uint32), method, url string, headers map[string]string, body []byte) (*Response, error) {
	req, err := json.Marshal(httpRequest{Method: method, URL: url, Headers: headers, Body: body})
	if err != nil {
		return nil, &HTTPError{Code: HTTPErrBadRequest}
	}
	doc, code := call(req)
	if code != 0 {
		return nil, &HTTPError{Code: code}
	}
	var w httpResponse
	if err := json.Unmarshal(doc, &w); err != nil {
		return nil, &HTTPError{Code: HTTPErrFailed}
	}
	return &Response{Status: w.Status, URL: w.URL, Header: w.Headers, Body: w.Body}, nil
}

// httpRequest and httpResponse are the ABI v1 documents.
type httpRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
}

type httpResponse struct {
	Status  int               `json:"status"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"body"`
}
