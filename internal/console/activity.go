package console

import (
	"sort"
	"sync"
	"time"
)

// Bounds of the activity rings: memory stays fixed however busy or
// hostile the traffic.
const (
	// Minutes of call counts kept (one slot per minute).
	Minutes = 60
	// MaxSeries caps the tool×outcome series of one minute; calls beyond
	// it count under OtherTool.
	MaxSeries = 2048
	// MaxRefusals is how many recent refusals are kept.
	MaxRefusals = 200
	// OtherTool labels the calls beyond MaxSeries, and calls of a name
	// the server does not serve.
	OtherTool = "(other)"
)

// latencyBounds are the upper bounds, in milliseconds, of the latency
// buckets percentiles are read from.
var latencyBounds = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000}

// Activity counts calls per tool and outcome per minute over the last
// hour, and keeps the most recent refusals: what the activity page shows.
//
// # Notes
//
//   - Safe for concurrent use; every method is O(1) amortised but Snapshot.
//   - A nil *Activity records nothing.
type Activity struct {
	now func() time.Time

	mu       sync.Mutex
	slots    [Minutes]minute
	refusals [MaxRefusals]Refusal
	next     int // index of the next refusal
	nref     int
}

type minute struct {
	at     int64 // unix minute; a slot of an older minute is stale
	series map[seriesKey]*series
}

type seriesKey struct{ tool, outcome string }

type series struct {
	count   int
	buckets [16]int // len(latencyBounds)+1: the last is "slower"
}

// Refusal is one refused request: a failed authentication, a limit, a
// transport refusal, a missing scope.
type Refusal struct {
	At        time.Time `json:"at"`
	Principal string    `json:"principal,omitempty"`
	Tool      string    `json:"tool,omitempty"`
	Reason    string    `json:"reason"`
	Status    int       `json:"status,omitempty"`
	Client    string    `json:"client,omitempty"`
}

// NewActivity returns an empty Activity; now is its clock (nil =
// time.Now).
func NewActivity(now func() time.Time) *Activity {
	if now == nil {
		now = time.Now
	}
	return &Activity{now: now}
}

// Call counts one finished call.
func (a *Activity) Call(tool, outcome string, d time.Duration) {
	if a == nil {
		return
	}
	if tool == "" {
		tool = OtherTool
	}
	m := a.now().Unix() / 60
	a.mu.Lock()
	defer a.mu.Unlock()
	s := &a.slots[m%Minutes]
	if s.at != m || s.series == nil {
		s.at, s.series = m, map[seriesKey]*series{}
	}
	k := seriesKey{tool, outcome}
	e := s.series[k]
	if e == nil {
		if len(s.series) >= MaxSeries {
			k.tool = OtherTool
			e = s.series[k]
		}
		if e == nil {
			e = &series{}
			s.series[k] = e
		}
	}
	e.count++
	ms := float64(d) / float64(time.Millisecond)
	i := sort.SearchFloat64s(latencyBounds, ms)
	e.buckets[i]++
}

// Refused records one refusal; fields are truncated to a bounded size.
func (a *Activity) Refused(r Refusal) {
	if a == nil {
		return
	}
	if r.At.IsZero() {
		r.At = a.now()
	}
	r.Principal, r.Tool, r.Reason, r.Client = clip(r.Principal), clip(r.Tool), clip(r.Reason), clip(r.Client)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refusals[a.next] = r
	a.next = (a.next + 1) % MaxRefusals
	if a.nref < MaxRefusals {
		a.nref++
	}
}

// clip bounds a field kept in memory and shown.
func clip(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// ActivityView is what the activity page shows.
type ActivityView struct {
	// PerMinute are the last Minutes minutes, oldest first.
	PerMinute []MinuteCount `json:"per_minute"`
	// Tools are per tool and outcome totals over the hour, with latency
	// percentiles, sorted by tool then outcome.
	Tools []ToolActivity `json:"tools"`
	// Refusals are the most recent refusals, newest first.
	Refusals []Refusal `json:"refusals"`
}

// MinuteCount is one minute's calls by outcome class.
type MinuteCount struct {
	At     time.Time `json:"at"`
	OK     int       `json:"ok"`
	Failed int       `json:"failed"` // the tool's error, a timeout, a host fault
	Denied int       `json:"denied"` // not granted, rate limited
}

// ToolActivity is one tool and outcome over the hour.
type ToolActivity struct {
	Tool    string  `json:"tool"`
	Outcome string  `json:"outcome"`
	Calls   int     `json:"calls"`
	P50     float64 `json:"p50_ms"` // upper bound of the bucket holding the percentile; -1 = slower than the largest
	P95     float64 `json:"p95_ms"`
	P99     float64 `json:"p99_ms"`
}

// Snapshot reads the last hour.
func (a *Activity) Snapshot() ActivityView {
	v := ActivityView{PerMinute: []MinuteCount{}, Tools: []ToolActivity{}, Refusals: []Refusal{}}
	if a == nil {
		return v
	}
	now := a.now().Unix() / 60
	totals := map[seriesKey]*series{}
	a.mu.Lock()
	for m := now - Minutes + 1; m <= now; m++ {
		mc := MinuteCount{At: time.Unix(m*60, 0).UTC()}
		s := &a.slots[((m%Minutes)+Minutes)%Minutes]
		if s.at == m {
			for k, e := range s.series {
				switch k.outcome {
				case "ok":
					mc.OK += e.count
				case "denied", "limited":
					mc.Denied += e.count
				default:
					mc.Failed += e.count
				}
				t := totals[k]
				if t == nil {
					t = &series{}
					totals[k] = t
				}
				t.count += e.count
				for i := range e.buckets {
					t.buckets[i] += e.buckets[i]
				}
			}
		}
		v.PerMinute = append(v.PerMinute, mc)
	}
	for i := 0; i < a.nref; i++ {
		v.Refusals = append(v.Refusals, a.refusals[((a.next-1-i)%MaxRefusals+MaxRefusals)%MaxRefusals])
	}
	a.mu.Unlock()
	for k, t := range totals {
		v.Tools = append(v.Tools, ToolActivity{Tool: k.tool, Outcome: k.outcome, Calls: t.count,
			P50: percentile(t, 0.50), P95: percentile(t, 0.95), P99: percentile(t, 0.99)})
	}
	sort.Slice(v.Tools, func(i, j int) bool {
		if v.Tools[i].Tool != v.Tools[j].Tool {
			return v.Tools[i].Tool < v.Tools[j].Tool
		}
		return v.Tools[i].Outcome < v.Tools[j].Outcome
	})
	return v
}

// percentile is the upper bound of the bucket holding quantile q.
func percentile(s *series, q float64) float64 {
	want := int(float64(s.count)*q + 0.999999)
	if want < 1 {
		want = 1
	}
	seen := 0
	for i, n := range s.buckets {
		seen += n
		if seen >= want {
			if i < len(latencyBounds) {
				return latencyBounds[i]
			}
			return -1
		}
	}
	return -1
}
