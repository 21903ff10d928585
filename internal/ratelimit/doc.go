// Package ratelimit keeps agents from exhausting the host: token-bucket
// rate limits per principal, per principal×tool, per tool and per client
// address (for failed authentications), and per-tool concurrency gates.
//
// It sits right after authentication in the call path:
//
//	transport → authenticate → rate limit → MCP server → authorise →
//	validate (internal/schema) → sandbox (internal/sandbox, internal/rootfs) → result → audit
//
// Failed authentications are counted per address before that
// (Limiter.Blocked, Limiter.AuthFailed), per principal at the HTTP layer
// (Limiter.PrincipalMiddleware, 429 with Retry-After), and per call once the
// tool is known (Limiter.AllowCall; concurrency is the sandbox's max_concurrency slots).
//
// The buckets live in a state.Store (internal/state): by default a LocalStore
// in this process, or Redis shared by every replica behind a load balancer
// ([state] url, docs/scale.md). A Limiter holds only rates; a store error
// is returned to the caller, which refuses the request (fail closed).
//
// Every table of the LocalStore is bounded (Table): a flood of distinct
// principals or addresses cannot grow memory without bound, cannot evict a
// key that is being limited, and when a table is full of limited keys, new
// keys are refused (fail closed). The buckets are golang.org/x/time/rate
// limiters. docs/ratelimit.md has the defaults and the reasons for them.
package ratelimit
