package state_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/ratelimit"
	"github.com/moatmcp/moat/internal/state"
	"github.com/moatmcp/moat/internal/state/statetest"
)

// BenchmarkSharedLimitCheck is the cost of one call's limit check
// (Limiter.AllowCall: per principal×tool and per tool, all or none), in
// process and in Redis on loopback, side by side in one run:
//
//	go test ./internal/state/ -run '^$' -bench SharedLimitCheck -benchtime 20000x
//
// Each reports µs/call and calls/s; "parallel" runs GOMAXPROCS callers at
// once, as a busy replica does. docs/scale.md has the figures.
func BenchmarkSharedLimitCheck(b *testing.B) {
	r := statetest.Start(b)
	rs, err := state.Open(&state.Options{URL: r.URL(), Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	cfg := ratelimit.Config{PerPrincipalTool: ratelimit.MustParseRate("1000000000/s"), PerTool: ratelimit.MustParseRate("1000000000/s")}
	for _, st := range []struct {
		name  string
		store state.Store
	}{{"in-process", nil}, {"redis", rs}} {
		c := cfg
		c.Store = st.store
		l := ratelimit.New(c)
		report := func(b *testing.B) {
			us := float64(b.Elapsed().Microseconds()) / float64(b.N)
			b.ReportMetric(us, "µs/call")
			b.ReportMetric(1e6/us, "calls/s")
		}
		b.Run(st.name+"/serial", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if ok, _, _, err := l.AllowCall(bg, "agent-"+strconv.Itoa(i%1000), "echo"); !ok || err != nil {
					b.Fatal(ok, err)
				}
				i++
			}
			report(b)
		})
		b.Run(st.name+"/parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if ok, _, _, err := l.AllowCall(bg, "agent-"+strconv.Itoa(i%1000), "echo"); !ok || err != nil {
						b.Error(ok, err)
						return
					}
					i++
				}
			})
			report(b)
		})
	}
}
