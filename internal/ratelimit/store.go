package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/moatmcp/moat/internal/state"
)

// LocalStore is the in-process state.Store: one replica's buckets in
// bounded Tables (one per Check.Table), and its counted slots in memory.
// It is what a Limiter uses when Config.Store is nil, and what a shared
// store falls back to with [state] on_failure = "local".
//
// # Notes
//
//   - Safe for concurrent use; it never fails.
//   - Every Table keeps its guarantees: at most MaxEntries keys, only full
//     buckets dropped, new keys refused when full of limited ones.
//   - Slots are bounded by the counters' Max; a counter with no live slot
//     is dropped.
type LocalStore struct {
	opts TableOptions

	mu     sync.Mutex // guards tables; and makes a multi-check Allow one step
	tables map[string]*Table

	slotMu sync.Mutex
	slots  map[string]map[string]time.Time // counter key → member → lapses at

	usageMu sync.Mutex
	usage   map[string]*usageWindow // AddUsage's windows, by key
}

// usageWindow is one key's counters of AddUsage until ends.
type usageWindow struct {
	ends   time.Time
	totals []int64
}

var _ state.Store = (*LocalStore)(nil)

// NewLocalStore returns an empty store whose tables are bounded by opts.
func NewLocalStore(opts TableOptions) *LocalStore {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &LocalStore{opts: opts, tables: map[string]*Table{}, slots: map[string]map[string]time.Time{}, usage: map[string]*usageWindow{}}
}

// table returns the named table, made on first use. Called with s.mu held.
func (s *LocalStore) table(name string) *Table {
	t := s.tables[name]
	if t == nil {
		t = NewTable(Rate{}, s.opts)
		s.tables[name] = t
	}
	return t
}

// Allow implements state.Store: each check in turn, and a refusal gives
// back what the earlier checks took.
func (s *LocalStore) Allow(_ context.Context, checks ...state.Check) (state.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	type taken struct {
		t   *Table
		key string
		res func()
	}
	var done []taken
	for i, c := range checks {
		t := s.table(c.Table)
		ok, d, res := t.take(now, c.Key, c.Rate)
		if !ok {
			for j := len(done) - 1; j >= 0; j-- {
				done[j].res()
			}
			return state.Result{RetryAfter: d, Refused: i}, nil
		}
		key := c.Key
		done = append(done, taken{t, key, func() { t.refund(now, key, res) }})
	}
	return state.Result{OK: true, Refused: -1}, nil
}

// Limited implements state.Store.
func (s *LocalStore) Limited(_ context.Context, c state.Check) (state.Result, error) {
	s.mu.Lock()
	t := s.tables[c.Table]
	s.mu.Unlock()
	if t == nil {
		return state.Result{OK: true, Refused: -1}, nil
	}
	if limited, d := t.limitedAt(c.Key, c.Rate); limited {
		return state.Result{RetryAfter: d, Refused: 0}, nil
	}
	return state.Result{OK: true, Refused: -1}, nil
}

// Acquire implements state.Store.
func (s *LocalStore) Acquire(_ context.Context, member string, ttl time.Duration, counters ...state.Counter) (bool, error) {
	s.slotMu.Lock()
	defer s.slotMu.Unlock()
	now := s.opts.Now()
	for _, c := range counters {
		m := s.live(c.Key, now)
		if _, held := m[member]; !held && len(m) >= c.Max {
			return false, nil
		}
	}
	for _, c := range counters {
		s.add(c.Key, member, now.Add(ttl))
	}
	return true, nil
}

// Touch implements state.Store.
func (s *LocalStore) Touch(_ context.Context, member string, ttl time.Duration, keys ...string) error {
	s.slotMu.Lock()
	defer s.slotMu.Unlock()
	now := s.opts.Now()
	for _, k := range keys {
		s.live(k, now)
		s.add(k, member, now.Add(ttl))
	}
	return nil
}

// Release implements state.Store.
func (s *LocalStore) Release(_ context.Context, member string, keys ...string) error {
	s.slotMu.Lock()
	defer s.slotMu.Unlock()
	for _, k := range keys {
		if m := s.slots[k]; m != nil {
			delete(m, member)
			if len(m) == 0 {
				delete(s.slots, k)
			}
		}
	}
	return nil
}

// Count implements state.Store.
func (s *LocalStore) Count(_ context.Context, key string) (int, error) {
	s.slotMu.Lock()
	defer s.slotMu.Unlock()
	return len(s.live(key, s.opts.Now())), nil
}

// AddUsage implements state.Store. The windows are bounded like a
// table (TableOptions.MaxEntries): ended windows are dropped first; when
// every key still has a live window, a new key fails with
// state.ErrUnavailable (the call is refused: usage that cannot be counted
// is not usage that stayed under its quota).
func (s *LocalStore) AddUsage(_ context.Context, key string, window time.Duration, delta []int64) ([]int64, time.Duration, error) {
	if len(delta) == 0 || len(delta) > state.MaxUsageCounters || window < time.Millisecond {
		return nil, 0, state.ErrUsageCounters
	}
	write := false
	for _, d := range delta {
		if d != 0 {
			write = true
		}
	}
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	now := s.opts.Now()
	w := s.usage[key]
	if w != nil && !now.Before(w.ends) {
		delete(s.usage, key)
		w = nil
	}
	if w == nil {
		if !write {
			return make([]int64, len(delta)), 0, nil
		}
		if len(s.usage) >= s.maxUsage() {
			for k, u := range s.usage {
				if !now.Before(u.ends) {
					delete(s.usage, k)
				}
			}
			if len(s.usage) >= s.maxUsage() {
				return nil, 0, fmt.Errorf("%w: %d quota windows in memory", state.ErrUnavailable, len(s.usage))
			}
		}
		w = &usageWindow{ends: now.Add(window)}
		s.usage[key] = w
	}
	for len(w.totals) < len(delta) {
		w.totals = append(w.totals, 0)
	}
	out := make([]int64, len(delta))
	for i, d := range delta {
		w.totals[i] += d
		out[i] = w.totals[i]
	}
	return out, w.ends.Sub(now), nil
}

func (s *LocalStore) maxUsage() int {
	if s.opts.MaxEntries > 0 {
		return s.opts.MaxEntries
	}
	return DefaultMaxEntries
}

// Health implements state.Store: always nil.
func (s *LocalStore) Health() error { return nil }

// Close implements state.Store: nothing to release.
func (s *LocalStore) Close() error { return nil }

// live drops key's lapsed slots and returns the rest (nil when none).
// Called with slotMu held.
func (s *LocalStore) live(key string, now time.Time) map[string]time.Time {
	m := s.slots[key]
	for member, until := range m {
		if !until.After(now) {
			delete(m, member)
		}
	}
	if m != nil && len(m) == 0 {
		delete(s.slots, key)
		return nil
	}
	return m
}

func (s *LocalStore) add(key, member string, until time.Time) {
	m := s.slots[key]
	if m == nil {
		m = map[string]time.Time{}
		s.slots[key] = m
	}
	m[member] = until
}
