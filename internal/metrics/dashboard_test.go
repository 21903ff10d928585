package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDashboardQueriesExist: every metric the Grafana dashboard in
// docs/grafana queries is one this package exports (a histogram through
// its _bucket, _sum or _count series), and every label it selects or
// groups by is one of that metric's labels (or one Prometheus adds).
func TestDashboardQueriesExist(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "grafana", "moat.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Query any }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("docs/grafana/moat.json: %v", err)
	}

	// Every collector, with a child of every vector, so Gather lists it.
	m := New()
	m.Call("echo", "ok", time.Millisecond)
	m.InFlight("echo", 1)
	m.GuestMemory("echo", 1<<16)
	m.SpansDropped(1)
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]map[string]bool{} // series name → its labels
	for _, f := range families {
		ls := map[string]bool{"job": true, "instance": true}
		for _, met := range f.Metric {
			for _, l := range met.Label {
				ls[l.GetName()] = true
			}
		}
		names := []string{f.GetName()}
		if f.GetType().String() == "HISTOGRAM" {
			ls["le"] = true
			names = append(names, f.GetName()+"_bucket", f.GetName()+"_sum", f.GetName()+"_count")
		}
		for _, n := range names {
			labels[n] = ls
		}
	}

	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if s, ok := v.Query.(string); ok && strings.Contains(s, "(") {
			exprs = append(exprs, s)
		}
	}
	metric := regexp.MustCompile(`\b((?:moat|process|go)_[a-z_]+)\b(\{[^}]*\})?`)
	selector := regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)`)
	by := regexp.MustCompile(`\bby \(([^)]*)\)`)
	seen := 0
	for _, e := range exprs {
		used := map[string]bool{}
		for _, mm := range metric.FindAllStringSubmatch(e, -1) {
			seen++
			ls, ok := labels[mm[1]]
			if !ok {
				t.Errorf("dashboard queries %s, which internal/metrics does not export: %s", mm[1], e)
				continue
			}
			for _, s := range selector.FindAllStringSubmatch(mm[2], -1) {
				if !ls[s[1]] {
					t.Errorf("dashboard selects %s{%s=…}: no such label: %s", mm[1], s[1], e)
				}
			}
			for l := range ls {
				used[l] = true
			}
		}
		for _, b := range by.FindAllStringSubmatch(e, -1) {
			for _, l := range strings.Split(b[1], ",") {
				if l = strings.TrimSpace(l); !used[l] {
					t.Errorf("dashboard groups by %q, a label none of its metrics has: %s", l, e)
				}
			}
		}
	}
	if seen < len(dash.Panels) {
		t.Errorf("found %d metric references in %d panels: the pattern misses some", seen, len(dash.Panels))
	}
}
