package approval

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/moatmcp/moat/internal/manifest"
)

// FromManifest returns the lock's view of a loaded tool. manifestData is
// the manifest file's bytes as loaded; nil reads t.File again.
//
// This is the one place that maps manifest fields to grants: a grant added
// to manifest.Tool must be added here, or widening it goes unnoticed
// (TestFromManifestCoversTool fails when a field is added).
func FromManifest(t *manifest.Tool, manifestData []byte) (Tool, error) {
	if manifestData == nil {
		f, err := os.Open(t.File)
		if err != nil {
			return Tool{}, fmt.Errorf("approval: %w", err)
		}
		manifestData, err = io.ReadAll(io.LimitReader(f, 1<<20+1))
		f.Close()
		if err != nil {
			return Tool{}, fmt.Errorf("approval: read %s: %w", t.File, err)
		}
	}
	ms := sha256.Sum256(manifestData)
	out := Tool{
		Name:           t.Name,
		Title:          t.Title,
		Description:    t.Description,
		InputSchema:    t.InputSchema,
		OutputSchema:   t.OutputSchema,
		ModuleDigest:   "sha256:" + t.SHA256,
		ManifestDigest: "sha256:" + hex.EncodeToString(ms[:]),
		ManifestText:   manifestData,
	}
	for k, v := range map[string]*bool{
		"read_only": t.Annotations.ReadOnly, "destructive": t.Annotations.Destructive,
		"idempotent": t.Annotations.Idempotent, "open_world": t.Annotations.OpenWorld,
	} {
		if v != nil {
			if out.Annotations == nil {
				out.Annotations = map[string]bool{}
			}
			out.Annotations[k] = *v
		}
	}
	g := &out.Grants
	for _, m := range t.Mounts {
		g.Mounts = append(g.Mounts, Mount{Guest: m.Guest, Host: m.Host, ReadOnly: m.ReadOnly})
	}
	for _, e := range t.Env {
		g.Env = append(g.Env, e.Name)
	}
	g.Clock, g.Random = t.Clock, t.Random
	g.Limits = Limits{
		Memory: t.Limits.Memory, Timeout: Duration(t.Limits.Timeout),
		MaxInput: t.Limits.MaxInput, MaxOutput: t.Limits.MaxOutput,
		MaxConcurrency: t.Limits.MaxConcurrency,
		Rate:           t.Limits.Rate.String(), RateAll: t.Limits.RateAll.String(),
	}
	g.RequiredScopes = append(g.RequiredScopes, t.RequiredScopes...)
	g.Isolation = string(t.Isolation)
	if n := t.Net; n != nil {
		net := &Net{
			Allow: n.Allow, Methods: n.Methods, HTTPHosts: n.HTTPHosts, AllowIPs: n.AllowIPs,
			MaxRequest: n.MaxRequest, MaxResponse: n.MaxResponse, Timeout: Duration(n.Timeout), MaxRedirects: n.MaxRedirects,
		}
		for _, h := range n.Headers {
			net.Headers = append(net.Headers, h.Host+" "+h.Name)
		}
		g.Net = net
	}
	return out, nil
}
