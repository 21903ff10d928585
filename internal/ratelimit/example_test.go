package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/moatmcp/moat/internal/ratelimit"
)

func ExampleParseRate() {
	for _, s := range []string{"100/min", "10/second burst 20", "unlimited", "", "0"} {
		r, err := ratelimit.ParseRate(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%q: %q, %.3g/s, burst %d\n", s, r, r.PerSecond(), r.Burst())
	}
	// Output:
	// "100/min": "100/min", 1.67/s, burst 100
	// "10/second burst 20": "10/s burst 20", 10/s, burst 20
	// "unlimited": "unlimited", +Inf/s, burst 0
	// "": "", 0/s, burst 0
	// rate "0": zero is ambiguous: write "unlimited" or a rate such as "100/min": invalid rate
}

func ExampleLimiter_AllowCall() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := ratelimit.New(ratelimit.Config{
		PerPrincipalTool: ratelimit.MustParseRate("2/s"),
		Now:              func() time.Time { return now },
	})
	for range 3 {
		ok, retryAfter, which, _ := l.AllowCall(context.Background(), "alice", "read_file")
		if !ok {
			// The host returns this as a tool result with isError set.
			fmt.Printf("refused by %s: %s\n", which, ratelimit.Message(retryAfter))
			continue
		}
		fmt.Println("allowed")
	}
	// Output:
	// allowed
	// allowed
	// refused by principal_tool: rate limit exceeded; retry after 1s
}
