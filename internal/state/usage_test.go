package state_test

import (
	"errors"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/state"
	"github.com/moatmcp/moat/internal/state/statetest"
)

// TestRedisAddUsage runs the shared AddUsage table on Redis; a window's
// end is its key deleted (what its expiry does).
func TestRedisAddUsage(t *testing.T) {
	r := statetest.Start(t)
	s, _ := open(t, r, nil)
	statetest.RunUsageTable(t, s, func(key string) { r.Do("DEL", "moat:usage:"+key) })
}

// TestRedisAddUsageExpires: the first add sets the window as the key's
// expiry, so Redis forgets a principal's usage by itself.
func TestRedisAddUsageExpires(t *testing.T) {
	r := statetest.Start(t)
	s, _ := open(t, r, nil)
	if _, _, err := s.AddUsage(bg, "p", time.Minute, []int64{1}); err != nil {
		t.Fatal(err)
	}
	if got := r.Do("PTTL", "moat:usage:p"); got == ":-1" || got == ":-2" {
		t.Fatalf("PTTL = %s; want the window", got)
	}
}

// TestRedisAddUsageCorrupt: a usage key holding something else fails that
// request with ErrCorrupt, and the store stays up.
func TestRedisAddUsageCorrupt(t *testing.T) {
	r := statetest.Start(t)
	s, _ := open(t, r, nil)
	r.Do("SET", "moat:usage:p", "x")
	if _, _, err := s.AddUsage(bg, "p", time.Minute, []int64{1}); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("err = %v; want ErrCorrupt", err)
	}
	if err := s.Health(); err != nil {
		t.Fatalf("Health = %v after a corrupt key", err)
	}
}
