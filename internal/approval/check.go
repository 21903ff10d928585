package approval

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moatmcp/moat/internal/bytesize"

	"github.com/moatmcp/moat/internal/ratelimit"
)

// Decision is what Check says of a tool as loaded now.
type Decision int

const (
	// Approved: the tool is exactly as approved.
	Approved Decision = iota
	// Accepted: it differs only by narrower grants or new digests with the
	// same interface and no wider grant. Serve it; log the diff.
	Accepted
	// Held: its interface changed or a grant widened. Do not serve it; the
	// previously approved version (if any) keeps serving until
	// `moat approve`.
	Held
	// New: the lock has no entry for it. The host treats it as Held when a
	// lock file exists (an unknown tool is not approved) — a tool added
	// to the folder must be approved like a changed one.
	New
)

func (d Decision) String() string {
	switch d {
	case Approved:
		return "approved"
	case Accepted:
		return "accepted"
	case Held:
		return "held"
	case New:
		return "new"
	}
	return "decision(" + strconv.Itoa(int(d)) + ")"
}

// Serves reports whether a tool with this decision may serve as it is now.
func (d Decision) Serves() bool { return d == Approved || d == Accepted }

// Kind says which way one change goes.
type Kind int

const (
	Widened  Kind = iota // needs approval
	Narrowed             // needs none
	Changed              // interface change: needs approval
	Updated              // a digest changed: needs none by itself
)

// Change is one line of a Diff.
type Change struct {
	Kind Kind
	Text string // "+ net allow api.example.com", "~ mount /data ro → rw"
}

// Diff lists the changes from the approved state, one readable line each.
type Diff []Change

// String is the diff, one change a line, each line ending in "\n".
func (d Diff) String() string {
	var b strings.Builder
	for _, c := range d {
		b.WriteString(c.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// NeedsApproval reports whether d has a change that needs approval.
func (d Diff) NeedsApproval() bool {
	return slices.ContainsFunc(d, func(c Change) bool { return c.Kind == Widened || c.Kind == Changed })
}

// Check compares t with its approved entry (nil when the lock has none).
func Check(approved *Entry, t Tool) (Decision, Diff) {
	cur := NewEntry(t)
	if approved == nil {
		return New, nil
	}
	d := compare(*approved, cur)
	switch {
	case d.NeedsApproval():
		return Held, d
	case len(d) > 0:
		return Accepted, d
	}
	return Approved, nil
}

type differ struct{ d Diff }

func (f *differ) add(k Kind, format string, args ...any) {
	f.d = append(f.d, Change{Kind: k, Text: fmt.Sprintf(format, args...)})
}

// compare lists every change from a (approved) to b (now).
func compare(a, b Entry) Diff {
	f := &differ{}
	// What the model reads.
	if a.Title != b.Title {
		f.add(Changed, "~ title %s → %s", quote(a.Title), quote(b.Title))
	}
	if a.Description != b.Description {
		f.add(Changed, "~ description %s → %s", quote(a.Description), quote(b.Description))
	}
	if string(a.InputSchema) != string(b.InputSchema) {
		f.add(Changed, "~ input_schema %s → %s", quote(string(a.InputSchema)), quote(string(b.InputSchema)))
	}
	if string(a.OutputSchema) != string(b.OutputSchema) {
		f.add(Changed, "~ output_schema %s → %s", quote(string(a.OutputSchema)), quote(string(b.OutputSchema)))
	}
	for _, k := range slices.Sorted(maps.Keys(union(a.Annotations, b.Annotations))) {
		av, aok := a.Annotations[k]
		bv, bok := b.Annotations[k]
		if av != bv || aok != bok {
			f.add(Changed, "~ annotations.%s %s → %s", k, hint(av, aok), hint(bv, bok))
		}
	}
	if a.Interface != b.Interface && len(f.d) == 0 {
		// The texts are equal but the digest is not: a lock edited by
		// hand, or a renamed tool. Either way, not what was approved.
		f.add(Changed, "~ interface %s → %s", a.Interface, b.Interface)
	}
	grants(f, a.Grants, b.Grants)
	if a.Module != b.Module {
		f.add(Updated, "~ module %s → %s", a.Module, b.Module)
	}
	if a.Manifest != b.Manifest {
		f.add(Updated, "~ manifest %s → %s", a.Manifest, b.Manifest)
	}
	return f.d
}

func union(a, b map[string]bool) map[string]bool {
	m := maps.Clone(a)
	if m == nil {
		m = map[string]bool{}
	}
	maps.Copy(m, b)
	return m
}

func hint(v, set bool) string {
	if !set {
		return "(unset)"
	}
	return strconv.FormatBool(v)
}

// quote shows a text on one line, cut at 2 KiB so a log line stays
// readable (the lock file's git diff shows the whole text).
func quote(s string) string {
	const max = 2 << 10
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

func grants(f *differ, a, b Grants) {
	// Mounts, by guest path.
	am := map[string]Mount{}
	for _, m := range a.Mounts {
		am[m.Guest] = m
	}
	bm := map[string]Mount{}
	for _, m := range b.Mounts {
		bm[m.Guest] = m
		old, ok := am[m.Guest]
		switch {
		case !ok:
			f.add(Widened, "+ mount %s %s (host %s)", m.Guest, mode(m.ReadOnly), m.Host)
		case old.Host != m.Host:
			f.add(Widened, "~ mount %s host %s → %s", m.Guest, old.Host, m.Host)
		}
		if ok && old.ReadOnly != m.ReadOnly {
			k := Widened
			if m.ReadOnly {
				k = Narrowed
			}
			f.add(k, "~ mount %s %s → %s", m.Guest, mode(old.ReadOnly), mode(m.ReadOnly))
		}
	}
	for _, m := range a.Mounts {
		if _, ok := bm[m.Guest]; !ok {
			f.add(Narrowed, "- mount %s %s (host %s)", m.Guest, mode(m.ReadOnly), m.Host)
		}
	}
	// Net.
	switch {
	case a.Net == nil && b.Net != nil:
		f.add(Widened, "+ net")
		net(f, Net{}, *b.Net)
	case a.Net != nil && b.Net == nil:
		f.add(Narrowed, "- net")
	case a.Net != nil:
		net(f, *a.Net, *b.Net)
	}
	set(f, "env", a.Env, b.Env, Widened)
	flag(f, "grants.clock", a.Clock, b.Clock)
	flag(f, "grants.random", a.Random, b.Random)
	limits(f, a.Limits, b.Limits)
	// Fewer required scopes let more callers in.
	set(f, "required_scopes", a.RequiredScopes, b.RequiredScopes, Narrowed)
	if ra, rb := isolationRank(a.Isolation), isolationRank(b.Isolation); ra != rb {
		k := Narrowed
		if rb > ra {
			k = Widened
		}
		f.add(k, "~ isolation %s → %s", a.Isolation, b.Isolation)
	}
}

func mode(ro bool) string {
	if ro {
		return "ro"
	}
	return "rw"
}

// set reports added and removed elements; added is the kind of an added
// element (Widened for hosts and names; Narrowed for required scopes).
func set(f *differ, what string, a, b []string, added Kind) {
	removed := Narrowed
	if added == Narrowed {
		removed = Widened
	}
	for _, s := range b {
		if !slices.Contains(a, s) {
			f.add(added, "+ %s %s", what, s)
		}
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			f.add(removed, "- %s %s", what, s)
		}
	}
}

func flag(f *differ, what string, a, b bool) {
	switch {
	case !a && b:
		f.add(Widened, "~ %s false → true", what)
	case a && !b:
		f.add(Narrowed, "~ %s true → false", what)
	}
}

// num reports a numeric limit; bigger is wider.
func num[T int | int64 | uint64](f *differ, what string, a, b T, show func(T) string) {
	switch {
	case b > a:
		f.add(Widened, "~ %s %s → %s", what, show(a), show(b))
	case b < a:
		f.add(Narrowed, "~ %s %s → %s", what, show(a), show(b))
	}
}

func net(f *differ, a, b Net) {
	set(f, "net allow", a.Allow, b.Allow, Widened)
	set(f, "net method", a.Methods, b.Methods, Widened)
	set(f, "net http_host", a.HTTPHosts, b.HTTPHosts, Widened)
	set(f, "net allow_ip", a.AllowIPs, b.AllowIPs, Widened)
	set(f, "net header", a.Headers, b.Headers, Widened)
	num(f, "net.max_request", a.MaxRequest, b.MaxRequest, sizeStr[int64])
	num(f, "net.max_response", a.MaxResponse, b.MaxResponse, sizeStr[int64])
	num(f, "net.timeout", int64(a.Timeout), int64(b.Timeout), durStr)
	num(f, "net.max_redirects", a.MaxRedirects, b.MaxRedirects, strconv.Itoa)
}

func limits(f *differ, a, b Limits) {
	num(f, "limits.memory", a.Memory, b.Memory, sizeStr[uint64])
	num(f, "limits.timeout", int64(a.Timeout), int64(b.Timeout), durStr)
	num(f, "limits.max_input", a.MaxInput, b.MaxInput, sizeStr[int64])
	num(f, "limits.max_output", a.MaxOutput, b.MaxOutput, sizeStr[int64])
	num(f, "limits.max_concurrency", a.MaxConcurrency, b.MaxConcurrency, strconv.Itoa)
	rateChange(f, "limits.rate", a.Rate, b.Rate)
	rateChange(f, "limits.rate_all", a.RateAll, b.RateAll)
}

// rateChange compares two rate strings. "" (the server's default, which
// the manifest does not bound) counts as wider than any set rate; a rate
// that does not parse counts as unbounded too (fail closed).
func rateChange(f *differ, what, a, b string) {
	if a == b {
		return
	}
	show := func(s string) string {
		if s == "" {
			return "(server default)"
		}
		return s
	}
	if rateWider(b, a) {
		f.add(Widened, "~ %s %s → %s", what, show(a), show(b))
	} else {
		f.add(Narrowed, "~ %s %s → %s", what, show(a), show(b))
	}
}

// rateWider reports whether rate x lets more calls through than y, in
// sustained rate or burst.
func rateWider(x, y string) bool {
	rx, okx := parseRate(x)
	ry, oky := parseRate(y)
	switch {
	case !okx:
		return true
	case !oky:
		return false
	}
	return rx.PerSecond() > ry.PerSecond() || rx.Burst() > ry.Burst()
}

func parseRate(s string) (ratelimit.Rate, bool) {
	if s == "" {
		return ratelimit.Rate{}, false
	}
	r, err := ratelimit.ParseRate(s)
	if err != nil || r.IsZero() {
		return ratelimit.Rate{}, false
	}
	return r, true
}

func isolationRank(s string) int {
	switch s {
	case "", "per-call":
		return 0
	case "per-principal":
		return 1
	}
	return 2 // "shared", and anything unknown: the widest
}

func durStr(n int64) string { return time.Duration(n).String() }

// sizeStr adapts bytesize.Format, moat's one byte formatter, to num's
// signature; sizes in a lock are never negative.
func sizeStr[T int64 | uint64](n T) string { return bytesize.Format(uint64(max(n, 0))) }
