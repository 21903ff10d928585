package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"

	"github.com/moatmcp/moat/internal/rootfs"
)

// MaxRecordedRequests is how many outbound requests one Receipt lists;
// later ones are only counted (Receipt.Net's second result).
const MaxRecordedRequests = 32

// Receipt is what one call used, as the host observed it — never what the
// tool says it did. The host makes one per call and passes it with
// WithReceipt; Module.Call fills it in as the call runs and when it ends,
// whatever the outcome (a guest that trapped mid-write still leaves the
// bytes it wrote on its receipt).
//
//   - Files: the files opened through the mounts and the bytes read and
//     written (internal/rootfs records them at the file descriptor).
//   - Net: each outbound request (one per hop), added by the host's
//     network policy observer through AddNet.
//   - Wall, MemoryPeak, OutputBytes, Module: set when Call returns.
//
// # Notes
//
//   - Safe for concurrent use; read it once Call has returned.
type Receipt struct {
	Files rootfs.Recorder

	// Set by Module.Call when it returns (zero when no instance ran).
	Wall        time.Duration // in the sandbox: waiting for a slot and memory, instantiating, running
	MemoryPeak  uint64        // the guest's linear memory at its largest
	OutputBytes int           // stdout kept (the result before mapping)
	Module      string        // "sha256:<hex>" of the module's wasm
	Instance    string        // "fresh", "restored", "reset" or "reused"; "" when none ran

	mu         sync.Mutex
	net        []NetUse
	netDropped int
}

// NetUse is one outbound request (one hop) of a Receipt: where, how, and
// the sizes; never the path, query, bodies or header values.
type NetUse struct {
	Host     string   // "host:port"
	Method   string   //
	Status   int      // 0 when no response came
	Outcome  string   // "ok" or the refusal's kind
	BytesOut int64    // request body sent
	BytesIn  int64    // response body read
	Secrets  []string // names of the secret headers the host added (never values)
}

// AddNet records one outbound request.
func (r *Receipt) AddNet(u NetUse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.net) >= MaxRecordedRequests {
		r.netDropped++
		return
	}
	r.net = append(r.net, u)
}

// Net are the requests recorded, in order, and how many more were made.
func (r *Receipt) Net() ([]NetUse, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]NetUse(nil), r.net...), r.netDropped
}

// NetBytes is the request and response bodies of every recorded request.
func (r *Receipt) NetBytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, u := range r.net {
		n += u.BytesOut + u.BytesIn
	}
	return n
}

// WithReceipt returns a ctx under which Module.Call records what the call
// uses into r.
func WithReceipt(ctx context.Context, r *Receipt) context.Context {
	o := optionsOf(ctx)
	o.Receipt = r
	return WithCallOptions(ctx, o)
}

// receiptOf is ctx's Receipt, or nil.
func receiptOf(ctx context.Context) *Receipt {
	if o, ok := ctx.Value(callOptionsKey{}).(*CallOptions); ok {
		return o.Receipt
	}
	return nil
}

// filesOf is the file Recorder of ctx's Receipt, or nil.
func filesOf(ctx context.Context) *rootfs.Recorder {
	if r := receiptOf(ctx); r != nil {
		return &r.Files
	}
	return nil
}

// moduleDigest is the digest a Receipt names a module by.
func moduleDigest(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// fsConfigFor is the module's filesystem config with every mount recording
// into rec's Recorder.
func (m *Module) fsConfigFor(rec func() *rootfs.Recorder) wazero.FSConfig {
	cfg := wazero.NewFSConfig()
	for i, fs := range m.mounts {
		cfg = cfg.(sysfs.FSConfig).WithSysFSMount(fs.Recording(m.mountPaths[i], rec), m.mountPaths[i])
	}
	return cfg
}

// fill completes r from the call's result (nil when no instance ran).
func (m *Module) fill(r *Receipt, res *Result) {
	if r == nil {
		return
	}
	r.Module = m.digest
	if res != nil {
		r.Wall = res.Duration
		r.MemoryPeak = res.Memory
		r.OutputBytes = len(res.Stdout)
	}
}
