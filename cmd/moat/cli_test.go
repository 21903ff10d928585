package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/clientconfig"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, errOut := runMoat(t, "", "version")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	f := readBuildFacts()
	if !strings.HasPrefix(out, "moat "+f.Version+"\ncommit  ") || !strings.Contains(out, "\ngo      "+f.Go+"\n") || !strings.Contains(out, "\nwazero  ") {
		t.Fatalf("moat version:\n%s", out)
	}
	// A test binary has the dependency list: wazero's version is known.
	if f.Wazero == "(unknown)" || !strings.HasPrefix(f.Wazero, "v1.") {
		t.Errorf("wazero version %q", f.Wazero)
	}
	if code, out2, _ := runMoat(t, "", "--version"); code != 0 || out2 != out {
		t.Errorf("moat --version differs from moat version")
	}
	if code, _, _ := runMoat(t, "", "version", "extra"); code != exitUsage {
		t.Errorf("moat version extra: exit %d, want 2", code)
	}
}

func TestWriteVersion(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	writeVersion(&b, buildFacts{Version: "v1.2.3", Revision: "0123456789abcdef", Modified: true, Time: "2026-11-29T12:00:00Z", Go: "go1.26.8", Wazero: "v1.12.0", MCPSDK: "v1.8.0"})
	want := "moat v1.2.3\ncommit  0123456789abcdef (modified)\nbuilt   2026-11-29T12:00:00Z\ngo      go1.26.8\nwazero  v1.12.0\nmcp     v1.8.0\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestCompletionNamesEveryCommand: each script names every command of the
// dispatch table and each command's flags, so a new command or flag
// cannot miss completion.
func TestCompletionNamesEveryCommand(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh"} {
		t.Run(shell, func(t *testing.T) {
			code, out, errOut := runMoat(t, "", "completion", shell)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			// The list of commands offered first, as the shell sees it.
			var listed []string
			for _, line := range strings.Split(out, "\n") {
				line = strings.TrimSpace(line)
				if l, ok := strings.CutPrefix(line, `local cmds="`); ok {
					l, _, _ = strings.Cut(l, `"`)
					listed = strings.Fields(l)
				}
				if l, ok := strings.CutPrefix(line, "cmds=("); ok {
					listed = strings.Fields(strings.TrimSuffix(l, ")"))
				}
			}
			for _, c := range commands {
				if !slices.Contains(listed, c.name) {
					t.Errorf("the %s script does not offer %q (it offers %v)", shell, c.name, listed)
				}
				if !strings.Contains(out, "    "+c.name+") ") {
					t.Errorf("the %s script has no case for %q", shell, c.name)
				}
			}
			for _, f := range []string{"--update-manifest", "--lang", "--args", "--stdio", "--write", "--pid"} {
				if !strings.Contains(out, f) {
					t.Errorf("the %s script lacks the flag %s", shell, f)
				}
			}
			for _, c := range clientconfig.Names() {
				if !strings.Contains(out, c) {
					t.Errorf("the %s script lacks the client %s", shell, c)
				}
			}
			// The shell itself accepts it.
			if sh, err := exec.LookPath(shell); err == nil {
				cmd := exec.Command(sh, "-n")
				cmd.Stdin = strings.NewReader(out)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s -n: %v\n%s", shell, err, b)
				}
			}
		})
	}
	if code, _, errOut := runMoat(t, "", "completion", "fish"); code != exitUsage || !strings.Contains(errOut, `unknown shell "fish" (bash or zsh)`) {
		t.Errorf("completion fish: exit %d, %q", code, errOut)
	}
}

// TestCompletionFlagsAreReal: the flags completion offers for a command
// are exactly the ones its --help lists (read the same way), and the
// dispatch knows each command in usage.
func TestCompletionFlagsAreReal(t *testing.T) {
	t.Parallel()
	for _, c := range commands {
		if !strings.Contains(usage, "  moat "+c.name) {
			t.Errorf("usage does not show %q", c.name)
		}
		for _, f := range commandFlags(c) {
			if !strings.HasPrefix(f, "--") {
				t.Errorf("%s: flag %q", c.name, f)
			}
		}
	}
	if got := strings.Join(commandFlags(command{"build", noStdin(cmdBuild)}), " "); got != "--check --lang --update-manifest" {
		t.Errorf("build's flags: %q", got)
	}
}

// TestClientConfig: the exact JSON for each client, over HTTP and stdio
// (golden files in testdata/client-config; go test -update rewrites them).
func TestClientConfig(t *testing.T) {
	t.Setenv("MOAT_KEY", "")
	for _, client := range clientconfig.Names() {
		for _, transport := range []string{"http", "stdio"} {
			t.Run(client+"-"+transport, func(t *testing.T) {
				args := []string{"client-config", client, "--key", "moat_k1_example"}
				if transport == "stdio" {
					args = []string{"client-config", client, "--stdio", "--command", "/usr/local/bin/moat", "--config", "/etc/moat/moat.toml"}
				}
				code, out, errOut := runMoat(t, "", args...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				golden := filepath.Join("testdata", "client-config", client+"-"+transport+".json")
				if *updateGolden {
					os.MkdirAll(filepath.Dir(golden), 0o755)
					os.WriteFile(golden, []byte(out), 0o644)
				}
				want, err := os.ReadFile(golden)
				if err != nil || out != string(want) {
					t.Fatalf("got\n%s\nwant (%s)\n%s", out, golden, want)
				}
			})
		}
	}
}

func TestClientConfigRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"no client", []string{"client-config"}, "usage: moat client-config CLIENT"},
		{"unknown client", []string{"client-config", "emacs"}, `moat client-config: unknown client "emacs" (claude-code, claude-desktop, cursor, inspector, vscode)` + "\n"},
		{"folders without --stdio", []string{"client-config", "cursor", "manifests"}, "manifest folders and --config are for --stdio"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runMoat(t, "", tc.args...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tc.wantStderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 ∋ %q", code, out, errOut, tc.wantStderr)
			}
		})
	}
}

// TestClientConfigWrite: --write merges into an existing file, keeping
// every other entry and key in its order, replaces an entry of the same
// name, and writes a file that holds a key mode 0600.
func TestClientConfigWrite(t *testing.T) {
	t.Setenv("MOAT_KEY", "moat_k1_fromenv")
	dir := t.TempDir()
	file := filepath.Join(dir, "claude_desktop_config.json")
	os.WriteFile(file, []byte(`{"globalShortcut": "Ctrl+Space", "mcpServers": {"other": {"command": "other-server", "args": ["<x>"]}, "moat": {"command": "old"}}, "theme": "dark"}`), 0o644)
	code, out, errOut := runMoat(t, "", "client-config", "cursor", "--write", file)
	if code != 0 || out != "" || !strings.Contains(errOut, `replaced "moat" in `+file) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	want := `{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "other": {
      "command": "other-server",
      "args": [
        "<x>"
      ]
    },
    "moat": {
      "url": "http://127.0.0.1:8080/mcp",
      "headers": {
        "Authorization": "Bearer moat_k1_fromenv"
      }
    }
  },
  "theme": "dark"
}
`
	if b, _ := os.ReadFile(file); string(b) != want {
		t.Fatalf("merged file:\n%s\nwant\n%s", b, want)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: the file holds a key", st.Mode().Perm())
	}

	// VS Code: the key is never written; the input is added once.
	vs := filepath.Join(dir, ".vscode", "mcp.json")
	for i := 0; i < 2; i++ {
		if code, _, errOut := runMoat(t, "", "client-config", "vscode", "--write", vs); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	}
	b, _ := os.ReadFile(vs)
	if strings.Contains(string(b), "moat_k1_fromenv") || strings.Count(string(b), `"id": "moat-key"`) != 1 {
		t.Fatalf(".vscode/mcp.json:\n%s", b)
	}

	// Not JSON (VS Code allows comments): refused, the file unchanged.
	jsonc := filepath.Join(dir, "with-comments.json")
	os.WriteFile(jsonc, []byte("// mine\n{}\n"), 0o644)
	code, _, errOut = runMoat(t, "", "client-config", "vscode", "--write", jsonc)
	if code != exitUsage || !strings.Contains(errOut, "not a JSON object (a file with comments must be edited by hand)") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if b, _ := os.ReadFile(jsonc); string(b) != "// mine\n{}\n" {
		t.Fatal("the file changed")
	}
}

// TestCheckConfig: moat check on a server config validates it as one (and
// checks its tools), instead of reading it as a manifest.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	cache := filepath.Join(tree, "cache")
	dir := t.TempDir()
	good := filepath.Join(dir, "moat.toml")
	os.WriteFile(good, []byte("[server]\nlisten = \"127.0.0.1:8080\"\n\n[tools]\ndirs = [\""+filepath.ToSlash(filepath.Join(tree, "manifests"))+"\"]\n"), 0o644)
	code, out, errOut := runMoat(t, "", "check", "--cache-dir", cache, good)
	if code != 0 || !strings.HasPrefix(out, "ok  config "+good+"\n") || strings.Count(out, "ok  ") != 3 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, name := range []string{"moat.toml", "server.toml"} {
		bad := filepath.Join(dir, "bad", name)
		os.MkdirAll(filepath.Dir(bad), 0o755)
		os.WriteFile(bad, []byte("[server]\nlisen = \"x\"\n"), 0o644)
		code, _, errOut = runMoat(t, "", "check", bad)
		if code != exitUsage || !strings.Contains(errOut, bad+`:2:1: server.lisen: unknown field "lisen"`) {
			t.Fatalf("%s: exit %d, stderr %q; want the config's own error", name, code, errOut)
		}
	}
}

// TestDevLoop drives moat dev one poll at a time: a change rebuilds once
// and signals the server; no change does nothing; a failed build signals
// nothing; the tool's calls in the audit log are shown, others not.
func TestDevLoop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.c")
	os.WriteFile(src, []byte("v1"), 0o644)
	auditLog := filepath.Join(dir, "audit.log")
	os.WriteFile(auditLog, []byte(`{"time":"2026-11-29T12:00:00Z","seq":1,"event":"tool_call","tool":"old","outcome":"ok","prev":"x"}`+"\n"), 0o600)

	tick := make(chan time.Time)
	polled := make(chan struct{})
	var out bytes.Buffer
	builds, hups := 0, []int{}
	fail := false
	d := &devLoop{
		dir: dir, pid: 4242, audit: auditLog, tick: tick, polled: polled,
		build: func(context.Context) int {
			builds++
			// A build writes its outputs: they must not start another.
			os.WriteFile(filepath.Join(dir, "greet.wasm"), []byte{byte(builds)}, 0o644)
			if fail {
				return exitUsage
			}
			return exitOK
		},
		hup:    func(pid int) error { hups = append(hups, pid); return nil },
		stdout: &out, stderr: &out,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- d.run(ctx) }()
	step := func() { tick <- time.Time{}; <-polled } // one whole poll

	step() // no change
	if builds != 1 || len(hups) != 1 {
		t.Fatalf("after start: %d builds, %d signals; want 1, 1", builds, len(hups))
	}
	os.WriteFile(src, []byte("v2 longer"), 0o644)
	step() // sees the change
	if builds != 2 || len(hups) != 2 || hups[1] != 4242 {
		t.Fatalf("after a change: %d builds, signals %v; want 2, [4242 4242]", builds, hups)
	}
	fail = true
	os.WriteFile(src, []byte("v3 broken!"), 0o644)
	step()
	if builds != 3 || len(hups) != 2 {
		t.Fatalf("after a failing build: %d builds, %d signals; want 3, 2", builds, len(hups))
	}
	d.tool = "greet"
	f, _ := os.OpenFile(auditLog, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-11-29T12:00:01Z","seq":2,"event":"tool_call","principal":"ci","tool":"greet","args":{"name":"ada"},"outcome":"ok","duration_ms":1.25,"prev":"y"}` + "\n")
	f.WriteString(`{"time":"2026-11-29T12:00:02Z","seq":3,"event":"tool_call","tool":"other","outcome":"ok","prev":"z"}` + "\n")
	f.WriteString(`{"time":"2026-11-29T12:00:03Z","seq":4,"event":"tool_call","tool":"greet","outcome":"invalid_arguments","reason":"invalid argument \"/name\": required property is missing","prev":"w"}` + "\n")
	f.WriteString(`{"time":"2026-11-29T12:00:04Z","seq":5,"event":"tool_c`) // half a line: waits
	f.Close()
	step()
	step() // the half line is still not shown
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	got := out.String()
	local := func(s string) string {
		tm, _ := time.Parse(time.RFC3339, s)
		return tm.Local().Format("15:04:05")
	}
	for _, want := range []string{
		"reloaded moat serve (pid 4242)\n",
		"build failed (exit 2); fix it and save again\n",
		local("2026-11-29T12:00:01Z") + ` call greet ok 1.2ms by ci args {"name":"ada"}` + "\n",
		local("2026-11-29T12:00:03Z") + ` call greet invalid_arguments: invalid argument "/name": required property is missing` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"call other", "call old"} {
		if strings.Contains(got, not) {
			t.Errorf("output shows %q:\n%s", not, got)
		}
	}
}
