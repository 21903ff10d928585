// Package state is where moat keeps the state that must be shared when
// several replicas serve behind one load balancer: rate-limit buckets
// (per principal, per principal×tool, per tool, failed authentications per
// address) and counted slots (open sessions per principal and in total,
// and later listen streams). One replica alone keeps it in memory
// (internal/ratelimit's LocalStore); replicas that share it use Redis (Redis,
// here), so that a limit holds across all of them together.
//
// It sits under internal/ratelimit and the session cap in the call path:
//
//	transport → failed-auth limit → authenticate → request ceiling →
//	tool calls per principal → session caps → … → per principal×tool, per tool
//	                  every limit above asks a Store ─┘
//
// Only this package imports github.com/redis/go-redis/v9.
//
// # Guarantees
//
//   - One round trip per check: every Allow, Limited, Acquire, Touch and
//     Release is one Lua script run atomically by Redis, so replicas never
//     race on a read-modify-write.
//   - Limits never depend on a replica's clock: the scripts read Redis's
//     TIME.
//   - Every key expires on its own (a bucket when it is full again, a slot
//     set when its last slot would have expired), so Redis memory is
//     bounded by the traffic of the last few minutes, not by how many
//     distinct principals or addresses ever came.
//   - No call hangs on Redis: every operation has a short timeout
//     (Options.Timeout), and while Redis is known to be down, operations
//     fail at once with ErrUnavailable until a background ping succeeds.
package state

import (
	"context"
	"errors"
	"time"

	"github.com/moatmcp/moat/internal/manifest"
)

// Errors a Store returns. The host maps both to HTTP 503 with an error id
// (fail closed) unless [state] on_failure = "local".
var (
	// ErrUnavailable means the store cannot be reached (or answered an
	// error): nothing can be decided.
	ErrUnavailable = errors.New("state store unavailable")
	// ErrCorrupt means a key moat uses holds a value moat did not write
	// (another program wrote it, with another type or shape). Only the
	// requests that need that key fail; the store stays up.
	ErrCorrupt = errors.New("state store key holds a value moat did not write")
)

// Check is one bucket to take an event from: Table names the family of
// buckets ("principal", "tool", …), Key the bucket within it, Rate its
// rate. Rate must be neither zero nor unlimited: the caller decides those
// without asking the store.
type Check struct {
	Table string
	Key   string
	Rate  manifest.Rate
}

// Result is the outcome of Allow or Limited.
type Result struct {
	// OK is true when every check allowed the event.
	OK bool
	// RetryAfter is how long until the refusing bucket would allow it.
	RetryAfter time.Duration
	// Refused is the index of the check that refused; -1 when OK.
	Refused int
}

// MaxUsageCounters bounds the counters of one AddUsage key.
const MaxUsageCounters = 8

// ErrUsageCounters is returned by AddUsage for a delta of no counter or
// more than MaxUsageCounters, or a window under a millisecond.
var ErrUsageCounters = errors.New("state: AddUsage needs 1 to 8 counters and a window of at least 1ms")

// Counter is one set of slots for Acquire: at most Max members at once.
// Max below 1 admits nothing.
type Counter struct {
	Key string
	Max int
}

// Store keeps the shared state. Implementations are safe for concurrent
// use; every method may be called with a context that has a deadline.
type Store interface {
	// Allow takes one event from every check's bucket, all or none: when
	// one refuses, nothing is taken from any (Result.Refused says which).
	Allow(ctx context.Context, checks ...Check) (Result, error)
	// Limited reports whether Allow(c) would be refused now, without
	// taking an event or creating a bucket.
	Limited(ctx context.Context, c Check) (Result, error)
	// Acquire adds member to every counter, all or none: false when one is
	// full. A member already in a counter is only refreshed. Each slot
	// lapses after ttl unless refreshed (Touch) or released.
	Acquire(ctx context.Context, member string, ttl time.Duration, counters ...Counter) (bool, error)
	// Touch adds or refreshes member in every counter, whatever their Max:
	// for a slot that is already owned (a session that just got its id).
	Touch(ctx context.Context, member string, ttl time.Duration, keys ...string) error
	// Release removes member from every counter.
	Release(ctx context.Context, member string, keys ...string) error
	// Count is how many live members key holds.
	Count(ctx context.Context, key string) (int, error)
	// AddUsage adds delta[i] to counter i of key's current window, all
	// at once, and returns the totals after the add and how long until
	// the window ends (when every counter of key starts again from 0).
	// A window starts with the first add that is not all zeros and lasts
	// window; an all-zero delta only reads (and creates nothing: totals
	// 0, resetIn 0 when there is no window). At most MaxUsageCounters
	// counters. Quotas (host/quota.go) keep their usage here.
	AddUsage(ctx context.Context, key string, window time.Duration, delta []int64) (totals []int64, resetIn time.Duration, err error)
	// Health is nil while the store can be used, else why not
	// (wrapping ErrUnavailable).
	Health() error
	// Close releases the store's connections and goroutines.
	Close() error
}
