package manifest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidRate is what ParseRate wraps for every string it refuses.
var ErrInvalidRate = errors.New("invalid rate")

const (
	// maxRateLen caps the text ParseRate reads: the longest valid rate,
	// "1000000000/second burst 1000000000", is 34 bytes.
	maxRateLen = 64
	// maxCount bounds both the count and the burst. A billion events per
	// unit is beyond anything moat can serve; the bound keeps every
	// derived duration and float far from overflow.
	maxCount = 1_000_000_000
)

// units are the spellings ParseRate accepts after the "/", and the canonical
// spelling String writes for each period.
var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
}

var canonicalUnit = map[time.Duration]string{
	time.Second: "s", time.Minute: "min", time.Hour: "h", 24 * time.Hour: "d",
}

// This file holds Rate, the vocabulary type of every rate a manifest or
// moat.toml writes. It lives here, not in internal/ratelimit (which enforces
// rates and re-exports it), so that decoding a config needs no runtime
// package.

// Rate is a token bucket: Count events per Per, with bursts of up to Burst
// events. It is written "100/min", "10/s burst 20" or "unlimited".
//
// A Rate is built only by ParseRate (or UnmarshalText) and cannot be changed
// afterwards, so every non-zero Rate is valid.
//
// # Notes
//
//   - The zero Rate means "not set": ParseRate("") returns it, and Config
//     fields holding it take their default. A Table given the zero Rate
//     allows nothing, so a missing setting never means "unlimited".
//   - Unlimited turns limiting off and must be written out as "unlimited".
//   - Rates are comparable with ==.
type Rate struct {
	count     int
	per       time.Duration
	burst     int
	unlimited bool
}

// Unlimited is the Rate that allows every event, written "unlimited".
var Unlimited = Rate{unlimited: true}

// ParseRate parses a rate:
//
//	100/min              100 events a minute, bursts of up to 100
//	10/s burst 20        10 a second, bursts of up to 20
//	5000/hour burst 50
//	unlimited            no limit
//	""                   the zero Rate: not set, use the default
//
// The count and the burst are whole numbers from 1 to 1,000,000,000; the
// burst defaults to the count, so one period's worth of events may come at
// once (write a smaller burst to smooth them out). Units are s, sec, second,
// m, min, minute, h, hr, hour, d and day. "0" is refused as ambiguous: write
// "unlimited" or a rate. Every error wraps ErrInvalidRate and quotes (at most
// 64 bytes of) the input.
func ParseRate(s string) (Rate, error) {
	if len(s) > maxRateLen {
		return Rate{}, rateError(s, fmt.Sprintf("longer than %d bytes", maxRateLen))
	}
	fields := strings.Fields(s)
	switch {
	case len(fields) == 0:
		return Rate{}, nil
	case len(fields) == 1 && fields[0] == "unlimited":
		return Unlimited, nil
	case len(fields) == 1 && isDigits(fields[0]) && strings.Trim(fields[0], "0") == "":
		return Rate{}, rateError(s, `zero is ambiguous: write "unlimited" or a rate such as "100/min"`)
	case len(fields) != 1 && (len(fields) != 3 || fields[1] != "burst"):
		return Rate{}, rateError(s, `want "N/unit" or "N/unit burst B", such as "10/s burst 20"`)
	}
	countText, unit, ok := strings.Cut(fields[0], "/")
	if !ok {
		return Rate{}, rateError(s, `want "N/unit" or "N/unit burst B", such as "10/s burst 20"`)
	}
	count, ok := parseCount(countText)
	if !ok {
		return Rate{}, rateError(s, fmt.Sprintf("count %.20q is not a whole number from 1 to %d", countText, maxCount))
	}
	per, ok := units[unit]
	if !ok {
		return Rate{}, rateError(s, fmt.Sprintf("unknown unit %.20q: use s, min, h or d", unit))
	}
	burst := count
	if len(fields) == 3 {
		if burst, ok = parseCount(fields[2]); !ok {
			return Rate{}, rateError(s, fmt.Sprintf("burst %.20q is not a whole number from 1 to %d", fields[2], maxCount))
		}
	}
	return Rate{count: count, per: per, burst: burst}, nil
}

// MustParseRate is ParseRate for constants: it panics on an error.
func MustParseRate(s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

func rateError(s, why string) error {
	return fmt.Errorf("rate %.64q: %s: %w", s, why, ErrInvalidRate)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseCount accepts only ASCII digits: strconv.Atoi alone would also take
// a sign ("+5") and we want one spelling per value.
func parseCount(s string) (int, bool) {
	if !isDigits(s) || len(s) > 10 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxCount {
		return 0, false
	}
	return n, true
}

// String returns the rate as ParseRate reads it, in canonical form:
// "100/min", "10/s burst 20" (the burst only when it differs from the
// count), "unlimited", or "" for the zero Rate.
func (r Rate) String() string {
	switch {
	case r.unlimited:
		return "unlimited"
	case r.IsZero():
		return ""
	}
	s := strconv.Itoa(r.count) + "/" + canonicalUnit[r.per]
	if r.burst != r.count {
		s += " burst " + strconv.Itoa(r.burst)
	}
	return s
}

// IsZero reports whether r is the zero Rate ("not set").
func (r Rate) IsZero() bool { return r == Rate{} }

// IsUnlimited reports whether r is Unlimited.
func (r Rate) IsUnlimited() bool { return r.unlimited }

// PerSecond is r in events per second: +Inf for Unlimited, 0 for the zero
// Rate. internal/ratelimit turns it into its token buckets' limit.
func (r Rate) PerSecond() float64 {
	switch {
	case r.unlimited:
		return math.Inf(1)
	case r.IsZero():
		return 0
	}
	return float64(r.count) / r.per.Seconds()
}

// Count and Per are the events and the period r was written with: 10 and
// one second for "10/s burst 20". Both are 0 for the zero Rate and for
// Unlimited.
func (r Rate) Count() int { return r.count }

// Per is the period of r; see Count.
func (r Rate) Per() time.Duration { return r.per }

// Burst is the most events r allows at once: 0 for the zero Rate and for
// Unlimited (which needs no bucket).
func (r Rate) Burst() int { return r.burst }

// MarshalText implements encoding.TextMarshaler with String.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseRate, so a
// config decoder can fill a Rate from a TOML or JSON string.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func (Rate) tomlWant() string {
	return `a rate such as "600/min", "10/s burst 20" or "unlimited"`
}
