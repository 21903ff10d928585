// Package approval keeps moat.lock: what an operator approved for each
// tool (its module and manifest digests, a digest of what the model reads —
// name, title, description, schemas — and a summary of its grants), and
// decides whether a tool as loaded now may serve without a new approval.
//
// It sits between manifest loading and serving: on start-up and on every
// reload the host turns each manifest.Tool into a Tool (FromManifest),
// calls Lock.Check, and serves the tool only when the decision allows it;
// a held tool keeps its previously approved version serving. `moat approve`
// records the current state with Lock.Approve and Lock.Write. Nothing here
// reads the network or the clock.
//
// # Guarantees
//
//   - A changed name, title, description, schema or annotation (hint),
//     and every widening of
//     a grant (a new mount, rw where ro was, another mount host, a new net
//     host, method, plain-http host, private address or header host, bigger
//     net or call limits, a clock or randomness grant, a weaker isolation,
//     fewer required scopes, a new host variable) is Held.
//   - Narrowing needs no approval (Accepted), and neither does a new module
//     or manifest digest that changes nothing above; both are reported.
//   - The lock file is deterministic JSON (sorted keys, sorted lists), so
//     its diff in git review is the change.
package approval

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Tool is what the lock knows of one tool, filled from manifest.Tool by
// FromManifest (or by hand in tests).
type Tool struct {
	Name         string
	Title        string
	Description  string
	InputSchema  json.RawMessage // nil: none
	OutputSchema json.RawMessage // nil: none
	// Annotations are the MCP hints the manifest sets ("read_only",
	// "destructive", "idempotent", "open_world"); unset ones are absent.
	// Clients base confirmation prompts on them, so a flipped hint is
	// held like a changed description.
	Annotations    map[string]bool
	ModuleDigest   string // "sha256:<hex>" of the module
	ManifestDigest string // "sha256:<hex>" of the manifest file
	// ManifestText is the manifest file as loaded. The lock keeps it so
	// that after a restart the host can rebuild the approved version of a
	// held tool (manifest.Parse on this text; its module by digest from
	// the OCI cache). nil: not kept.
	ManifestText []byte
	Grants       Grants
}

// Grants is the power a tool is given, as the lock records it: enough to
// tell widening from narrowing, never a secret's or variable's value.
type Grants struct {
	Mounts         []Mount  `json:"mounts,omitempty"`
	Net            *Net     `json:"net,omitempty"`
	Env            []string `json:"env,omitempty"` // names of the guest's variables
	Clock          bool     `json:"clock,omitempty"`
	Random         bool     `json:"random,omitempty"`
	Limits         Limits   `json:"limits"`
	RequiredScopes []string `json:"required_scopes,omitempty"`
	Isolation      string   `json:"isolation,omitempty"` // "per-call" (or ""), "per-principal", "shared"
}

// Mount is one [[mount]].
type Mount struct {
	Guest    string `json:"guest"`
	Host     string `json:"host"`
	ReadOnly bool   `json:"read_only"`
}

// Net is the [net] grant.
type Net struct {
	Allow        []string `json:"allow,omitempty"`
	Methods      []string `json:"methods,omitempty"`
	HTTPHosts    []string `json:"http_hosts,omitempty"`
	AllowIPs     []string `json:"allow_ips,omitempty"`
	Headers      []string `json:"headers,omitempty"` // "HOST NAME" of each header the host adds
	MaxRequest   int64    `json:"max_request"`
	MaxResponse  int64    `json:"max_response"`
	Timeout      Duration `json:"timeout"`
	MaxRedirects int      `json:"max_redirects"`
}

// Limits is [limits]. Rate and RateAll are rate strings ("10/s", "" for
// the server's default, "unlimited").
type Limits struct {
	Memory         uint64   `json:"memory"`
	Timeout        Duration `json:"timeout"`
	MaxInput       int64    `json:"max_input"`
	MaxOutput      int64    `json:"max_output"`
	MaxConcurrency int      `json:"max_concurrency"`
	Rate           string   `json:"rate,omitempty"`
	RateAll        string   `json:"rate_all,omitempty"`
}

// Duration is a time.Duration written as "10s" in the lock.
type Duration time.Duration

// MarshalText writes d as time.Duration's String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a time.ParseDuration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Entry is one tool's record in moat.lock.
type Entry struct {
	Module    string `json:"module"`    // "sha256:<hex>"
	Manifest  string `json:"manifest"`  // "sha256:<hex>"
	Interface string `json:"interface"` // "sha256:<hex>" of name, title, description, schemas
	// ManifestText is the approved manifest file, to rebuild the approved
	// version of a held tool after a restart; its sha256 is Manifest.
	ManifestText string          `json:"manifest_text,omitempty"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
	Annotations  map[string]bool `json:"annotations,omitempty"`
	Grants       Grants          `json:"grants"`
}

// NewEntry returns the lock entry of t: lists sorted, schemas in canonical
// JSON (sorted keys, no spaces), the interface digest computed.
func NewEntry(t Tool) Entry {
	g := t.Grants
	g.Mounts = slices.Clone(g.Mounts)
	slices.SortFunc(g.Mounts, func(a, b Mount) int { return strings.Compare(a.Guest, b.Guest) })
	g.Env = sorted(g.Env)
	g.RequiredScopes = sorted(g.RequiredScopes)
	if g.Isolation == "" {
		g.Isolation = "per-call"
	}
	if g.Net != nil {
		n := *g.Net
		n.Allow, n.Methods, n.HTTPHosts, n.AllowIPs, n.Headers = sorted(n.Allow), sorted(n.Methods), sorted(n.HTTPHosts), sorted(n.AllowIPs), sorted(n.Headers)
		g.Net = &n
	}
	e := Entry{
		Module: t.ModuleDigest, Manifest: t.ManifestDigest, ManifestText: string(t.ManifestText),
		Title: t.Title, Description: t.Description,
		InputSchema: canonical(t.InputSchema), OutputSchema: canonical(t.OutputSchema),
		Annotations: maps.Clone(t.Annotations),
		Grants:      g,
	}
	e.Interface = interfaceDigest(t.Name, e)
	return e
}

func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// canonical re-encodes a JSON value with sorted keys and no spaces, so
// that reformatting a schema is not a change. Invalid JSON is kept as is
// (it then differs from any valid schema, which is the safe side).
func canonical(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return b
}

// interfaceDigest hashes what a model reads of the tool, each part
// length-prefixed so that no two different interfaces hash alike.
func interfaceDigest(name string, e Entry) string {
	h := sha256.New()
	for _, part := range []string{name, e.Title, e.Description, string(e.InputSchema), string(e.OutputSchema)} {
		fmt.Fprintf(h, "%d:%s\n", len(part), part)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
