package host

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/moatmcp/moat"

// moduleOwners are the packages allowed to import each third-party module
// (non-test files): one package per module, so a library is wrapped once
// and replaced in one place (README, "Dependencies", says why each is
// there). The exceptions say why. A module missing here fails
// TestThirdPartyOwners: decide its one owner and list it.
var moduleOwners = map[string][]string{
	"github.com/tetratelabs/wazero": {"internal/sandbox", "internal/rootfs"}, // the runtime, and the guest filesystem it mounts
	// The go-sdk: the server adapter (host), the SDK's bearer-token
	// middleware types (internal/auth), and the bench's go-sdk baseline
	// server and client (internal/bench).
	"github.com/modelcontextprotocol/go-sdk": {"host", "internal/auth", "internal/bench"},
	"github.com/go-jose/go-jose":             {"internal/auth"},
	"github.com/google/jsonschema-go":        {"internal/schema"},
	"github.com/pelletier/go-toml":           {"internal/manifest"},
	"github.com/prometheus/client_golang":    {"internal/metrics"},
	"github.com/redis/go-redis":              {"internal/state"},
	"oras.land/oras-go":                      {"internal/registry"},
	"github.com/opencontainers/go-digest":    {"internal/registry"},
	"github.com/opencontainers/image-spec":   {"internal/registry"},
	"github.com/sigstore/sigstore-go":        {"internal/signature"},
	"github.com/sigstore/sigstore":           {"internal/signature"},
	"github.com/sigstore/protobuf-specs":     {"internal/signature"},
	"github.com/in-toto/attestation":         {"internal/signature"},
	"google.golang.org/protobuf":             {"internal/signature"}, // sigstore bundles are protobuf messages
	"golang.org/x/crypto":                    {"internal/sealed"},
	"golang.org/x/time":                      {"internal/ratelimit"},
	"go.opentelemetry.io/otel":               {"internal/telemetry"},
	// The go-sdk's own JSON decoder: the request head is decoded with it
	// (headdecode.go) so that it reads keys exactly as the go-sdk will.
	"github.com/segmentio/encoding": {"host"},
}

// moduleRoot is the module an import path belongs to, by the hosting
// site's convention (three elements for github.com and golang.org/x,
// two for a vanity host such as oras.land/oras-go).
func moduleRoot(imp string) string {
	parts := strings.Split(imp, "/")
	n := 2 // oras.land/oras-go, google.golang.org/protobuf, go.opentelemetry.io/otel
	if strings.HasPrefix(imp, "github.com/") || strings.HasPrefix(imp, "golang.org/x/") {
		n = 3
	}
	if len(parts) < n {
		return imp
	}
	return strings.Join(parts[:n], "/")
}

// packageImports maps each package folder (relative to the module root) to
// the imports of its non-test files, skipping tools, e2e, testdata and the
// guest SDK's examples, which are separate programs.
func packageImports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skip("not run from the module tree")
	}
	out := map[string][]string{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || rel == "tools" || rel == "e2e" || name == "benchdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			out[dir] = append(out[dir], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestThirdPartyOwners: each third-party module is imported only by its
// owners (moduleOwners).
func TestThirdPartyOwners(t *testing.T) {
	t.Parallel()
	users := map[string]map[string]bool{}
	for dir, imps := range packageImports(t) {
		for _, imp := range imps {
			first := strings.Split(imp, "/")[0]
			if !strings.Contains(first, ".") || strings.HasPrefix(imp, modulePath) {
				continue // the standard library, or moat
			}
			m := moduleRoot(imp)
			if users[m] == nil {
				users[m] = map[string]bool{}
			}
			users[m][dir] = true
		}
	}
	for m, dirs := range users {
		owners, ok := moduleOwners[m]
		if !ok {
			t.Errorf("%s is imported by %v but has no owner in moduleOwners: keep it inside one package", m, sortedSet(dirs))
			continue
		}
		for dir := range dirs {
			if !slices.Contains(owners, dir) {
				t.Errorf("%s imports %s, which belongs to %v", dir, m, owners)
			}
		}
	}
	// The list says who owns each module today, not who once did.
	for m, owners := range moduleOwners {
		for _, dir := range owners {
			if !users[m][dir] {
				t.Errorf("moduleOwners lists %s for %s, which it no longer imports: take it off the list", dir, m)
			}
		}
	}
}

// embedders is the one library package allowed to import the embedding
// package: the bench, which drives a real host.Server as an embedder would.
const embedders = "internal/bench"

// TestImportRules: what may import what. The embedding package (host) and
// the commands sit on top; nothing under internal/ or host/ imports them,
// and the guest SDK imports no host code.
func TestImportRules(t *testing.T) {
	t.Parallel()
	for dir, imps := range packageImports(t) {
		for _, imp := range imps {
			if !strings.HasPrefix(imp, modulePath) {
				continue
			}
			target := strings.TrimPrefix(strings.TrimPrefix(imp, modulePath), "/")
			switch {
			case (strings.HasPrefix(dir, "internal/") || strings.HasPrefix(dir, "host/")) && dir != embedders && (target == "host" || strings.HasPrefix(target, "cmd")):
				t.Errorf("%s imports %s: library packages must not import the embedding package or a command", dir, imp)
			case strings.HasPrefix(dir, "sdk") && !strings.HasPrefix(target, "sdk"):
				t.Errorf("%s imports %s: the guest SDK is compiled into tools and imports no host code", dir, imp)
			}
		}
	}
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
