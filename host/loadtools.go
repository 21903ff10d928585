package host

import (
	"context"
	goruntime "runtime"
	"runtime/debug"
	"sync"

	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/sandbox"
)

// LoadTools loads ms (LoadTool) with up to GOMAXPROCS compilations at a
// time: compiling a Go module takes most of a second, and start-up with
// many tools is bound by it. It returns the tools that loaded, in the
// order of ms, and the error of the first manifest (in that order) that
// failed; the caller closes what loaded when it gives up. Loading stops
// starting new tools after a failure.
func LoadTools(ctx context.Context, rt *sandbox.Runtime, ms []*manifest.Tool) ([]*Tool, error) {
	tools := make([]*Tool, len(ms))
	errs := make([]error, len(ms))
	workers := min(goruntime.GOMAXPROCS(0), len(ms))
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		next   int
		failed bool
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := failed || i >= len(ms)
				mu.Unlock()
				if stop {
					return
				}
				tools[i], errs[i] = LoadTool(ctx, rt, ms[i])
				if errs[i] != nil {
					mu.Lock()
					failed = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(ms) > 0 {
		// Compiling leaves tens of MiB of wazero's working memory as
		// garbage (a cold start of one Go tool: ≈ 45 MiB of idle heap
		// still resident): hand it back to the OS now, once per load,
		// rather than at the background scavenger's pace.
		debug.FreeOSMemory()
	}
	var loaded []*Tool
	var first error
	for i, t := range tools {
		if t != nil {
			loaded = append(loaded, t)
		}
		if errs[i] != nil && first == nil {
			first = errs[i]
		}
	}
	return loaded, first
}
