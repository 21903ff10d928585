package ratelimit

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/manifest"
	"golang.org/x/time/rate"
)

// fakeClock is a clock tests move by hand, so no assertion depends on how
// fast this machine is.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// keys lists the keys t tracks, sorted.
func keys(t *Table) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ks []string
	for k := range t.entries {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

type step struct {
	advance   time.Duration
	key       string
	rate      string // AllowRate's override; "" for the table's rate
	wantOK    bool
	wantDelay time.Duration
}

func runSteps(t *testing.T, table *Table, clock *fakeClock, steps []step) {
	t.Helper()
	for i, s := range steps {
		clock.Advance(s.advance)
		ok, d := table.AllowRate(s.key, MustParseRate(s.rate))
		if ok != s.wantOK || d != s.wantDelay {
			t.Fatalf("step %d: AllowRate(%q, %q) = %v, %v; want %v, %v", i, s.key, s.rate, ok, d, s.wantOK, s.wantDelay)
		}
	}
}

func TestTableAllow(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name  string
		rate  string
		steps []step
	}{
		{"burst then refill", "2/s burst 3", []step{
			{0, "a", "", true, 0},
			{0, "a", "", true, 0},
			{0, "a", "", true, 0},
			{0, "a", "", false, 500 * ms},
			// A refused event takes nothing: the delay does not grow.
			{0, "a", "", false, 500 * ms},
			{250 * ms, "a", "", false, 250 * ms},
			{250 * ms, "a", "", true, 0},
			{0, "a", "", false, 500 * ms},
			// Ten seconds refill the whole burst and no more.
			{10 * time.Second, "a", "", true, 0},
			{0, "a", "", true, 0},
			{0, "a", "", true, 0},
			{0, "a", "", false, 500 * ms},
		}},
		{"keys are separate", "1/s burst 1", []step{
			{0, "a", "", true, 0},
			{0, "a", "", false, time.Second},
			{0, "b", "", true, 0},
			{0, "b", "", false, time.Second},
			{400 * ms, "a", "", false, 600 * ms},
		}},
		{"per key rate", "1/s burst 1", []step{
			{0, "vip", "10/s burst 2", true, 0},
			{0, "vip", "10/s burst 2", true, 0},
			{0, "vip", "10/s burst 2", false, 100 * ms},
			{0, "a", "", true, 0},
			{0, "a", "", false, time.Second},
		}},
		{"rate change keeps tokens", "1/s burst 2", []step{
			{0, "a", "", true, 0},
			{0, "a", "", true, 0},
			{0, "a", "", false, time.Second},
			// Faster now, but the bucket is still empty.
			{0, "a", "4/s burst 4", false, 250 * ms},
			{250 * ms, "a", "4/s burst 4", true, 0},
			// Back to the table's rate.
			{0, "a", "", false, time.Second},
		}},
		{"unlimited table", "unlimited", []step{
			{0, "a", "", true, 0},
			{0, "a", "", true, 0},
			{0, "a", "1/s burst 1", true, 0},
			{0, "a", "1/s burst 1", false, time.Second},
			// manifest.Unlimited for this key drops its bucket.
			{0, "a", "unlimited", true, 0},
			{0, "a", "1/s burst 1", true, 0},
		}},
		{"zero rate allows nothing", "", []step{
			{0, "a", "", false, rate.InfDuration},
			{time.Hour, "a", "", false, rate.InfDuration},
			{0, "a", "1/s", true, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			table := NewTable(MustParseRate(tc.rate), TableOptions{Now: clock.Now})
			runSteps(t, table, clock, tc.steps)
		})
	}
}

func TestTableUnlimitedTracksNothing(t *testing.T) {
	table := NewTable(manifest.Unlimited, TableOptions{})
	for i := range 100 {
		if ok, d := table.Allow(strconv.Itoa(i)); !ok || d != 0 {
			t.Fatalf("Allow = %v, %v", ok, d)
		}
	}
	if n := table.Len(); n != 0 {
		t.Errorf("Len = %d, want 0", n)
	}
}

func TestTableDefaults(t *testing.T) {
	table := NewTable(manifest.Unlimited, TableOptions{MaxEntries: -1, IdleTTL: -1})
	if table.max != DefaultMaxEntries || table.idleTTL != DefaultIdleTTL || table.now == nil {
		t.Errorf("max %d, idleTTL %v, now set %v", table.max, table.idleTTL, table.now != nil)
	}
}

func TestTableLimited(t *testing.T) {
	clock := newClock()
	table := NewTable(MustParseRate("1/s burst 2"), TableOptions{Now: clock.Now, MaxEntries: 2})
	check := func(key string, wantLimited bool, wantDelay time.Duration) {
		t.Helper()
		if limited, d := table.Limited(key); limited != wantLimited || d != wantDelay {
			t.Fatalf("Limited(%q) = %v, %v; want %v, %v", key, limited, d, wantLimited, wantDelay)
		}
	}
	check("a", false, 0)
	if n := table.Len(); n != 0 {
		t.Fatalf("Limited tracked a key: Len = %d", n)
	}
	table.Allow("a")
	check("a", false, 0)
	table.Allow("a")
	check("a", true, time.Second)
	// Limited takes nothing.
	check("a", true, time.Second)
	clock.Advance(time.Second)
	check("a", false, 0)
	if ok, _ := table.Allow("a"); !ok {
		t.Fatal("Allow after refill refused")
	}
	// Full of limited keys: an untracked key is limited until the first
	// bucket fills.
	table.Allow("a")
	table.Allow("b")
	table.Allow("b")
	// a and b each need two seconds to fill.
	check("c", true, 2*time.Second+time.Nanosecond)
	clock.Advance(2*time.Second + time.Nanosecond)
	check("c", false, 0)
	if got := keys(table); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("keys = %q", got)
	}

	zero := NewTable(Rate{}, TableOptions{})
	if limited, d := zero.Limited("a"); !limited || d != rate.InfDuration {
		t.Errorf("zero rate: Limited = %v, %v", limited, d)
	}
	unlimited := NewTable(manifest.Unlimited, TableOptions{})
	if limited, d := unlimited.Limited("a"); limited || d != 0 {
		t.Errorf("unlimited: Limited = %v, %v", limited, d)
	}
}

func TestTableIdleEviction(t *testing.T) {
	clock := newClock()
	table := NewTable(MustParseRate("1/s burst 1"), TableOptions{Now: clock.Now, IdleTTL: time.Minute})
	table.Allow("a") // full again 1s later
	clock.Advance(500 * time.Millisecond)
	table.Allow("b") // full 1.5s after the start
	clock.Advance(time.Minute + 500*time.Millisecond)
	if got := keys(table); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("before a's TTL: keys = %q", got)
	}
	clock.Advance(time.Millisecond)
	if n := table.Len(); n != 1 {
		t.Fatalf("after a's TTL: Len = %d, want 1", n)
	}
	if got := keys(table); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after a's TTL: keys = %q", got)
	}
	clock.Advance(time.Second)
	if n := table.Len(); n != 0 {
		t.Fatalf("after b's TTL: Len = %d, want 0", n)
	}

	// A slow bucket outlives IdleTTL until it is full: waiting IdleTTL
	// must not reset a limit early.
	table.AllowRate("slow", MustParseRate("1/h burst 1"))
	clock.Advance(10 * time.Minute)
	if n := table.Len(); n != 1 {
		t.Fatalf("slow bucket dropped before it refilled: Len = %d", n)
	}
	if ok, d := table.AllowRate("slow", MustParseRate("1/h burst 1")); ok || d != 50*time.Minute {
		t.Fatalf("slow bucket: AllowRate = %v, %v; want false, 50m", ok, d)
	}
	clock.Advance(50*time.Minute + time.Minute + time.Millisecond)
	if n := table.Len(); n != 0 {
		t.Fatalf("slow bucket kept after it was full for IdleTTL: Len = %d", n)
	}
}

func TestTableEvictsFirstFull(t *testing.T) {
	clock := newClock()
	table := NewTable(MustParseRate("1/s burst 1"), TableOptions{Now: clock.Now, MaxEntries: 3})
	for _, k := range []string{"a", "b", "c"} {
		if ok, _ := table.Allow(k); !ok {
			t.Fatalf("Allow(%q) refused", k)
		}
		clock.Advance(100 * time.Millisecond)
	}
	// a is full at 1s, b at 1.1s, c at 1.2s; now is 1.05s.
	clock.Advance(750 * time.Millisecond)
	if ok, _ := table.Allow("d"); !ok {
		t.Fatal("Allow(d) refused with a full bucket to drop")
	}
	if got := keys(table); !slices.Equal(got, []string{"b", "c", "d"}) {
		t.Fatalf("keys = %q, want a dropped", got)
	}
	// b and c are not full yet and d is empty: e must wait for b.
	if ok, d := table.Allow("e"); ok || d != 50*time.Millisecond+time.Nanosecond {
		t.Fatalf("Allow(e) = %v, %v; want false, 50.000001ms", ok, d)
	}
	// Tracked keys still work while the table is full.
	if ok, d := table.Allow("d"); ok || d != time.Second {
		t.Fatalf("Allow(d) = %v, %v; want false, 1s", ok, d)
	}
	clock.Advance(50*time.Millisecond + time.Nanosecond)
	if ok, _ := table.Allow("e"); !ok {
		t.Fatal("Allow(e) refused once b was full")
	}
	if got := keys(table); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Fatalf("keys = %q, want b dropped", got)
	}
}

func TestTableFailClosedWhenAllLimited(t *testing.T) {
	clock := newClock()
	table := NewTable(MustParseRate("1/min burst 1"), TableOptions{Now: clock.Now, MaxEntries: 3})
	for _, k := range []string{"a", "b", "c"} {
		table.Allow(k)
		clock.Advance(time.Second)
	}
	want := 57*time.Second + time.Nanosecond // until a is full
	for i := range 1000 {
		if ok, d := table.Allow("new" + strconv.Itoa(i)); ok || d != want {
			t.Fatalf("Allow(new%d) = %v, %v; want false, %v", i, ok, d, want)
		}
	}
	if got := keys(table); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("keys = %q", got)
	}
	clock.Advance(want)
	if ok, _ := table.Allow("new"); !ok {
		t.Fatal("Allow(new) refused once a was full")
	}
}

// TestTableFloodKeepsLimitedKey: a flood of fresh keys, more than the
// table holds, never drops a key that is being limited.
func TestTableFloodKeepsLimitedKey(t *testing.T) {
	clock := newClock()
	table := NewTable(MustParseRate("10/s burst 10"), TableOptions{Now: clock.Now, MaxEntries: 100})
	slow := MustParseRate("1/h burst 1")
	if ok, _ := table.AllowRate("victim", slow); !ok {
		t.Fatal("first AllowRate(victim) refused")
	}
	const flood = 100_000
	const step = 2 * time.Millisecond // each fresh bucket is full 100ms later
	for i := range flood {
		clock.Advance(step)
		if ok, d := table.Allow("k" + strconv.Itoa(i)); !ok {
			t.Fatalf("fresh key %d refused (retry %v) though old ones are full", i, d)
		}
		if i%1000 == 0 && table.Len() > 100 {
			t.Fatalf("Len = %d > MaxEntries", table.Len())
		}
	}
	want := time.Hour - flood*step
	if ok, d := table.AllowRate("victim", slow); ok || d != want {
		t.Fatalf("after the flood, AllowRate(victim) = %v, %v; want false, %v", ok, d, want)
	}
}

func TestTableLongKeys(t *testing.T) {
	clock := newClock()
	table := NewTable(MustParseRate("1/s burst 1"), TableOptions{Now: clock.Now})
	long1 := strings.Repeat("x", 4096)
	long2 := strings.Repeat("x", 4095) + "y"
	if ok, _ := table.Allow(long1); !ok {
		t.Fatal("first Allow(long1) refused")
	}
	if ok, _ := table.Allow(long1); ok {
		t.Fatal("second Allow(long1) allowed: the long key was not found again")
	}
	if ok, _ := table.Allow(long2); !ok {
		t.Fatal("Allow(long2) refused: two long keys share a bucket")
	}
	for _, k := range keys(table) {
		if len(k) != 65 || !strings.HasSuffix(k, "#") {
			t.Errorf("stored key %q, want 64 hex digits and #", k)
		}
	}
	short := strings.Repeat("s", 64)
	if got := storedKey(short); got != short {
		t.Errorf("storedKey of 64 bytes = %q, want it unchanged", got)
	}
}
