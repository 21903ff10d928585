package host

import (
	"encoding/json"
	"testing"
)

// TestAppendJSONString pins the escapes json.Marshal writes, case by case.
func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", `""`},
		{"plain", "hello world", `"hello world"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"other control bytes", "\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"html", "<a href='x'>&</a>", `"\u003ca href='x'\u003e\u0026\u003c/a\u003e"`},
		{"multibyte", "héllo, 世界 🌍", `"héllo, 世界 🌍"`},
		{"invalid utf-8", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"line and paragraph separators", "x\u2028y\u2029z", `"x\u2028y\u2029z"`},
		{"echo arguments", `{"text":"hi"}`, `"{\"text\":\"hi\"}"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendJSONString([]byte("prefix:"), tc.in))
			if got != "prefix:"+tc.want {
				t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
			}
			if m, _ := json.Marshal(tc.in); string(m) != tc.want {
				t.Errorf("json.Marshal(%q) = %s: the table is wrong", tc.in, m)
			}
		})
	}
}

// FuzzAppendJSONString holds appendJSONString to json.Marshal, byte for
// byte, on any string (the direct path's answers must not change).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "hi", "<&>", "\x00\xff\u2028", `{"a":[1,"\"x\""]}`, "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, json.Marshal = %s", s, got, want)
		}
	})
}
