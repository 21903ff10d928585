package ratelimit

import (
	"strconv"
	"testing"

	"github.com/moatmcp/moat/internal/manifest"
)

// BenchmarkAllow is the cost of one Table.Allow on the real clock: one key
// (always tracked), and a new key every time (each needs a slot, so a
// refilled key is dropped from a full table).
func BenchmarkAllow(b *testing.B) {
	b.Run("single key", func(b *testing.B) {
		table := NewTable(MustParseRate("1000000000/s"), TableOptions{})
		for b.Loop() {
			table.Allow("alice")
		}
	})
	b.Run("many keys", func(b *testing.B) {
		names := make([]string, 1<<20)
		for i := range names {
			names[i] = "principal-" + strconv.Itoa(i)
		}
		// Each bucket is full again a microsecond after its use, so the
		// table is always full and every new key replaces an old one.
		table := NewTable(MustParseRate("1000000/s burst 1"), TableOptions{})
		i := 0
		for b.Loop() {
			table.Allow(names[i&(len(names)-1)])
			i++
		}
		b.ReportMetric(float64(table.Len()), "keys")
	})
	b.Run("limited", func(b *testing.B) {
		table := NewTable(MustParseRate("1/h burst 1"), TableOptions{})
		table.Allow("alice")
		for b.Loop() {
			table.Allow("alice")
		}
	})
	b.Run("parallel single key", func(b *testing.B) {
		table := NewTable(MustParseRate("1000000000/s"), TableOptions{})
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				table.Allow("alice")
			}
		})
	})
}

func BenchmarkAllowCall(b *testing.B) {
	l := New(Config{PerPrincipalTool: manifest.Unlimited, PerTool: manifest.Unlimited})
	b.Run("unlimited", func(b *testing.B) {
		for b.Loop() {
			l.AllowCall(bg, "alice", "echo")
		}
	})
	l = New(Config{PerPrincipalTool: MustParseRate("1000000000/s"), PerTool: MustParseRate("1000000000/s")})
	b.Run("limited", func(b *testing.B) {
		for b.Loop() {
			l.AllowCall(bg, "alice", "echo")
		}
	})
}
