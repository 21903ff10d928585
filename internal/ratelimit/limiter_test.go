package ratelimit

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/manifest"
	"golang.org/x/time/rate"
)

func TestDefaultConfig(t *testing.T) {
	got := New(Config{}).Config()
	want := map[string]string{
		"PerPrincipal":      "600/min burst 60",
		"PerPrincipalTool":  "120/min burst 20",
		"PerTool":           "6000/min burst 200",
		"FailedAuthPerAddr": "20/min burst 10",
	}
	for name, r := range map[string]Rate{
		"PerPrincipal":      got.PerPrincipal,
		"PerPrincipalTool":  got.PerPrincipalTool,
		"PerTool":           got.PerTool,
		"FailedAuthPerAddr": got.FailedAuthPerAddr,
	} {
		if r.String() != want[name] {
			t.Errorf("%s = %q, want %q", name, r, want[name])
		}
	}
	if got.MaxEntries != 10_000 || got.IdleTTL != 10*time.Minute || got.Now == nil {
		t.Errorf("MaxEntries %d, IdleTTL %v", got.MaxEntries, got.IdleTTL)
	}
	// Set fields are kept; manifest.Unlimited is not replaced by a default.
	kept := New(Config{PerTool: manifest.Unlimited, MaxEntries: 5, IdleTTL: time.Second}).Config()
	if kept.PerTool != manifest.Unlimited || kept.MaxEntries != 5 || kept.IdleTTL != time.Second {
		t.Errorf("set fields changed: %+v", kept)
	}
}

func TestAllowCall(t *testing.T) {
	const ms = time.Millisecond
	type call struct {
		advance         time.Duration
		principal, tool string
		wantOK          bool
		wantDelay       time.Duration
		wantWhich       string
	}
	tests := []struct {
		name  string
		cfg   Config
		calls []call
	}{
		{"principal×tool first", Config{PerPrincipalTool: MustParseRate("2/s burst 2"), PerTool: MustParseRate("100/s")}, []call{
			{0, "alice", "echo", true, 0, ""},
			{0, "alice", "echo", true, 0, ""},
			{0, "alice", "echo", false, 500 * ms, WhichPrincipalTool},
			{0, "alice", "grep", true, 0, ""},
			{0, "bob", "echo", true, 0, ""},
			{500 * ms, "alice", "echo", true, 0, ""},
		}},
		{"tool for everyone", Config{PerPrincipalTool: MustParseRate("2/s burst 2"), PerTool: MustParseRate("4/s burst 3")}, []call{
			{0, "alice", "echo", true, 0, ""},
			{0, "alice", "echo", true, 0, ""},
			{0, "bob", "echo", true, 0, ""},
			{0, "bob", "echo", false, 250 * ms, WhichTool},
			{0, "carol", "echo", false, 250 * ms, WhichTool},
			{0, "carol", "grep", true, 0, ""},
			// bob's refused call was given back to his principal×tool
			// bucket: after 250ms the tool has one event and bob two.
			{250 * ms, "bob", "echo", true, 0, ""},
			{250 * ms, "bob", "echo", true, 0, ""},
			{0, "bob", "echo", false, 500 * ms, WhichPrincipalTool},
		}},
		{"per tool overrides", Config{
			PerPrincipalTool: MustParseRate("1/s burst 1"),
			PerTool:          MustParseRate("1/s burst 1"),
			Tools: map[string]ToolRates{
				"fast": {PerPrincipalTool: MustParseRate("10/s burst 2"), PerTool: manifest.Unlimited},
				"half": {PerTool: MustParseRate("2/s burst 2")},
			},
		}, []call{
			{0, "alice", "fast", true, 0, ""},
			{0, "alice", "fast", true, 0, ""},
			{0, "alice", "fast", false, 100 * ms, WhichPrincipalTool},
			{0, "bob", "fast", true, 0, ""},
			{0, "alice", "half", true, 0, ""},
			{0, "alice", "half", false, time.Second, WhichPrincipalTool},
			{0, "bob", "half", true, 0, ""},
			{0, "carol", "half", false, 500 * ms, WhichTool},
			{0, "alice", "slow", true, 0, ""},
			{0, "bob", "slow", false, time.Second, WhichTool},
		}},
		{"names cannot collide", Config{PerPrincipalTool: MustParseRate("1/s burst 1"), PerTool: manifest.Unlimited}, []call{
			{0, "ab", "c", true, 0, ""},
			{0, "a", "bc", true, 0, ""},
			{0, "a\x00", "b", true, 0, ""},
			{0, "a", "\x00b", true, 0, ""},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			tc.cfg.Now = clock.Now
			l := New(tc.cfg)
			for i, c := range tc.calls {
				clock.Advance(c.advance)
				ok, d, which, _ := l.AllowCall(bg, c.principal, c.tool)
				if ok != c.wantOK || d != c.wantDelay || which != c.wantWhich {
					t.Fatalf("call %d: AllowCall(%q, %q) = %v, %v, %q; want %v, %v, %q",
						i, c.principal, c.tool, ok, d, which, c.wantOK, c.wantDelay, c.wantWhich)
				}
			}
		})
	}
}

// TestWith: a reload's Limiter (With) applies its new per-tool rates to
// the next call and keeps the buckets already filled; a change of the
// tables' shape starts new tables.
func TestWith(t *testing.T) {
	clock := newClock()
	l := New(Config{Now: clock.Now, PerPrincipalTool: MustParseRate("1/s burst 1"), PerTool: manifest.Unlimited})
	if ok, _, _, _ := l.AllowCall(bg, "alice", "echo"); !ok {
		t.Fatal("first call refused")
	}
	if ok, _, _, _ := l.AllowCall(bg, "alice", "echo"); ok {
		t.Fatal("second call allowed under 1/s burst 1")
	}
	tools := map[string]ToolRates{"echo": {PerPrincipalTool: manifest.Unlimited}}
	l2 := l.With(Config{Now: clock.Now, PerPrincipalTool: MustParseRate("1/s burst 1"), PerTool: manifest.Unlimited, Tools: tools})
	tools["echo"] = ToolRates{} // the limiter keeps its own copy
	for i := range 5 {
		if ok, _, which, _ := l2.AllowCall(bg, "alice", "echo"); !ok {
			t.Fatalf("call %d refused by %s after the override", i, which)
		}
	}
	// The override removed: the default applies again.
	l3 := l2.With(Config{Now: clock.Now, PerPrincipalTool: MustParseRate("1/s burst 1"), PerTool: manifest.Unlimited})
	clock.Advance(time.Second)
	l3.AllowCall(bg, "alice", "echo")
	if ok, _, which, _ := l3.AllowCall(bg, "alice", "echo"); ok || which != WhichPrincipalTool {
		t.Fatalf("after the override was removed: %v, %q; want the default's refusal", ok, which)
	}
	// A bucket is kept across With: bob's spent burst stays spent.
	l3.AllowCall(bg, "bob", "echo")
	l5 := l3.With(Config{Now: clock.Now, PerPrincipalTool: MustParseRate("1/s burst 1"), PerTool: manifest.Unlimited})
	if ok, _, _, _ := l5.AllowCall(bg, "bob", "echo"); ok {
		t.Fatal("a reload refilled bob's bucket")
	}
	// A new table shape: fresh tables.
	l4 := l3.With(Config{Now: clock.Now, PerPrincipalTool: MustParseRate("1/s burst 1"), PerTool: manifest.Unlimited, MaxEntries: 500})
	if ok, _, _, _ := l4.AllowCall(bg, "alice", "echo"); !ok {
		t.Fatal("new tables still refused alice")
	}
}

func TestAddrKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"192.0.2.1", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:22", "fe80::/64"},
		{"[::1]:8080", "::/64"},
		{"127.0.0.1:8080", "127.0.0.1"},
		{"", "other"},
		{"@", "other"},
		{"pipe", "other"},
		{"example.com:80", "other"},
		{"192.0.2.1:99999", "other"},
	}
	for _, tc := range tests {
		if got := AddrKey(tc.in); got != tc.want {
			t.Errorf("AddrKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFailedAuth(t *testing.T) {
	clock := newClock()
	l := New(Config{FailedAuthPerAddr: MustParseRate("60/min burst 2"), Now: clock.Now})
	blocked := func(addr string, want bool, wantDelay time.Duration) {
		t.Helper()
		if got, d, _ := l.Blocked(bg, addr); got != want || d != wantDelay {
			t.Fatalf("Blocked(%q) = %v, %v; want %v, %v", addr, got, d, want, wantDelay)
		}
	}
	blocked("192.0.2.1:1000", false, 0)
	if n := l.tbl(tableFailedAuth).Len(); n != 0 {
		t.Fatalf("Blocked tracked an address: Len = %d", n)
	}
	l.AuthFailed(bg, "192.0.2.1:1000")
	blocked("192.0.2.1:1000", false, 0)
	l.AuthFailed(bg, "192.0.2.1:1001")
	// Every port and the IPv4-mapped form are the same client.
	blocked("192.0.2.1:1000", true, time.Second)
	blocked("192.0.2.1:2000", true, time.Second)
	blocked("[::ffff:192.0.2.1]:3000", true, time.Second)
	blocked("192.0.2.2:1000", false, 0)
	// More failures while blocked keep it blocked no longer than the
	// rate says (a refused event takes nothing).
	l.AuthFailed(bg, "192.0.2.1:1000")
	blocked("192.0.2.1:1000", true, time.Second)
	clock.Advance(time.Second)
	blocked("192.0.2.1:1000", false, 0)

	// IPv6: one /64 is one client.
	l.AuthFailed(bg, "[2001:db8::1]:1")
	l.AuthFailed(bg, "[2001:db8::2]:1")
	blocked("[2001:db8::ffff]:1", true, time.Second)
	blocked("[2001:db8:0:1::1]:1", false, 0)
}

// TestAllowPrincipal: tool calls per principal, at the principal's own
// rate or the default, keyed by id or (without one) by address; and the
// raw request ceiling, a separate table.
func TestAllowPrincipal(t *testing.T) {
	clock := newClock()
	l := New(Config{PerPrincipal: MustParseRate("1/s burst 1"), PerPrincipalRequests: MustParseRate("1/s burst 3"), Now: clock.Now})
	vip := MustParseRate("10/s burst 2")
	tests := []struct {
		name      string
		advance   time.Duration
		principal string
		remote    string
		own       Rate
		wantOK    bool
		wantRetry time.Duration
	}{
		{"first", 0, "alice", "192.0.2.1:1", Rate{}, true, 0},
		{"second is limited", 0, "alice", "192.0.2.1:1", Rate{}, false, time.Second},
		{"other address same principal", 0, "alice", "192.0.2.9:1", Rate{}, false, time.Second},
		{"other principal", 0, "bob", "192.0.2.1:1", Rate{}, true, 0},
		{"delay shrinks", 300 * time.Millisecond, "alice", "192.0.2.1:1", Rate{}, false, 700 * time.Millisecond},
		{"refilled", 700 * time.Millisecond, "alice", "192.0.2.1:1", Rate{}, true, 0},
		{"own rate", 0, "vip", "192.0.2.1:1", vip, true, 0},
		{"own rate burst", 0, "vip", "192.0.2.1:1", vip, true, 0},
		{"own rate limited", 0, "vip", "192.0.2.1:1", vip, false, 100 * time.Millisecond},
		{"no principal", 0, "", "192.0.2.1:1", Rate{}, true, 0},
		{"no principal, same address", 0, "", "192.0.2.1:2", Rate{}, false, time.Second},
		{"no principal, other address", 0, "", "192.0.2.2:2", Rate{}, true, 0},
		{"principal named like an address key", 0, "a:192.0.2.2", "192.0.2.3:1", Rate{}, true, 0},
	}
	for _, tc := range tests {
		clock.Advance(tc.advance)
		ok, wait, _ := l.AllowPrincipal(bg, PrincipalKey(tc.principal, tc.remote), tc.own)
		if ok != tc.wantOK || wait != tc.wantRetry {
			t.Fatalf("%s: got %v, %v; want %v, %v", tc.name, ok, wait, tc.wantOK, tc.wantRetry)
		}
	}
	// The ceiling is its own table: carol's calls took nothing from it.
	for i, want := range []bool{true, true, true, false} {
		if ok, _, _ := l.AllowRequest(bg, PrincipalKey("carol", "")); ok != want {
			t.Fatalf("request %d: %v, want %v", i, ok, want)
		}
	}
	if ok, _, _ := l.AllowPrincipal(bg, PrincipalKey("carol", ""), Rate{}); !ok {
		t.Fatal("carol's first call refused after her requests")
	}
}

func TestWriteRefusal(t *testing.T) {
	for _, tc := range []struct {
		name, id, wantID string
	}{
		{"number", "7", "7"},
		{"string", `"a-1"`, `"a-1"`},
		{"none", "", "null"},
		{"null", "null", "null"},
		{"object", `{"x":1}`, "null"},
		{"not JSON", `7x`, "null"},
		{"too long", `"` + strings.Repeat("a", 300) + `"`, "null"},
	} {
		rec := httptest.NewRecorder()
		WriteRefusal(rec, json.RawMessage(tc.id), 2500*time.Millisecond, Message(2500*time.Millisecond))
		body := `{"jsonrpc":"2.0","id":` + tc.wantID + `,"error":{"code":-32000,"message":"rate limit exceeded; retry after 3s"}}`
		if rec.Code != 429 || rec.Header().Get("Retry-After") != "3" || rec.Body.String() != body || !json.Valid(rec.Body.Bytes()) {
			t.Errorf("%s: got %d, Retry-After %q, body %q", tc.name, rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 1},
		{0, 1},
		{time.Nanosecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{1500 * time.Millisecond, 2},
		{time.Minute, 60},
		{24 * time.Hour, 86400},
		{25 * time.Hour, 86400},
		{rate.InfDuration, 86400},
	}
	for _, tc := range tests {
		if got := RetryAfterSeconds(tc.d); got != tc.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	if got, want := Message(1200*time.Millisecond), "rate limit exceeded; retry after 2s"; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestBoundedUnderFlood: 100,000 distinct principals and 100,000 distinct
// addresses keep every table within MaxEntries and the heap within a
// generous bound, whether the clock stands still (every table ends up
// full of limited keys and fails closed) or moves on (old keys refill and
// are replaced).
func TestBoundedUnderFlood(t *testing.T) {
	const n = 100_000
	const maxHeapGrowth = 64 << 20
	for _, step := range []time.Duration{0, time.Millisecond} {
		t.Run("step "+step.String(), func(t *testing.T) {
			clock := newClock()
			l := New(Config{Now: clock.Now})
			before := heapAlloc()
			var allowed, refused int
			for i := range n {
				clock.Advance(step)
				p := "principal-" + strconv.Itoa(i)
				l.AllowPrincipal(bg, PrincipalKey(p, ""), Rate{})
				l.AllowRequest(bg, PrincipalKey(p, ""))
				if ok, _, _, _ := l.AllowCall(bg, p, "tool-"+strconv.Itoa(i%500)); ok {
					allowed++
				} else {
					refused++
				}
				v4 := "10." + strconv.Itoa(i>>16) + "." + strconv.Itoa(i>>8&0xff) + "." + strconv.Itoa(i&0xff) + ":4242"
				v6 := "[2001:db8:" + strconv.FormatInt(int64(i), 16) + "::1]:4242"
				l.Blocked(bg, v4)
				l.AuthFailed(bg, v4)
				l.Blocked(bg, v6)
				l.AuthFailed(bg, v6)
			}
			growth := int64(heapAlloc()) - int64(before)
			t.Logf("heap growth %d KiB; calls allowed %d, refused %d; tables: principal %d, principal×tool %d, tool %d, failed auth %d",
				growth>>10, allowed, refused, l.tbl(tablePrincipal).Len(), l.tbl(tablePrincipalTool).Len(), l.tbl(tableTool).Len(), l.tbl(tableFailedAuth).Len())
			for name, table := range map[string]*Table{"principal": l.tbl(tablePrincipal), "requests": l.tbl(tableRequests), "principal×tool": l.tbl(tablePrincipalTool), "tool": l.tbl(tableTool), "failed auth": l.tbl(tableFailedAuth)} {
				if table.Len() > DefaultMaxEntries {
					t.Errorf("%s table: Len %d > %d", name, table.Len(), DefaultMaxEntries)
				}
			}
			if growth > maxHeapGrowth {
				t.Errorf("heap grew by %d bytes, more than %d", growth, maxHeapGrowth)
			}
			if step == 0 && allowed != DefaultMaxEntries {
				t.Errorf("frozen clock: %d calls allowed, want exactly MaxEntries (%d) then fail closed", allowed, DefaultMaxEntries)
			}
			if step > 0 && refused != 0 {
				t.Errorf("moving clock: %d calls refused, want none", refused)
			}
			runtime.KeepAlive(l)
		})
	}
}

// bg is the context of the tests' limiter calls.
var bg = context.Background()

// tbl is the named table of l's LocalStore, made if need be.
func (l *Limiter) tbl(name string) *Table {
	s := l.store.(*LocalStore)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.table(name)
}
