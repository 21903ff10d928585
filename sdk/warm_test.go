package sdk

import (
	"encoding/json"
	"errors"
	"testing"
)

type warmPanics struct{}

func (warmPanics) MarshalJSON() ([]byte, error) { panic("refused") }

type warmRefuses struct{}

func (warmRefuses) MarshalJSON() ([]byte, error) { return nil, errors.New("refused") }

type warmNested struct {
	A struct {
		B []struct{ C *int }
	}
	D map[string]warmRefuses
}

// TestWarmJSON: warming the JSON caches at Handle time accepts every In
// and Out a handler may have — types whose MarshalJSON panics or fails on
// a zero value, types encoding/json cannot encode — without panicking,
// and leaves the types usable as before.
func TestWarmJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		warm func()
	}{
		{"structs", warmJSON[warmNested, *warmNested]},
		{"strings", warmJSON[string, Text]},
		{"MarshalJSON panics", warmJSON[warmPanics, *warmPanics]},
		{"MarshalJSON fails", warmJSON[warmRefuses, warmRefuses]},
		{"unsupported types", warmJSON[chan int, func()]},
		{"interfaces", warmJSON[any, error]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.warm()
		})
	}
	var n warmNested
	if err := json.Unmarshal([]byte(`{"A":{"B":[{"C":1}]}}`), &n); err != nil || *n.A.B[0].C != 1 {
		t.Fatalf("after warming: %+v, %v", n, err)
	}
}
