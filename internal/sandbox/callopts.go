package sandbox

import (
	"context"
	"time"
)

// CallOptions is what the host tells Module.Call about one call besides
// its arguments, carried in the call's context. WithPrincipal, WithReceipt
// and WithSlotWait each set one field; WithCallOptions sets all three with
// one context value, which is what the host does for every call (three
// context values and their boxed values were five allocations a call).
//
// # Notes
//
//   - Immutable once in a context: each With… copies it.
type CallOptions struct {
	// Principal is the id of the caller the call runs for (WithPrincipal);
	// "" is nobody, whose per-principal calls get fresh instances.
	Principal string
	// Receipt, when not nil, records what the call uses (WithReceipt).
	Receipt *Receipt
	// SlotWait is how long to wait for a free slot (WithSlotWait); zero or
	// less: the module's timeout.
	SlotWait time.Duration
}

type callOptionsKey struct{}

// WithCallOptions returns ctx carrying o (copied), replacing whatever
// options ctx carried.
func WithCallOptions(ctx context.Context, o CallOptions) context.Context {
	return context.WithValue(ctx, callOptionsKey{}, &o)
}

// optionsOf is ctx's options; the zero CallOptions when it has none.
func optionsOf(ctx context.Context) CallOptions {
	if o, ok := ctx.Value(callOptionsKey{}).(*CallOptions); ok {
		return *o
	}
	return CallOptions{}
}
