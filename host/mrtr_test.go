//lint:file-ignore SA1019 these tests exercise MCP logging, sampling and roots, deprecated by 2026-07-28 but still served (host/logging.go, host/mrtr.go).

package host

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/testclock"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// saveFileManifest is save_file (tools/savefile) writing into scratch.
func saveFileManifest(name, scratch string) string {
	return manifestText(guests["savefile"], fmt.Sprintf(`name = %q
[input_schema]
type = "object"
required = ["path", "content"]
[input_schema.properties.path]
type = "string"
[input_schema.properties.content]
type = "string"
[[mount]]
host = %q
guest = "/scratch"
mode = "rw"
[limits]
timeout = "2m"
`, name, scratch))
}

// mrtrServer serves save_file and save_copy (the same module under
// another name) to the keys "writer" and "other", with scratch/notes.txt.
func mrtrServer(t *testing.T, clock *testclock.Clock) (*testServer, map[string]testKey, string) {
	t.Helper()
	scratch := t.TempDir()
	if err := os.WriteFile(filepath.Join(scratch, "notes.txt"), []byte("old notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tk := newTestKeys(t, "writer", "other")
	// Many rounds in a row: the rate limits have their own tests.
	limits := "[rate_limits]\nper_principal = \"unlimited\"\nper_principal_tool = \"unlimited\"\nper_tool = \"unlimited\"\n"
	c := testConfig{http: true, toml: limits + keyBlock(tk["writer"], `["save_file", "save_copy"]`) + keyBlock(tk["other"], `["save_file"]`),
		tools: map[string]string{"save_file": saveFileManifest("save_file", scratch), "save_copy": saveFileManifest("save_copy", scratch)}}
	if clock != nil {
		c.now = clock.Now
	}
	return newTestServer(t, c), tk, scratch
}

// rpcReply is one JSON-RPC answer.
type rpcReply struct {
	Result struct {
		ResultType    string                     `json:"resultType"`
		InputRequests map[string]json.RawMessage `json:"inputRequests"`
		RequestState  string                     `json:"requestState"`
		IsError       bool                       `json:"isError"`
		Content       []struct{ Text string }    `json:"content"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// callStateless sends one 2026-07-28 tools/call with key; extra is more
// params (",\"inputResponses\":…"); caps the declared client capabilities.
func callStateless(t *testing.T, url, key, tool, args, extra, caps string) (rpcReply, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + extra +
		`,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":` + caps + `}}}`
	req := mcpRequest(context.Background(), "POST", url+"/mcp", body, "")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", tool)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	text := b.String()
	payload := text
	for _, line := range strings.Split(text, "\n") { // an SSE answer: the data line
		if d, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(d, `"id":9`) {
			payload = d
		}
	}
	var r rpcReply
	if err := json.Unmarshal([]byte(payload), &r); err != nil {
		t.Fatalf("answer is not JSON-RPC: %d %s", resp.StatusCode, text)
	}
	return r, text
}

const elicitCaps = `{"elicitation":{}}`

var confirmYes = `,"inputResponses":{"overwrite":{"action":"accept","content":{"confirm":true}}}`

func withState(responses, state string) string {
	return responses + `,"requestState":"` + state + `"`
}

// TestInputRequiredStateless: a 2026-07-28 client calls save_file on a
// file that exists: the first call is input_required (an elicitation and
// a requestState) and writes nothing; the retry with the answer and the
// state replaces the file. Each round is a tools/call of its own in the
// audit log.
func TestInputRequiredStateless(t *testing.T) {
	t.Parallel()
	ts, tk, scratch := mrtrServer(t, nil)
	key := tk["writer"].secret
	args := `{"path":"notes.txt","content":"new notes\n"}`

	r, raw := callStateless(t, ts.url, key, "save_file", args, "", elicitCaps)
	if r.Error != nil || r.Result.ResultType != "input_required" || r.Result.RequestState == "" || r.Result.InputRequests["overwrite"] == nil {
		t.Fatalf("first call: %s", raw)
	}
	if !strings.Contains(string(r.Result.InputRequests["overwrite"]), `"method":"elicitation/create"`) ||
		!strings.Contains(string(r.Result.InputRequests["overwrite"]), `Replace notes.txt (10 bytes, sha256 `) {
		t.Fatalf("the question: %s", r.Result.InputRequests["overwrite"])
	}
	if b, _ := os.ReadFile(filepath.Join(scratch, "notes.txt")); string(b) != "old notes\n" {
		t.Fatalf("written before the answer: %q", b)
	}

	r2, raw := callStateless(t, ts.url, key, "save_file", args, withState(confirmYes, r.Result.RequestState), elicitCaps)
	if r2.Error != nil || r2.Result.ResultType != "complete" || r2.Result.IsError || len(r2.Result.Content) != 1 || r2.Result.Content[0].Text != `{"path":"notes.txt","bytes_written":10,"replaced":true}` {
		t.Fatalf("retry: %s", raw)
	}
	if b, _ := os.ReadFile(filepath.Join(scratch, "notes.txt")); string(b) != "new notes\n" {
		t.Fatalf("after the confirmation: %q", b)
	}
	a := ts.auditText()
	if !strings.Contains(a, `"principal":"writer","auth_method":"api_key"`) ||
		strings.Count(a, `"tool":"save_file"`) != 2 || !strings.Contains(a, `"outcome":"input_required"`) || !strings.Contains(a, `"outcome":"ok"`) {
		t.Fatalf("audit: want an input_required and an ok record:\n%s", a)
	}

	// Declined: nothing written, a tool error.
	r, _ = callStateless(t, ts.url, key, "save_file", `{"path":"notes.txt","content":"x"}`, "", elicitCaps)
	r2, raw = callStateless(t, ts.url, key, "save_file", `{"path":"notes.txt","content":"x"}`,
		withState(`,"inputResponses":{"overwrite":{"action":"decline"}}`, r.Result.RequestState), elicitCaps)
	if !r2.Result.IsError || len(r2.Result.Content) == 0 || r2.Result.Content[0].Text != "notes.txt was not replaced: the user did not confirm" {
		t.Fatalf("declined: %s", raw)
	}
	// A client without elicitation: the tool is told, nothing written.
	r, raw = callStateless(t, ts.url, key, "save_file", `{"path":"notes.txt","content":"x"}`, "", `{}`)
	if !r.Result.IsError || r.Result.Content[0].Text != "notes.txt exists, and this client cannot ask the user to confirm replacing it: nothing was written" {
		t.Fatalf("no elicitation capability: %s", raw)
	}
	// A new file needs no question.
	r, raw = callStateless(t, ts.url, key, "save_file", `{"path":"fresh.txt","content":"x"}`, "", `{}`)
	if r.Result.ResultType != "complete" || r.Result.IsError {
		t.Fatalf("new file: %s", raw)
	}
	if b, _ := os.ReadFile(filepath.Join(scratch, "notes.txt")); string(b) != "new notes\n" {
		t.Fatalf("changed without a confirmation: %q", b)
	}
}

// TestRequestStateBadInput: every requestState that is not the one the
// host issued for this caller, tool and arguments, unexpired and unused,
// is refused with -32602, a fixed message and an error id, and audited;
// nothing is written. A missing or wrong-kind answer with a good state
// asks again.
func TestRequestStateBadInput(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now())
	ts, tk, scratch := mrtrServer(t, clock)
	writer, other := tk["writer"].secret, tk["other"].secret
	args := `{"path":"notes.txt","content":"bad input\n"}`
	fresh := func() string {
		r, raw := callStateless(t, ts.url, writer, "save_file", args, "", elicitCaps)
		if r.Result.RequestState == "" {
			t.Fatalf("no requestState: %s", raw)
		}
		return r.Result.RequestState
	}
	tests := []struct {
		name       string
		key, tool  string
		args       string
		state      func() string
		responses  string
		advance    time.Duration
		wantError  string // the message's start; "" = a result
		wantResult string // resultType when a result
	}{
		{name: "oversized", key: writer, tool: "save_file", args: args, state: func() string { return strings.Repeat("A", MaxRequestState+1) },
			responses: confirmYes, wantError: "invalid requestState: longer than 65536 bytes (error id "},
		{name: "tampered", key: writer, tool: "save_file", args: args, state: func() string {
			// Another character of the same (base64url) alphabet in the
			// middle: still well-formed, no longer authentic. (Flipping a
			// bit could leave the alphabet, which is "malformed".)
			s := []byte(fresh())
			if s[len(s)/2] == 'A' {
				s[len(s)/2] = 'B'
			} else {
				s[len(s)/2] = 'A'
			}
			return string(s)
		}, responses: confirmYes, wantError: "invalid requestState: it does not authenticate (altered, or sealed by another server) (error id "},
		{name: "tampered suffix", key: writer, tool: "save_file", args: args, state: func() string { return fresh() + "-TAMPERED" },
			responses: confirmYes, wantError: "invalid requestState: it does not authenticate (altered, or sealed by another server) (error id "},
		{name: "malformed", key: writer, tool: "save_file", args: args, state: func() string { return "not a state" },
			responses: confirmYes, wantError: "invalid requestState: malformed (error id "},
		{name: "expired", key: writer, tool: "save_file", args: args, state: fresh, advance: 11 * time.Minute,
			responses: confirmYes, wantError: "invalid requestState: expired; call the tool again without it (error id "},
		{name: "other principal", key: other, tool: "save_file", args: args, state: fresh,
			responses: confirmYes, wantError: "invalid requestState: it was issued to another caller (error id "},
		{name: "other tool", key: writer, tool: "save_copy", args: args, state: fresh,
			responses: confirmYes, wantError: "invalid requestState: it was issued for another tool, or another version of this one (error id "},
		{name: "other arguments", key: writer, tool: "save_file", args: `{"path":"notes.txt","content":"other\n"}`, state: fresh,
			responses: confirmYes, wantError: "invalid requestState: it was issued for other arguments (error id "},
		{name: "answer missing asks again", key: writer, tool: "save_file", args: args, state: fresh,
			responses: `,"inputResponses":{"wrong_key":{"action":"accept","content":{"confirm":true}}}`, wantResult: "input_required"},
		{name: "answer of the wrong kind asks again", key: writer, tool: "save_file", args: args, state: fresh,
			responses: `,"inputResponses":{"overwrite":{"roots":[]}}`, wantResult: "input_required"},
		{name: "answers without a state are ignored", key: writer, tool: "save_file", args: args, state: func() string { return "" },
			responses: confirmYes, wantResult: "input_required"},
		{name: "replayed", key: writer, tool: "save_file", args: args, state: func() string {
			s := fresh()
			// The state's first use: the question is answered "decline", so
			// nothing is written.
			r, raw := callStateless(t, ts.url, writer, "save_file", args, withState(`,"inputResponses":{"overwrite":{"action":"decline"}}`, s), elicitCaps)
			if !r.Result.IsError {
				t.Fatalf("first use: %s", raw)
			}
			return s
		}, responses: confirmYes, wantError: "invalid requestState: it was already used; retry with the latest one, or call the tool again without it (error id "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := tc.state()
			clock.Advance(tc.advance)
			extra := tc.responses
			if state != "" {
				extra = withState(tc.responses, state)
			}
			r, raw := callStateless(t, ts.url, tc.key, tc.tool, tc.args, extra, elicitCaps)
			switch {
			case tc.wantError != "":
				if r.Error == nil || r.Error.Code != -32602 || !strings.HasPrefix(r.Error.Message, tc.wantError) || !strings.Contains(raw, `"id":9`) {
					t.Fatalf("got %s\nwant -32602 %q…", raw, tc.wantError)
				}
			default:
				if r.Error != nil || r.Result.ResultType != tc.wantResult {
					t.Fatalf("got %s\nwant resultType %s", raw, tc.wantResult)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(scratch, "notes.txt")); string(b) != "old notes\n" {
				t.Fatalf("written: %q", b)
			}
		})
	}
	a := ts.auditText()
	for _, reason := range []string{"too_large", "tampered", "malformed", "expired", "other_principal", "other_tool", "other_arguments", "replayed"} {
		if !strings.Contains(a, `"outcome":"invalid_request_state","reason":"`+reason+`"`) {
			t.Errorf("audit: no invalid_request_state record with reason %s", reason)
		}
	}
	if t.Failed() {
		t.Log(a)
	}
}

// TestInputBothErasGoClient: the go-sdk client answers save_file's
// question with its ElicitationHandler, over HTTP, in both eras: at
// 2026-07-28 its multi-round-trip middleware retries the input_required
// call; in a 2025-11-25 session moat asks it with elicitation/create
// inside the call. A session client that declares no elicitation gets the
// tool's "cannot ask" result.
func TestInputBothErasGoClient(t *testing.T) {
	t.Parallel()
	ts, tk, scratch := mrtrServer(t, nil)
	key := tk["writer"].secret
	for _, tc := range []struct {
		name, version string
		handler       bool
		want          string
	}{
		{"2026-07-28, stateless", "2026-07-28", true, `{"path":"notes.txt","bytes_written":6,"replaced":true}`},
		{"2025-11-25 session", "2025-11-25", true, `{"path":"notes.txt","bytes_written":6,"replaced":true}`},
		{"2025-11-25 session without elicitation", "2025-11-25", false, "notes.txt exists, and this client cannot ask the user to confirm replacing it: nothing was written"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(scratch, "notes.txt"), []byte("old notes\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var asked []string
			opts := &mcp.ClientOptions{}
			if tc.handler {
				opts.ElicitationHandler = func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					asked = append(asked, req.Params.Message)
					return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, nil
				}
			}
			c := mcp.NewClient(&mcp.Implementation{Name: "mrtr-test", Version: "1"}, opts)
			cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
				Endpoint:   ts.url + "/mcp",
				HTTPClient: &http.Client{Transport: bearer{key, http.DefaultTransport}},
			}, &mcp.ClientSessionOptions{ProtocolVersion: tc.version})
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "save_file", Arguments: map[string]any{"path": "notes.txt", "content": "fresh\n"}})
			if err != nil {
				t.Fatal(err)
			}
			text := res.Content[0].(*mcp.TextContent).Text
			if text != tc.want {
				t.Fatalf("got %s (isError %v), want %s", text, res.IsError, tc.want)
			}
			if tc.handler && (len(asked) != 1 || !strings.HasPrefix(asked[0], "Replace notes.txt (10 bytes, sha256 ")) {
				t.Fatalf("asked %q", asked)
			}
			b, _ := os.ReadFile(filepath.Join(scratch, "notes.txt"))
			if want := map[bool]string{true: "fresh\n", false: "old notes\n"}[tc.handler]; string(b) != want {
				t.Fatalf("file %q, want %q", b, want)
			}
		})
	}
}

// TestInputFixtures: the conformance suite's input-required fixtures
// (testdata/conformance/fixtures) through HTTP at 2026-07-28, answered
// the way the suite answers them: the keys and methods of the first round,
// and the text after the last.
func TestInputFixtures(t *testing.T) {
	t.Parallel()
	names := []string{"elicitation", "sampling", "list_roots", "request_state", "multiple_inputs", "multi_round", "capabilities", "tampered_state"}
	tools := map[string]string{}
	for _, n := range names {
		tools["test_input_required_result_"+n] = manifestText(guests["fixtures"], `name = "test_input_required_result_`+n+`"`)
	}
	for _, n := range []string{"test_sampling", "test_elicitation_sep1034_defaults"} {
		tools[n] = manifestText(guests["fixtures"], `name = "`+n+`"`)
	}
	ts := newTestServer(t, testConfig{http: true, noAuth: true, tools: tools})
	answer := func(req json.RawMessage) string {
		switch {
		case strings.Contains(string(req), `"elicitation/create"`) && strings.Contains(string(req), `"color"`):
			return `{"action":"accept","content":{"color":"blue"}}`
		case strings.Contains(string(req), `"elicitation/create"`):
			return `{"action":"accept","content":{"name":"Alice","ok":true}}`
		case strings.Contains(string(req), `"sampling/createMessage"`):
			return `{"role":"assistant","content":{"type":"text","text":"Hello there!"},"model":"test-model","stopReason":"endTurn"}`
		}
		return `{"roots":[{"uri":"file:///test/root","name":"Test Root"}]}`
	}
	const allCaps = `{"sampling":{},"elicitation":{},"roots":{"listChanged":true}}`
	for _, tc := range []struct {
		name, caps string
		firstKeys  string // the first round's keys, sorted; "" = complete at once
		rounds     int
		want       string
	}{
		{"elicitation", allCaps, "user_name", 1, "Hello, Alice!"},
		{"sampling", allCaps, "capital_question", 1, "Sampling response: Hello there!"},
		{"list_roots", allCaps, "client_roots", 1, "Client exposed 1 root(s): file:///test/root"},
		{"request_state", allCaps, "confirm", 1, "state-ok: requestState received and confirmation accepted"},
		{"multiple_inputs", allCaps, "client_roots,greeting,user_name", 1, "Hello there! Alice — 1 root(s) visible"},
		{"multi_round", allCaps, "step1", 2, "Multi-round complete: Alice likes blue"},
		{"capabilities", `{"sampling":{}}`, "greeting", 1, "Capability-aware input requests fulfilled"},
		{"capabilities", `{}`, "", 0, "No declared client capability supports an in-band input request"},
	} {
		t.Run(tc.name+" "+tc.caps, func(t *testing.T) {
			tool := "test_input_required_result_" + tc.name
			r, raw := callStateless(t, ts.url, "", tool, `{}`, "", tc.caps)
			var keys []string
			for k := range r.Result.InputRequests {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if strings.Join(keys, ",") != tc.firstKeys {
				t.Fatalf("first round keys %v, want %s: %s", keys, tc.firstKeys, raw)
			}
			rounds, states := 0, map[string]bool{}
			for r.Result.ResultType == "input_required" && rounds < 5 {
				rounds++
				states[r.Result.RequestState] = true
				var parts []string
				for k, req := range r.Result.InputRequests {
					parts = append(parts, fmt.Sprintf("%q:%s", k, answer(req)))
				}
				r, raw = callStateless(t, ts.url, "", tool, `{}`, withState(`,"inputResponses":{`+strings.Join(parts, ",")+`}`, r.Result.RequestState), tc.caps)
			}
			if rounds != tc.rounds || len(states) != rounds || r.Error != nil || r.Result.ResultType != "complete" || len(r.Result.Content) != 1 || r.Result.Content[0].Text != tc.want {
				t.Fatalf("after %d rounds (%d states): %s\nwant %q after %d", rounds, len(states), raw, tc.want, tc.rounds)
			}
		})
	}
	// The 2025-11-25 fixtures, in a session: the host asks the client with
	// server-to-client requests.
	t.Run("in a 2025-11-25 session", func(t *testing.T) {
		c := mcp.NewClient(&mcp.Implementation{Name: "fixtures", Version: "1"}, &mcp.ClientOptions{
			CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
				return &mcp.CreateMessageResult{Role: "assistant", Model: "m", Content: &mcp.TextContent{Text: "Paris"}}, nil
			},
			ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Jane"}}, nil
			},
		})
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.url + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		for _, tc := range []struct{ tool, args, want string }{
			{"test_sampling", `{"prompt":"Capital of France?"}`, "LLM response: Paris"},
			{"test_elicitation_sep1034_defaults", `{}`, `Elicitation completed: action=accept, content={"age":30,"name":"Jane","score":95.5,"status":"active","verified":true}`}, // the go-sdk client fills in the defaults
		} {
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tc.tool, Arguments: json.RawMessage(tc.args)})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Content[0].(*mcp.TextContent).Text; got != tc.want || res.IsError {
				t.Errorf("%s: %s (isError %v), want %s", tc.tool, got, res.IsError, tc.want)
			}
		}
	})
	t.Run("tampered", func(t *testing.T) {
		tool := "test_input_required_result_tampered_state"
		r, _ := callStateless(t, ts.url, "", tool, `{}`, "", allCaps)
		r, raw := callStateless(t, ts.url, "", tool, `{}`, withState(`,"inputResponses":{"confirm":{"action":"accept","content":{"ok":true}}}`, r.Result.RequestState+"-TAMPERED"), allCaps)
		if r.Error == nil || r.Error.Code != -32602 {
			t.Fatalf("tampered: %s", raw)
		}
	})
}

// TestRequiredClientCapability: a tool whose manifest lists
// client_capabilities is refused, before it runs, for a client that did
// not declare them: MissingRequiredClientCapabilityError (-32021, HTTP 400
// under 2026-07-28, data.requiredCapabilities keyed by what is missing),
// audited as denied; a client that declared them gets the tool. A 2025-11-25
// session is held to what it declared at initialize.
func TestRequiredClientCapability(t *testing.T) {
	t.Parallel()
	tk := newTestKeys(t, "k")
	ts := newTestServer(t, testConfig{http: true, toml: keyBlock(tk["k"], `["*"]`), tools: map[string]string{
		"needs": manifestText(guests["hostfixture"], "name = \"needs\"\nclient_capabilities = [\"sampling\", \"elicitation\"]"),
	}})
	key := tk["k"].secret
	for _, tc := range []struct {
		name, caps string
		want       string // "" = the tool runs
	}{
		{"none declared", `{}`, `{"elicitation":{},"sampling":{}}`},
		{"one of two", `{"sampling":{}}`, `{"elicitation":{}}`},
		{"both", `{"sampling":{},"elicitation":{}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, raw := callStateless(t, ts.url, key, "needs", `{"stdout":"ran"}`, "", tc.caps)
			if tc.want == "" {
				if r.Error != nil || r.Result.IsError || len(r.Result.Content) != 1 || r.Result.Content[0].Text != "ran" {
					t.Fatalf("declared: %s", raw)
				}
				return
			}
			var full struct {
				ID    int `json:"id"`
				Error struct {
					Code int `json:"code"`
					Data struct {
						RequiredCapabilities json.RawMessage `json:"requiredCapabilities"`
					} `json:"data"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(raw), &full); err != nil || full.ID != 9 || full.Error.Code != -32021 || string(full.Error.Data.RequiredCapabilities) != tc.want {
				t.Fatalf("want -32021 requiring %s: %s", tc.want, raw)
			}
		})
	}
	if a := ts.auditText(); !strings.Contains(a, `"outcome":"denied","reason":"client lacks capability elicitation"`) {
		t.Errorf("refusal not audited:\n%s", a)
	}

	// A 2025-11-25 session that declared neither.
	resp, _ := postMCP(t, ts.url, key, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	session := resp.Header.Get("Mcp-Session-Id")
	resp.Body.Close()
	resp, body := postMCP(t, ts.url, key, session, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"needs","arguments":{}}}`)
	if !strings.Contains(body, `"code":-32021`) || !strings.Contains(body, `"id":2`) {
		t.Fatalf("session without the capabilities: %d %s", resp.StatusCode, body)
	}
}
