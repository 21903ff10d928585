package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moatmcp/moat/internal/sdkcopy"
)

// The languages moat build builds, and how it tells them apart.
const (
	LangGo             Lang = "go"
	LangC              Lang = "c"
	LangAssemblyScript Lang = "assemblyscript"
)

// Errors of moat build's language detection and toolchain checks.
var (
	errNoSources = errors.New("no tool source")
	errTwoLangs  = errors.New("sources of more than one language")
	errToolchain = errors.New("toolchain missing")
	errOldTool   = errors.New("toolchain too old")
)

// The AssemblyScript packages a tool builds with, pinned as moat new's
// package.json pins them.
const (
	ascVersion      = "0.28.20"
	wasiShimVersion = "0.1.0"
	// minNode is the oldest Node.js that AssemblyScript 0.28 supports
	// (its package.json: "engines": {"node": ">=20"}).
	minNode = 20
)

// detectLang names the language of the tool in dir from its files: Go
// (a .go file other than a test), C (a .c file), AssemblyScript
// (assembly/index.ts, or a package.json that depends on assemblyscript).
// A folder with none, or with more than one, is an error that says what
// was found; --lang settles the second case.
func detectLang(dir string) (Lang, error) {
	found := map[Lang]string{} // language → the file that says so
	if gos, _ := filepath.Glob(filepath.Join(dir, "*.go")); len(gos) > 0 {
		for _, g := range gos {
			if !strings.HasSuffix(g, "_test.go") {
				found[LangGo] = filepath.Base(g)
				break
			}
		}
	}
	if cs, _ := filepath.Glob(filepath.Join(dir, "*.c")); len(cs) > 0 {
		found[LangC] = filepath.Base(cs[0])
	}
	if _, err := os.Stat(filepath.Join(dir, "assembly", "index.ts")); err == nil {
		found[LangAssemblyScript] = "assembly/index.ts"
	} else if b, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil && bytes.Contains(b, []byte(`"assemblyscript"`)) {
		found[LangAssemblyScript] = "package.json"
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%s: %w: no Go main package (*.go), no C (*.c), no AssemblyScript (assembly/index.ts); moat new NAME makes one", dir, errNoSources)
	case 1:
		for l := range found {
			return l, nil
		}
	}
	var parts []string
	for l, f := range found {
		parts = append(parts, string(l)+" ("+f+")")
	}
	sort.Strings(parts)
	return "", fmt.Errorf("%s: %w: %s; say which with --lang, or with language = \"…\" in the manifest", dir, errTwoLangs, strings.Join(parts, ", "))
}

// installCommand returns the command that installs the C toolchain on this
// system. moat knows the Debian and Ubuntu packages (apt-get); elsewhere it
// says what is needed.
func cInstallCommand() string {
	if _, err := exec.LookPath("apt-get"); err == nil {
		return sudo() + "apt-get install -y clang lld wasi-libc libclang-rt-dev-wasm32"
	}
	return "install clang, lld (wasm-ld), wasi-libc and the wasm32 compiler-rt builtins from your system's packages, or unpack wasi-sdk and set CC to its clang (moat knows the apt-get packages only)"
}

// sudo is "sudo " when this process is not root and sudo is there.
func sudo() string {
	if os.Geteuid() == 0 {
		return ""
	}
	if _, err := exec.LookPath("sudo"); err == nil {
		return "sudo "
	}
	return ""
}

// cCompiler is $CC, else clang.
func cCompiler() string {
	if cc := os.Getenv("CC"); cc != "" {
		return cc
	}
	return "clang"
}

// checkC checks, before a C build, that clang can build a WASI program
// that uses libc: the wasm32 target, wasm-ld, wasi-libc and the compiler
// runtime are each a separate package, and each missing one fails with
// its own message, translated here into what to install.
func checkC(ctx context.Context) error {
	cc := cCompiler()
	if _, err := exec.LookPath(cc); err != nil {
		return fmt.Errorf("%w: building C tools needs clang (%s is not on PATH); install it with:\n    %s", errToolchain, cc, cInstallCommand())
	}
	tmp, err := os.MkdirTemp("", "moat-cc-probe")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "probe.c")
	if err := os.WriteFile(src, []byte("#include <stdio.h>\nint main(void) { puts(\"ok\"); return 0; }\n"), 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, cc, "--target=wasm32-wasi", "-O2", "-o", filepath.Join(tmp, "probe.wasm"), src)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	msg := string(out)
	var what string
	switch {
	case strings.Contains(msg, "stdio.h") || strings.Contains(msg, "crt1") || strings.Contains(msg, "-lc"):
		what = "wasi-libc is missing (clang cannot find the C library for wasm32-wasi)"
	case strings.Contains(msg, "libclang_rt") || strings.Contains(msg, "builtins"):
		what = "the wasm32 compiler runtime (libclang_rt.builtins-wasm32.a) is missing"
	case strings.Contains(msg, "wasm-ld") || strings.Contains(msg, "lld"):
		what = "the WebAssembly linker (wasm-ld, from lld) is missing"
	case strings.Contains(msg, "unknown target") || strings.Contains(msg, "No available targets") || strings.Contains(msg, "unable to create target"):
		what = cc + " has no wasm32 target (it is too old, or built without WebAssembly)"
	default:
		what = cc + " cannot build for wasm32-wasi: " + firstLineOf(msg)
	}
	return fmt.Errorf("%w: %s; install it with:\n    %s", errToolchain, what, cInstallCommand())
}

// buildC compiles the .c files in dir into out.
func buildC(ctx context.Context, dir, out string, stderr io.Writer) error {
	srcs, _ := filepath.Glob(filepath.Join(dir, "*.c"))
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	args := []string{"--target=wasm32-wasi", "-O2", "-Wall", "-Wl,--strip-all", "-o", absOut}
	for _, s := range srcs {
		args = append(args, filepath.Base(s))
	}
	cmd := exec.CommandContext(ctx, cCompiler(), args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		// The compiler's own message, whole: it names the file and line.
		stderr.Write(b)
		return fmt.Errorf("%s %s in %s: %w", cCompiler(), strings.Join(args, " "), dir, err)
	} else if len(b) > 0 {
		stderr.Write(b) // warnings
	}
	return checkEntry(absOut, false)
}

// asInstallCommand is what installs the AssemblyScript compiler and the
// WASI shim into a tool's folder, at the versions moat new pins.
func asInstallCommand(dir string) string {
	c := "npm install --save-dev assemblyscript@" + ascVersion + " @assemblyscript/wasi-shim@" + wasiShimVersion
	if dir != "." && dir != "" {
		c = "(cd " + ShellQuote(dir) + " && " + c + ")"
	}
	return c
}

// checkAS checks, before an AssemblyScript build, that Node.js is new
// enough and that the compiler and the WASI shim are installed in the
// tool's node_modules at the versions its package.json asks for.
func checkAS(ctx context.Context, dir string) error {
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("%w: AssemblyScript needs Node.js %d or newer and npm (node is not on PATH); install them from your system's packages or nodejs.org (Debian 12's nodejs is 18, too old)", errToolchain, minNode)
	}
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return fmt.Errorf("%w: node --version: %v", errToolchain, err)
	}
	v := strings.TrimSpace(string(out))
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0])
	if major < minNode {
		return fmt.Errorf("%w: Node.js %s is installed; AssemblyScript %s needs %d or newer", errOldTool, v, ascVersion, minNode)
	}
	nm := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(nm, ".bin", "asc")); err != nil {
		return fmt.Errorf("%w: the AssemblyScript compiler is not installed in %s; install it with:\n    %s", errToolchain, nm, asInstallCommand(dir))
	}
	if _, err := os.Stat(filepath.Join(nm, "@assemblyscript", "wasi-shim", "asconfig.json")); err != nil {
		return fmt.Errorf("%w: @assemblyscript/wasi-shim is not installed in %s; install it with:\n    %s", errToolchain, nm, asInstallCommand(dir))
	}
	// The installed compiler against what package.json asks for: a stale
	// node_modules builds with another compiler than the one pinned.
	want := npmPin(filepath.Join(dir, "package.json"), "assemblyscript")
	have := npmVersion(filepath.Join(nm, "assemblyscript", "package.json"))
	if want != "" && have != "" && strings.TrimLeft(want, "^~=") != have {
		return fmt.Errorf("%w: assemblyscript %s is installed but package.json asks for %s; run:\n    %s", errOldTool, have, want, "(cd "+ShellQuote(dir)+" && npm install)")
	}
	return nil
}

// npmPin is the version package.json asks for a dependency, or "".
func npmPin(pkgJSON, dep string) string {
	b, err := os.ReadFile(pkgJSON)
	if err != nil {
		return ""
	}
	var p struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	if v := p.DevDependencies[dep]; v != "" {
		return v
	}
	return p.Dependencies[dep]
}

// npmVersion is an installed package's version, or "".
func npmVersion(pkgJSON string) string {
	b, err := os.ReadFile(pkgJSON)
	if err != nil {
		return ""
	}
	var p struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Version
}

// buildAS compiles assembly/index.ts in dir into out with asc and the
// WASI shim's configuration (a WASI command module).
func buildAS(ctx context.Context, dir, out string, stderr io.Writer) error {
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	asc := filepath.Join("node_modules", ".bin", "asc")
	args := []string{"assembly/index.ts", "--config", "./node_modules/@assemblyscript/wasi-shim/asconfig.json",
		"--optimize", "--noAssert", "--outFile", absOut}
	cmd := exec.CommandContext(ctx, filepath.Join(dir, asc), args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		stderr.Write(b)
		return fmt.Errorf("asc %s in %s: %w", strings.Join(args, " "), dir, err)
	} else if len(b) > 0 {
		stderr.Write(b)
	}
	return checkEntry(absOut, false)
}

// checkGo checks that the go command is there and new enough for the SDK.
// A Go older than a go.mod's go line would try to download a newer
// toolchain, which fails offline with a message about the network.
func checkGo(ctx context.Context) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("%w: building Go tools needs Go %s or newer (the go command is not on PATH); install it from go.dev/dl or your system's packages", errToolchain, sdkcopy.GoVersion)
	}
	cmd := exec.CommandContext(ctx, goBin, "env", "GOVERSION")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%w: go env GOVERSION: %v", errToolchain, err)
	}
	v := strings.TrimSpace(string(out))
	if !GoAtLeast(v, sdkcopy.GoVersion) {
		return fmt.Errorf("%w: %s is installed; moat's Go SDK needs Go %s or newer (go:wasmexport, for reactors)", errOldTool, v, sdkcopy.GoVersion)
	}
	return nil
}

// GoAtLeast reports whether the toolchain version v ("go1.26.8",
// "go1.24rc1", "devel …") is at least min ("1.24"). A development build
// is taken to be new enough.
func GoAtLeast(v, min string) bool {
	if !strings.HasPrefix(v, "go1.") {
		return true
	}
	num := func(s string) (int, int) {
		parts := strings.SplitN(s, ".", 3)
		a, _ := strconv.Atoi(parts[0])
		b := 0
		if len(parts) > 1 {
			p := parts[1]
			if i := strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
				p = p[:i]
			}
			b, _ = strconv.Atoi(p)
		}
		return a, b
	}
	a1, b1 := num(strings.TrimPrefix(v, "go"))
	a2, b2 := num(min)
	return a1 > a2 || a1 == a2 && b1 >= b2
}

// checkToolchain runs the check of lang's toolchain.
func checkToolchain(ctx context.Context, lang Lang, dir string) error {
	switch lang {
	case LangGo:
		return checkGo(ctx)
	case LangC:
		return checkC(ctx)
	case LangAssemblyScript:
		return checkAS(ctx, dir)
	}
	return fmt.Errorf("unknown language %q (go, c or assemblyscript)", lang)
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
