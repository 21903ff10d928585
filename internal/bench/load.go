package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// caller is one client: it makes one call at a time.
type caller interface {
	call(ctx context.Context) error
	close()
}

// runner holds one cell's connected clients.
type runner struct {
	load    Load
	callers []caller
}

func newRunner(ctx context.Context, load Load) (*runner, error) {
	r := &runner{load: load}
	for range load.Clients {
		var c caller
		var err error
		if load.Client == SDKClient {
			c, err = dialSDK(ctx, load)
		} else {
			c, err = dialRaw(ctx, load)
		}
		if err != nil {
			r.close()
			return nil, err
		}
		r.callers = append(r.callers, c)
	}
	return r, nil
}

func (r *runner) close() {
	for _, c := range r.callers {
		c.close()
	}
}

// warmup makes each client's unmeasured calls; any failure is an error
// (a misconfigured row should not be measured at all).
func (r *runner) warmup(ctx context.Context) error {
	for _, c := range r.callers {
		for range r.load.Warmup {
			if err := c.call(ctx); err != nil {
				return fmt.Errorf("bench: warm-up call to %s: %w", r.load.Tool, err)
			}
		}
	}
	return nil
}

// run has every client call in a loop for the load's duration.
func (r *runner) run(ctx context.Context) (Result, error) {
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(r.load.Duration)
	for _, c := range r.callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			bad := 0
			// Every client makes at least one measured call, however late
			// it was scheduled: a cell never comes back empty on a busy
			// machine.
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				if i > 0 && t0.After(deadline) {
					break
				}
				if err := c.call(ctx); err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := summarize(lats, errs, time.Since(start))
	if res.Calls == 0 {
		return res, ErrNoCalls
	}
	return res, nil
}

// sdkCaller calls through the go-sdk's client, in its own session.
type sdkCaller struct {
	cs   *mcp.ClientSession
	tool string
	args map[string]any
}

func dialSDK(ctx context.Context, load Load) (*sdkCaller, error) {
	c := mcp.NewClient(&mcp.Implementation{Name: "moat-bench", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: load.URL + "/mcp", DisableStandaloneSSE: true}, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: connect the go-sdk client: %w", err)
	}
	var args map[string]any
	_ = json.Unmarshal([]byte(Args), &args)
	return &sdkCaller{cs: cs, tool: load.Tool, args: args}, nil
}

func (s *sdkCaller) call(ctx context.Context) error {
	res, err := s.cs.CallTool(ctx, &mcp.CallToolParams{Name: s.tool, Arguments: s.args})
	if err != nil {
		return err
	}
	if res.IsError {
		return errToolError
	}
	return nil
}

func (s *sdkCaller) close() { _ = s.cs.Close() }
