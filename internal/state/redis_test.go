package state_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/ratelimit"
	"github.com/moatmcp/moat/internal/state"
	"github.com/moatmcp/moat/internal/state/statetest"
)

var bg = context.Background()

// open opens a store on r, closed when t ends; changes receives each
// OnChange (nil = up).
func open(t testing.TB, r *statetest.Redis, opts *state.Options) (*state.Redis, chan error) {
	t.Helper()
	changes := make(chan error, 16)
	o := state.Options{URL: r.URL(), ProbeInterval: 20 * time.Millisecond, Timeout: time.Second}
	if opts != nil {
		o = *opts
		if o.URL == "" {
			o.URL = r.URL()
		}
	}
	o.OnChange = func(err error) { changes <- err }
	s, err := state.Open(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, changes
}

func next(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no state change reported in 10s")
		return nil
	}
}

func check(table, key, rate string) state.Check {
	return state.Check{Table: table, Key: key, Rate: manifest.MustParseRate(rate)}
}

// TestRedisAllow: a bucket's burst, then refusals with a retry delay; a
// refusal by the second check takes nothing from the first.
func TestRedisAllow(t *testing.T) {
	r := statetest.Start(t)
	s, _ := open(t, r, nil)
	for i := range 3 {
		if res, err := s.Allow(bg, check("t", "alice", "1/min burst 3")); err != nil || !res.OK || res.Refused != -1 {
			t.Fatalf("call %d: %+v, %v; want allowed", i, res, err)
		}
	}
	res, err := s.Allow(bg, check("t", "alice", "1/min burst 3"))
	if err != nil || res.OK || res.Refused != 0 || res.RetryAfter <= 50*time.Second || res.RetryAfter > time.Minute {
		t.Fatalf("4th call: %+v, %v; want refused by 0 with retry ~60s", res, err)
	}
	// all or none
	if res, _ := s.Allow(bg, check("pair", "bob", "1/min burst 5"), check("t", "alice", "1/min burst 3")); res.OK || res.Refused != 1 {
		t.Fatalf("pair: %+v; want refused by 1", res)
	}
	for i := range 5 {
		if res, _ := s.Allow(bg, check("pair", "bob", "1/min burst 5")); !res.OK {
			t.Fatalf("pair bucket call %d refused: the refused pair call took from it", i)
		}
	}
	// Limited peeks without taking or creating.
	if res, _ := s.Limited(bg, check("t", "alice", "1/min burst 3")); res.OK {
		t.Fatal("Limited(alice) = ok; want limited")
	}
	if res, _ := s.Limited(bg, check("t", "carol", "1/min burst 1")); !res.OK {
		t.Fatal("Limited(carol) = limited; want ok")
	}
	if got := r.Do("EXISTS", "moat:rl:t:carol"); got != ":0" {
		t.Fatalf("Limited created a key: EXISTS = %s", got)
	}
}

// TestRedisSharedAcrossReplicas: two stores (two replicas) on one Redis
// share one bucket: together they get exactly its burst.
func TestRedisSharedAcrossReplicas(t *testing.T) {
	r := statetest.Start(t)
	a, _ := open(t, r, nil)
	b, _ := open(t, r, nil)
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for _, s := range []*state.Redis{a, b, a, b} {
		wg.Go(func() {
			for range 25 {
				res, err := s.Allow(bg, check("principal", "p:alice", "1/hour burst 40"))
				if err != nil {
					t.Error(err)
					return
				}
				if res.OK {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 40 {
		t.Fatalf("allowed %d calls across replicas; want exactly the burst, 40", allowed)
	}
}

// TestRedisKeysExpire: a bucket key lives until the bucket is full again,
// and a slot set until its last slot lapses.
func TestRedisKeysExpire(t *testing.T) {
	r := statetest.Start(t)
	s, _ := open(t, r, nil)
	s.Allow(bg, check("t", "k", "10/s burst 5"))
	pttl, _ := strconv.Atoi(strings.TrimPrefix(r.Do("PTTL", "moat:rl:t:k"), ":"))
	if pttl <= 0 || pttl > 102 {
		t.Fatalf("bucket PTTL = %dms; want (0, 102]: one event at 10/s", pttl)
	}
	s.Acquire(bg, "sess-1", time.Minute, state.Counter{Key: "p", Max: 2})
	pttl, _ = strconv.Atoi(strings.TrimPrefix(r.Do("PTTL", "moat:slots:p"), ":"))
	if pttl <= 0 || pttl > 60_001 {
		t.Fatalf("slot set PTTL = %dms; want (0, 60001]", pttl)
	}
	long := strings.Repeat("x", 1000)
	s.Allow(bg, check("t", long, "10/s burst 5"))
	if got := r.Do("EXISTS", "moat:rl:t:"+long); got != ":0" {
		t.Fatal("a 1000-byte key was stored as given; want it hashed")
	}
}

// TestRedisSlots: counters cap members, all or none; a member is
// refreshed, never refused; Touch ignores the cap; Release frees.
func TestRedisSlots(t *testing.T) {
	r := statetest.Start(t)
	s, _ := open(t, r, nil)
	per := func(max int) []state.Counter {
		return []state.Counter{{Key: "p:alice", Max: max}, {Key: "all", Max: 3}}
	}
	for i, tc := range []struct {
		name   string
		member string
		max    int
		want   bool
	}{
		{"first", "s1", 2, true},
		{"second", "s2", 2, true},
		{"over the principal's cap", "s3", 2, false},
		{"a held member is refreshed", "s1", 2, true},
		{"zero admits nothing", "s9", 0, false},
	} {
		ok, err := s.Acquire(bg, tc.member, time.Minute, per(tc.max)...)
		if err != nil || ok != tc.want {
			t.Fatalf("%d %s: Acquire = %v, %v; want %v", i, tc.name, ok, err, tc.want)
		}
	}
	if n, _ := s.Count(bg, "all"); n != 2 {
		t.Fatalf("Count(all) = %d; want 2: a refused Acquire took a slot", n)
	}
	if ok, _ := s.Acquire(bg, "b1", time.Minute, state.Counter{Key: "p:bob", Max: 5}, state.Counter{Key: "all", Max: 2}); ok {
		t.Fatal("bob got a slot past the total cap")
	}
	if n, _ := s.Count(bg, "p:bob"); n != 0 {
		t.Fatalf("Count(p:bob) = %d; want 0: all or none", n)
	}
	if err := s.Touch(bg, "s3", time.Minute, "p:alice", "all"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(bg, "p:alice"); n != 3 {
		t.Fatalf("after Touch: Count = %d; want 3", n)
	}
	s.Release(bg, "s1", "p:alice", "all")
	s.Release(bg, "s3", "p:alice", "all")
	if ok, _ := s.Acquire(bg, "s4", time.Minute, per(2)...); !ok {
		t.Fatal("no slot after Release")
	}
	// Lapsed slots are dropped.
	if ok, _ := s.Acquire(bg, "short", time.Millisecond, state.Counter{Key: "lapse", Max: 1}); !ok {
		t.Fatal("first short slot refused")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _ := s.Acquire(bg, "later", time.Minute, state.Counter{Key: "lapse", Max: 1})
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a 1ms slot still held after 10s")
		}
		time.Sleep(5 * time.Millisecond) // waiting on Redis's clock, which the test cannot fake
	}
}

// TestRedisBadKeys: a key moat uses that another program wrote, of
// another type or shape, fails only the requests that need it
// (ErrCorrupt); the store stays up.
func TestRedisBadKeys(t *testing.T) {
	r := statetest.Start(t)
	s, changes := open(t, r, nil)
	if err := next(t, changes); err != nil {
		t.Fatalf("initial state: %v; want up", err)
	}
	r.Do("HSET", "moat:rl:t:hash", "f", "v")
	r.Do("SET", "moat:rl:t:text", "not a number")
	r.Do("SET", "moat:slots:str", "x")
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"bucket holds a hash", func() error { _, err := s.Allow(bg, check("t", "hash", "1/s")); return err }},
		{"bucket holds text", func() error { _, err := s.Allow(bg, check("t", "text", "1/s")); return err }},
		{"peek at a hash", func() error { _, err := s.Limited(bg, check("t", "hash", "1/s")); return err }},
		{"second of two checks", func() error { _, err := s.Allow(bg, check("t", "ok", "1/s"), check("t", "text", "1/s")); return err }},
		{"slot set holds a string", func() error {
			_, err := s.Acquire(bg, "m", time.Minute, state.Counter{Key: "str", Max: 2})
			return err
		}},
		{"release from a string", func() error { return s.Release(bg, "m", "str") }},
		{"count a string", func() error { _, err := s.Count(bg, "str"); return err }},
	} {
		if err := tc.do(); !errors.Is(err, state.ErrCorrupt) {
			t.Errorf("%s: err = %v; want ErrCorrupt", tc.name, err)
		}
	}
	if err := s.Health(); err != nil {
		t.Fatalf("Health after corrupt keys = %v; want up", err)
	}
	if res, err := s.Allow(bg, check("t", "fine", "1/s")); err != nil || !res.OK {
		t.Fatalf("a good key after bad ones: %+v, %v", res, err)
	}
}

// TestRedisPassword: a wrong password leaves the store down with a reason
// that names the problem, never the password; the right one works.
func TestRedisPassword(t *testing.T) {
	r := statetest.Start(t, "--requirepass", "right-horse-battery")
	bad, changes := open(t, r, &state.Options{Password: "wrong-staple", Timeout: time.Second})
	err := next(t, changes)
	if !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), "wrong-staple") {
		t.Fatalf("wrong password: %v; want ErrUnavailable naming WRONGPASS without the password", err)
	}
	if _, err := bad.Allow(bg, check("t", "k", "1/s")); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Allow with a wrong password: %v; want ErrUnavailable", err)
	}
	none, changes := open(t, r, &state.Options{Timeout: time.Second})
	if err := next(t, changes); !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("no password: %v; want NOAUTH", err)
	}
	_ = none
	good, changes := open(t, r, &state.Options{Password: "right-horse-battery", Timeout: time.Second})
	if err := next(t, changes); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if res, err := good.Allow(bg, check("t", "k", "1/s")); err != nil || !res.OK {
		t.Fatalf("Allow: %+v, %v", res, err)
	}
}

// TestRedisDownAndBack: Redis stopped → one down report, every operation
// fails at once with ErrUnavailable → Redis restarted → one up report and
// service resumes by itself.
func TestRedisDownAndBack(t *testing.T) {
	r := statetest.Start(t)
	s, changes := open(t, r, nil)
	if err := next(t, changes); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	if _, err := s.Allow(bg, check("t", "k", "1/s")); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Allow with Redis stopped: %v; want ErrUnavailable", err)
	}
	if err := next(t, changes); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("report: %v; want down", err)
	}
	for range 100 {
		if _, err := s.Allow(bg, check("t", "k", "1/s")); !errors.Is(err, state.ErrUnavailable) {
			t.Fatalf("Allow while down: %v", err)
		}
	}
	select {
	case err := <-changes:
		t.Fatalf("a second report while down: %v; want one per transition", err)
	default:
	}
	if s.Health() == nil {
		t.Fatal("Health = nil while down")
	}
	r.Restart()
	if err := next(t, changes); err != nil {
		t.Fatalf("after restart: %v; want up", err)
	}
	if res, err := s.Allow(bg, check("t", "k", "1/s")); err != nil || !res.OK {
		t.Fatalf("Allow after restart: %+v, %v", res, err)
	}
}

// TestRedisSlowAnswersTimeOut: a server that accepts and never answers
// (a hung Redis) costs each call the timeout, not a hang, and marks the
// store down so later calls fail at once.
func TestRedisSlowAnswersTimeOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		held []net.Conn // accepted, never answered
	)
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		<-acceptDone
		for _, c := range held {
			c.Close()
		}
	}()
	start := time.Now()
	s, err := state.Open(&state.Options{URL: "redis://" + ln.Addr().String() + "/0", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Allow(bg, check("t", "k", "1/s")); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Allow on a hung server: %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Open and Allow took %v on a hung server; want about the timeout", d)
	}
}

// TestRedisMemoryBounded: 100,000 distinct principals, one call each, at
// a slow rate (1/hour) so that every key is still alive when memory is
// read (the worst case): Redis's used_memory stays far below a generous
// bound. At the default 600/min a key lives 0.1s after one call.
func TestRedisMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	r := statetest.Start(t)
	s, _ := open(t, r, nil)
	before, _ := strconv.Atoi(r.Info("used_memory"))
	const n = 100_000
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if _, err := s.Allow(bg, check("principal", "p:agent-"+strconv.Itoa(i), "1/hour burst 10")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	after, _ := strconv.Atoi(r.Info("used_memory"))
	keys := r.Do("DBSIZE")
	t.Logf("Redis used_memory after %d distinct principals: %.1f MiB (%.1f MiB before; %d bytes per principal); DBSIZE %s",
		n, float64(after)/(1<<20), float64(before)/(1<<20), (after-before)/n, keys)
	if after-before > 64<<20 {
		t.Fatalf("used_memory grew %d bytes for %d principals; want < 64 MiB", after-before, n)
	}
	// Each key expires once its bucket is full: an hour after one call.
	if pttl, _ := strconv.Atoi(strings.TrimPrefix(r.Do("PTTL", "moat:rl:principal:p:agent-0"), ":")); pttl <= 0 || pttl > 3_600_001 {
		t.Fatalf("PTTL = %dms; want (0, 1h]", pttl)
	}
}

// TestRedisIgnoresReplicaClocks: two replicas whose clocks are ten
// minutes apart (each Limiter's Now) share one limit exactly: the buckets
// run on Redis's clock (TIME), never a replica's.
func TestRedisIgnoresReplicaClocks(t *testing.T) {
	r := statetest.Start(t)
	s, _ := open(t, r, nil)
	ahead := func() time.Time { return time.Now().Add(10 * time.Minute) }
	behind := func() time.Time { return time.Now().Add(-10 * time.Minute) }
	cfg := func(now func() time.Time) ratelimit.Config {
		return ratelimit.Config{Now: now, Store: s, PerPrincipal: ratelimit.MustParseRate("1/hour burst 3")}
	}
	a, b := ratelimit.New(cfg(ahead)), ratelimit.New(cfg(behind))
	var got []bool
	for _, l := range []*ratelimit.Limiter{a, b, a, b, a} {
		ok, _, err := l.AllowPrincipal(bg, "p:skewed", ratelimit.Rate{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ok)
	}
	if want := []bool{true, true, true, false, false}; !slices.Equal(got, want) {
		t.Fatalf("allowed %v; want %v", got, want)
	}
}

// TestRedisAnswersErrors: Redis answering an error (here out of memory,
// as with maxmemory and noeviction; READONLY on a replica is alike) puts
// the store down with Redis's reason, once; when Redis accepts writes
// again the store comes back by itself.
func TestRedisAnswersErrors(t *testing.T) {
	r := statetest.Start(t, "--maxmemory-policy", "noeviction")
	s, changes := open(t, r, nil)
	if err := next(t, changes); err != nil {
		t.Fatal(err)
	}
	r.Do("CONFIG", "SET", "maxmemory", "1")
	_, err := s.Allow(bg, check("t", "k", "1/s"))
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Allow on a full Redis: %v; want ErrUnavailable", err)
	}
	if err := next(t, changes); !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("report: %v; want down with OOM", err)
	}
	r.Do("CONFIG", "SET", "maxmemory", "0")
	if err := next(t, changes); err != nil {
		t.Fatalf("after memory was freed: %v; want up", err)
	}
	if res, err := s.Allow(bg, check("t", "k", "1/s")); err != nil || !res.OK {
		t.Fatalf("Allow after recovery: %+v, %v", res, err)
	}
}

// TestRedisAllowCallAcrossReplicas: per principal×tool and per tool held
// by two Limiters (two replicas) together, all or none, with the refusing
// limit named.
func TestRedisAllowCallAcrossReplicas(t *testing.T) {
	r := statetest.Start(t)
	s, _ := open(t, r, nil)
	cfg := ratelimit.Config{Store: s, PerPrincipalTool: ratelimit.MustParseRate("1/hour burst 2"), PerTool: ratelimit.MustParseRate("1/hour burst 3")}
	a, b := ratelimit.New(cfg), ratelimit.New(cfg)
	for i, tc := range []struct {
		l         *ratelimit.Limiter
		principal string
		ok        bool
		which     string
	}{
		{a, "alice", true, ""},
		{b, "alice", true, ""},
		{a, "alice", false, ratelimit.WhichPrincipalTool},
		{b, "bob", true, ""},
		{a, "carol", false, ratelimit.WhichTool},
		{b, "bob", false, ratelimit.WhichTool},
	} {
		ok, wait, which, err := tc.l.AllowCall(bg, tc.principal, "echo")
		if err != nil || ok != tc.ok || which != tc.which || (!ok && wait <= 0) {
			t.Fatalf("%d %s: %v, %v, %q, %v; want %v, %q", i, tc.principal, ok, wait, which, err, tc.ok, tc.which)
		}
	}
}
