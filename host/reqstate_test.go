package host

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/auth"
)

// TestStageFacts: parseHead and openCall keep the head and the call
// context in the request's hold when Handler made one (no context value,
// no request copy), and in the context as before when not; either way
// the later stages read the same facts.
func TestStageFacts(t *testing.T) {
	for _, tc := range []struct {
		name string
		hold bool
	}{
		{"through Handler's hold", true},
		{"without a hold", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}`))
			r.Header.Set("Content-Type", "application/json")
			var h *hold
			if tc.hold {
				h = &hold{}
				r = r.WithContext(context.WithValue(r.Context(), holdKey{}, h))
			}
			var head *requestHead
			var cc *callContext
			var inCtx bool
			final := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				head, cc = headOf(r), callOfRequest(r)
				inCtx = r.Context().Value(headKey{}) != nil || r.Context().Value(callKey{}) != nil
			})
			parseHead(slog.New(slog.NewTextHandler(io.Discard, nil)), openCall(final)).ServeHTTP(httptest.NewRecorder(), r)
			if head == nil || head.Method != "tools/list" || string(head.ID) != "7" {
				t.Fatalf("head = %+v, want tools/list with id 7", head)
			}
			if cc == nil || cc.head != head || cc.addr != "192.0.2.1" {
				t.Fatalf("call context = %+v, want one with the head and the client's address", cc)
			}
			if tc.hold {
				if head != &h.state.head || cc != &h.state.cc || inCtx {
					t.Errorf("head %p, call context %p, context values %v; want the hold's (%p, %p) and no context value", head, cc, inCtx, &h.state.head, &h.state.cc)
				}
			} else if !inCtx {
				t.Error("without a hold, the head and call context are not in the context")
			}
		})
	}
}

// TestLimiterKey: the kept key serves only the principal and address it
// was made for.
func TestLimiterKey(t *testing.T) {
	a, b := &auth.Principal{ID: "key:a"}, &auth.Principal{ID: "key:b"}
	for _, withHold := range []bool{true, false} {
		r := httptest.NewRequest("POST", "/mcp", nil)
		if withHold {
			r = r.WithContext(context.WithValue(r.Context(), holdKey{}, &hold{}))
		}
		for _, step := range []struct {
			p    *auth.Principal
			addr string
			want string
		}{
			{a, "192.0.2.1:1234", "p:key:a"},
			{a, "192.0.2.1:1234", "p:key:a"},
			{b, "192.0.2.1:1234", "p:key:b"},
			{nil, "192.0.2.1:1234", "a:192.0.2.1"},
			{nil, "198.51.100.7:99", "a:198.51.100.7"},
		} {
			r.RemoteAddr = step.addr
			if got, _ := limiterKey(r, step.p); got != step.want {
				t.Errorf("hold %v: limiterKey(%v, %s) = %q, want %q", withHold, step.p, step.addr, got, step.want)
			}
		}
	}
}
