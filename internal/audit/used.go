package audit

// Used is the receipt of one tool call in its audit record: what the host
// observed the call use — the filesystem and network layers count it as
// it happens, so it is true even of a call that trapped or timed out
// midway — never what the tool claims. It holds names and sizes only:
// never file contents, bodies, header values, URL paths or queries.
type Used struct {
	WallMS       float64    `json:"wall_ms"`                 // the whole call, as the host timed it
	MemoryPeak   uint64     `json:"memory_peak_bytes"`       // the guest's linear memory at its largest
	OutputBytes  int        `json:"output_bytes"`            // the tool's output (stdout) kept
	Module       string     `json:"module,omitempty"`        // "sha256:<hex>" of the wasm that ran
	Instance     string     `json:"instance,omitempty"`      // fresh, restored, reset, reused
	BytesRead    int64      `json:"bytes_read"`              // from files, in total
	BytesWritten int64      `json:"bytes_written"`           // to files, in total
	Files        []FileUsed `json:"files,omitempty"`         // at most MaxRecordedFiles (internal/rootfs)
	FilesOmitted int        `json:"files_omitted,omitempty"` // opens past that cap
	Net          []NetUsed  `json:"net,omitempty"`           // one per outbound request (each redirect hop)
	NetOmitted   int        `json:"net_omitted,omitempty"`   // requests past the cap
	NetBytesOut  int64      `json:"net_bytes_out"`           // request bodies sent, in total
	NetBytesIn   int64      `json:"net_bytes_in"`            // response bodies read, in total
}

// FileUsed is one file a call opened through a mount.
type FileUsed struct {
	Mount   string `json:"mount"`   // the mount's guest path
	Path    string `json:"path"`    // relative to the mount
	Mode    string `json:"mode"`    // "read" or "write"
	Read    int64  `json:"read"`    // bytes
	Written int64  `json:"written"` // bytes
}

// NetUsed is one outbound request of a call.
type NetUsed struct {
	Host     string   `json:"host"` // host:port
	Method   string   `json:"method"`
	Status   int      `json:"status,omitempty"`
	Outcome  string   `json:"outcome"`
	BytesOut int64    `json:"bytes_out"`
	BytesIn  int64    `json:"bytes_in"`
	Secrets  []string `json:"secret_headers,omitempty"` // names of the secret headers the host added; never values
}

// MaxUsedBytes bounds a receipt's JSON in its record, so that a record
// always fits MaxLineBytes whatever names a guest gave its files (a name
// of control characters is six times longer in JSON): past it, files and
// requests are left out from the end — their totals stay — and counted in
// FilesOmitted and NetOmitted.
const MaxUsedBytes = 24 << 10

// bounded is u within MaxUsedBytes: u itself when it has no files or
// requests to cut, else a copy (u is never changed). It measures u as
// json.Marshal would encode it (with HTML escaping), as it always has, so
// that the same receipt is cut the same way.
func (u *Used) bounded() *Used {
	if u == nil || len(u.Files) == 0 && len(u.Net) == 0 {
		return u // nothing to cut: no need to measure it
	}
	c := *u
	var b []byte
	for {
		var err error
		b, err = appendUsed(b[:0], &c, true)
		if err == nil && len(b) <= MaxUsedBytes || len(c.Files) == 0 && len(c.Net) == 0 {
			return &c
		}
		if len(c.Files) >= len(c.Net) {
			n := (len(c.Files) + 1) / 2
			c.FilesOmitted += n
			c.Files = c.Files[:len(c.Files)-n]
		} else {
			n := (len(c.Net) + 1) / 2
			c.NetOmitted += n
			c.Net = c.Net[:len(c.Net)-n]
		}
	}
}
