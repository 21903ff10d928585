package ratelimit

import (
	"errors"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/state"
	"github.com/moatmcp/moat/internal/state/statetest"
)

// TestLocalAddUsage runs the shared AddUsage table on the in-process
// store, with a fake clock moved past a window to end it.
func TestLocalAddUsage(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := NewLocalStore(TableOptions{Now: func() time.Time { return now }})
	statetest.RunUsageTable(t, s, func(string) { now = now.Add(time.Hour) })
}

// TestLocalAddUsageBounded: the windows are bounded; ended ones make room,
// and when none has ended a new key fails closed.
func TestLocalAddUsageBounded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := NewLocalStore(TableOptions{MaxEntries: 2, Now: func() time.Time { return now }})
	for _, k := range []string{"a", "b"} {
		if _, _, err := s.AddUsage(bg, k, time.Minute, []int64{1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.AddUsage(bg, "c", time.Minute, []int64{1}); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("third key while two windows live: err = %v; want ErrUnavailable", err)
	}
	if got, _, err := s.AddUsage(bg, "c", time.Minute, []int64{0}); err != nil || got[0] != 0 {
		t.Fatalf("a read needs no room: %v, %v", got, err)
	}
	now = now.Add(time.Minute)
	if _, _, err := s.AddUsage(bg, "c", time.Minute, []int64{1}); err != nil {
		t.Fatalf("after the windows ended: %v", err)
	}
}
