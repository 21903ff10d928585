package wire

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBody(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		e        Error
		want     string
	}{
		{"number id", "7", Error{-32000, "rate limit exceeded", nil}, `{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"rate limit exceeded"}}`},
		{"string id", `"a-1"`, Error{-32602, "invalid params", nil}, `{"jsonrpc":"2.0","id":"a-1","error":{"code":-32602,"message":"invalid params"}}`},
		{"no id", "", Error{-32700, "parse error", nil}, `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`},
		{"object id", `{"x":1}`, Error{-32600, "x", nil}, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}`},
		{"broken id", `7x`, Error{-32600, "x", nil}, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}`},
		{"long id", `"` + strings.Repeat("a", 300) + `"`, Error{-32600, "x", nil}, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}`},
		{"data", "1", Error{-32022, "unsupported protocol version", map[string]any{"requested": "x"}}, `{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"unsupported protocol version","data":{"requested":"x"}}}`},
		{"data that does not marshal", "1", Error{-32603, "internal error", func() {}}, `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"internal error"}}`},
		{"html in a message stays readable", "1", Error{-32600, "<a&b>", nil}, `{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"\u003ca\u0026b\u003e"}}`},
	} {
		if got := string(Body(json.RawMessage(tc.id), tc.e)); got != tc.want {
			t.Errorf("%s: %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Length", "99")
	Write(rec, 429, json.RawMessage("3"), Error{Code: -32000, Message: "slow down"})
	if rec.Code != 429 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("X-Content-Type-Options") != "nosniff" ||
		rec.Header().Get("Content-Length") != "" || rec.Body.String() != `{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"slow down"}}` {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}
}

func FuzzID(f *testing.F) {
	for _, s := range []string{"1", `"x"`, "null", "{}", "[1]", "-0.5e3", `"\u0000"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id := ID(json.RawMessage(s))
		if !json.Valid(id) || len(id) > maxIDBytes {
			t.Fatalf("ID(%q) = %q", s, id)
		}
		var v any
		_ = json.Unmarshal(id, &v)
		switch v.(type) {
		case nil, string, float64:
		default:
			t.Fatalf("ID(%q) = %q: not a string, number or null", s, id)
		}
	})
}
