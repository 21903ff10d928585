package manifest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Caps and bounds of moat.toml.
const (
	maxConfigBytes = 1 << 20

	// Live MCP sessions over HTTP: each holds memory until the client
	// ends it or it idles out, so they are capped, in total and per
	// principal.
	DefaultMaxSessions             = 4096
	DefaultMaxSessionsPerPrincipal = 256
	maxMaxSessions                 = 1 << 20

	// Open subscriptions/listen streams (MCP 2026-07-28): each holds a
	// connection and a goroutine for as long as the client likes, so
	// one principal's are capped, apart from its sessions.
	DefaultMaxListenStreamsPerPrincipal = 16
	maxMaxListenStreams                 = 4096

	// Idle reactor instances kept across every tool ([sandbox]
	// max_idle_instances): each is a Go reactor's whole memory (≈ 3 MiB),
	// so the default bounds them at about 400 MiB.
	DefaultMaxIdleInstances = 128
	maxMaxIdleInstances     = 1 << 16

	defaultListen  = "127.0.0.1:8080"
	defaultMaxBody = 4 << 20
	minMaxBody     = 1 << 10
	maxMaxBody     = 256 << 20
)

// Config is the server's own settings, from moat.toml.
//
// # Notes
//
//   - Whether a non-loopback Listen without TLS is allowed depends on
//     command-line flags too, so it is checked where the listener is opened
//     (internal/transport), not here.
//   - Paths are absolute, resolved against the config file's folder.
type Config struct {
	File           string        `digest:"-"` // absolute path of the config file; "" for DefaultConfig
	Listen         string        // [server] listen: host:port; default "127.0.0.1:8080"
	TLSCert        string        // [server.tls] cert: PEM certificate chain; set with TLSKey or not at all
	TLSKey         string        // [server.tls] key: PEM private key
	BehindTLSProxy bool          // [server] tls_terminated_upstream: a proxy in front terminates TLS, so a non-loopback listen without TLS is allowed
	AllowedOrigins []string      // [server] allowed_origins: exact origins ("https://app.example.com"); a request with any other Origin is refused; default none
	AllowedHosts   []string      // [server] allowed_hosts: Host header values accepted besides the loopback names on a loopback listener; default none
	MaxBodyBytes   int64         // [server] max_body: cap on one request body; default 4 MiB
	MaxSessions    int           // [server] max_sessions: live HTTP sessions in total; default 4096
	MaxSessionsPer int           // [server] max_sessions_per_principal: live HTTP sessions of one principal; default 256
	MaxListenPer   int           // [server] max_listen_streams_per_principal: open subscriptions/listen streams of one principal; default 16
	ListTTL        time.Duration // [server] list_ttl: how long a client may cache its (private) tools/list; default 0, stale at once
	ManifestDirs   []string      // [tools] dirs: folders of tool manifests; default none
	CacheDir       string        // [sandbox] cache_dir: compiled-code cache; "" means the user cache dir + /moat/wazero
	Auth           AuthConfig    // [auth]: API keys, JWT, the stdio principal (gate.go)
	Rates          RateConfig    // [rate_limits]
	AuditFile      string        // [audit] file: the audit log; "" or "-" = stderr
	MetricsListen  string        // [metrics] listen: a separate listener for /metrics; "" = /metrics on the main listener, behind auth

	// AuditOnFailure is [audit] on_failure: what a call does when its
	// audit record cannot be written; default AuditRefuse.
	AuditOnFailure AuditFailureMode
	// State is [state]: where limits shared by replicas live (state.go).
	State StateConfig
	// RequestState is [request_state]: the key of multi-round-trip
	// calls' requestState (requeststate.go).
	RequestState RequestStateConfig
	// MaxGuestMemory is [sandbox] max_guest_memory: the most linear memory
	// all guests together may hold, in bytes; 0 (the default) means derive
	// it from the machine's memory.
	MaxGuestMemory uint64
	// MaxIdleInstances is [sandbox] max_idle_instances: the most reactor
	// instances kept idle for the next calls across every tool (each
	// tool keeps at most its max_concurrency); DefaultConfig's is
	// DefaultMaxIdleInstances, and 0 (a Config not from DefaultConfig or
	// the parser) means that default too.
	MaxIdleInstances int
	// Telemetry is [telemetry]: OpenTelemetry traces (observe.go).
	Telemetry TelemetryConfig
	// Quotas is [quotas]: what each principal may consume per window; an
	// API key's own quotas replace it field by field (observe.go).
	Quotas QuotaConfig

	// Digest is "sha256:<hex>" over every field above but File, Files and
	// Digest, and over the bytes of every file in Files but the config
	// itself (digest.go): equal digests mean an equal config.
	Digest string `digest:"-"`
	// Files are the absolute paths of the config file and of every file it
	// names (TLS certificate and key, JWKS file), for a reload to watch.
	Files []string
}

// AuditFailureMode is what a call does when its audit record cannot be
// written ([audit] on_failure).
type AuditFailureMode string

const (
	// AuditRefuse (the default) fails the call: nothing runs unrecorded.
	AuditRefuse AuditFailureMode = "refuse"
	// AuditContinue runs the call anyway and counts the lost record.
	AuditContinue AuditFailureMode = "continue"
)

// DefaultConfig returns the settings used without a config file.
func DefaultConfig() *Config {
	return &Config{Listen: defaultListen, MaxBodyBytes: defaultMaxBody, MaxSessions: DefaultMaxSessions, MaxSessionsPer: DefaultMaxSessionsPerPrincipal, MaxListenPer: DefaultMaxListenStreamsPerPrincipal, MaxIdleInstances: DefaultMaxIdleInstances,
		Auth: AuthConfig{Local: LocalConfig{Tools: []string{"*"}}}, AuditOnFailure: AuditRefuse,
		State:        defaultState,
		RequestState: RequestStateConfig{TTL: DefaultRequestStateTTL},
		Telemetry:    TelemetryConfig{ExportTimeout: DefaultExportTimeout, QueueSize: DefaultSpanQueue},
		Quotas:       QuotaConfig{Window: DefaultQuotaWindow}}
}

// LoadConfig reads, decodes and validates a server config file. Every error
// is an *Error.
func LoadConfig(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot resolve the path", Err: ErrFile}
	}
	data, err := readCapped(abs, maxConfigBytes)
	if err != nil {
		return nil, fileError(&Error{File: abs}, "config", err)
	}
	return ParseConfig(abs, data)
}

// ParseConfig is LoadConfig without reading the file: file names it (for
// errors and to resolve relative paths) and data is its content. It still
// checks that the TLS files and manifest folders exist.
func ParseConfig(file string, data []byte) (*Config, error) {
	if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	d, err := decodeTOML(file, data, maxConfigBytes)
	if err != nil {
		return nil, err
	}
	c := DefaultConfig()
	c.File = file
	if err := d.config(c, filepath.Dir(file)); err != nil {
		return nil, err
	}
	c.Files = append([]string{file}, pathsOf(d.files)...)
	c.Digest = digestOf(c, d.files)
	return c, nil
}

// configFile is moat.toml as written, one struct per table, for go-toml's
// strict decoding; config validates it and fills a Config. Field order is
// the order of "known fields" in error messages, and of docs/config.md.
type configFile struct {
	Server     serverTable     `toml:"server"`
	Tools      toolsTable      `toml:"tools"`
	Sandbox    sandboxTable    `toml:"sandbox"`
	Auth       authTable       `toml:"auth"`
	RateLimits rateLimitsTable `toml:"rate_limits"`
	Audit      auditTable      `toml:"audit"`
	Metrics    metricsTable    `toml:"metrics"`
	State      stateTable      `toml:"state"`
	// RequestState is [request_state] (requeststate.go).
	RequestState requestStateTable `toml:"request_state"`
	Telemetry    telemetryTable    `toml:"telemetry"`
	Quotas       *quotasTable      `toml:"quotas"`
}

// serverTable is [server].
type serverTable struct {
	Listen                  *string   `toml:"listen"`
	TLS                     *tlsTable `toml:"tls"`
	TLSTerminatedUpstream   bool      `toml:"tls_terminated_upstream"`
	AllowedOrigins          []string  `toml:"allowed_origins" max:"256"`
	AllowedHosts            []string  `toml:"allowed_hosts" max:"256"`
	MaxBody                 *Size     `toml:"max_body"`
	MaxSessions             *int64    `toml:"max_sessions"`
	MaxSessionsPerPrincipal *int64    `toml:"max_sessions_per_principal"`
	MaxListenPerPrincipal   *int64    `toml:"max_listen_streams_per_principal"`
	ListTTL                 *Duration `toml:"list_ttl"`
}

// tlsTable is [server.tls].
type tlsTable struct {
	Cert *string `toml:"cert"`
	Key  *string `toml:"key"`
}

// toolsTable is [tools].
type toolsTable struct {
	Dirs []string `toml:"dirs" max:"256"`
}

// sandboxTable is [sandbox].
type sandboxTable struct {
	CacheDir         *string `toml:"cache_dir"`
	MaxGuestMemory   *Size   `toml:"max_guest_memory"`
	MaxIdleInstances *int64  `toml:"max_idle_instances"`
}

// auditTable is [audit].
type auditTable struct {
	File      *string `toml:"file"`
	OnFailure *string `toml:"on_failure"`
}

// metricsTable is [metrics].
type metricsTable struct {
	Listen *string `toml:"listen"`
}

// Bounds of [sandbox] max_guest_memory: one guest's smallest memory, and
// far more than any machine moat runs on.
const (
	minGuestMemory = minMemory
	maxGuestMemory = 1 << 50
)

func (d *doc) config(c *Config, dir string) error {
	var f configFile
	if err := d.decodeInto(&f); err != nil {
		return err
	}
	var err error
	if c.Quotas, err = d.quotaConfig("quotas", f.Quotas, QuotaConfig{}); err != nil {
		return err
	}
	if err := d.telemetryConfig(c, &f.Telemetry); err != nil {
		return err
	}
	if err := d.authConfig(c, &f.Auth, dir); err != nil {
		return err
	}
	if err := d.rateConfig(c, &f.RateLimits); err != nil {
		return err
	}
	if err := d.opsConfig(c, &f, dir); err != nil {
		return err
	}
	if err := d.stateConfig(c, &f.State, dir); err != nil {
		return err
	}
	if err := d.requestStateConfig(c, &f.RequestState, dir); err != nil {
		return err
	}

	srv := f.Server
	if srv.Listen != nil {
		if msg := checkListen(*srv.Listen); msg != "" {
			return d.errorf("server.listen", ErrInvalid, "%s", msg)
		}
		c.Listen = *srv.Listen
	}
	c.BehindTLSProxy = srv.TLSTerminatedUpstream
	c.AllowedOrigins = srv.AllowedOrigins
	for i, o := range c.AllowedOrigins {
		if msg := checkOrigin(o); msg != "" {
			return d.errorf(indexPath("server.allowed_origins", i), ErrInvalid, "%s", msg)
		}
	}
	c.AllowedHosts = srv.AllowedHosts
	for i, h := range c.AllowedHosts {
		if msg := checkHostHeader(h); msg != "" {
			return d.errorf(indexPath("server.allowed_hosts", i), ErrInvalid, "%s", msg)
		}
	}
	n, err := d.size("server.max_body", srv.MaxBody, defaultMaxBody, minMaxBody, maxMaxBody)
	if err != nil {
		return err
	}
	c.MaxBodyBytes = int64(n)
	total, err := d.integer("server.max_sessions", srv.MaxSessions, DefaultMaxSessions, 1, maxMaxSessions)
	if err != nil {
		return err
	}
	per, err := d.integer("server.max_sessions_per_principal", srv.MaxSessionsPerPrincipal, min(DefaultMaxSessionsPerPrincipal, total), 1, total)
	if err != nil {
		return err
	}
	c.MaxSessions, c.MaxSessionsPer = int(total), int(per)
	listen, err := d.integer("server.max_listen_streams_per_principal", srv.MaxListenPerPrincipal, DefaultMaxListenStreamsPerPrincipal, 1, maxMaxListenStreams)
	if err != nil {
		return err
	}
	c.MaxListenPer = int(listen)
	if c.ListTTL, err = d.duration("server.list_ttl", srv.ListTTL, 0, 0, time.Hour); err != nil {
		return err
	}

	if tls := srv.TLS; tls != nil {
		switch {
		case tls.Cert == nil:
			return d.errorf("server.tls.cert", ErrMissing, "required with [server.tls]: the certificate file")
		case tls.Key == nil:
			return d.errorf("server.tls.key", ErrMissing, "required with [server.tls]: the private key file")
		}
		if c.TLSCert, err = d.existingFile("server.tls.cert", *tls.Cert, dir); err != nil {
			return err
		}
		if c.TLSKey, err = d.existingFile("server.tls.key", *tls.Key, dir); err != nil {
			return err
		}
	}

	for i, rel := range f.Tools.Dirs {
		f := indexPath("tools.dirs", i)
		if rel == "" {
			return d.errorf(f, ErrInvalid, "must not be empty")
		}
		p := resolve(dir, rel)
		st, err := os.Stat(p)
		if err != nil {
			return fileError(d.errorf(f, nil, ""), fmt.Sprintf("manifest folder %q (%s)", rel, p), err)
		}
		if !st.IsDir() {
			return d.errorf(f, ErrFile, "manifest folder %q (%s) is not a folder", rel, p)
		}
		c.ManifestDirs = append(c.ManifestDirs, p)
	}

	if s := f.Sandbox.CacheDir; s != nil {
		if *s == "" {
			return d.errorf("sandbox.cache_dir", ErrInvalid, "must not be empty: leave cache_dir out for the default")
		}
		c.CacheDir = resolve(dir, *s)
	}
	if m := f.Sandbox.MaxGuestMemory; m != nil && *m != 0 {
		if c.MaxGuestMemory, err = d.size("sandbox.max_guest_memory", m, 0, minGuestMemory, maxGuestMemory); err != nil {
			return err
		}
	}
	idle, err := d.integer("sandbox.max_idle_instances", f.Sandbox.MaxIdleInstances, DefaultMaxIdleInstances, 1, maxMaxIdleInstances)
	if err != nil {
		return err
	}
	c.MaxIdleInstances = int(idle)
	return nil
}

// existingFile resolves a path field and checks that it names a regular
// file, which it records (its bytes are part of Config.Digest).
func (d *doc) existingFile(f, rel, dir string) (string, error) {
	if rel == "" {
		return "", d.errorf(f, ErrInvalid, "must not be empty")
	}
	p := resolve(dir, rel)
	st, err := os.Stat(p)
	if err != nil {
		return "", fileError(d.errorf(f, nil, ""), fmt.Sprintf("%q (%s)", rel, p), err)
	}
	if !st.Mode().IsRegular() {
		return "", d.errorf(f, ErrFile, "%q (%s) is not a regular file", rel, p)
	}
	if _, err := d.readFile(p, maxReferencedFile); err != nil {
		return "", fileError(d.errorf(f, nil, ""), fmt.Sprintf("%q (%s)", rel, p), err)
	}
	return p, nil
}

// maxReferencedFile caps a TLS or JWKS file the config names: they are
// read at load to digest them (and by the server to use them).
const maxReferencedFile = 1 << 20

// checkListen returns what is wrong with a listen address, or "".
func checkListen(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || strconv.Itoa(n) != port {
		return fmt.Sprintf("%q: port %q is not a number from 0 to 65535", s, port)
	}
	if host != "" && net.ParseIP(host) == nil && !isHostname(host) {
		return fmt.Sprintf("%q: %q is not an IP address or host name", s, host)
	}
	return ""
}

// checkOrigin returns what is wrong with an allowed origin, or "". Origins
// are compared byte for byte with the Origin header, so only the form a
// browser sends is accepted: lower-case scheme and host, no default port, no
// path.
func checkOrigin(s string) string {
	if s == "*" || s == "null" {
		return fmt.Sprintf("%q is not allowed: list each origin exactly", s)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return fmt.Sprintf("%q is not an origin: write scheme://host[:port], e.g. \"https://app.example.com\"", s)
	}
	host, port := u.Hostname(), u.Port()
	if net.ParseIP(host) == nil && !isHostname(host) {
		return fmt.Sprintf("%q: %q is not a host name", s, host)
	}
	canon := u.Scheme + "://" + strings.ToLower(u.Host)
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return fmt.Sprintf("%q: port %q is not a number from 1 to 65535", s, port)
		}
		if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
			canon = strings.TrimSuffix(canon, ":"+port)
		}
	}
	if canon != s {
		return fmt.Sprintf("%q is not how a browser sends it: write %q", s, canon)
	}
	return ""
}

// checkHostHeader returns what is wrong with an allowed Host value, or "":
// a lower-case host name or IP address (IPv6 in brackets), optionally with
// ":port".
func checkHostHeader(s string) string {
	if strings.ContainsAny(s, "/@?# ") {
		return fmt.Sprintf("%q is not a host name, host:port or IP address", s)
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return fmt.Sprintf("%q: port %q is not a number from 1 to 65535", s, port)
		}
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return fmt.Sprintf("%q is not a host name or IP address", s)
		}
		return ""
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() == nil && port == "" {
			return fmt.Sprintf("%q: write an IPv6 address in brackets, e.g. \"[::1]\"", s)
		}
		return ""
	}
	if !isHostname(host) {
		return fmt.Sprintf("%q is not a host name, host:port or IP address", s)
	}
	if strings.ToLower(host) != host {
		return fmt.Sprintf("%q: write host names in lower case", s)
	}
	return ""
}

// isHostname reports whether s is a DNS name: dot-separated labels of
// letters, digits and '-', not starting or ending with '-'.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
