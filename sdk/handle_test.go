package sdk

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// echoHandler is the handler of the tests below: it greets, fails, or
// panics, as its input says.
func echoHandler(_ context.Context, in echoIn) (echoOut, error) {
	switch in.Name {
	case "fail":
		return echoOut{}, &Error{Msg: "no greeting", Code: 3}
	case "panic":
		panic("boom")
	}
	return echoOut{Greeting: "hello " + in.Name, Count: in.Count}, nil
}

func TestHandle(t *testing.T) {
	var slot *handler // the test's own, not the package's
	handleInto(&slot, echoHandler)
	if slot == nil {
		t.Fatal("Handle registered nothing")
	}
	// A test function runs outside main.main, as an init does.
	if !slot.atInit {
		t.Error("registered outside main.main, but atInit is false")
	}
	for _, tc := range []struct {
		name  string
		call  func()
		panic string
	}{
		{"twice", func() { handleInto(&slot, echoHandler) }, "sdk.Handle: a handler is already registered; a tool has one"},
		{"nil", func() { handleInto[echoIn, echoOut](&slot, nil) }, "sdk.Handle: nil handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != tc.panic {
					t.Fatalf("panic %v, want %q", r, tc.panic)
				}
			}()
			tc.call()
		})
	}
}

func TestMainRunning(t *testing.T) {
	if mainRunning() {
		t.Fatal("main.main is not on a test's stack")
	}
}

// TestServeCall is moat_call's body, called many times on one
// registration as a shared-isolation instance would: each call's answer
// depends on its own input only, and a failed or panicking call does not
// change the next one's.
func TestServeCall(t *testing.T) {
	h := newHandler(echoHandler, true)
	tests := []struct {
		name       string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string // a prefix
	}{
		{"first call", `{"name":"ada","count":1}`, 0, `{"greeting":"hello ada","count":1}`, ""},
		{"second call", `{"name":"bob"}`, 0, `{"greeting":"hello bob","count":0}`, ""},
		{"tool error keeps its code", `{"name":"fail"}`, 3, "", "no greeting\n"},
		{"after an error", `{"name":"cy","count":2}`, 0, `{"greeting":"hello cy","count":2}`, ""},
		{"panic is exit 2, not a trap", `{"name":"panic"}`, 2, "", "panic: boom\n\ngoroutine "},
		{"after a panic", `{"name":"di"}`, 0, `{"greeting":"hello di","count":0}`, ""},
		{"empty stdin is {}", ``, 0, `{"greeting":"hello ","count":0}`, ""},
		{"bad arguments", `{"nope":1}`, 1, "", "invalid arguments: json: unknown field \"nope\"\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := serveCall(h, strings.NewReader(tc.stdin), &out, &errb)
			if code != tc.wantCode || out.String() != tc.wantStdout || !strings.HasPrefix(errb.String(), tc.wantStderr) ||
				(tc.wantStderr == "" && errb.Len() != 0) {
				t.Fatalf("got %d %q %q; want %d %q %q…", code, out.String(), errb.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

func TestServeCallUnregistered(t *testing.T) {
	var out, errb bytes.Buffer
	code := serveCall(nil, strings.NewReader(`{}`), &out, &errb)
	want := "moat_call: no handler registered: call sdk.Handle(handler) from an init function (a reactor build runs only package inits, never main)\n"
	if code != 1 || out.Len() != 0 || errb.String() != want {
		t.Fatalf("got %d %q %q; want 1, %q", code, out.String(), errb.String(), want)
	}
}

func TestServeMain(t *testing.T) {
	tests := []struct {
		name       string
		h          *handler
		schema     bool
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"serves one call", newHandler(echoHandler, true), false, `{"name":"ada"}`, 0, `{"greeting":"hello ada","count":0}`, ""},
		{"tool error", newHandler(echoHandler, true), false, `{"name":"fail"}`, 3, "", "no greeting\n"},
		{"schemas, registered at init", newHandler(func(context.Context, echoIn) (string, error) { return "", nil }, true), true, "", 0,
			`{"input":{"type":"object","properties":{"count":{"type":"integer"},"name":{"type":"string"}},"required":["name"],"additionalProperties":false},"output":null,"reactor":true}` + "\n", ""},
		{"schemas, registered by Run", newHandler(func(context.Context, echoIn) (string, error) { return "", nil }, false), true, "", 0,
			`{"input":{"type":"object","properties":{"count":{"type":"integer"},"name":{"type":"string"}},"required":["name"],"additionalProperties":false},"output":null}` + "\n", ""},
		{"nothing registered", nil, false, `{}`, 1, "",
			"sdk.Main: no handler registered: call sdk.Handle(handler) from an init function (a reactor build runs only package inits, never main)\n"},
		{"nothing registered, schemas", nil, true, ``, 1, "",
			"sdk.Main: no handler registered: call sdk.Handle(handler) from an init function (a reactor build runs only package inits, never main)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := serveMain(tc.h, tc.schema, strings.NewReader(tc.stdin), &out, &errb)
			if code != tc.wantCode || out.String() != tc.wantStdout || errb.String() != tc.wantStderr {
				t.Fatalf("got %d %q %q\nwant %d %q %q", code, out.String(), errb.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}
