package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/auth"
)

// TestCheckAccessCapabilities: moat check --access prints the principals
// × tools matrix and --capabilities the capability table, as text and as
// JSON, from the same builders as the console; --access needs moat.toml.
func TestCheckAccessCapabilities(t *testing.T) {
	t.Parallel()
	cache := filepath.Join(tree, "cache")
	dir := t.TempDir()
	_, hash, err := auth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "moat.toml")
	os.WriteFile(cfg, []byte("[tools]\ndirs = [\""+filepath.ToSlash(filepath.Join(tree, "manifests"))+"\"]\n"+
		"[[auth.keys]]\nid = \"ops\"\nhash = \""+hash+"\"\ntools = []\nscopes = [\"admin\"]\n"+
		"[[auth.keys]]\nid = \"agent\"\nhash = \""+hash+"\"\ntools = [\"*\"]\nrate = \"30/min\"\n"), 0o644)

	code, out, errOut := runMoat(t, "", "check", "--cache-dir", cache, "--access", cfg)
	if code != 0 || strings.Contains(out, "ok  ") || !strings.Contains(out, "PRINCIPAL") || !strings.Contains(out, "agent") || !strings.Contains(out, "30/min") {
		t.Fatalf("--access: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runMoat(t, "", "check", "--cache-dir", cache, "--access", "--json", cfg)
	var acc struct {
		Tools      []string
		Principals []struct {
			ID  string
			May []string
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &acc) != nil || len(acc.Tools) != 2 {
		t.Fatalf("--access --json: exit %d\n%s\n%s", code, out, errOut)
	}
	may := map[string]string{}
	for _, p := range acc.Principals {
		may[p.ID] = strings.Join(p.May, ",")
	}
	if may["agent"] != "yes,yes" || may["ops"] != "," {
		t.Errorf("cells %v", may)
	}

	code, out, errOut = runMoat(t, "", "check", "--cache-dir", cache, "--capabilities", "--json", cfg)
	var caps []struct {
		Name      string
		Digest    string
		Isolation string
		Approval  string
		Mounts    []struct{ Guest, Host, Mode string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &caps) != nil || len(caps) != 2 {
		t.Fatalf("--capabilities --json: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, c := range caps {
		if !strings.HasPrefix(c.Digest, "sha256:") || c.Isolation == "" || c.Approval != "approved" {
			t.Errorf("capability %+v", c)
		}
	}
	code, out, _ = runMoat(t, "", "check", "--cache-dir", cache, "--capabilities", filepath.Join(tree, "manifests"))
	if code != 0 || !strings.Contains(out, "TOOL") || !strings.Contains(out, "APPROVAL") {
		t.Fatalf("--capabilities: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"access without a config", []string{"--access", filepath.Join(tree, "manifests")}, "--access needs the server's config"},
		{"json alone", []string{"--json", cfg}, "--json goes with --access or --capabilities"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runMoat(t, "", append([]string{"check", "--cache-dir", cache}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
		})
	}
}
