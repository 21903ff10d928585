package approval

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// FileName is the lock's name, next to the manifests it approves.
const FileName = "moat.lock"

// LockVersion is the format version this package reads and writes.
const LockVersion = 1

// maxLockBytes caps moat.lock: far above 1000 tools with large schemas.
const maxLockBytes = 64 << 20

// Sentinel errors.
var (
	// ErrLock is a lock file that cannot be read: not JSON, an unknown
	// field or version, over its size cap.
	ErrLock = errors.New("invalid moat.lock")
)

// Lock is moat.lock: the approved state of each tool, by tool name.
//
// # Notes
//
//   - A Lock is not safe for concurrent use; the host builds one per
//     reload and then only reads it.
type Lock struct {
	Version int              `json:"version"`
	Tools   map[string]Entry `json:"tools"`
}

// NewLock returns an empty lock.
func NewLock() *Lock { return &Lock{Version: LockVersion, Tools: map[string]Entry{}} }

// Load reads a lock file. A missing file is an error wrapping
// fs.ErrNotExist: the caller decides whether no lock means "approvals off"
// (moat serve without moat.lock) or "start an empty one" (moat approve).
func Load(path string) (*Lock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("approval: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLockBytes+1))
	if err != nil {
		return nil, fmt.Errorf("approval: read %s: %w", path, err)
	}
	l, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Parse decodes a lock strictly: unknown fields, trailing data and other
// versions are errors (ErrLock).
func Parse(data []byte) (*Lock, error) {
	if len(data) > maxLockBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrLock, maxLockBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLock, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrLock)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("%w: version %d (this moat reads version %d)", ErrLock, l.Version, LockVersion)
	}
	if l.Tools == nil {
		l.Tools = map[string]Entry{}
	}
	// The file holds schemas indented; compare them as NewEntry makes them.
	for name, e := range l.Tools {
		if e.ManifestText != "" && "sha256:"+hexSum(e.ManifestText) != e.Manifest {
			return nil, fmt.Errorf("%w: tool %q: manifest_text does not match its digest %s", ErrLock, name, e.Manifest)
		}
		e.InputSchema, e.OutputSchema = canonical(e.InputSchema), canonical(e.OutputSchema)
		l.Tools[name] = e
	}
	return &l, nil
}

// Check is the package-level Check against this lock's entry for t.
func (l *Lock) Check(t Tool) (Decision, Diff) {
	if e, ok := l.Tools[t.Name]; ok {
		return Check(&e, t)
	}
	return Check(nil, t)
}

func hexSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Approve records t as approved, replacing its entry.
func (l *Lock) Approve(t Tool) { l.Tools[t.Name] = NewEntry(t) }

// Marshal returns the lock as deterministic, indented JSON ending in a
// newline: the same approvals always give the same bytes.
func (l *Lock) Marshal() ([]byte, error) {
	l.Version = LockVersion
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return nil, fmt.Errorf("approval: encode: %w", err)
	}
	return b.Bytes(), nil
}

// Write writes the lock to path atomically (a temporary file renamed into
// place), mode 0644: it is meant to be committed and reviewed.
func (l *Lock) Write(path string) error {
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".moat.lock-")
	if err != nil {
		return fmt.Errorf("approval: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("approval: write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("approval: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("approval: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("approval: %w", err)
	}
	return nil
}
