package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/metrics"
)

// TestEveryDenyReasonRecorded: each denial reason docs/metrics.md lists
// (metrics.DenyReasons) is recorded somewhere in the call path, so a
// documented series is never one that stays at zero forever. A reason
// added to the list without a caller fails here.
func TestEveryDenyReasonRecorded(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, reason := range metrics.DenyReasons {
		if !strings.Contains(src.String(), `"`+reason+`"`) {
			t.Errorf("denial reason %q is never recorded by the host", reason)
		}
		if !strings.Contains(string(doc), "`"+reason+"`") {
			t.Errorf("denial reason %q is not in docs/metrics.md", reason)
		}
	}
}
