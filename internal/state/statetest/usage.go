package statetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/state"
)

// UsageCase is one step of the AddUsage table both stores run
// (RunUsageTable): an add (or, with EndWindow, the end of key's window
// first), and its exact outcome.
type UsageCase struct {
	Name      string
	Key       string
	Window    time.Duration
	Delta     []int64
	EndWindow bool // end Key's window before the add
	Want      []int64
	WantReset bool // resetIn > 0 (and ≤ Window)
	WantErr   error
}

// UsageTable is the shared AddUsage table: fixed windows, reads that
// create nothing, independent keys, and refused shapes.
var UsageTable = []UsageCase{
	{Name: "read of a key never used: zeros, no window", Key: "a", Window: time.Hour, Delta: []int64{0, 0, 0}, Want: []int64{0, 0, 0}},
	{Name: "first add starts the window", Key: "a", Window: time.Hour, Delta: []int64{5, 0, 7}, Want: []int64{5, 0, 7}, WantReset: true},
	{Name: "second add sums each counter", Key: "a", Window: time.Hour, Delta: []int64{1, 1, 1}, Want: []int64{6, 1, 8}, WantReset: true},
	{Name: "read after adds", Key: "a", Window: time.Hour, Delta: []int64{0, 0, 0}, Want: []int64{6, 1, 8}, WantReset: true},
	{Name: "another key is independent", Key: "b", Window: time.Hour, Delta: []int64{1, 2, 3}, Want: []int64{1, 2, 3}, WantReset: true},
	{Name: "after the window ends a read is zeros", Key: "a", Window: time.Hour, Delta: []int64{0, 0, 0}, EndWindow: true, Want: []int64{0, 0, 0}},
	{Name: "an add after the end starts a new window", Key: "a", Window: time.Hour, Delta: []int64{2, 0, 0}, Want: []int64{2, 0, 0}, WantReset: true},
	{Name: "no counters is refused", Key: "a", Window: time.Hour, Delta: nil, WantErr: state.ErrUsageCounters},
	{Name: "nine counters are refused", Key: "a", Window: time.Hour, Delta: make([]int64, 9), WantErr: state.ErrUsageCounters},
	{Name: "a zero window is refused", Key: "a", Window: 0, Delta: []int64{1}, WantErr: state.ErrUsageCounters},
}

// RunUsageTable runs UsageTable in order against s; endWindow ends key's
// window (a fake clock moved past it, or the Redis key deleted).
func RunUsageTable(t *testing.T, s state.Store, endWindow func(key string)) {
	t.Helper()
	for _, tc := range UsageTable {
		if tc.EndWindow {
			endWindow(tc.Key)
		}
		got, reset, err := s.AddUsage(context.Background(), tc.Key, tc.Window, tc.Delta)
		if tc.WantErr != nil {
			if !errors.Is(err, tc.WantErr) {
				t.Fatalf("%s: err = %v; want %v", tc.Name, err, tc.WantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.Name, err)
		}
		if !slices.Equal(got, tc.Want) {
			t.Fatalf("%s: totals = %v; want %v", tc.Name, got, tc.Want)
		}
		if tc.WantReset != (reset > 0) || reset > tc.Window {
			t.Fatalf("%s: resetIn = %v; want >0: %v, at most %v", tc.Name, reset, tc.WantReset, tc.Window)
		}
	}
}
