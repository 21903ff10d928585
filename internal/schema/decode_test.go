package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// sameTree reports whether a and b are the same decoded tree: the same Go
// types all the way down (int64 is not uint64 is not float64) and floats
// equal bit for bit, so that -0 and 0 differ.
func sameTree(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || b == nil || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !sameTree(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || b == nil || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameTree(a[i], b[i]) {
				return false
			}
		}
		return true
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case string, bool, int64, uint64, nil:
		return a == b
	}
	return false
}

// checkEquivalent runs both decoders on doc in both number modes: the fast
// one must accept exactly what the reference accepts, with the same tree,
// and decode must give the reference's verdict and message.
func checkEquivalent(t *testing.T, doc []byte) {
	t.Helper()
	for _, mode := range []numberMode{documentNumbers, schemaNumbers} {
		want, wantErr := decodeSlow(doc, mode)
		fast, ok := decodeFast(doc, mode)
		switch {
		case ok && wantErr != nil:
			t.Fatalf("mode %d: decodeFast accepted %q, decodeSlow refuses it: %+v", mode, doc, *wantErr)
		case !ok && wantErr == nil:
			t.Fatalf("mode %d: decodeFast gave up on %q, which decodeSlow accepts", mode, doc)
		case ok && !sameTree(fast, want):
			t.Fatalf("mode %d: decodeFast(%q) = %#v, decodeSlow = %#v", mode, doc, fast, want)
		}
		got, gotErr := decode(doc, mode)
		switch {
		case (gotErr == nil) != (wantErr == nil):
			t.Fatalf("mode %d: decode(%q) error %v, decodeSlow %v", mode, doc, gotErr, wantErr)
		case gotErr != nil && *gotErr != *wantErr:
			t.Fatalf("mode %d: decode(%q) error %+v, decodeSlow %+v", mode, doc, *gotErr, *wantErr)
		case gotErr == nil && !sameTree(got, want):
			t.Fatalf("mode %d: decode(%q) = %#v, decodeSlow = %#v", mode, doc, got, want)
		}
	}
}

// decodeSeeds are documents at the edges decodeFast handles itself: number
// shapes on both sides of its fast paths, escapes, surrogates, key folding,
// depth and every kind of syntax error.
var decodeSeeds = []string{
	`{}`, `[]`, `{"msg":"hello"}`, ` {"a" : [1, 2.5, "x", true, false, null, {}, []]} `,
	`{"path":"/a","mode":"text","count":3,"owner":{"name":"x"},"tags":["a"],"people":[{"name":"p"}]}`,
	// numbers
	`[0, -0, 1, -1, 123456789012345678, -123456789012345678, 1234567890123456789, 9223372036854775807]`,
	`[9223372036854775808, -9223372036854775808, -9223372036854775809, 18446744073709551615, 18446744073709551616]`,
	`[9007199254740992, 9007199254740993, -9007199254740993, 900719925474099300]`,
	`[0.1, -0.5, 0.0, -0.0, 1.0, 2.50, 1e3, 1E-3, 1e+2, 1.5e300, 1e400, -1e400, 1e-400, 5e-324, 2.2250738585072011e-308]`,
	`[4.9406564584124654e-324, 2.4703282292062327e-324, 2.4703282292062328e-324, 1.7976931348623157e308, 1.7976931348623159e308]`,
	`[9007199254740993.5, 9007199254740992.5, 0.99999999999999999, 1.0000000000000000001, 1e-1000, 1e-1001, 1.5e1000, 1e0001]`,
	`[1e999999999999999999999, 0.` + strings.Repeat("1", 120) + `, 0.` + strings.Repeat("1", 98) + `]`,
	`[01]`, `[-]`, `[1.]`, `[.5]`, `[1e]`, `[1e+]`, `[+1]`, `[--1]`, `[0x10]`, `[1_000]`, `[Infinity]`, `[NaN]`, `-`, `1`, `-0`, `1 `,
	// strings
	`{"\u0070ath":"\u00e9\n\t\"\\\/\b\f\r"}`, `["\ud83d\ude00", "\uD83D\uDE00", "\u0000", "é", "\u2028"]`,
	`["\ud800"]`, `["\udc00"]`, `["\ud800\u0041"]`, `["\ud800\ud800\udc00"]`, `["\ud800\\udc00"]`, `["\ud800x"]`,
	`["\u12"]`, `["\u12g4"]`, `["\x"]`, `["\'"]`, "[\"a\tb\"]", "[\"a\x7fb\"]", "[\"\xff\"]", "[\"\xc3\"]", "[\"\\n\xff\"]", "\xff[]",
	`["unterminated`, `["a\`, `["a\u`,
	// keys
	`{"a":1,"a":2}`, `{"a":1,"A":2}`, `{"k":1,"\u212a":2}`, `{"s":1,"\u017f":2}`, `{"a":1,"b":{"a":2}}`,
	`{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"K1":10}`,
	`{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"\u212a2":0}`,
	`{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"K8":9}`,
	// syntax
	``, ` `, `{`, `}`, `[`, `{"a"}`, `{"a":}`, `{"a" 1}`, `{"a":1,}`, `{,}`, `{1:2}`, `{"a":1 "b":2}`, `{"a":1]`, `[1,]`, `[,1]`, `[1 2]`,
	`[1}`, `{} {}`, `{} x`, `{}}`, `nul`, `nulll`, `tru`, `True`, `[true false]`, "{}\x00", "\ufeff{}",
	strings.Repeat("[", 64) + strings.Repeat("]", 64), strings.Repeat("[", 65) + strings.Repeat("]", 65),
	`{"a":` + strings.Repeat(`{"a":`, 63) + `1` + strings.Repeat("}", 64),
	`{"a":` + strings.Repeat(`{"a":`, 62) + `1` + strings.Repeat("}", 63),
}

// FuzzDecodeEquivalence holds decodeFast to decodeSlow, the token walk it
// replaced on the hot path: the same documents accepted, the same trees
// built, and decode giving decodeSlow's errors word for word.
func FuzzDecodeEquivalence(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkEquivalent(t, doc)
	})
}

// FuzzDecodeNumber aims the equivalence at number literals, where decodeFast
// has its own arithmetic: an integer fast path and ParseFloat for fractions.
func FuzzDecodeNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "0.1", "5e-324", "9007199254740993", "123456789012345678", "1e20", "-1.5E-7", "1.0000000000000000001", "1e1001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, lit string) {
		checkEquivalent(t, []byte(lit))
		checkEquivalent(t, []byte(`{"n":`+lit+`}`))
	})
}

func TestDecodeEquivalenceSeeds(t *testing.T) {
	for i, s := range decodeSeeds {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkEquivalent(t, []byte(s)) })
	}
}

// TestDecodeRefused lists what decode refuses, with the exact error the
// clients see; decodeFast must give up on every one of them (it has no
// errors of its own), so these are decodeSlow's words.
func TestDecodeRefused(t *testing.T) {
	tests := []struct {
		name, doc string
		mode      numberMode
		wantPath  string
		wantMsg   string
	}{
		{name: "empty", doc: ``, wantMsg: "not valid JSON (unexpected end)"},
		{name: "only space", doc: "  \n", wantMsg: "not valid JSON (unexpected end)"},
		{name: "unterminated object", doc: `{"a":1`, wantMsg: "not valid JSON (unexpected end)"},
		{name: "missing value", doc: `{"path":}`, wantMsg: "not valid JSON (at byte 8)"},
		{name: "trailing comma", doc: `[1,]`, wantMsg: "not valid JSON (at byte 3)"},
		{name: "missing comma", doc: `{"a":1 "b":2}`, wantMsg: "not valid JSON (at byte 7)"},
		{name: "key not a string", doc: `{1:2}`, wantMsg: "not valid JSON (at byte 1)"},
		{name: "leading zero", doc: `[01]`, wantMsg: "not valid JSON (at byte 2)"},
		{name: "bad escape", doc: `["\x"]`, wantMsg: "not valid JSON (at byte 3)"},
		{name: "control character in string", doc: "[\"a\tb\"]", wantMsg: "not valid JSON (at byte 3)"},
		{name: "trailing data", doc: `{} {}`, wantMsg: "unexpected data after the JSON value"},
		{name: "trailing garbage", doc: `{} x`, wantMsg: "unexpected data after the JSON value"},
		{name: "byte order mark", doc: "\ufeff{}", wantMsg: "not valid JSON (at byte 1)"},
		{name: "invalid UTF-8 in a string", doc: "[\"\xff\"]", wantMsg: "not valid UTF-8"},
		{name: "truncated UTF-8 in a string", doc: "[\"\xc3\"]", wantMsg: "not valid UTF-8"},
		{name: "invalid UTF-8 after an escape", doc: "[\"\\n\xff\"]", wantMsg: "not valid UTF-8"},
		{name: "lone high surrogate", doc: `["\ud800"]`, wantMsg: "a string contains an unpaired UTF-16 surrogate escape"},
		{name: "lone low surrogate", doc: `["\udc00"]`, wantMsg: "a string contains an unpaired UTF-16 surrogate escape"},
		{name: "high surrogate then a letter", doc: `["\ud800\u0041"]`, wantMsg: "a string contains an unpaired UTF-16 surrogate escape"},
		{name: "two high surrogates", doc: `["\ud800\ud800\udc00"]`, wantMsg: "a string contains an unpaired UTF-16 surrogate escape"},
		{name: "surrogate in a key", doc: `{"\udfff":1}`, wantMsg: "a string contains an unpaired UTF-16 surrogate escape"},
		{name: "duplicate key", doc: `{"a":1,"a":2}`, wantPath: "/a", wantMsg: "duplicate key"},
		{name: "duplicate key escaped", doc: `{"a":1,"\u0061":2}`, wantPath: "/a", wantMsg: "duplicate key"},
		{name: "duplicate key case", doc: `{"a":1,"A":2}`, wantPath: "/A", wantMsg: `duplicate key: differs only in letter case from "a"`},
		{name: "duplicate key kelvin sign", doc: `{"k":1,"\u212a":2}`, wantPath: "/\u212a", wantMsg: `duplicate key: differs only in letter case from "k"`},
		{name: "duplicate key long s", doc: `{"s":1,"\u017f":2}`, wantPath: "/\u017f", wantMsg: `duplicate key: differs only in letter case from "s"`},
		{name: "duplicate key past eight keys", doc: `{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"K1":10}`,
			wantPath: "/K1", wantMsg: `duplicate key: differs only in letter case from "k1"`},
		{name: "duplicate key as the ninth", doc: `{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"K8":9}`,
			wantPath: "/K8", wantMsg: `duplicate key: differs only in letter case from "k8"`},
		{name: "duplicate key nested", doc: `{"a":{"b":[{"c":1,"c":2}]}}`, wantPath: "/a/b/0/c", wantMsg: "duplicate key"},
		{name: "too deep arrays", doc: strings.Repeat("[", 65) + strings.Repeat("]", 65), wantPath: strings.Repeat("/0", 64), wantMsg: "nested deeper than 64 levels"},
		{name: "too deep objects", doc: strings.Repeat(`{"a":`, 65) + `1` + strings.Repeat("}", 65), wantPath: strings.Repeat("/a", 64), wantMsg: "nested deeper than 64 levels"},
		{name: "integer beyond 64 bits", doc: `[18446744073709551617]`, wantPath: "/0", wantMsg: "integer too large to be checked exactly"},
		{name: "negative beyond int64", doc: `[-9223372036854775809]`, wantPath: "/0", wantMsg: "integer too large to be checked exactly"},
		{name: "schema integer beyond 2^53", doc: `[9007199254740993]`, mode: schemaNumbers, wantPath: "/0", wantMsg: "integer too large to be checked exactly"},
		{name: "schema uint64", doc: `[18446744073709551615]`, mode: schemaNumbers, wantPath: "/0", wantMsg: "integer too large to be checked exactly"},
		{name: "whole-looking fraction", doc: `[1.0000000000000000001]`, wantPath: "/0", wantMsg: "number has more precision than can be checked"},
		{name: "fraction above 2^53", doc: `[9007199254740993.5]`, wantPath: "/0", wantMsg: "number has more precision than can be checked"},
		{name: "overflow", doc: `[1e400]`, wantPath: "/0", wantMsg: "number out of range"},
		{name: "underflow", doc: `[1e-400]`, wantPath: "/0", wantMsg: "number out of range"},
		{name: "smallest subnormal halved", doc: `[2.4703282292062327e-324]`, wantPath: "/0", wantMsg: "number out of range"},
		{name: "exponent bomb", doc: `[1e999999999999999999999]`, wantPath: "/0", wantMsg: "number out of range"},
		{name: "inexact big whole float", doc: `[1e300]`, mode: schemaNumbers, wantPath: "/0", wantMsg: "integer too large to be checked exactly"},
		{name: "exponent past the bound", doc: `[1e-1001]`, wantPath: "/0", wantMsg: "number out of range"},
		{name: "too many digits", doc: `[0.` + strings.Repeat("1", 120) + `]`, wantPath: "/0", wantMsg: "number has too many digits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := decodeFast([]byte(tc.doc), tc.mode); ok {
				t.Errorf("decodeFast accepted %q", tc.doc)
			}
			v, derr := decode([]byte(tc.doc), tc.mode)
			if derr == nil {
				t.Fatalf("decode = %#v, want an error", v)
			}
			if derr.path != tc.wantPath || derr.msg != tc.wantMsg {
				t.Errorf("decode error = {path: %q, msg: %q}, want {path: %q, msg: %q}", derr.path, derr.msg, tc.wantPath, tc.wantMsg)
			}
		})
	}
}

// TestDecodeFastTree lists documents decodeFast decodes itself, with the
// exact tree: the Go type of every number, and strings after unescaping.
func TestDecodeFastTree(t *testing.T) {
	tests := []struct {
		name, doc string
		mode      numberMode
		want      any
	}{
		{name: "empty object", doc: ` {} `, want: map[string]any{}},
		{name: "empty array", doc: `[]`, want: []any{}},
		{name: "flat object", doc: `{"msg":"hello","n":3,"ok":true,"no":false,"nil":null}`,
			want: map[string]any{"msg": "hello", "n": int64(3), "ok": true, "no": false, "nil": nil}},
		{name: "escapes", doc: `["\"\\\/\b\f\n\r\t", "\u00e9\u0000", "\ud83d\ude00", "é"]`,
			want: []any{"\"\\/\b\f\n\r\t", "é\x00", "😀", "é"}},
		{name: "escaped key", doc: `{"\u0070ath":1}`, want: map[string]any{"path": int64(1)}},
		{name: "short integers", doc: `[0, -0, 123456789012345678, -123456789012345678]`,
			want: []any{int64(0), int64(0), int64(123456789012345678), int64(-123456789012345678)}},
		{name: "long integers", doc: `[9223372036854775807, -9223372036854775808, 18446744073709551615]`,
			want: []any{int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64)}},
		{name: "schema integers", doc: `[9007199254740992, -9007199254740992]`, mode: schemaNumbers,
			want: []any{int64(1 << 53), int64(-1 << 53)}},
		{name: "whole numbers written as floats", doc: `[1.0, -0.0, 1e3, 1E+2, 9007199254740993.0]`,
			want: []any{int64(1), int64(0), int64(1000), int64(100), int64(9007199254740993)}},
		{name: "fractions", doc: `[0.1, -0.5, 1.5e-7, 5e-324, 2.5E0]`,
			want: []any{0.1, -0.5, 1.5e-7, 5e-324, 2.5}},
		{name: "big whole float", doc: `[1e20]`, mode: schemaNumbers, want: []any{1e20}},
		{name: "nine keys", doc: `{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9}`,
			want: map[string]any{"k1": int64(1), "k2": int64(2), "k3": int64(3), "k4": int64(4), "k5": int64(5), "k6": int64(6), "k7": int64(7), "k8": int64(8), "k9": int64(9)}},
		{name: "deepest allowed", doc: strings.Repeat("[", 64) + strings.Repeat("]", 64), want: nested(64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := decodeFast([]byte(tc.doc), tc.mode)
			if !ok {
				t.Fatalf("decodeFast gave up on %q", tc.doc)
			}
			if !sameTree(got, tc.want) {
				t.Errorf("decodeFast = %#v, want %#v", got, tc.want)
			}
			checkEquivalent(t, []byte(tc.doc))
		})
	}
}

func nested(n int) any {
	v := []any{}
	for range n - 1 {
		v = []any{v}
	}
	return v
}

var sinkTree any

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct{ name, doc string }{
		{"echo", `{"msg":"hello"}`},
		{"tool", `{"path":"/a","mode":"text","count":3,"owner":{"name":"x"},"tags":["a"],"people":[{"name":"p"}]}`},
	} {
		doc := json.RawMessage(bc.doc)
		b.Run(bc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkTree, _ = decodeFast(doc, documentNumbers)
			}
		})
		b.Run(bc.name+"/slow", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkTree, _ = decodeSlow(doc, documentNumbers)
			}
		})
	}
}
