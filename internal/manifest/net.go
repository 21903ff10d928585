package manifest

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Bounds of [net].
const (
	maxNetRequest       = 4 << 20
	maxNetResponse      = 16 << 20
	maxNetRedirects     = 20
	maxSecretFileBytes  = 64 << 10
	defaultNetRedirects = 3

	// Defaults of [net] max_request, max_response and timeout; also what
	// internal/netpolicy takes for the zero value.
	DefaultNetMaxRequest  = 64 << 10
	DefaultNetMaxResponse = 1 << 20
	DefaultNetTimeout     = 10 * time.Second
)

// NetGrant is a tool's [net] table: the outbound HTTP it may make through
// moat.http_request (docs/network.md). internal/netpolicy enforces it
// (netpolicy.ConfigFor turns it into a policy's configuration).
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

// netTable is [net] as written.
type netTable struct {
	Allow        []string         `toml:"allow" max:"64"`
	Methods      *[]string        `toml:"methods" max:"64"`
	HTTPHosts    []string         `toml:"http_hosts" max:"64"`
	AllowIPs     []string         `toml:"allow_ips" max:"64"`
	MaxRequest   *Size            `toml:"max_request"`
	MaxResponse  *Size            `toml:"max_response"`
	Timeout      *Duration        `toml:"timeout"`
	MaxRedirects *int64           `toml:"max_redirects"`
	Header       []netHeaderTable `toml:"header" want:"an array of tables ([[net.header]])" max:"64"`
}

// netHeaderTable is one [[net.header]] as written.
type netHeaderTable struct {
	Host  *string    `toml:"host"`
	Name  *string    `toml:"name"`
	Value *secretRef `toml:"value" want:"{ env = \"HOST_VARIABLE\" } or { file = \"path/to/secret\" } (literal values are not accepted: keep secrets out of manifests)"`
}

// secretRef is where a header's value comes from. It has no string form:
// a literal secret in a manifest is a type error.
type secretRef struct {
	Env  *string `toml:"env"`
	File *string `toml:"file"`
}

// net checks [net]; nil when absent.
func (d *doc) net(nt *netTable, dir string) (*NetGrant, error) {
	if nt == nil {
		return nil, nil
	}
	g := &NetGrant{}
	patterns := func(key string, ss []string) ([]string, error) {
		for i, s := range ss {
			if _, err := ParseHostPattern(s); err != nil {
				return nil, d.errorf(indexPath(joinPath("net", key), i), ErrInvalid, "%v", err)
			}
		}
		return ss, nil
	}
	var err error
	if g.Allow, err = patterns("allow", nt.Allow); err != nil {
		return nil, err
	}
	if len(g.Allow) == 0 {
		return nil, d.errorf("net.allow", ErrMissing, `required: the hosts the tool may reach, e.g. allow = ["api.github.com"]`)
	}
	if g.HTTPHosts, err = patterns("http_hosts", nt.HTTPHosts); err != nil {
		return nil, err
	}

	switch {
	case nt.Methods == nil:
		g.Methods = []string{"GET"}
	case len(*nt.Methods) == 0:
		return nil, d.errorf("net.methods", ErrInvalid, `must not be empty: leave it out for ["GET"]`)
	default:
		g.Methods = *nt.Methods
	}
	for i, m := range g.Methods {
		if err := CheckMethod(m); err != nil {
			return nil, d.errorf(indexPath("net.methods", i), ErrInvalid, "%v", err)
		}
		if slices.Index(g.Methods, m) != i {
			return nil, d.errorf(indexPath("net.methods", i), ErrInvalid, "%s is listed twice", m)
		}
	}

	g.AllowIPs = nt.AllowIPs
	for i, s := range g.AllowIPs {
		if _, err := ParseIPPrefix(s); err != nil {
			return nil, d.errorf(indexPath("net.allow_ips", i), ErrInvalid, "%v", err)
		}
	}

	n, err := d.size("net.max_request", nt.MaxRequest, DefaultNetMaxRequest, 1, maxNetRequest)
	if err != nil {
		return nil, err
	}
	g.MaxRequest = int64(n)
	if n, err = d.size("net.max_response", nt.MaxResponse, DefaultNetMaxResponse, 1, maxNetResponse); err != nil {
		return nil, err
	}
	g.MaxResponse = int64(n)
	if g.Timeout, err = d.duration("net.timeout", nt.Timeout, DefaultNetTimeout, minTimeout, maxTimeout); err != nil {
		return nil, err
	}
	r, err := d.integer("net.max_redirects", nt.MaxRedirects, defaultNetRedirects, 0, maxNetRedirects)
	if err != nil {
		return nil, err
	}
	g.MaxRedirects = int(r)

	if g.Headers, err = d.netHeaders(nt.Header, dir); err != nil {
		return nil, err
	}
	return g, nil
}

// netHeaders checks [[net.header]].
func (d *doc) netHeaders(in []netHeaderTable, dir string) ([]NetHeader, error) {
	var out []NetHeader
	for i, ht := range in {
		f := indexPath("net.header", i)
		var h NetHeader
		if ht.Host == nil {
			return nil, d.errorf(joinPath(f, "host"), ErrMissing, `required: the host the header is sent to, e.g. "api.github.com"`)
		}
		h.Host = *ht.Host
		if _, err := ParseHostPattern(h.Host); err != nil {
			return nil, d.errorf(joinPath(f, "host"), ErrInvalid, "%v", err)
		}
		if ht.Name == nil {
			return nil, d.errorf(joinPath(f, "name"), ErrMissing, `required: the header name, e.g. "Authorization"`)
		}
		h.Name = *ht.Name
		if err := CheckInjectedHeaderName(h.Name); err != nil {
			return nil, d.errorf(joinPath(f, "name"), ErrInvalid, "%v", err)
		}
		var err error
		if h.Value, h.From, err = d.secret(joinPath(f, "value"), ht.Value, dir); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// secret reads a header's value = { env = "NAME" } or { file = "path" }.
// Literal values are refused (by the shape check): a manifest is shared
// and versioned, a secret is not. Messages never include the value.
func (d *doc) secret(f string, ref *secretRef, dir string) (Secret, string, error) {
	if ref == nil {
		return "", "", d.errorf(f, ErrMissing, `required: { env = "HOST_VARIABLE" } or { file = "path/to/secret" }`)
	}
	var value, from string
	switch {
	case ref.Env != nil && ref.File != nil:
		return "", "", d.errorf(f, ErrInvalid, "give env or file, not both")
	case ref.Env != nil:
		env := *ref.Env
		f = joinPath(f, "env")
		if !isEnvName(env) {
			return "", "", d.errorf(f, ErrInvalid, "%q is not a variable name", env)
		}
		var set bool
		if value, set = os.LookupEnv(env); !set {
			return "", "", d.errorf(f, ErrEnvUnset, "host variable %s is not set", env)
		}
		from = "env " + env
	case ref.File != nil:
		file := *ref.File
		f = joinPath(f, "file")
		if file == "" {
			return "", "", d.errorf(f, ErrInvalid, "must not be empty")
		}
		p := resolve(dir, file)
		data, err := d.readFile(p, maxSecretFileBytes)
		if err != nil {
			return "", "", fileError(d.errorf(f, nil, ""), fmt.Sprintf("secret file %q (%s)", file, p), err)
		}
		// One trailing newline is what editors and `echo` add.
		value = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		from = "file " + p
	default:
		return "", "", d.errorf(f, ErrMissing, `give { env = "HOST_VARIABLE" } or { file = "path/to/secret" }`)
	}
	if value == "" {
		return "", "", d.errorf(f, ErrInvalid, "the secret (%s) is empty", from)
	}
	if err := CheckHeaderValue(value); err != nil {
		return "", "", d.errorf(f, ErrInvalid, "the secret (%s) contains a control character such as CR, LF or NUL", from)
	}
	return Secret(value), from, nil
}
