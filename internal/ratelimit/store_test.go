package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/state"
)

// TestLocalStoreAllow: all or none over several checks, Limited peeks
// without tracking, and each table is bounded by MaxEntries.
func TestLocalStoreAllow(t *testing.T) {
	clock := newClock()
	s := NewLocalStore(TableOptions{MaxEntries: 3, Now: clock.Now})
	one := MustParseRate("1/min burst 1")
	c := func(table, key string) state.Check { return state.Check{Table: table, Key: key, Rate: one} }
	for i, tc := range []struct {
		name    string
		checks  []state.Check
		ok      bool
		refused int
	}{
		{"first pair", []state.Check{c("a", "x"), c("b", "x")}, true, -1},
		{"b empty: refused by 1", []state.Check{c("a", "y"), c("b", "x")}, false, 1},
		{"a/y was given back", []state.Check{c("a", "y")}, true, -1},
		{"a/x empty", []state.Check{c("a", "x")}, false, 0},
	} {
		res, err := s.Allow(bg, tc.checks...)
		if err != nil || res.OK != tc.ok || res.Refused != tc.refused {
			t.Fatalf("%d %s: %+v, %v; want ok %v refused %d", i, tc.name, res, err, tc.ok, tc.refused)
		}
	}
	if res, _ := s.Limited(bg, c("a", "x")); res.OK || res.RetryAfter <= 0 {
		t.Fatalf("Limited(a/x) = %+v; want limited", res)
	}
	if res, _ := s.Limited(bg, c("fresh", "z")); !res.OK {
		t.Fatalf("Limited on an unknown table = %+v; want ok", res)
	}
	if res, _ := s.Limited(bg, c("a", "new")); !res.OK {
		t.Fatalf("Limited(a/new) = %+v; want ok", res)
	}
	if n := s.table("a").Len(); n != 2 {
		t.Fatalf("table a holds %d keys; want 2 (Limited tracks none)", n)
	}
	// Bounded: a full table of limited keys refuses a new key.
	s.Allow(bg, c("a", "z"))
	if res, _ := s.Allow(bg, c("a", "w")); res.OK {
		t.Fatal("a 4th key got into a table of 3 limited keys")
	}
}

// TestLocalStoreSlots: caps, refresh, Touch past the cap, Release, and
// lapsing on the store's clock.
func TestLocalStoreSlots(t *testing.T) {
	clock := newClock()
	s := NewLocalStore(TableOptions{Now: clock.Now})
	cs := []state.Counter{{Key: "p", Max: 2}, {Key: "all", Max: 3}}
	for i, tc := range []struct {
		member string
		want   bool
	}{{"a", true}, {"b", true}, {"c", false}, {"a", true}} {
		if ok, _ := s.Acquire(bg, tc.member, time.Minute, cs...); ok != tc.want {
			t.Fatalf("%d Acquire(%s) = %v; want %v", i, tc.member, ok, tc.want)
		}
	}
	if ok, _ := s.Acquire(bg, "q", time.Minute, state.Counter{Key: "q", Max: 5}, state.Counter{Key: "all", Max: 2}); ok {
		t.Fatal("past the total")
	}
	if n, _ := s.Count(bg, "q"); n != 0 {
		t.Fatalf("Count(q) = %d; want 0 (all or none)", n)
	}
	s.Touch(bg, "c", time.Minute, "p", "all")
	if n, _ := s.Count(bg, "p"); n != 3 {
		t.Fatalf("Count(p) after Touch = %d; want 3", n)
	}
	s.Release(bg, "c", "p", "all")
	clock.Advance(2 * time.Minute)
	if n, _ := s.Count(bg, "all"); n != 0 {
		t.Fatalf("Count(all) after the slots lapsed = %d; want 0", n)
	}
	s.Count(bg, "p") // an empty counter is dropped when next counted
	if len(s.slots) != 0 {
		t.Fatalf("%d empty counters kept", len(s.slots))
	}
}

// TestFallback: with on_failure = "local" an unavailable primary hands
// every operation to the local store; a corrupt key does not.
func TestFallback(t *testing.T) {
	local := NewLocalStore(TableOptions{})
	for _, tc := range []struct {
		name    string
		err     error
		wantErr bool
	}{
		{"unavailable falls back", state.ErrUnavailable, false},
		{"corrupt fails", state.ErrCorrupt, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := state.Fallback(brokenStore{tc.err}, local)
			_, err := f.Allow(bg, state.Check{Table: "t", Key: "k", Rate: MustParseRate("1/s")})
			_, lerr := f.Limited(bg, state.Check{Table: "t", Key: "k", Rate: MustParseRate("1/s")})
			_, aerr := f.Acquire(bg, "m", time.Minute, state.Counter{Key: "c", Max: 1})
			for _, e := range []error{err, lerr, aerr} {
				if (e != nil) != tc.wantErr {
					t.Fatalf("err = %v; want error %v", e, tc.wantErr)
				}
			}
			if f.Health() != tc.err {
				t.Fatalf("Health = %v; want the primary's", f.Health())
			}
		})
	}
}

// brokenStore fails every operation with err.
type brokenStore struct{ err error }

func (b brokenStore) Allow(_ context.Context, _ ...state.Check) (state.Result, error) {
	return state.Result{Refused: -1}, b.err
}
func (b brokenStore) Limited(context.Context, state.Check) (state.Result, error) {
	return state.Result{Refused: -1}, b.err
}
func (b brokenStore) Acquire(context.Context, string, time.Duration, ...state.Counter) (bool, error) {
	return false, b.err
}
func (b brokenStore) Touch(context.Context, string, time.Duration, ...string) error { return b.err }
func (b brokenStore) Release(context.Context, string, ...string) error              { return b.err }
func (b brokenStore) Count(context.Context, string) (int, error)                    { return 0, b.err }
func (b brokenStore) AddUsage(context.Context, string, time.Duration, []int64) ([]int64, time.Duration, error) {
	return nil, 0, b.err
}
func (b brokenStore) Health() error { return b.err }
func (b brokenStore) Close() error  { return nil }

// TestLimiterStoreErrorFailsClosed: a store error is returned by every
// check, never taken for a yes.
func TestLimiterStoreErrorFailsClosed(t *testing.T) {
	l := New(Config{Store: brokenStore{state.ErrUnavailable}})
	if ok, _, _, err := l.AllowCall(bg, "alice", "echo"); ok || err == nil {
		t.Fatalf("AllowCall = %v, %v", ok, err)
	}
	if ok, _, err := l.AllowPrincipal(bg, "p:alice", Rate{}); ok || err == nil {
		t.Fatalf("AllowPrincipal = %v, %v", ok, err)
	}
	if ok, _, err := l.AllowRequest(bg, "p:alice"); ok || err == nil {
		t.Fatalf("AllowRequest = %v, %v", ok, err)
	}
	if _, _, err := l.Blocked(bg, "192.0.2.1:1"); err == nil {
		t.Fatal("Blocked: no error")
	}
	if err := l.AuthFailed(bg, "192.0.2.1:1"); err == nil {
		t.Fatal("AuthFailed: no error")
	}
	// manifest.Unlimited rates never ask the store.
	u := New(Config{Store: brokenStore{state.ErrUnavailable}, PerPrincipalTool: manifest.Unlimited, PerTool: manifest.Unlimited})
	if ok, _, _, err := u.AllowCall(bg, "alice", "echo"); !ok || err != nil {
		t.Fatalf("unlimited AllowCall = %v, %v", ok, err)
	}
}
