// Package console is moat's operator console: a read-only web page that
// answers a security review's questions at a glance — which tools are
// loaded and what each may touch, who may call what, what was called and
// refused in the last hour, whether the audit chain verifies, and what
// the recent reloads changed.
//
// It sits beside /mcp on the main listener, behind the same transport
// checks (Origin, Host), authentication and request ceiling, and an
// admin-scope check (host/stack.go); this package only renders. It takes
// a plain read-only Source, so it does not import the host: the same
// builders (Capabilities, AccessMatrix) serve `moat check --access` and
// `--capabilities`.
//
// Pages are server-rendered with html/template (every value escaped), the
// chart is inline SVG, the one stylesheet is embedded in the binary, and
// every response carries a strict Content-Security-Policy with
// frame-ancestors 'none'. No page has a form, and only GET and HEAD are
// answered.
package console

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Scope is the scope a credential needs to see the console. The operator
// grants it explicitly (scopes = ["admin"] on a key, or a JWT's scope).
const Scope = "admin"

// Page sizes: one response stays bounded however many tools or principals
// are configured.
const (
	ToolsPerPage      = 100
	PrincipalsPerPage = 50
	ColumnsPerPage    = 25
	ReloadsKept       = 50
)

// CSP is the Content-Security-Policy of every console response: nothing
// but the embedded stylesheet and data: images loads, no script runs, no
// form submits, and no page may frame the console (clickjacking).
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/console.css
var staticFS embed.FS

// pages are the parsed templates, and css the stylesheet: parsed once,
// shared by the handler of every snapshot.
var (
	pages  = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
	css, _ = fs.ReadFile(staticFS, "static/console.css")
)

// Source is the server's state, read on each request. Every field may be
// nil: the page then says there is nothing to show.
type Source struct {
	// Tools is the capability table of the serving snapshot.
	Tools func() []Capability
	// Access is the principals × tools matrix of the serving snapshot.
	Access func() Access
	// Activity counts calls and keeps refusals.
	Activity *Activity
	// Reloads are the recent reloads, newest first.
	Reloads func() []Reload
	// Audit is the audit chain's head and whether it verifies.
	Audit func() AuditState
	// Now is the clock shown on pages; nil = time.Now.
	Now func() time.Time
}

// Reload is one reload, as the reloads page shows it.
type Reload struct {
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"`
	Changes []string  `json:"changes"`
	Error   string    `json:"error,omitempty"` // the first line of why it was refused
}

// AuditState is the audit chain's head and verification.
type AuditState struct {
	File     string    `json:"file"` // "" = stderr (cannot be verified)
	Seq      uint64    `json:"seq"`
	Head     string    `json:"head"`
	Verified string    `json:"verified"` // "ok: N lines", "broken: …", or why it was not checked
	At       time.Time `json:"checked_at"`
}

// Handler serves the console under /console. Mount it behind
// authentication and the admin-scope check.
func Handler(src *Source) http.Handler {
	if src == nil {
		src = &Source{}
	}
	h := &handler{src: src, tmpl: pages}
	mux := http.NewServeMux()
	mux.HandleFunc("/console", h.page("tools", h.tools))
	mux.HandleFunc("/console/tools", h.page("tools", h.tools))
	mux.HandleFunc("/console/access", h.page("access", h.access))
	mux.HandleFunc("/console/activity", h.page("activity", h.activity))
	mux.HandleFunc("/console/reloads", h.page("reloads", h.reloads))
	mux.HandleFunc("/console/static/console.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Write(css)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetHeaders(w.Header())
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: the console is read-only", http.StatusMethodNotAllowed)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// SetHeaders sets the console's security headers; the host sets them on
// its refusals of console requests too.
func SetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

type handler struct {
	src  *Source
	tmpl *template.Template
}

// pageData is what every page template gets.
type pageData struct {
	Page string
	Now  time.Time
	Data any
}

func (h *handler) page(name string, data func(r *http.Request) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := time.Now
		if h.src.Now != nil {
			now = h.src.Now
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var b strings.Builder
		if err := h.tmpl.ExecuteTemplate(&b, name+".html", pageData{Page: name, Now: now().UTC(), Data: data(r)}); err != nil {
			http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(b.String()))
	}
}

// Pager is one page of a longer list.
type Pager struct {
	Param      string // the query parameter
	Page, Last int    // 1-based
	Total      int
	From, To   int // 1-based, inclusive
	Query      string
}

// Prev and Next are the pages' links ("" = none).
func (p Pager) Prev() string { return p.link(p.Page - 1) }
func (p Pager) Next() string { return p.link(p.Page + 1) }

func (p Pager) link(n int) string {
	if n < 1 || n > p.Last || n == p.Page {
		return ""
	}
	q := p.Query
	if q != "" {
		q += "&"
	}
	return "?" + q + p.Param + "=" + strconv.Itoa(n)
}

// paginate reads the page number from param (bad values mean page 1)
// and returns the bounds [lo, hi) of that page of total items.
func paginate(r *http.Request, param string, total, size int, keep string) (Pager, int, int) {
	n, err := strconv.Atoi(r.URL.Query().Get(param))
	if err != nil || n < 1 {
		n = 1
	}
	last := max((total+size-1)/size, 1)
	n = min(n, last)
	lo := (n - 1) * size
	hi := min(lo+size, total)
	p := Pager{Param: param, Page: n, Last: last, Total: total, From: lo + 1, To: hi}
	if total == 0 {
		p.From = 0
	}
	if keep != "" {
		if v, err := strconv.Atoi(r.URL.Query().Get(keep)); err == nil && v > 1 {
			p.Query = keep + "=" + strconv.Itoa(v)
		}
	}
	return p, lo, hi
}

func (h *handler) tools(r *http.Request) any {
	var all []Capability
	if h.src.Tools != nil {
		all = h.src.Tools()
	}
	p, lo, hi := paginate(r, "page", len(all), ToolsPerPage, "")
	return struct {
		Pager Pager
		Tools []Capability
	}{p, all[lo:hi]}
}

// accessPage is one page of the matrix: a window of principals × tools.
type accessPage struct {
	Rows, Cols Pager
	Tools      []string
	Principals []Principal
}

func (h *handler) access(r *http.Request) any {
	var a Access
	if h.src.Access != nil {
		a = h.src.Access()
	}
	rows, plo, phi := paginate(r, "page", len(a.Principals), PrincipalsPerPage, "cols")
	cols, clo, chi := paginate(r, "cols", len(a.Tools), ColumnsPerPage, "page")
	win := a.Window(plo, phi, clo, chi)
	return accessPage{Rows: rows, Cols: cols, Tools: win.Tools, Principals: win.Principals}
}

func (h *handler) activity(r *http.Request) any {
	v := h.src.Activity.Snapshot()
	var st AuditState
	if h.src.Audit != nil {
		st = h.src.Audit()
	}
	return struct {
		View  ActivityView
		Chart template.HTML
		Audit AuditState
	}{v, chart(v.PerMinute), st}
}

func (h *handler) reloads(r *http.Request) any {
	var rs []Reload
	if h.src.Reloads != nil {
		rs = h.src.Reloads()
	}
	return rs
}

// chart draws calls per minute as stacked bars in inline SVG (no script,
// no external asset). Only numbers enter it.
func chart(ms []MinuteCount) template.HTML {
	const w, h, bar = 600, 120, 10
	peak := 1
	for _, m := range ms {
		peak = max(peak, m.OK+m.Failed+m.Denied)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="calls per minute, last hour, peak %d">`, w, h+14, w, h+14, peak)
	for i, m := range ms {
		x := i * bar
		y := h
		for _, part := range []struct {
			n    int
			fill string
		}{{m.OK, "#2e7d32"}, {m.Failed, "#ef6c00"}, {m.Denied, "#c62828"}} {
			if part.n == 0 {
				continue
			}
			ph := max(part.n*h/peak, 1)
			y -= ph
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, x, y, bar-1, ph, part.fill)
		}
	}
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, h, w, h)
	fmt.Fprintf(&b, `<text x="0" y="%d" font-size="10" fill="#555">-60 min</text><text x="%d" y="%d" font-size="10" fill="#555" text-anchor="end">now (peak %d/min)</text></svg>`, h+12, w, h+12, peak)
	return template.HTML(b.String())
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"join":    joinOr,
	"pages":   func() []string { return []string{"tools", "access", "activity", "reloads"} },
	"visible": Visible,
	"ts":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ms": func(v float64) string {
		if v < 0 {
			return "slower"
		}
		return "≤" + strconv.FormatFloat(v, 'f', -1, 64) + " ms"
	},
}

// Visible shows control characters (and other invisible runes) as
// \u escapes, so a hostile name cannot hide text or fake a line; html
// escaping then happens in the template.
func Visible(s string) string {
	if strings.IndexFunc(s, invisible) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if invisible(r) && r != '\n' && r != '\t' {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar
}
