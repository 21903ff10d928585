package sdkcopy

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteRefreshes: Write rewrites a tool's SDK copy to the binary's
// own, removing files the binary does not carry, and reports a change only
// when it made one.
func TestWriteRefreshes(t *testing.T) {
	dir := t.TempDir()
	if changed, err := Write(dir); err != nil || !changed {
		t.Fatalf("first write: changed %v, %v", changed, err)
	}
	if changed, err := Write(dir); err != nil || changed {
		t.Fatalf("second write: changed %v, %v; want nothing to do", changed, err)
	}
	sdkGo := filepath.Join(dir, ".moat", "sdk", "sdk", "sdk.go")
	want, _ := os.ReadFile(sdkGo)
	os.WriteFile(sdkGo, []byte("package sdk // stale\n"), 0o644)
	stale := filepath.Join(dir, ".moat", "sdk", "sdk", "removed.go")
	os.WriteFile(stale, []byte("package sdk\n"), 0o644)
	if changed, err := Write(dir); err != nil || !changed {
		t.Fatalf("refresh: changed %v, %v", changed, err)
	}
	if got, _ := os.ReadFile(sdkGo); string(got) != string(want) {
		t.Error("sdk.go was not restored")
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a file the SDK no longer has was left in the copy")
	}
	if _, err := os.Stat(filepath.Join(dir, ".moat", "sdk", "sdk", "sdk_test.go")); err == nil {
		t.Error("the copy holds the SDK's tests")
	}
}

// TestManaged: only the replace directive moat new writes marks a copy
// as moat's to refresh.
func TestManaged(t *testing.T) {
	tests := []struct {
		name, gomod string
		want        bool
	}{
		{"moat new's replace", "module x\n\nreplace github.com/moatmcp/moat => ./.moat/sdk\n", true},
		{"trailing slash", "module x\nreplace github.com/moatmcp/moat => ./.moat/sdk/\n", true},
		{"a checkout", "module x\nreplace github.com/moatmcp/moat => ../moat\n", false},
		{"no replace", "module x\n", false},
		{"no go.mod", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.gomod != "" {
				os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tc.gomod), 0o644)
			}
			if got := Managed(dir); got != tc.want {
				t.Fatalf("Managed = %v, want %v", got, tc.want)
			}
		})
	}
}
