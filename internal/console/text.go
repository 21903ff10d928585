package console

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteCapabilities prints the capability table as text (one row per
// tool, the held diff indented below it) or, with asJSON, as a JSON
// array. Text goes through Visible: a hostile name cannot drive the
// terminal.
func WriteCapabilities(w io.Writer, caps []Capability, asJSON bool) error {
	if asJSON {
		if caps == nil {
			caps = []Capability{}
		}
		return writeJSON(w, caps)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tMOUNTS\tHOSTS\tSECRETS\tLIMITS\tISOLATION\tSCOPES\tDIGEST\tSIGNED BY\tAPPROVAL")
	for _, c := range caps {
		var mounts []string
		for _, m := range c.Mounts {
			mounts = append(mounts, m.Guest+"="+m.Host+":"+m.Mode)
		}
		limits := fmt.Sprintf("mem %s, timeout %s, in %d, out %d, conc %d", c.Limits.Memory, c.Limits.Timeout, c.Limits.MaxInput, c.Limits.MaxOutput, c.Limits.Concurrency)
		if c.Limits.Rate != "" {
			limits += ", rate " + c.Limits.Rate
		}
		if c.Limits.RateAll != "" {
			limits += ", rate_all " + c.Limits.RateAll
		}
		cells := []string{c.Name, joinOr(mounts, " "), joinOr(c.Hosts, " "), joinOr(c.Secrets, "; "), limits, orDash(c.Isolation),
			joinOr(c.Scopes, " "), orDash(c.Digest), joinOr(c.SignedBy, " "), c.Approval}
		for i := range cells {
			cells[i] = oneLine(cells[i])
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range caps {
		if c.HeldDiff != "" {
			fmt.Fprintf(w, "\n%s is held for approval:\n    %s\n", Visible(c.Name), strings.ReplaceAll(Visible(c.HeldDiff), "\n", "\n    "))
		}
	}
	return nil
}

// WriteAccess prints the principals × tools matrix as text or JSON.
func WriteAccess(w io.Writer, a Access, asJSON bool) error {
	f := a.Filled()
	if asJSON {
		return writeJSON(w, f)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"PRINCIPAL", "METHOD", "TOOLS", "SCOPES", "RATE", "EXPIRES"}
	for _, t := range f.Tools {
		head = append(head, oneLine(t))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, p := range f.Principals {
		exp := "never"
		if p.Expires != "" {
			exp = p.Expires
			if p.Expired {
				exp += " (expired)"
			}
		}
		row := []string{oneLine(p.ID), p.Method, oneLine(joinOr(p.Tools, " ")), oneLine(joinOr(p.Scopes, " ")), oneLine(p.Rate), exp}
		for _, m := range p.May {
			row = append(row, orDash(m))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nyes: may call; scope: granted by name but lacks a required scope (403 insufficient_scope); -: not granted")
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine is s made visible, on one line, without the tabs that would
// break the table's columns.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(Visible(s))
}
