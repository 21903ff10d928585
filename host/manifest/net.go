package manifest

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/moatmcp/moat/host/netpolicy"
)

// Bounds of [net].
const (
	maxNetEntries       = 64 // allow, methods, http_hosts, allow_ips, [[net.header]]
	maxNetRequest       = 4 << 20
	maxNetResponse      = 16 << 20
	maxNetRedirects     = 20
	maxSecretFileBytes  = 64 << 10
	defaultNetRedirects = 3
)

// NetGrant is a tool's [net] table: the outbound HTTP it may make through
// moat.http_request (docs/network.md). host/netpolicy enforces it.
type NetGrant struct {
	Allow        []string // host patterns: "api.github.com", "api.github.com:8443", "*.example.com"
	Methods      []string // default ["GET"]
	HTTPHosts    []string // host patterns reachable over plain http; default none
	AllowIPs     []string // addresses or CIDR blocks reachable although private, loopback…
	MaxRequest   int64    // request body bytes; default 64 KiB
	MaxResponse  int64    // response body bytes; default 1 MiB
	Timeout      time.Duration
	MaxRedirects int // default 3; 0 returns redirects to the tool
	Headers      []NetHeader
}

// NetHeader is one [[net.header]]: a header the host adds to requests to
// Host, with a value the tool never sees.
type NetHeader struct {
	Host  string // a host pattern
	Name  string
	Value Secret // read at load from the host environment or a file
	From  string // where the value came from, for messages: "env GITHUB_TOKEN" or "file /abs/path"
}

// Secret is a value that must not be printed: its String and GoString
// hide it, so a Tool logged with %v or %+v does not leak it.
type Secret string

func (Secret) String() string   { return "[secret]" }
func (Secret) GoString() string { return `"[secret]"` }

// Policy returns the netpolicy configuration of g. The resolver, TLS
// roots and audit callback are the host's to add.
func (g *NetGrant) Policy() netpolicy.Config {
	c := netpolicy.Config{
		Allow: g.Allow, Methods: g.Methods, HTTPHosts: g.HTTPHosts, AllowIPs: g.AllowIPs,
		MaxRequest: g.MaxRequest, MaxResponse: g.MaxResponse, Timeout: g.Timeout, MaxRedirects: g.MaxRedirects,
	}
	for _, h := range g.Headers {
		c.Headers = append(c.Headers, netpolicy.Header{Host: h.Host, Name: h.Name, Value: string(h.Value)})
	}
	return c
}

// net reads [net]; nil when absent.
func (d *doc) net(root table, dir string) (*NetGrant, error) {
	nt, present, err := d.sub(root, "net")
	if err != nil || !present {
		return nil, err
	}
	if err := d.strict(nt, "allow", "methods", "http_hosts", "allow_ips", "max_request", "max_response", "timeout", "max_redirects", "header"); err != nil {
		return nil, err
	}
	g := &NetGrant{}
	patterns := func(key string) ([]string, error) {
		ss, err := d.strings(nt, key, maxNetEntries)
		if err != nil {
			return nil, err
		}
		for i, s := range ss {
			if _, err := netpolicy.ParsePattern(s); err != nil {
				return nil, d.errorf(indexPath(nt.field(key), i), ErrInvalid, "%v", err)
			}
		}
		return ss, nil
	}
	if g.Allow, err = patterns("allow"); err != nil {
		return nil, err
	}
	if len(g.Allow) == 0 {
		return nil, d.errorf(nt.field("allow"), ErrMissing, `required: the hosts the tool may reach, e.g. allow = ["api.github.com"]`)
	}
	if g.HTTPHosts, err = patterns("http_hosts"); err != nil {
		return nil, err
	}

	if g.Methods, err = d.strings(nt, "methods", maxNetEntries); err != nil {
		return nil, err
	}
	if _, set := nt.m["methods"]; !set {
		g.Methods = []string{"GET"}
	} else if len(g.Methods) == 0 {
		return nil, d.errorf(nt.field("methods"), ErrInvalid, `must not be empty: leave it out for ["GET"]`)
	}
	for i, m := range g.Methods {
		if err := netpolicy.CheckMethod(m); err != nil {
			return nil, d.errorf(indexPath(nt.field("methods"), i), ErrInvalid, "%v", err)
		}
		if slices.Index(g.Methods, m) != i {
			return nil, d.errorf(indexPath(nt.field("methods"), i), ErrInvalid, "%s is listed twice", m)
		}
	}

	if g.AllowIPs, err = d.strings(nt, "allow_ips", maxNetEntries); err != nil {
		return nil, err
	}
	for i, s := range g.AllowIPs {
		if _, err := netpolicy.ParsePrefix(s); err != nil {
			return nil, d.errorf(indexPath(nt.field("allow_ips"), i), ErrInvalid, "%v", err)
		}
	}

	n, err := d.size(nt, "max_request", netpolicy.DefaultMaxRequest, 1, maxNetRequest)
	if err != nil {
		return nil, err
	}
	g.MaxRequest = int64(n)
	if n, err = d.size(nt, "max_response", netpolicy.DefaultMaxResponse, 1, maxNetResponse); err != nil {
		return nil, err
	}
	g.MaxResponse = int64(n)
	g.Timeout = netpolicy.DefaultTimeout
	if t, ok, err := d.duration(nt, "timeout", minTimeout, maxTimeout); err != nil {
		return nil, err
	} else if ok {
		g.Timeout = t
	}
	g.MaxRedirects = defaultNetRedirects
	if v, ok := nt.m["max_redirects"]; ok {
		f := nt.field("max_redirects")
		r, isInt := v.(int64)
		if !isInt {
			return nil, d.wrongType(f, "an integer", v)
		}
		if r < 0 || r > maxNetRedirects {
			return nil, d.errorf(f, ErrInvalid, "%d is out of bounds: must be between 0 and %d", r, maxNetRedirects)
		}
		g.MaxRedirects = int(r)
	}

	if g.Headers, err = d.netHeaders(nt, dir); err != nil {
		return nil, err
	}
	// A last check of the whole: New's errors name fields and never values.
	p, err := netpolicy.New(g.Policy())
	if err != nil {
		return nil, d.errorf("net", ErrInvalid, "%v", err)
	}
	p.Close()
	return g, nil
}

// netHeaders reads [[net.header]].
func (d *doc) netHeaders(nt table, dir string) ([]NetHeader, error) {
	v, ok := nt.m["header"]
	if !ok {
		return nil, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, d.wrongType(nt.field("header"), "an array of tables ([[net.header]])", v)
	}
	if len(arr) > maxNetEntries {
		return nil, d.errorf(nt.field("header"), ErrTooLarge, "%d headers; the limit is %d", len(arr), maxNetEntries)
	}
	var out []NetHeader
	for i, e := range arr {
		f := indexPath(nt.field("header"), i)
		m, isTable := e.(map[string]any)
		if !isTable {
			return nil, d.wrongType(f, "a table with host, name and value", e)
		}
		ht := table{path: f, m: m}
		if err := d.strict(ht, "host", "name", "value"); err != nil {
			return nil, err
		}
		var h NetHeader
		var err error
		if h.Host, ok, err = d.str(ht, "host"); err != nil {
			return nil, err
		} else if !ok {
			return nil, d.errorf(ht.field("host"), ErrMissing, `required: the host the header is sent to, e.g. "api.github.com"`)
		}
		if _, err := netpolicy.ParsePattern(h.Host); err != nil {
			return nil, d.errorf(ht.field("host"), ErrInvalid, "%v", err)
		}
		if h.Name, ok, err = d.str(ht, "name"); err != nil {
			return nil, err
		} else if !ok {
			return nil, d.errorf(ht.field("name"), ErrMissing, `required: the header name, e.g. "Authorization"`)
		}
		if err := netpolicy.CheckHeaderName(h.Name); err != nil {
			return nil, d.errorf(ht.field("name"), ErrInvalid, "%v", err)
		}
		if h.Value, h.From, err = d.secret(ht, dir); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// secret reads a header's value = { env = "NAME" } or { file = "path" }.
// Literal values are refused: a manifest is shared and versioned, a
// secret is not. Messages never include the value.
func (d *doc) secret(ht table, dir string) (Secret, string, error) {
	f := ht.field("value")
	v, ok := ht.m["value"]
	if !ok {
		return "", "", d.errorf(f, ErrMissing, `required: { env = "HOST_VARIABLE" } or { file = "path/to/secret" }`)
	}
	m, isTable := v.(map[string]any)
	if !isTable {
		return "", "", d.wrongType(f, `{ env = "HOST_VARIABLE" } or { file = "path/to/secret" } (literal values are not accepted: keep secrets out of manifests)`, v)
	}
	vt := table{path: f, m: m}
	if err := d.strict(vt, "env", "file"); err != nil {
		return "", "", err
	}
	env, hasEnv, err := d.str(vt, "env")
	if err != nil {
		return "", "", err
	}
	file, hasFile, err := d.str(vt, "file")
	if err != nil {
		return "", "", err
	}
	var value, from string
	switch {
	case hasEnv && hasFile:
		return "", "", d.errorf(f, ErrInvalid, "give env or file, not both")
	case hasEnv:
		if !isEnvName(env) {
			return "", "", d.errorf(vt.field("env"), ErrInvalid, "%q is not a variable name", env)
		}
		var set bool
		if value, set = os.LookupEnv(env); !set {
			return "", "", d.errorf(vt.field("env"), ErrEnvUnset, "host variable %s is not set", env)
		}
		from = "env " + env
		f = vt.field("env")
	case hasFile:
		if file == "" {
			return "", "", d.errorf(vt.field("file"), ErrInvalid, "must not be empty")
		}
		p := resolve(dir, file)
		data, err := readCapped(p, maxSecretFileBytes)
		if err != nil {
			return "", "", fileError(d.errorf(vt.field("file"), nil, ""), fmt.Sprintf("secret file %q (%s)", file, p), err)
		}
		// One trailing newline is what editors and `echo` add.
		value = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		from = "file " + p
		f = vt.field("file")
	default:
		return "", "", d.errorf(f, ErrMissing, `give { env = "HOST_VARIABLE" } or { file = "path/to/secret" }`)
	}
	if value == "" {
		return "", "", d.errorf(f, ErrInvalid, "the secret (%s) is empty", from)
	}
	if err := netpolicy.CheckHeaderValue(value); err != nil {
		return "", "", d.errorf(f, ErrInvalid, "the secret (%s) contains a control character such as CR, LF or NUL", from)
	}
	return Secret(value), from, nil
}
