package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// docFiles are the README and every doc.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "docs", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("docs: %v", err)
	}
	return append([]string{filepath.Join(repoRoot(t), "README.md")}, files...)
}

// codeBlocks returns the fenced blocks of a markdown file whose info
// string is lang.
func codeBlocks(t *testing.T, file, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```"+lang:
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

// shellWords splits a command line as sh would for plain words and
// quotes (no expansion), stopping at a comment.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	have := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, have = r, true
		case r == '#' && !have:
			return words
		case r == ' ' || r == '\t':
			if have {
				words = append(words, w.String())
				w.Reset()
				have = false
			}
		default:
			w.WriteRune(r)
			have = true
		}
	}
	if have {
		words = append(words, w.String())
	}
	return words
}

// moatInvocation finds "moat SUBCOMMAND ..." in a command's words (also as
// bin/moat, ../bin/moat or go run ./cmd/moat) and returns what follows moat.
func moatInvocation(words []string) ([]string, bool) {
	for i, w := range words {
		if w == "moat" || strings.HasSuffix(w, "/moat") && !strings.HasPrefix(w, "./cmd") && !strings.HasPrefix(w, "/etc") || w == "./cmd/moat" && i > 0 && words[i-1] == "run" {
			if i > 0 && strings.HasPrefix(words[i-1], "-") {
				continue // a flag's value: -o bin/moat, --command /usr/local/bin/moat
			}
			return words[i+1:], true
		}
	}
	return nil, false
}

var commandSeparators = regexp.MustCompile(`&&|\|\||;|\||\$\(|\)|&`)

// TestDocCommands: every moat command in a shell block of the README or a
// doc names a real subcommand, and every flag it uses is one that
// subcommand has: a renamed or removed flag fails here, not in a reader's
// terminal.
func TestDocCommands(t *testing.T) {
	t.Parallel()
	flags := map[string][]string{}
	for _, c := range commands {
		flags[c.name] = append(commandFlags(c), "--help")
	}
	checked := 0
	for _, file := range docFiles(t) {
		for _, block := range codeBlocks(t, file, "sh") {
			for _, line := range strings.Split(block, "\n") {
				line, _, _ = strings.Cut(line, " #")
				for _, part := range commandSeparators.Split(line, -1) {
					args, ok := moatInvocation(shellWords(part))
					if !ok || len(args) == 0 {
						continue
					}
					checked++
					sub := args[0]
					have, known := flags[sub]
					if !known {
						t.Errorf("%s: %q: no command %q", filepath.Base(file), strings.TrimSpace(part), sub)
						continue
					}
					for _, a := range args[1:] {
						if !strings.HasPrefix(a, "-") || a == "-" {
							continue
						}
						name, _, _ := strings.Cut(a, "=")
						name = "--" + strings.TrimLeft(name, "-")
						if !slices.Contains(have, name) {
							t.Errorf("%s: %q: moat %s has no flag %s", filepath.Base(file), strings.TrimSpace(part), sub, name)
						}
					}
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d moat commands found in the docs: is the parser broken?", checked)
	}
}

// TestReadmeStart: the README starts with the two commands a fresh machine
// needs: one that builds the moat binary and runs it (so the process a
// user stops is the server, not go run's parent), and the test command CI
// runs.
func TestReadmeStart(t *testing.T) {
	t.Parallel()
	blocks := codeBlocks(t, filepath.Join(repoRoot(t), "README.md"), "sh")
	if len(blocks) == 0 {
		t.Fatal("README has no sh block")
	}
	lines := strings.Split(blocks[0], "\n")
	if len(lines) != 2 {
		t.Fatalf("the first block has %d lines, want 2:\n%s", len(lines), blocks[0])
	}
	first, _, _ := strings.Cut(lines[0], "#")
	second, _, _ := strings.Cut(lines[1], "#")
	if strings.TrimSpace(first) != "go build -o bin/moat ./cmd/moat && bin/moat serve --build manifests" {
		t.Errorf("first command %q", first)
	}
	if strings.TrimSpace(second) != "go test ./..." {
		t.Errorf("second command %q", second)
	}
	if b, _ := os.ReadFile(filepath.Join(repoRoot(t), ".gitignore")); !strings.Contains(string(b), "\n/bin/\n") {
		t.Error(".gitignore does not ignore /bin/, where the README builds moat")
	}
}

// TestReadmeListsEveryDoc: the README links every file in docs/.
func TestReadmeListsEveryDoc(t *testing.T) {
	t.Parallel()
	readme, _ := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	for _, f := range docFiles(t)[1:] {
		if link := "(docs/" + filepath.Base(f) + ")"; !strings.Contains(string(readme), link) {
			t.Errorf("README.md does not link %s", link)
		}
	}
}

// TestClientsDocMatchesGolden: every JSON block of docs/clients.md is the
// output moat client-config gives (the golden files TestClientConfig
// checks), in the doc's order.
func TestClientsDocMatchesGolden(t *testing.T) {
	t.Parallel()
	blocks := codeBlocks(t, filepath.Join(repoRoot(t), "docs", "clients.md"), "json")
	var want []string
	for _, c := range []string{"claude-desktop", "claude-code", "vscode", "cursor", "inspector"} {
		for _, tr := range []string{"http", "stdio"} {
			b, err := os.ReadFile(filepath.Join("testdata", "client-config", c+"-"+tr+".json"))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, strings.TrimSuffix(string(b), "\n"))
		}
	}
	if len(blocks) != len(want) {
		t.Fatalf("docs/clients.md has %d JSON blocks, want %d", len(blocks), len(want))
	}
	for i := range want {
		if blocks[i] != want[i] {
			t.Errorf("JSON block %d of docs/clients.md:\n%s\nwant\n%s", i+1, blocks[i], want[i])
		}
	}
}

// runnableBlock returns the sh block of file that holds marker, without
// the lines that start a server or a watcher (they do not end).
func runnableBlock(t *testing.T, file, marker string) string {
	t.Helper()
	for _, b := range codeBlocks(t, file, "sh") {
		if !strings.Contains(b, marker) {
			continue
		}
		var keep []string
		for _, line := range strings.Split(b, "\n") {
			if strings.Contains(line, "moat dev") || strings.Contains(line, "moat serve") {
				continue
			}
			keep = append(keep, line)
		}
		return strings.Join(keep, "\n")
	}
	t.Fatalf("%s has no sh block with %q", file, marker)
	return ""
}

// TestDocExamplesRun runs, with a real moat binary and offline, the
// README's "new tool" block and docs/authoring.md's Go and C blocks,
// exactly as written (less the lines that start a server or a watcher),
// each in a fresh folder outside the repository.
func TestDocExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds moat and three tools")
	}
	offlineGo(t)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "moat"), ".")
	build.Env = append(os.Environ(), "GOPROXY=off")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building moat: %v\n%s", err, b)
	}
	readme := filepath.Join(repoRoot(t), "README.md")
	authoring := filepath.Join(repoRoot(t), "docs", "authoring.md")
	cases := []struct {
		name, file, marker string
		needs              func(*testing.T)
		want               string
	}{
		{"README new tool", readme, "moat new greet && cd greet", nil, `"text": "{\"greeting\":\"hello, ada!\"}"`},
		{"authoring Go", authoring, "moat new greet                          # ./greet", nil, `"text": "{\"greeting\":\"hello, ada!\"}"`},
		{"authoring C", authoring, "moat new greet_c --lang c", clangWASI, "ok  greet_c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needs != nil {
				tc.needs(t)
			}
			script := runnableBlock(t, tc.file, tc.marker)
			work := t.TempDir()
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "PATH="+filepath.Join(work, "bin")+string(os.PathListSeparator)+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
				"TMPDIR="+work, "MOAT="+filepath.Join(bin, "moat"))
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("%v\nscript:\n%s\noutput:\n%s\nwant it to hold %q", err, script, out, tc.want)
			}
		})
	}
}

// TestExitCodesDocumented: the README's exit-code table has one row per
// exit code constant in main.go, and no other.
func TestExitCodesDocumented(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?m)^\| ([0-9]+) \| `).FindAllStringSubmatch(string(readme), -1)
	var documented []string
	for _, r := range rows {
		documented = append(documented, r[1])
	}
	var defined []string
	for _, code := range []int{exitOK, exitToolErr, exitUsage, exitInternal} {
		defined = append(defined, strconv.Itoa(code))
	}
	if strings.Join(documented, ",") != strings.Join(defined, ",") {
		t.Errorf("README documents exit codes %v; main.go defines %v", documented, defined)
	}
}
