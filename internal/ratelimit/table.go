package ratelimit

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const (
	// DefaultMaxEntries is TableOptions.MaxEntries when it is not set.
	DefaultMaxEntries = 10_000
	// DefaultIdleTTL is TableOptions.IdleTTL when it is not set.
	DefaultIdleTTL = 10 * time.Minute

	// maxKeyLen is the longest key a Table stores as given; longer keys are
	// stored as their SHA-256 so that a table's memory is bounded by
	// MaxEntries whatever the callers pass (a JWT "sub" can be kilobytes).
	maxKeyLen = 64
	// maxDelay caps computed durations, far beyond any real retry delay, so
	// that float arithmetic on extreme rates cannot overflow time.Duration.
	maxDelay = time.Duration(math.MaxInt64 / 2)
)

// TableOptions configures a Table. The zero value is the defaults.
type TableOptions struct {
	// MaxEntries bounds how many keys the table tracks. Zero or negative
	// means DefaultMaxEntries (10,000).
	MaxEntries int
	// IdleTTL is how long a key's bucket stays tracked after it has filled
	// up again. Zero or negative means DefaultIdleTTL (10 minutes).
	IdleTTL time.Duration
	// Now is the clock. Nil means time.Now; tests pass a fake one.
	Now func() time.Time
}

// Table is a bounded map from key (a principal, an address, a
// principal×tool pair) to a token bucket.
//
//	t := ratelimit.NewTable(ratelimit.MustParseRate("10/s burst 20"), ratelimit.TableOptions{})
//	if ok, retryAfter := t.Allow(principal); !ok { ... }
//
// # Notes
//
//   - Safe for concurrent use.
//   - Only keys whose bucket is full are ever dropped. A full bucket is
//     exactly a fresh one, so dropping it loses nothing, and a flood of new
//     keys can never wash out a key that is being limited.
//   - A key whose bucket has been full for IdleTTL is dropped (idle
//     eviction). With a slow rate a bucket can take longer than IdleTTL to
//     refill; it stays until it is full, so waiting never resets a limit
//     early.
//   - When the table holds MaxEntries keys, a new key takes the place of
//     the key whose bucket filled first. If no bucket is full, every
//     tracked key is being limited right now: the new key is refused (fail
//     closed) with retryAfter set to when the first bucket will be full.
//   - Keys longer than 64 bytes are stored as their SHA-256, so memory per
//     key is bounded too.
type Table struct {
	rate    Rate
	max     int
	idleTTL time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
	// byFull orders entries by when their bucket is (or will be) full:
	// byFull[0] is the first one that may be dropped.
	byFull fullHeap
}

type entry struct {
	key    string
	lim    *rate.Limiter
	rate   Rate
	fullAt time.Time
	index  int // in Table.byFull
}

// NewTable returns an empty table limiting each key to r. The zero Rate
// allows nothing, for any key; Unlimited allows everything and tracks no
// key.
func NewTable(r Rate, opts TableOptions) *Table {
	t := &Table{
		rate:    r,
		max:     opts.MaxEntries,
		idleTTL: opts.IdleTTL,
		now:     opts.Now,
		entries: make(map[string]*entry),
	}
	if t.max <= 0 {
		t.max = DefaultMaxEntries
	}
	if t.idleTTL <= 0 {
		t.idleTTL = DefaultIdleTTL
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t
}

// Allow takes one event from key's bucket at the table's rate. When the
// bucket is empty it returns false and how long until an event would be
// allowed; a refused event takes nothing from the bucket.
func (t *Table) Allow(key string) (ok bool, retryAfter time.Duration) {
	return t.AllowRate(key, Rate{})
}

// AllowRate is Allow with key's own rate, such as an API key's. The zero
// Rate means the table's rate. A key's rate may change between calls: the
// bucket keeps its tokens and refills at the new rate from then on.
func (t *Table) AllowRate(key string, r Rate) (ok bool, retryAfter time.Duration) {
	ok, retryAfter, _ = t.take(t.now(), key, r)
	return ok, retryAfter
}

// Limited reports whether Allow(key) would be refused now, and the delay it
// would return, without taking an event or tracking a new key. An untracked
// key is limited only when the table is full of keys being limited.
func (t *Table) Limited(key string) (limited bool, retryAfter time.Duration) {
	return t.limitedAt(key, Rate{})
}

// limitedAt is Limited for a key limited at r; the zero Rate means the
// table's rate.
func (t *Table) limitedAt(key string, r Rate) (limited bool, retryAfter time.Duration) {
	if r.IsZero() {
		r = t.rate
	}
	now := t.now()
	key = storedKey(key)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropIdle(now)
	e := t.entries[key]
	switch {
	case e != nil:
	case r.IsUnlimited():
		return false, 0
	case r.IsZero():
		return true, rate.InfDuration
	case len(t.entries) >= t.max && t.byFull[0].fullAt.After(now):
		return true, t.byFull[0].fullAt.Sub(now)
	default:
		return false, 0
	}
	res := e.lim.ReserveN(now, 1)
	d := res.DelayFrom(now)
	res.CancelAt(now)
	return d > 0, d
}

// Len is the number of keys tracked, after dropping idle ones.
func (t *Table) Len() int {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropIdle(now)
	return len(t.entries)
}

// take is AllowRate at a given time. On success it also returns the
// reservation, which refund can give back (AllowCall uses that when a
// second table refuses the call).
func (t *Table) take(now time.Time, key string, r Rate) (bool, time.Duration, *rate.Reservation) {
	if r.IsZero() {
		r = t.rate
	}
	key = storedKey(key)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropIdle(now)
	switch {
	case r.IsUnlimited():
		if e := t.entries[key]; e != nil {
			t.remove(e)
		}
		return true, 0, nil
	case r.IsZero():
		return false, rate.InfDuration, nil
	}
	e := t.entries[key]
	if e == nil {
		if len(t.entries) >= t.max {
			first := t.byFull[0]
			if first.fullAt.After(now) {
				return false, first.fullAt.Sub(now), nil
			}
			t.remove(first)
		}
		e = &entry{key: key, lim: rate.NewLimiter(limitOf(r), r.Burst()), rate: r}
		t.entries[key] = e
		e.fullAt = now
		heap.Push(&t.byFull, e)
	} else if e.rate != r {
		e.lim.SetLimitAt(now, limitOf(r))
		e.lim.SetBurstAt(now, r.Burst())
		e.rate = r
	}
	res := e.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		t.updateFullAt(e, now)
		return false, d, nil
	}
	t.updateFullAt(e, now)
	return true, 0, res
}

// refund gives back an event take granted at now. It must be called with
// the same now, before anything else takes from key's bucket.
func (t *Table) refund(now time.Time, key string, res *rate.Reservation) {
	if res == nil {
		return
	}
	key = storedKey(key)
	t.mu.Lock()
	defer t.mu.Unlock()
	res.CancelAt(now)
	if e := t.entries[key]; e != nil {
		t.updateFullAt(e, now)
	}
}

// updateFullAt records when e's bucket will be full again. Rounding up by
// a nanosecond keeps float error from dropping a bucket a hair short of
// full.
func (t *Table) updateFullAt(e *entry, now time.Time) {
	fullAt := now
	if missing := float64(e.rate.Burst()) - e.lim.TokensAt(now); missing > 0 {
		d := missing / float64(limitOf(e.rate)) * float64(time.Second)
		if d > float64(maxDelay) {
			d = float64(maxDelay)
		}
		fullAt = now.Add(time.Duration(d) + 1)
	}
	e.fullAt = fullAt
	heap.Fix(&t.byFull, e.index)
}

// dropIdle drops the keys whose bucket has been full for idleTTL. The heap
// pops them in order, so the cost is proportional to what is dropped.
func (t *Table) dropIdle(now time.Time) {
	for len(t.byFull) > 0 && !t.byFull[0].fullAt.Add(t.idleTTL).After(now) {
		t.remove(t.byFull[0])
	}
}

func (t *Table) remove(e *entry) {
	heap.Remove(&t.byFull, e.index)
	delete(t.entries, e.key)
}

// storedKey is key as the table stores it: unchanged up to maxKeyLen bytes,
// else its hex SHA-256 and a "#", which is 65 bytes and so never equal to
// an unchanged key.
func storedKey(key string) string {
	if len(key) <= maxKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) + "#"
}

// fullHeap is a container/heap of entries, earliest fullAt first.
type fullHeap []*entry

func (h fullHeap) Len() int           { return len(h) }
func (h fullHeap) Less(i, j int) bool { return h[i].fullAt.Before(h[j].fullAt) }
func (h fullHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *fullHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *fullHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
