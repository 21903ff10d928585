package ratelimit

import (
	"golang.org/x/time/rate"

	"github.com/moatmcp/moat/internal/manifest"
)

// Rate is a token bucket: Count events per Per, with bursts of up to Burst.
// It is manifest.Rate, the type the config decoder fills, so a rate read
// from moat.toml or a manifest reaches a Table without being written out
// and parsed again. See manifest.ParseRate for its syntax.
type Rate = manifest.Rate

// ErrInvalidRate is what ParseRate wraps for every string it refuses.
var ErrInvalidRate = manifest.ErrInvalidRate

// ParseRate parses a rate such as "100/min", "10/s burst 20" or
// "unlimited"; see manifest.ParseRate.
func ParseRate(s string) (Rate, error) { return manifest.ParseRate(s) }

// MustParseRate is ParseRate for constants: it panics on an error.
func MustParseRate(s string) Rate { return manifest.MustParseRate(s) }

// limitOf is r as a rate.Limit: rate.Inf for Unlimited, 0 for the zero
// Rate.
func limitOf(r Rate) rate.Limit {
	if r.IsUnlimited() {
		return rate.Inf
	}
	return rate.Limit(r.PerSecond())
}
