package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encode is what encoding/json writes for s, with or without HTML
// escaping (json.Marshal escapes; an Encoder can be told not to).
func encode(t *testing.T, s string, html bool) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// TestAppend pins the escapes encoding/json writes, case by case, in both
// modes.
func TestAppend(t *testing.T) {
	tests := []struct {
		name, in, html, plain string
	}{
		{"empty", "", `""`, `""`},
		{"plain", "hello world", `"hello world"`, `"hello world"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`, `"a\"b\\c"`},
		{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`, `"\b\f\n\r\t"`},
		{"other control bytes", "\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`, `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"html", "<a href='x'>&</a>", `"\u003ca href='x'\u003e\u0026\u003c/a\u003e"`, `"<a href='x'>&</a>"`},
		{"multibyte", "héllo, 世界 🌍", `"héllo, 世界 🌍"`, `"héllo, 世界 🌍"`},
		{"invalid utf-8", "a\xffb\xc3", `"a\ufffdb\ufffd"`, `"a\ufffdb\ufffd"`},
		{"surrogate half encoded in utf-8", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`, `"\ufffd\ufffd\ufffd"`},
		{"line and paragraph separators", "x\u2028y\u2029z", `"x\u2028y\u2029z"`, `"x\u2028y\u2029z"`},
		{"echo arguments", `{"text":"hi"}`, `"{\"text\":\"hi\"}"`, `"{\"text\":\"hi\"}"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []struct {
				html bool
				want string
			}{{true, tc.html}, {false, tc.plain}} {
				if got := string(Append([]byte("prefix:"), tc.in, mode.html)); got != "prefix:"+mode.want {
					t.Errorf("Append(%q, html=%v) = %s, want prefix:%s", tc.in, mode.html, got, mode.want)
				}
				if got := string(Append(nil, []byte(tc.in), mode.html)); got != mode.want {
					t.Errorf("Append([]byte(%q), html=%v) = %s, want %s", tc.in, mode.html, got, mode.want)
				}
				if e := encode(t, tc.in, mode.html); e != mode.want {
					t.Errorf("encoding/json (html=%v) writes %s for %q: the table is wrong", mode.html, e, tc.in)
				}
			}
		})
	}
}

// FuzzAppend holds Append to encoding/json, byte for byte, on any string,
// with and without HTML escaping: the direct path's answers and the audit
// chain's bytes must not change.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "hi", "<&>", "\x00\xff\u2028", `{"a":[1,"\"x\""]}`, "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{true, false} {
			want := encode(t, s, html)
			if got := Append(nil, s, html); string(got) != want {
				t.Fatalf("Append(%q, html=%v) = %s, encoding/json = %s", s, html, got, want)
			}
			if got := Append(nil, []byte(s), html); string(got) != want {
				t.Fatalf("Append([]byte(%q), html=%v) = %s, encoding/json = %s", s, html, got, want)
			}
		}
	})
}
