package manifest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"math"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   Rate
		limit  float64
		string string
	}{
		{"empty is unset", "", Rate{}, 0, ""},
		{"blank is unset", "  \t", Rate{}, 0, ""},
		{"unlimited", "unlimited", Unlimited, math.Inf(1), "unlimited"},
		{"per second", "10/s", Rate{count: 10, per: time.Second, burst: 10}, 10, "10/s"},
		{"sec", "10/sec", Rate{count: 10, per: time.Second, burst: 10}, 10, "10/s"},
		{"second", "10/second", Rate{count: 10, per: time.Second, burst: 10}, 10, "10/s"},
		{"per minute", "120/min", Rate{count: 120, per: time.Minute, burst: 120}, 2, "120/min"},
		{"m", "60/m", Rate{count: 60, per: time.Minute, burst: 60}, 1, "60/min"},
		{"minute", "60/minute", Rate{count: 60, per: time.Minute, burst: 60}, 1, "60/min"},
		{"per hour", "3600/h", Rate{count: 3600, per: time.Hour, burst: 3600}, 1, "3600/h"},
		{"hr", "7200/hr", Rate{count: 7200, per: time.Hour, burst: 7200}, 2, "7200/h"},
		{"hour", "7200/hour", Rate{count: 7200, per: time.Hour, burst: 7200}, 2, "7200/h"},
		{"per day", "86400/d", Rate{count: 86400, per: 24 * time.Hour, burst: 86400}, 1, "86400/d"},
		{"day", "172800/day", Rate{count: 172800, per: 24 * time.Hour, burst: 172800}, 2, "172800/d"},
		{"burst", "10/s burst 20", Rate{count: 10, per: time.Second, burst: 20}, 10, "10/s burst 20"},
		{"burst equal to count", "10/s burst 10", Rate{count: 10, per: time.Second, burst: 10}, 10, "10/s"},
		{"burst 1", "600/min burst 1", Rate{count: 600, per: time.Minute, burst: 1}, 10, "600/min burst 1"},
		{"spaces", "  10/s   burst\t20 ", Rate{count: 10, per: time.Second, burst: 20}, 10, "10/s burst 20"},
		{"leading zeros", "007/s burst 010", Rate{count: 7, per: time.Second, burst: 10}, 7, "7/s burst 10"},
		{"largest", "1000000000/s burst 1000000000", Rate{count: 1e9, per: time.Second, burst: 1e9}, 1e9, "1000000000/s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if err != nil {
				t.Fatalf("ParseRate(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseRate(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
			if got.PerSecond() != tc.limit {
				t.Errorf("PerSecond() = %v, want %v", got.PerSecond(), tc.limit)
			}
			if s := got.String(); s != tc.string {
				t.Errorf("String() = %q, want %q", s, tc.string)
			}
		})
	}
}

func TestParseRateErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"zero", "0", `rate "0": zero is ambiguous: write "unlimited" or a rate such as "100/min": invalid rate`},
		{"zeros", "000", `rate "000": zero is ambiguous: write "unlimited" or a rate such as "100/min": invalid rate`},
		{"no slash", "100", `rate "100": want "N/unit" or "N/unit burst B", such as "10/s burst 20": invalid rate`},
		{"word", "fast", `rate "fast": want "N/unit" or "N/unit burst B", such as "10/s burst 20": invalid rate`},
		{"two fields", "10/s 20", `rate "10/s 20": want "N/unit" or "N/unit burst B", such as "10/s burst 20": invalid rate`},
		{"burst without value", "10/s burst", `rate "10/s burst": want "N/unit" or "N/unit burst B", such as "10/s burst 20": invalid rate`},
		{"other keyword", "10/s bursts 20", `rate "10/s bursts 20": want "N/unit" or "N/unit burst B", such as "10/s burst 20": invalid rate`},
		{"trailing field", "10/s burst 20 x", `rate "10/s burst 20 x": want "N/unit" or "N/unit burst B", such as "10/s burst 20": invalid rate`},
		{"space around slash", "10 / s", `rate "10 / s": want "N/unit" or "N/unit burst B", such as "10/s burst 20": invalid rate`},
		{"Unlimited capitalised", "Unlimited", `rate "Unlimited": want "N/unit" or "N/unit burst B", such as "10/s burst 20": invalid rate`},
		{"zero count", "0/s", `rate "0/s": count "0" is not a whole number from 1 to 1000000000: invalid rate`},
		{"negative count", "-1/s", `rate "-1/s": count "-1" is not a whole number from 1 to 1000000000: invalid rate`},
		{"plus count", "+1/s", `rate "+1/s": count "+1" is not a whole number from 1 to 1000000000: invalid rate`},
		{"fraction", "1.5/s", `rate "1.5/s": count "1.5" is not a whole number from 1 to 1000000000: invalid rate`},
		{"no count", "/s", `rate "/s": count "" is not a whole number from 1 to 1000000000: invalid rate`},
		{"count too big", "1000000001/s", `rate "1000000001/s": count "1000000001" is not a whole number from 1 to 1000000000: invalid rate`},
		{"count overflows", "99999999999999999999/s", `rate "99999999999999999999/s": count "99999999999999999999" is not a whole number from 1 to 1000000000: invalid rate`},
		{"no unit", "10/", `rate "10/": unknown unit "": use s, min, h or d: invalid rate`},
		{"unit ms", "10/ms", `rate "10/ms": unknown unit "ms": use s, min, h or d: invalid rate`},
		{"unit capitalised", "10/S", `rate "10/S": unknown unit "S": use s, min, h or d: invalid rate`},
		{"duration unit", "10/1m", `rate "10/1m": unknown unit "1m": use s, min, h or d: invalid rate`},
		{"two slashes", "10/s/s", `rate "10/s/s": unknown unit "s/s": use s, min, h or d: invalid rate`},
		{"zero burst", "10/s burst 0", `rate "10/s burst 0": burst "0" is not a whole number from 1 to 1000000000: invalid rate`},
		{"negative burst", "10/s burst -2", `rate "10/s burst -2": burst "-2" is not a whole number from 1 to 1000000000: invalid rate`},
		{"burst too big", "10/s burst 1000000001", `rate "10/s burst 1000000001": burst "1000000001" is not a whole number from 1 to 1000000000: invalid rate`},
		{"long unit quoted short", "10/ssssssssssssssssssssssssssssss", `rate "10/ssssssssssssssssssssssssssssss": unknown unit "ssssssssssssssssssss": use s, min, h or d: invalid rate`},
		{"too long", "10/s burst 20                                                     x", `rate "10/s burst 20                                                   ": longer than 64 bytes: invalid rate`},
		{"control bytes", "10/s\x00", `rate "10/s\x00": unknown unit "s\x00": use s, min, h or d: invalid rate`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if err == nil {
				t.Fatalf("ParseRate(%q) = %v, want an error", tc.in, got)
			}
			if !errors.Is(err, ErrInvalidRate) {
				t.Errorf("error %v does not wrap ErrInvalidRate", err)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %s\nwant %s", err, tc.want)
			}
			if got != (Rate{}) {
				t.Errorf("ParseRate returned %#v with its error, want the zero Rate", got)
			}
		})
	}
}

func TestRateText(t *testing.T) {
	var cfg struct {
		A, B, C Rate
	}
	if err := json.Unmarshal([]byte(`{"A":"10/s burst 20","B":"unlimited","C":""}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.A != MustParseRate("10/s burst 20") || cfg.B != Unlimited || !cfg.C.IsZero() {
		t.Fatalf("decoded %#v", cfg)
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"A":"10/s burst 20","B":"unlimited","C":""}`; string(out) != want {
		t.Errorf("encoded %s, want %s", out, want)
	}
	err = json.Unmarshal([]byte(`{"A":"0"}`), &cfg)
	if !errors.Is(err, ErrInvalidRate) {
		t.Errorf("decoding \"0\": %v, want ErrInvalidRate", err)
	}
}

func TestMustParseRatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParseRate(\"0\") did not panic")
		}
	}()
	MustParseRate("0")
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{
		"", "unlimited", "0", "100/min", "10/s burst 20", "5000/hour burst 50",
		"1000000000/day burst 1000000000", "1000000001/s", "+1/s", "1/s burst", "10 / s",
		"1/s burst 1 burst 2", "\x00", "１/s", "10/s\u00a0burst 2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRate) {
				t.Fatalf("ParseRate(%q): error %v does not wrap ErrInvalidRate", s, err)
			}
			if r != (Rate{}) {
				t.Fatalf("ParseRate(%q): %#v returned with an error", s, r)
			}
			// Errors quote at most 64 bytes of input (escaped, so up to
			// 4 bytes each) and two 20-byte fragments.
			if len(err.Error()) > 600 || !utf8.ValidString(err.Error()) {
				t.Fatalf("ParseRate(%q): error of %d bytes: %q", s, len(err.Error()), err)
			}
			return
		}
		if strings.TrimSpace(s) == "" {
			if !r.IsZero() {
				t.Fatalf("ParseRate(%q) = %#v, want the zero Rate", s, r)
			}
			return
		}
		if !r.IsUnlimited() && (r.Burst() < 1 || r.PerSecond() <= 0) {
			t.Fatalf("ParseRate(%q) = %#v: burst %d, limit %v", s, r, r.Burst(), r.PerSecond())
		}
		again, err := ParseRate(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRate(%q) = %#v, but ParseRate(%q) = %#v, %v", s, r, r.String(), again, err)
		}
	})
}
