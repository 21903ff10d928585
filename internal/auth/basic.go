package auth

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// MaxBasicBytes bounds an HTTP Basic credential (its base64 text): a key or
// a JWT fits easily.
const MaxBasicBytes = 8 << 10

// MiddlewareBasic is Middleware for a browser's own sign-in (the operator
// console): the credential may also come as the password of HTTP Basic
// (RFC 7617; any user name), which a browser asks for with its own prompt.
// The password is judged exactly as a bearer token is (an API key or a
// JWT); nothing else about the request changes. The context carries the
// principal (FromContext) but no go-sdk TokenInfo: the console is not an
// MCP endpoint. /mcp takes Bearer alone (Middleware).
func (a *Authenticator) MiddlewareBasic(next http.Handler) http.Handler {
	return a.middleware(next, bearerOrBasic, false)
}

// bearerOrBasic reads a Bearer credential, or a Basic one's password.
func bearerOrBasic(h http.Header) (string, error) {
	if vs := h.Values("Authorization"); len(vs) == 1 {
		if scheme, _, _ := strings.Cut(strings.TrimLeft(vs[0], " \t"), " "); strings.EqualFold(scheme, "basic") {
			pass, ok := BasicPassword(vs[0])
			if !ok {
				return "", fmt.Errorf("%w: not a Basic credential with a password", ErrMalformed)
			}
			if err := checkToken(pass); err != nil {
				return "", err
			}
			return pass, nil
		}
	}
	return bearerToken(h)
}

// BasicPassword is the password of an HTTP Basic Authorization value
// (RFC 7617), or false when it is not one, is too long (MaxBasicBytes), or
// has an empty password or one that could not be a bearer credential
// (control characters, spaces). The authenticator judges the credential
// itself.
func BasicPassword(value string) (string, bool) {
	scheme, b64, ok := strings.Cut(value, " ")
	if !ok || !strings.EqualFold(scheme, "basic") || len(b64) > MaxBasicBytes {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return "", false
	}
	_, pass, ok := strings.Cut(string(raw), ":")
	if !ok || pass == "" || strings.IndexFunc(pass, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return "", false
	}
	return pass, true
}
