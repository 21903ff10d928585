package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/moatmcp/moat/internal/audit"
)

// cmdAuditShow implements "moat audit show [filters] FILE...": the records
// of audit log files, one readable block each, filtered by tool,
// principal, outcome, event, trace id and time. It reads what it is given
// and never checks the chain (moat audit verify does).
func cmdAuditShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usageText = `usage: moat audit show [--tool NAME] [--principal ID] [--outcome OUTCOME] [--event EVENT]
                       [--trace ID] [--since TIME] [--until TIME] [--json] FILE...

Prints audit records readably, oldest first: one line per record (time,
event, outcome, tool, principal, duration, trace id), and under a tool
call its receipt (what the host saw it use: wall time, memory, output,
module, each file and outbound request). Filters combine (all must
match); TIME is RFC 3339 (2026-11-29T18:00:00Z) or a duration back from
now (90m). --json prints the matching records as they are in the file.
Exit 0: printed (maybe nothing matched); 2: usage or read error.
`
	fs := newFlags("moat audit show", stderr, strings.TrimSuffix(usageText, "\n"))
	tool := fs.String("tool", "", "only records of this tool")
	principal := fs.String("principal", "", "only records of this principal (an API key id, jwt:SUB, local)")
	outcome := fs.String("outcome", "", "only records with this outcome (ok, tool_error, denied, limited, over_quota, trap, …)")
	event := fs.String("event", "", "only records of this event (tool_call, auth, net_request, refusal, reload)")
	trace := fs.String("trace", "", "only records of this trace id")
	since := fs.String("since", "", "only records at or after TIME")
	until := fs.String("until", "", "only records before TIME")
	raw := fs.Bool("json", false, "print matching records as JSON lines")
	files, code, ok := parseArgs(fs, args, 1, -1)
	if !ok {
		return code
	}
	now := time.Now()
	var from, to time.Time
	for _, p := range []struct {
		flag string
		v    string
		t    *time.Time
	}{{"--since", *since, &from}, {"--until", *until, &to}} {
		if p.v == "" {
			continue
		}
		t, err := parseWhen(p.v, now)
		if err != nil {
			fmt.Fprintf(stderr, "moat audit show: %s %q: want an RFC 3339 time (2026-11-29T18:00:00Z) or a duration (90m)\n", p.flag, p.v)
			return exitUsage
		}
		*p.t = t
	}
	match := func(r *audit.Record) bool {
		return (*tool == "" || r.Tool == *tool) && (*principal == "" || r.Principal == *principal) &&
			(*outcome == "" || string(r.Outcome) == *outcome) && (*event == "" || r.Event == *event) &&
			(*trace == "" || r.TraceID == *trace) && (from.IsZero() || !r.Time.Before(from)) && (to.IsZero() || r.Time.Before(to))
	}
	for _, name := range files {
		if err := showFile(ctx, name, match, *raw, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "moat audit show: %v\n", err)
			return exitUsage
		}
	}
	return exitOK
}

// parseWhen reads an RFC 3339 time or a duration back from now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	return now.Add(-d), nil
}

func showFile(ctx context.Context, name string, match func(*audit.Record) bool, raw bool, stdout, stderr io.Writer) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), audit.MaxLineBytes+1)
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	for n := 1; sc.Scan(); n++ {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted")
		}
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintf(stderr, "%s: line %d: not an audit record; skipped\n", name, n)
			continue
		}
		if !match(&r) {
			continue
		}
		if raw {
			w.Write(sc.Bytes())
			w.WriteByte('\n')
			continue
		}
		writeRecord(w, &r)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// writeRecord prints one record: a summary line, then the receipt.
func writeRecord(w io.Writer, r *audit.Record) {
	parts := []string{r.Time.UTC().Format(time.RFC3339Nano), r.Event, string(r.Outcome)}
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+printable(v))
		}
	}
	add("tool", r.Tool)
	add("principal", r.Principal)
	add("reason", r.Reason)
	add("host", r.Host)
	add("method", r.Method)
	if r.Status != 0 {
		add("status", strconv.Itoa(r.Status))
	}
	if r.DurationMS != 0 {
		add("duration", strconv.FormatFloat(r.DurationMS, 'f', -1, 64)+"ms")
	}
	add("error_id", r.ErrorID)
	add("trace", r.TraceID)
	add("replica", r.Replica)
	fmt.Fprintln(w, strings.Join(parts, "  "))
	u := r.Used
	if u == nil {
		return
	}
	fmt.Fprintf(w, "    used: wall %sms, memory %s, output %s, files read %s written %s, net out %s in %s",
		strconv.FormatFloat(u.WallMS, 'f', -1, 64), size(int64(u.MemoryPeak)), size(int64(u.OutputBytes)),
		size(u.BytesRead), size(u.BytesWritten), size(u.NetBytesOut), size(u.NetBytesIn))
	if u.Instance != "" {
		fmt.Fprintf(w, ", instance %s", printable(u.Instance))
	}
	fmt.Fprintln(w)
	if u.Module != "" {
		fmt.Fprintf(w, "    module: %s\n", printable(u.Module))
	}
	for _, f := range u.Files {
		fmt.Fprintf(w, "    file: %s %s read %s written %s\n", f.Mode, printable(strings.TrimSuffix(f.Mount, "/")+"/"+f.Path), size(f.Read), size(f.Written))
	}
	if u.FilesOmitted > 0 {
		fmt.Fprintf(w, "    file: … %d more opens not listed\n", u.FilesOmitted)
	}
	for _, n := range u.Net {
		line := fmt.Sprintf("    net: %s %s %s", printable(n.Method), printable(n.Host), printable(n.Outcome))
		if n.Status != 0 {
			line += " " + strconv.Itoa(n.Status)
		}
		line += fmt.Sprintf(" out %s in %s", size(n.BytesOut), size(n.BytesIn))
		if len(n.Secrets) > 0 {
			line += " secret headers: " + printable(strings.Join(n.Secrets, ", "))
		}
		fmt.Fprintln(w, line)
	}
	if u.NetOmitted > 0 {
		fmt.Fprintf(w, "    net: … %d more requests not listed\n", u.NetOmitted)
	}
}

// printable is s, quoted when it holds anything a terminal could take
// for a control sequence (a guest names its own files).
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
