package manifest

// Isolation is the manifest's isolation key: which calls of a tool may
// share a WebAssembly instance. Anything but IsolationPerCall needs a
// reactor module (one exporting moat_call; see docs/abi.md), which the
// host checks when it loads the module.
type Isolation string

const (
	// IsolationPerCall (the default) runs every call in a fresh instance.
	IsolationPerCall Isolation = "per-call"
	// IsolationPerPrincipal reuses instances between calls of the same
	// principal only.
	IsolationPerPrincipal Isolation = "per-principal"
	// IsolationShared reuses instances between all callers: what one call
	// leaves in memory, the next (anyone's) may see.
	IsolationShared Isolation = "shared"
)

// isolation decodes the optional isolation key.
func (d *doc) isolation(set *string) (Isolation, error) {
	if set == nil {
		return IsolationPerCall, nil
	}
	s := *set
	switch i := Isolation(s); i {
	case IsolationPerCall, IsolationPerPrincipal, IsolationShared:
		return i, nil
	}
	return "", d.errorf("isolation", ErrInvalid, `%q is not an isolation mode: use "per-call", "per-principal" or "shared"`, s)
}

// String is the manifest spelling; the zero value is "per-call", the
// default.
func (i Isolation) String() string {
	if i == "" {
		return string(IsolationPerCall)
	}
	return string(i)
}
