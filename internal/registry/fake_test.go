package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeRegistry is the part of the OCI distribution API that oras-go uses
// to push and pull, without the referrers API (like docker-registry 2.8):
// blobs by digest, monolithic uploads, manifests by tag or digest. Its
// hooks let a test corrupt what it serves.
type fakeRegistry struct {
	mu        sync.Mutex
	blobs     map[string][]byte
	manifests map[string][]byte // by digest
	types     map[string]string // media type by digest
	tags      map[string]string // tag → digest
	uploads   int
	// serve, when it returns true, has answered the request itself. Set
	// it with setServe.
	serve func(w http.ResponseWriter, r *http.Request) bool
}

func (f *fakeRegistry) setServe(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.serve = fn
	f.mu.Unlock()
}

func (f *fakeRegistry) blobLen(d string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.blobs[d])
}

func newFake(t *testing.T) (*fakeRegistry, string) {
	f := &fakeRegistry{blobs: map[string][]byte{}, manifests: map[string][]byte{}, types: map[string]string{}, tags: map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, strings.TrimPrefix(srv.URL, "http://")
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	serve := f.serve
	f.mu.Unlock()
	if serve != nil && serve(w, r) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == "/v2/" || p == "/v2":
		w.WriteHeader(http.StatusOK)
	case strings.Contains(p, "/blobs/uploads/") && r.Method == http.MethodPost:
		f.uploads++
		w.Header().Set("Location", fmt.Sprintf("%supload-%d", p, f.uploads))
		w.WriteHeader(http.StatusAccepted)
	case strings.Contains(p, "/blobs/uploads/") && r.Method == http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		d := r.URL.Query().Get("digest")
		if sum(body) != d {
			http.Error(w, `{"errors":[{"code":"DIGEST_INVALID"}]}`, http.StatusBadRequest)
			return
		}
		f.blobs[d] = body
		w.Header().Set("Docker-Content-Digest", d)
		w.WriteHeader(http.StatusCreated)
	case strings.Contains(p, "/blobs/"):
		d := p[strings.LastIndex(p, "/")+1:]
		b, ok := f.blobs[d]
		if !ok {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Header().Set("Docker-Content-Digest", d)
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	case strings.Contains(p, "/manifests/"):
		ref := p[strings.LastIndex(p, "/")+1:]
		if r.Method == http.MethodPut {
			body, _ := io.ReadAll(r.Body)
			d := sum(body)
			f.manifests[d] = body
			f.types[d] = r.Header.Get("Content-Type")
			if !strings.HasPrefix(ref, "sha256:") {
				f.tags[ref] = d
			}
			w.Header().Set("Docker-Content-Digest", d)
			w.WriteHeader(http.StatusCreated)
			return
		}
		d := ref
		if t, ok := f.tags[ref]; ok {
			d = t
		}
		b, ok := f.manifests[d]
		if !ok {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", f.types[d])
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Header().Set("Docker-Content-Digest", d)
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	default:
		// Including /referrers/: not implemented, as in docker-registry 2.8.
		http.NotFound(w, r)
	}
}

// setManifest stores a raw manifest under tag and returns its digest.
func (f *fakeRegistry) setManifest(tag, mediaType string, v any) string {
	body, _ := json.Marshal(v)
	f.mu.Lock()
	defer f.mu.Unlock()
	d := sum(body)
	f.manifests[d], f.types[d] = body, mediaType
	if tag != "" {
		f.tags[tag] = d
	}
	return d
}

func (f *fakeRegistry) setBlob(b []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blobs[sum(b)] = b
	return sum(b)
}
