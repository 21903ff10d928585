// Command moat is the WebAssembly-sandboxed MCP tool host.
//
//	moat serve [--config FILE] [--build] [--stdio] [MANIFEST_DIR...]
//	moat call MANIFEST [--args JSON | --args-file F]
//	moat check PATH...
//	moat new NAME [--lang go|c|assemblyscript]
//	moat build [TOOL_DIR...]
//	moat dev [TOOL_DIR] [--pid PID] [--audit FILE]
//	moat client-config CLIENT [--url URL | --stdio] [--write FILE]
//	moat bench [--duration 2s] [--clients 1,4,16,64] [--client raw|sdk]
//	moat keys new --id NAME
//	moat audit verify FILE
//	moat audit show [--tool NAME] [--principal ID] [--outcome OUTCOME] [--since TIME] FILE
//	moat push MANIFEST oci://HOST/REPO:TAG [--sign KEY]
//	moat pull REF DIR [--key PUB]...
//	moat approve (TOOL... | --all) MANIFEST_DIR
//	moat version
//	moat completion bash|zsh
//
// See README.md for the whole picture and docs/ for each part.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, shared by every subcommand and listed in the README
// (TestExitCodesDocumented keeps the two in step).
const (
	exitOK = 0
	// exitToolErr: the command ran and its answer is "no": moat call's
	// tool reported an error, moat audit verify found a broken chain,
	// moat build --check found a stale sha256 pin.
	exitToolErr = 1
	// exitUsage: the input was refused before anything ran: bad flags or
	// arguments, a manifest or moat.toml that does not load.
	exitUsage = 2
	// exitInternal: the input was fine but the work failed: the server
	// stopped with an error, the host failed a call, a file could not be
	// written, a benchmark could not run.
	exitInternal = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling so that a
		// second SIGINT or SIGTERM ends the process at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `moat — a WebAssembly-sandboxed MCP tool host

usage:
  moat serve [--config FILE] [--listen ADDR] [--stdio] [--build] [--no-auth] [MANIFEST_DIR...]
  moat call MANIFEST [--args JSON | --args-file FILE]
  moat check PATH...
  moat new NAME [--lang go|c|assemblyscript] [--dir DIR]
  moat build [TOOL_DIR...] [--lang L] [--update-manifest MANIFEST | --check MANIFEST]
  moat dev [TOOL_DIR] [--pid PID] [--audit FILE]
  moat client-config CLIENT [--url URL --key KEY | --stdio] [--write FILE]
  moat bench [--duration 2s] [--clients 1,4,16,64] [--client raw|sdk]
  moat keys new --id NAME [--tools a,b] [--scopes x,y] [--expires 720h]
  moat audit verify FILE
  moat audit show [--tool NAME] [--principal ID] [--outcome OUTCOME] [--since TIME] FILE
  moat push MANIFEST oci://HOST[:PORT]/REPO:TAG [--sign KEY]
  moat pull oci://HOST[:PORT]/REPO(:TAG|@sha256:…) DIR [--key PUB]...
  moat approve (TOOL... | --all) [--lock FILE] MANIFEST_DIR
  moat version
  moat completion bash|zsh

Run "moat COMMAND --help" for a command's flags.
`

// command is one subcommand: the dispatch and the shell completion both
// read this table, so a command cannot be added to one and not the other.
type command struct {
	name string
	run  func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// noStdin adapts a command that does not read stdin.
func noStdin(f func(context.Context, []string, io.Writer, io.Writer) int) func(context.Context, []string, io.Reader, io.Writer, io.Writer) int {
	return func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
		return f(ctx, args, stdout, stderr)
	}
}

// commands is every subcommand, in the order usage lists them.
var commands []command

func init() {
	commands = []command{
		{"serve", cmdServe},
		{"call", cmdCall},
		{"check", noStdin(cmdCheck)},
		{"new", noStdin(cmdNew)},
		{"build", noStdin(cmdBuild)},
		{"dev", noStdin(cmdDev)},
		{"client-config", noStdin(cmdClientConfig)},
		{"bench", noStdin(cmdBench)},
		{"keys", noStdin(cmdKeys)},
		{"audit", noStdin(cmdAudit)},
		{"push", noStdin(cmdPush)},
		{"pull", noStdin(cmdPull)},
		{"approve", noStdin(cmdApprove)},
		{"version", noStdin(cmdVersion)},
		{"completion", noStdin(cmdCompletion)},
	}
}

// run is main without the process: testable, and it never calls os.Exit.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	for _, c := range commands {
		if c.name == cmd {
			return c.run(ctx, rest, stdin, stdout, stderr)
		}
	}
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "--version", "-version":
		return cmdVersion(ctx, nil, stdout, stderr)
	}
	fmt.Fprintf(stderr, "moat: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("moat call m.toml --args {}").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseArgs parses a subcommand's flags (interspersed with its other
// arguments) and returns the others. With fewer than min of them, or more
// than max (max < 0: no limit), it prints the usage. ok is false when the
// command must return code.
func parseArgs(fs *flag.FlagSet, args []string, min, max int) (pos []string, code int, ok bool) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, flagExit(err), false
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		fs.Usage()
		return nil, exitUsage, false
	}
	return pos, 0, true
}

// newFlags is a subcommand's flag set: errors and usage go to stderr, and
// --help prints usage (one line or a paragraph) followed by the flags.
func newFlags(name string, stderr io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// subcommand checks that args start with the one verb a command has
// ("moat keys new", "moat audit verify"): help goes to stdout with exit 0,
// anything else prints usage to stderr with exit 2. ok is false when the
// caller should return code.
func subcommand(args []string, verb, usage string, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) > 0 && args[0] == verb {
		return 0, true
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, usage)
		return exitOK, false
	}
	fmt.Fprint(stderr, usage)
	return exitUsage, false
}

// flagError reports whether err is the flag package's own (already printed).
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}
