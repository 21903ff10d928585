package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/moatmcp/moat/internal/clientconfig"
)

// completionVerbs are the words a command takes first: a subverb ("keys
// new"), or a fixed choice (completion's shells, client-config's clients).
// The flags of a command with a subverb are those of "COMMAND VERB".
var completionVerbs = map[string][]string{
	"keys":       {"new"},
	"audit":      {"verify", "show"},
	"completion": {"bash", "zsh"},
}

// flagLine matches a flag in the flag package's PrintDefaults output.
var flagLine = regexp.MustCompile(`(?m)^  -([A-Za-z0-9][A-Za-z0-9-]*)`)

// commandFlags asks a command for its flags, by running it with --help
// (every command parses its flags before doing anything, so this has no
// other effect), so that completion never lists a flag the command does
// not have, nor misses a new one.
func commandFlags(c command) []string {
	args := []string{"--help"}
	if v := completionVerbs[c.name]; len(v) == 1 {
		args = []string{v[0], "--help"}
	}
	var out, errOut bytes.Buffer
	c.run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	seen := map[string]bool{}
	var flags []string
	for _, m := range flagLine.FindAllStringSubmatch(out.String()+errOut.String(), -1) {
		if f := "--" + m[1]; !seen[f] {
			seen[f] = true
			flags = append(flags, f)
		}
	}
	sort.Strings(flags)
	return flags
}

// flagValues are the values completion offers after a flag.
var flagValues = map[string]string{
	"--lang":   "go c assemblyscript",
	"--client": "raw sdk",
	"--era":    "stateless session",
}

func cmdCompletion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat completion", stderr, "usage: moat completion bash|zsh\n\n"+
		"Prints a shell completion script for moat: its commands, each command's\n"+
		"flags, and files otherwise. Load it with\n\n"+
		"    bash:  source <(moat completion bash)   # or save it in /etc/bash_completion.d/moat\n"+
		"    zsh:   source <(moat completion zsh)    # or save it as _moat in a folder of $fpath")
	pos, code, ok := parseArgs(fs, args, 1, 1)
	if !ok {
		return code
	}
	switch pos[0] {
	case "bash":
		writeBashCompletion(stdout)
	case "zsh":
		writeZshCompletion(stdout)
	default:
		fmt.Fprintf(stderr, "moat completion: unknown shell %q (bash or zsh)\n", pos[0])
		return exitUsage
	}
	return exitOK
}

// completionTable is what both scripts are written from.
type completionEntry struct {
	name  string
	verbs []string
	flags []string
}

func completionTable() []completionEntry {
	var t []completionEntry
	for _, c := range commands {
		verbs := completionVerbs[c.name]
		if c.name == "client-config" {
			verbs = clientconfig.Names()
		}
		t = append(t, completionEntry{name: c.name, verbs: verbs, flags: commandFlags(c)})
	}
	return t
}

func commandNames() string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return strings.Join(names, " ")
}

func writeBashCompletion(w io.Writer) {
	fmt.Fprintf(w, `# bash completion for moat (moat completion bash).
#   source <(moat completion bash)
# or save it as /etc/bash_completion.d/moat.
_moat() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
  local cmds="%s" verbs="" flags=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "$cmds help" -- "$cur") )
    return
  fi
  case "$prev" in
`, commandNames())
	for _, k := range valueFlags() {
		fmt.Fprintf(w, "    %s) COMPREPLY=( $(compgen -W %q -- \"$cur\") ); return ;;\n", k, flagValues[k])
	}
	fmt.Fprint(w, "  esac\n  case \"${COMP_WORDS[1]}\" in\n")
	for _, e := range completionTable() {
		fmt.Fprintf(w, "    %s) verbs=%q; flags=%q ;;\n", e.name, strings.Join(e.verbs, " "), strings.Join(e.flags, " "))
	}
	fmt.Fprint(w, `  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$verbs" ]; then
    COMPREPLY=( $(compgen -W "$verbs" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -o filenames -F _moat moat
`)
}

func writeZshCompletion(w io.Writer) {
	fmt.Fprintf(w, `#compdef moat
# zsh completion for moat (moat completion zsh).
#   source <(moat completion zsh)
# or save it as _moat in a folder of $fpath.
_moat() {
  local -a cmds verbs flags
  cmds=(%s help)
  if (( CURRENT == 2 )); then
    compadd -- $cmds
    return
  fi
  case $words[CURRENT-1] in
`, commandNames())
	for _, k := range valueFlags() {
		fmt.Fprintf(w, "    %s) compadd -- %s; return ;;\n", k, flagValues[k])
	}
	fmt.Fprint(w, "  esac\n  case $words[2] in\n")
	for _, e := range completionTable() {
		fmt.Fprintf(w, "    %s) verbs=(%s); flags=(%s) ;;\n", e.name, strings.Join(e.verbs, " "), strings.Join(e.flags, " "))
	}
	fmt.Fprint(w, `  esac
  if [[ $PREFIX == -* ]]; then
    compadd -- $flags
  elif (( CURRENT == 3 )) && (( ${#verbs} > 0 )); then
    compadd -- $verbs
  else
    _files
  fi
}
if [ "$funcstack[1]" = "_moat" ]; then
  _moat "$@"
else
  compdef _moat moat
fi
`)
}

// valueFlags are the flags with known values (flagValues), sorted, so both
// scripts come out the same every time.
func valueFlags() []string {
	keys := make([]string, 0, len(flagValues))
	for k := range flagValues {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
