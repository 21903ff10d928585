//lint:file-ignore SA1019 these tests exercise MCP logging, sampling and roots, deprecated by 2026-07-28 but still served (host/logging.go, host/mrtr.go).

package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/sandbox"
)

// TestInputRequestABI: moat.input_request and moat.input_response as a
// guest sees them (hostfixture "ask"), for each answer Hooks.Input can
// give, and for a request document over the limit.
func TestInputRequestABI(t *testing.T) {
	t.Parallel()
	tool := loadTool(t, guests["hostfixture"], `name = "ask"`)
	const doc = `{"k":{"method":"roots/list","params":{}}}`
	answer := []byte(`{"k":{"roots":[]}}`)
	tests := []struct {
		name    string
		args    map[string]any
		input   func(ctx context.Context, req []byte) ([]byte, error) // nil: no hook
		want    string
		outcome string
	}{
		{name: "no hook: unsupported", args: map[string]any{"doc": doc, "cap": 64}, want: "code=2 len=0", outcome: "ok"},
		{name: "answered", args: map[string]any{"doc": doc, "cap": 64}, input: func(_ context.Context, req []byte) ([]byte, error) {
			if string(req) != doc {
				return nil, fmt.Errorf("hook got %q", req)
			}
			return answer, nil
		}, want: `code=0 len=18 resp={"k":{"roots":[]}}`, outcome: "ok"},
		{name: "buffer too small, then input_response", args: map[string]any{"doc": doc, "cap": 4, "cap2": 18, "again": true},
			input: func(context.Context, []byte) ([]byte, error) { return answer, nil },
			want:  `code=11 len=18 then code=0 len=18 resp={"k":{"roots":[]}} again code=12`, outcome: "ok"},
		{name: "bad request", args: map[string]any{"doc": "{", "cap": 64},
			input: func(context.Context, []byte) ([]byte, error) { return nil, inputErrno(sandbox.InputErrBadRequest) },
			want:  "code=1 len=0", outcome: "ok"},
		{name: "unsupported lists the keys", args: map[string]any{"doc": doc, "cap": 64},
			input: func(context.Context, []byte) ([]byte, error) {
				return []byte(`["k"]`), inputErrno(sandbox.InputErrUnsupported)
			},
			want: `code=2 len=5 resp=["k"]`, outcome: "ok"},
		{name: "unsupported, keys too long for the buffer", args: map[string]any{"doc": doc, "cap": 2},
			input: func(context.Context, []byte) ([]byte, error) {
				return []byte(`["k"]`), inputErrno(sandbox.InputErrUnsupported)
			},
			want: `code=2 len=5`, outcome: "ok"},
		{name: "any other error fails", args: map[string]any{"doc": doc, "cap": 64},
			input: func(context.Context, []byte) ([]byte, error) { return nil, errors.New("client gone") },
			want:  "code=13 len=0", outcome: "ok"},
		{name: "a code the host may not give fails", args: map[string]any{"doc": doc, "cap": 64},
			input: func(context.Context, []byte) ([]byte, error) { return nil, inputErrno(sandbox.InputErrBufferTooSmall) },
			want:  "code=13 len=0", outcome: "ok"},
		{name: "oversized document, hook not called", args: map[string]any{"doc": strings.Repeat("x", sandbox.MaxInputRequest+1), "cap": 64},
			input: func(context.Context, []byte) ([]byte, error) { return nil, errors.New("called") },
			want:  "code=1 len=0", outcome: "ok"},
		{name: "input required ends the guest", args: map[string]any{"doc": doc, "cap": 64},
			input: func(context.Context, []byte) ([]byte, error) { return nil, sandbox.ErrInputRequired },
			want:  "", outcome: "input_required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args, _ := json.Marshal(tc.args)
			res, info, err := tool.Call(context.Background(), args, &sandbox.Hooks{Input: tc.input})
			if err != nil {
				t.Fatal(err)
			}
			if info.Run.Outcome.String() != tc.outcome {
				t.Fatalf("outcome %s, want %s", info.Run.Outcome, tc.outcome)
			}
			if tc.outcome == "ok" {
				if got := res.Content[0].(*mcp.TextContent).Text; got != tc.want {
					t.Fatalf("got  %s\nwant %s", got, tc.want)
				}
			} else if len(info.Run.Stdout) != 0 {
				t.Fatalf("stdout of an ended guest: %q", info.Run.Stdout)
			}
		})
	}
}

// TestReplayAsk: what the host answers a guest's request document, by
// round: malformed documents, capabilities, answers replayed, a different
// ask, and too many rounds.
func TestReplayAsk(t *testing.T) {
	t.Parallel()
	const elicit = `{"name":{"method":"elicitation/create","params":{"message":"Name?","requestedSchema":{"type":"object","properties":{"n":{"type":"string"}}}}}}`
	allCaps := &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{}, Sampling: &mcp.SamplingCapabilities{}, RootsV2: &mcp.RootCapabilities{}}
	reqs, _ := parseInputRequests([]byte(elicit))
	digest, kinds, _ := askDigest(reqs)
	answered := []inputRound{{Ask: digest, Kinds: kinds, Answers: map[string]json.RawMessage{"name": json.RawMessage(`{"action":"accept","content":{"n":"Ada"}}`)}}}
	many := make([]inputRound, maxInputRounds)
	for i := range many {
		many[i] = answered[0]
	}
	tests := []struct {
		name    string
		caps    *mcp.ClientCapabilities
		rounds  []inputRound
		doc     string
		want    string // the response document, or "code=N", or "ended:<problem>"
		pending bool
	}{
		{name: "not JSON", caps: allCaps, doc: `{`, want: "code=1"},
		{name: "not an object", caps: allCaps, doc: `[1]`, want: "code=1"},
		{name: "no requests", caps: allCaps, doc: `{}`, want: "code=1"},
		{name: "null request", caps: allCaps, doc: `{"a":null}`, want: "code=1"},
		{name: "bad key", caps: allCaps, doc: `{"a b":{"method":"roots/list","params":{}}}`, want: "code=1"},
		{name: "key too long", caps: allCaps, doc: `{"` + strings.Repeat("k", 65) + `":{"method":"roots/list","params":{}}}`, want: "code=1"},
		{name: "unknown method", caps: allCaps, doc: `{"a":{"method":"tools/call","params":{}}}`, want: "code=1"},
		{name: "too many requests", caps: allCaps, doc: nineRequests(), want: "code=1"},
		{name: "params not an object", caps: allCaps, doc: `{"a":{"method":"elicitation/create","params":"x"}}`, want: "code=1"},
		{name: "no capabilities", caps: nil, doc: elicit, want: `code=2 ["name"]`},
		{name: "sampling only", caps: &mcp.ClientCapabilities{Sampling: &mcp.SamplingCapabilities{}},
			doc:  `{"g":{"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}},"r":{"method":"roots/list","params":{}},"name":{"method":"elicitation/create","params":{"message":"x"}}}`,
			want: `code=2 ["name","r"]`},
		{name: "first ask: input required", caps: allCaps, doc: elicit, want: "ended:", pending: true},
		{name: "answered round replayed", caps: allCaps, rounds: answered, doc: elicit, want: `{"name":{"action":"accept","content":{"n":"Ada"}}}`},
		{name: "same ask, other spacing", caps: allCaps, rounds: answered, doc: strings.ReplaceAll(elicit, `":`, `": `), want: `{"name":{"action":"accept","content":{"n":"Ada"}}}`},
		{name: "different ask on replay", caps: allCaps, rounds: answered, doc: strings.Replace(elicit, "Name?", "Age?", 1), want: "ended:input_mismatch"},
		{name: "too many rounds", caps: allCaps, rounds: many, doc: `{"x":{"method":"roots/list","params":{}}}`, want: "ended:too_many_rounds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			caps := tc.caps
			r := &replay{caps: func() *mcp.ClientCapabilities { return caps }, rounds: tc.rounds}
			if len(tc.rounds) == maxInputRounds {
				r.next = maxInputRounds
			}
			resp, err := r.ask(context.Background(), []byte(tc.doc))
			var got string
			var coded interface{ Errno() uint32 }
			switch {
			case errors.Is(err, sandbox.ErrInputRequired):
				got = "ended:" + string(r.problem)
			case errors.As(err, &coded):
				got = fmt.Sprintf("code=%d", coded.Errno())
				if len(resp) > 0 {
					got += " " + string(resp)
				}
			case err != nil:
				t.Fatal(err)
			default:
				got = string(resp)
			}
			if got != tc.want || (r.pending != nil) != tc.pending {
				t.Fatalf("got %s (pending %v), want %s (pending %v)", got, r.pending != nil, tc.want, tc.pending)
			}
		})
	}
}

func nineRequests() string {
	var parts []string
	for i := range MaxInputRequests + 1 {
		parts = append(parts, fmt.Sprintf(`"k%d":{"method":"roots/list","params":{}}`, i))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestInputRequestGuests: moat_input_request and moat_input_response as
// the C header (testdata/guests/input_ask.c: a buffer too small, then the
// answer) and the AssemblyScript module (tools/hello_as/assembly/moat.ts,
// testdata/guests/input_as.ts) use them: an answer, a refusal as a code,
// an ask ended for input.
func TestInputRequestGuests(t *testing.T) {
	t.Parallel()
	answer := `{"ok":{"action":"accept","content":{"ok":true}}}`
	answered := func(_ context.Context, req []byte) ([]byte, error) {
		if !strings.Contains(string(req), `"message":"Proceed?"`) {
			return nil, errors.New("unexpected request")
		}
		return []byte(answer), nil
	}
	unsupported := func(context.Context, []byte) ([]byte, error) {
		return []byte(`["ok"]`), inputErrno(sandbox.InputErrUnsupported)
	}
	required := func(context.Context, []byte) ([]byte, error) { return nil, sandbox.ErrInputRequired }
	for _, tc := range []struct {
		name, module string
		input        func(context.Context, []byte) ([]byte, error)
		outcome      audit.Outcome
		want         string
	}{
		{"C answered", "input_ask.wasm", answered, "ok", answer},
		{"C client cannot answer", "input_ask.wasm", unsupported, "tool_error", "input refused: code 02"},
		{"C input required", "input_ask.wasm", required, "input_required", ""},
		{"AssemblyScript answered", "input_as.wasm", answered, "ok", answer},
		{"AssemblyScript client cannot answer", "input_as.wasm", unsupported, "ok", "code 2"},
		{"AssemblyScript input required", "input_as.wasm", required, "input_required", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod, err := filepath.Abs("../testdata/guests/" + tc.module)
			if err != nil {
				t.Fatal(err)
			}
			tool := loadTool(t, mod, `name = "ask"`)
			res, info, err := tool.Call(context.Background(), json.RawMessage(`{}`), &sandbox.Hooks{Input: tc.input})
			if err != nil {
				t.Fatal(err)
			}
			got := info.Outcome
			if info.Run.Outcome == sandbox.OutcomeInputRequired {
				got = "input_required"
			}
			if got != tc.outcome {
				t.Fatalf("outcome %s, want %s", got, tc.outcome)
			}
			if tc.want != "" {
				if text := res.Content[0].(*mcp.TextContent).Text; text != tc.want {
					t.Fatalf("got %s, want %s", text, tc.want)
				}
			}
		})
	}
}

// TestReadSealingKey: [request_state]'s key, from a file or the
// environment, in each accepted form, and every refusal; no error shows
// the key.
func TestReadSealingKey(t *testing.T) {
	dir := t.TempDir()
	const hexKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	file := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("MOAT_TEST_KEY", "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=")
	t.Setenv("MOAT_TEST_SHORT", "0011")
	for _, tc := range []struct {
		name, file, env string
		wantKey         bool
		wantErr         string
	}{
		{"none", "", "", false, ""},
		{"hex file", file("hex", hexKey+"\n", 0o600), "", true, ""},
		{"hex file, CRLF", file("crlf", hexKey+"\r\n", 0o600), "", true, ""},
		{"base64 env", "", "MOAT_TEST_KEY", true, ""},
		{"group readable is fine", file("group", hexKey, 0o640), "", true, ""},
		{"world readable", file("world", hexKey, 0o644), "", false, "readable by other users"},
		{"too short", file("short", "00112233", 0o600), "", false, "must be 32 bytes"},
		{"too long a file", file("long", strings.Repeat("0", 2000), 0o600), "", false, "longer than 1024 bytes"},
		{"missing file", filepath.Join(dir, "nope"), "", false, "key_file"},
		{"env unset", "", "MOAT_TEST_UNSET", false, "$MOAT_TEST_UNSET is not set"},
		{"env too short", "", "MOAT_TEST_SHORT", false, "must be 32 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := readSealingKey(tc.file, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "0011") {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || (key != nil) != tc.wantKey || (key != nil && len(key) != 32) {
				t.Fatalf("key %x, err %v", key, err)
			}
		})
	}
}

// FuzzInputRequest: whatever document a guest passes to
// moat.input_request, the host neither panics nor accepts one that breaks
// the rules (1 to MaxInputRequests requests, keys of the inputKey form),
// and what it accepts has a stable digest.
func FuzzInputRequest(f *testing.F) {
	for _, s := range []string{
		`{"k":{"method":"roots/list","params":{}}}`,
		`{"k":null}`, `{"k":{"method":"elicitation/create","params":null}}`, `{"":{}}`, `[]`, `{`,
		`{"a":{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"x"}}],"maxTokens":1}}}`,
	} {
		f.Add([]byte(s))
	}
	caps := &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{}, Sampling: &mcp.SamplingCapabilities{}, RootsV2: &mcp.RootCapabilities{}}
	f.Fuzz(func(t *testing.T, doc []byte) {
		reqs, err := parseInputRequests(doc)
		if err != nil {
			return
		}
		if len(reqs) == 0 || len(reqs) > MaxInputRequests {
			t.Fatalf("accepted %d requests", len(reqs))
		}
		for k, v := range reqs {
			if !inputKey.MatchString(k) || methodOf(v) == "" {
				t.Fatalf("accepted key %q, request %T", k, v)
			}
		}
		d1, _, err1 := askDigest(reqs)
		d2, _, err2 := askDigest(reqs)
		if err1 != nil || err2 != nil || d1 != d2 {
			t.Fatalf("digest not stable: %v %v", err1, err2)
		}
		r := &replay{caps: func() *mcp.ClientCapabilities { return caps }}
		if _, err := r.ask(context.Background(), doc); !errors.Is(err, sandbox.ErrInputRequired) || r.pending == nil {
			t.Fatalf("an accepted document was not asked: %v", err)
		}
	})
}
