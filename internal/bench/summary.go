package bench

import (
	"slices"
	"time"
)

// Baseline row names: Summarize computes each row's ratio to them.
const (
	RowBare   = "bare"
	RowNative = "native"
)

// Summary is one (row, clients) pair over several runs: medians of each
// measure, and of each run's ratio to the bare and native rows measured
// in that same run (so a ratio never compares two moments of a noisy
// machine).
type Summary struct {
	Row           string
	Clients       int
	Runs          int
	Rate          float64 // calls/s
	P50, P99      time.Duration
	CPUPerCall    time.Duration
	AllocsPerCall float64
	BytesPerCall  float64
	RSS           int64   // the largest after any run's cell
	VsBare        float64 // 0 when no bare row ran
	VsNative      float64 // 0 when no native row ran
	Errors        int     // summed over the runs
	InProcess     bool
}

// Summarize folds runs (each a list of cells, as one pass over the rows
// and client counts measured them) into one Summary per (row, clients),
// in the order of their first appearance.
func Summarize(runs [][]Cell) []Summary {
	type key struct {
		row     string
		clients int
	}
	type acc struct {
		rate, allocs, bytes, vsBare, vsNative []float64
		p50, p99, cpu                         []time.Duration
		errors                                int
		rss                                   int64
		inProcess                             bool
	}
	var order []key
	accs := map[key]*acc{}
	for _, run := range runs {
		base := map[key]Cell{}
		for _, c := range run {
			if c.Row == RowBare || c.Row == RowNative {
				base[key{c.Row, c.Clients}] = c
			}
		}
		for _, c := range run {
			k := key{c.Row, c.Clients}
			a := accs[k]
			if a == nil {
				a = &acc{}
				accs[k] = a
				order = append(order, k)
			}
			a.rate = append(a.rate, c.Rate())
			a.allocs = append(a.allocs, c.AllocsPerCall())
			a.bytes = append(a.bytes, c.BytesPerCall())
			a.p50 = append(a.p50, c.P50)
			a.p99 = append(a.p99, c.P99)
			a.cpu = append(a.cpu, c.CPUPerCall())
			a.errors += c.Errors
			a.rss = max(a.rss, c.RSS)
			a.inProcess = a.inProcess || c.InProcess
			if b, ok := base[key{RowBare, c.Clients}]; ok {
				a.vsBare = append(a.vsBare, c.Ratio(b))
			}
			if n, ok := base[key{RowNative, c.Clients}]; ok {
				a.vsNative = append(a.vsNative, c.Ratio(n))
			}
		}
	}
	out := make([]Summary, 0, len(order))
	for _, k := range order {
		a := accs[k]
		out = append(out, Summary{
			Row: k.row, Clients: k.clients, Runs: len(a.rate),
			Rate: median(a.rate), P50: median(a.p50), P99: median(a.p99), CPUPerCall: median(a.cpu),
			AllocsPerCall: median(a.allocs), BytesPerCall: median(a.bytes), VsBare: median(a.vsBare), VsNative: median(a.vsNative),
			Errors: a.errors, InProcess: a.inProcess, RSS: a.rss,
		})
	}
	return out
}

// median is the middle value (the lower of the two middle ones for an
// even count; 0 for none).
func median[T float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
