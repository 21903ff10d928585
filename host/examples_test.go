package host

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/manifest"
)

// example lays out search_files, write_file and json_query like the
// repository (manifests, sample folders, freshly built modules) in a temp
// tree, loads the real manifest of the named one and returns it and the
// tree's root. write_file writes into the tree's copy of testdata/scratch,
// never into the repository.
func example(t *testing.T, name string) (*Tool, string) {
	t.Helper()
	root := t.TempDir()
	put := func(dst string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, dst)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"manifests/search_files.toml", "manifests/write_file.toml", "manifests/json_query.toml",
		"testdata/public-files/README.txt", "testdata/public-files/pixel.png",
		"testdata/public-files/notes/meeting.md", "testdata/public-files/notes/todo.txt",
		"testdata/scratch/README.md"} {
		put(f, mustRead(t, filepath.Join("..", f)))
	}
	for _, mod := range []string{"searchfiles", "writefile", "jsonquery"} {
		put("tools/"+mod+"/"+mod+".wasm", mustRead(t, guests[mod]))
	}
	m, err := manifest.Load(filepath.Join(root, "manifests", name+".toml"))
	if err != nil {
		t.Fatal(err)
	}
	// The shipped time limits fit a quiet machine; on a busy shared one a
	// large document can take longer, and what these tests check is the
	// answer, not the speed.
	m.Limits.Timeout = max(m.Limits.Timeout, 2*time.Minute)
	tool, err := LoadTool(context.Background(), runtime(t), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tool.Close(context.Background()) })
	return tool, root
}

// exampleCase is one call and its exact result text.
type exampleCase struct {
	name    string
	args    string
	want    string
	isError bool
}

func runExampleCases(t *testing.T, tool *Tool, tests []exampleCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, info, err := tool.Call(context.Background(), json.RawMessage(tc.args), nil)
			if err != nil {
				t.Fatal(err)
			}
			text := res.Content[0].(*mcp.TextContent).Text
			if text != tc.want || res.IsError != tc.isError {
				t.Errorf("got %s (isError %v, outcome %s)\nwant %s (isError %v)", text, res.IsError, info.Outcome, tc.want, tc.isError)
			}
		})
	}
}

func TestSearchFilesTool(t *testing.T) {
	t.Parallel()
	search, _ := example(t, "search_files")
	runExampleCases(t, search, []exampleCase{
		{"regex over the share", `{"pattern":"manifest"}`,
			`{"matches":[{"path":"notes/todo.txt","line":1,"text":"- write the manifest docs"},{"path":"notes/todo.txt","line":2,"text":"- fuzz the manifest parser"}],"truncated":false,"files_scanned":3,"skipped":[{"path":"pixel.png","reason":"binary"}],"skipped_count":1}`, false},
		{"anchored, case-insensitive, in a folder", `{"pattern":"^# weekly","case_insensitive":true,"path":"notes"}`,
			`{"matches":[{"path":"notes/meeting.md","line":1,"text":"# Weekly sync"}],"truncated":false,"files_scanned":2}`, false},
		{"glob alone", `{"glob":"**/*.md"}`,
			`{"matches":[{"path":"notes/meeting.md"}],"truncated":false,"files_scanned":0}`, false},
		{"glob and regex", `{"glob":"*.txt","pattern":"the"}`,
			`{"matches":[{"path":"README.txt","line":1,"text":"This folder is the sample document share for moat's example tools."},{"path":"README.txt","line":4,"text":"exists for them: not the rest of the repository, not /etc, not your home."},{"path":"notes/todo.txt","line":1,"text":"- write the manifest docs"},{"path":"notes/todo.txt","line":2,"text":"- fuzz the manifest parser"}],"truncated":false,"files_scanned":2}`, false},
		{"max_results stops the search", `{"pattern":"\\.","max_results":2}`,
			`{"matches":[{"path":"README.txt","line":1,"text":"This folder is the sample document share for moat's example tools."},{"path":"README.txt","line":3,"text":"read_file and list_files see it at /data, read-only. Nothing outside it"}],"truncated":true,"stopped_by":"max_results","files_scanned":1}`, false},
		{"one file", `{"pattern":"Ship","path":"/data/notes/meeting.md"}`,
			`{"matches":[{"path":"notes/meeting.md","line":3,"text":"1. Ship the sandbox core."}],"truncated":false,"files_scanned":1}`, false},
		{"nothing found", `{"pattern":"zebra","glob":"*.md"}`,
			`{"matches":[],"truncated":false,"files_scanned":1}`, false},
		{"RE2 has no backreferences", `{"pattern":"(a)\\1"}`, "invalid pattern: invalid escape sequence: `\\1`", true},
		{"a pattern or a glob is required", `{"path":"notes"}`, `invalid arguments: does not match any of the 2 allowed forms; the closest is form 1: expected the property "pattern", which is missing; form 2: expected the property "glob", which is missing`, true},
		{"traversal", `{"pattern":"root","path":"../../../../etc"}`, "path must be inside the shared folder", true},
		{"missing folder", `{"pattern":"x","path":"nope"}`, "nope: no such file or folder", true},
		{"max_results over the cap", `{"pattern":"x","max_results":5000}`, `invalid argument "/max_results": must be <= 1000`, true},
	})
}

func TestWriteFileTool(t *testing.T) {
	t.Parallel()
	write, root := example(t, "write_file")
	scratch := filepath.Join(root, "testdata/scratch")
	ann := write.MCPTool().Annotations
	if ann.ReadOnlyHint || ann.DestructiveHint == nil || !*ann.DestructiveHint || *ann.OpenWorldHint {
		t.Errorf("annotations = %+v, want destructive, not read-only, closed-world (derived from the rw mount)", ann)
	}
	runExampleCases(t, write, []exampleCase{
		{"create", `{"path":"drafts/a.md","content":"# A\n"}`, `{"path":"drafts/a.md","bytes_written":4,"created":true}`, false},
		{"replace", `{"path":"drafts/a.md","content":"# A, again\n"}`, `{"path":"drafts/a.md","bytes_written":11,"created":false}`, false},
		{"create only refuses to replace", `{"path":"drafts/a.md","content":"x","create_only":true}`, "drafts/a.md already exists (create_only is set)", true},
		{"absolute guest path", `{"path":"/scratch/b.txt","content":"b"}`, `{"path":"b.txt","bytes_written":1,"created":true}`, false},
		{"traversal", `{"path":"../public-files/README.txt","content":"x"}`, "path must be a file inside the writable folder /scratch", true},
		{"another mount's path", `{"path":"/data/README.txt","content":"x"}`, "path must be a file inside the writable folder /scratch", true},
		{"a folder", `{"path":"drafts","content":"x"}`, "drafts is a folder", true},
		{"reserved name", `{"path":".moat-tmp-x","content":"x"}`, ".moat-tmp-x: names starting with .moat-tmp- are reserved", true},
		{"content too long for the schema", `{"path":"big.txt","content":"` + strings.Repeat("x", 1<<20+1) + `"}`, `invalid argument "/content": must be at most 1048576 characters long`, true},
		{"arguments over max_input", `{"path":"big.txt","content":"` + strings.Repeat(`\"`, 1<<20+1) + `"}`, "arguments too large: 2097185 bytes (limit 2097152)", true},
	})
	for file, want := range map[string]string{"drafts/a.md": "# A, again\n", "b.txt": "b", "README.md": string(mustRead(t, "../testdata/scratch/README.md"))} {
		if got := string(mustRead(t, filepath.Join(scratch, file))); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if got := string(mustRead(t, filepath.Join(root, "testdata/public-files/README.txt"))); got != string(mustRead(t, "../testdata/public-files/README.txt")) {
		t.Errorf("the read-only share changed")
	}
	// Every write went through a temporary file; none is left behind.
	var names []string
	filepath.WalkDir(scratch, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != scratch {
			r, _ := filepath.Rel(scratch, p)
			names = append(names, filepath.ToSlash(r))
		}
		return nil
	})
	if got := strings.Join(names, " "); got != "README.md b.txt drafts drafts/a.md" {
		t.Errorf("scratch holds %s", got)
	}
}

func TestJSONQueryTool(t *testing.T) {
	t.Parallel()
	q, _ := example(t, "json_query")
	m := q.Manifest
	if len(m.Mounts) != 0 || len(m.Env) != 0 || m.Clock || m.Random {
		t.Errorf("json_query has grants: mounts %v, env %d, clock %v, random %v", m.Mounts, len(m.Env), m.Clock, m.Random)
	}
	ann := q.MCPTool().Annotations
	if !ann.ReadOnlyHint || *ann.DestructiveHint || *ann.OpenWorldHint {
		t.Errorf("annotations = %+v, want read-only, not destructive, closed-world", ann)
	}
	doc := `{"items":[{"name":"a","tags":["x","y"]},{"name":"b","tags":[]}],"n":12345678901234567890}`
	call := func(query string) string { return `{"document":` + doc + `,"query":"` + query + `"}` }
	deep := strings.Repeat("[", 64) + strings.Repeat("]", 64)
	big := `"` + strings.Repeat("a", 256<<10-100) + `"`
	// The worst case for memory: about as many values as max_input allows.
	many := "[" + strings.Repeat("0,", (256<<10-100)/2) + "0]"
	runExampleCases(t, q, []exampleCase{
		{"a path", call(".items[1].name"), `{"result":"b"}`, false},
		{"iterate", call(".items[].name"), `{"result":["a","b"]}`, false},
		{"length of each", call(".items[].tags | length"), `{"result":[2,0]}`, false},
		{"keys", call(".items[0] | keys"), `{"result":["name","tags"]}`, false},
		{"big number kept exactly", call(".n"), `{"result":12345678901234567890}`, false},
		{"missing gives null", call(".nope[3]"), `{"result":null}`, false},
		{"a scalar document", `{"document":"héllo","query":"length"}`, `{"result":5}`, false},
		{"a null document", `{"document":null,"query":"."}`, `{"result":null}`, false},
		{"a large document", `{"document":` + big + `,"query":"length"}`, `{"result":262044}`, false},
		{"a document of many values", `{"document":` + many + `,"query":"length"}`, `{"result":131023}`, false},
		{"type error", call(".items.name"), `query type error: cannot take field "name" of an array`, true},
		{"syntax error", call(".items["), `query syntax error at the end: expected ] or an index`, true},
		// The host's validator refuses arguments nested past 64 levels
		// before the tool runs; the tool's own check (a document of 63,
		// the same bound) is a second fence.
		{"over max_input", `{"document":"` + strings.Repeat("a", 256<<10) + `","query":"."}`, "arguments too large: 262171 bytes (limit 262144)", true},
		{"too deep", `{"document":` + deep + `,"query":"."}`, `invalid argument "/document` + strings.Repeat("/0", 63) + `": nested deeper than 64 levels`, true},
		{"query required", `{"document":{}}`, `invalid argument "/query": required property is missing`, true},
	})
}
