package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moatmcp/moat/internal/atomicfile"
	"github.com/moatmcp/moat/internal/sdkcopy"
	"github.com/moatmcp/moat/internal/wasmbin"

	"github.com/moatmcp/moat/host/manifest"
	"github.com/moatmcp/moat/sdk"
)

func cmdBuild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat build", stderr, "usage: moat build [TOOL_DIR...] [--lang go|c|assemblyscript]\n       moat build [TOOL_DIR] --update-manifest MANIFEST\n       moat build [TOOL_DIR] --check MANIFEST\n\n"+
		"Builds each tool folder (default: the current one) to a WebAssembly\nmodule, in any language moat new writes: Go (GOOS=wasip1 GOARCH=wasm),\nC (clang --target=wasm32-wasi) and AssemblyScript (asc with the WASI\nshim). The language comes from --lang, else the manifest's language\nkey, else the folder's files. The\ntoolchain is checked first; when a part is missing, moat build prints the\ncommand that installs it.\n\n"+
		"When the folder holds the tool's manifest (a *.toml whose module is in\nthe folder, as moat new writes it), the module goes where the manifest\nsays and the manifest is updated: its sha256 pin, and for a Go tool that\nuses the SDK its input_schema_file and output_schema_file, generated from\nthe handler's Go types. Without one, the module is TOOL_DIR/NAME.wasm.\n\n"+
		"A Go tool that registers its handler at init time (sdk.Handle in an init\nfunction) is built as a reactor (-buildmode=c-shared, exporting moat_call):\nits Go runtime starts once, when moat loads it, not for every call. Any\nother tool is built as a command. The schemas are asked of the tool\nitself: it is built for this machine and run with MOAT_SCHEMA=1.\n\n"+
		"--update-manifest names the manifest to update (when it is elsewhere);\nevery other line of it stays as it was. --check changes nothing and exits\n1 when the pin or a schema has drifted.")
	update := fs.String("update-manifest", "", "write the module's sha256 pin (and a Go tool's generated schemas) into this manifest")
	check := fs.String("check", "", "fail (exit 1) when this manifest's pin or schemas differ from a fresh build")
	lang := fs.String("lang", "", "the tool's language, when its folder does not say: go, c or assemblyscript")
	pos, code, ok := parseArgs(fs, args, 0, -1)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		pos = []string{"."}
	}
	if *update != "" && *check != "" {
		fmt.Fprintln(stderr, "moat build: give --update-manifest or --check, not both")
		return exitUsage
	}
	manifestPath := *update + *check
	if manifestPath != "" && len(pos) != 1 {
		fmt.Fprintln(stderr, "moat build: --update-manifest and --check take exactly one TOOL_DIR")
		return exitUsage
	}
	if *lang != "" {
		l, ok := newLangs[strings.ToLower(*lang)]
		if !ok {
			fmt.Fprintf(stderr, "moat build: unknown language %q (go, c or assemblyscript)\n", *lang)
			return exitUsage
		}
		*lang = l
	}
	for _, dir := range pos {
		if code := buildDir(ctx, dir, *lang, manifestPath, *check != "", stdout, stderr); code != exitOK {
			return code
		}
	}
	return exitOK
}

// buildDir builds one tool folder: language, toolchain, the SDK copy of
// a Go tool moat new made, then the module, and the manifest's pin and
// schemas when there is a manifest.
func buildDir(ctx context.Context, dir, lang, manifestPath string, check bool, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "moat build: %v\n", err)
		return exitUsage
	}
	if st, err := os.Stat(dir); err != nil {
		return fail(err)
	} else if !st.IsDir() {
		return fail(fmt.Errorf("%s is not a folder: moat build takes a tool's folder (moat check reads manifests)", dir))
	}
	explicit := manifestPath != ""
	if !explicit {
		m, err := findManifest(dir)
		if err != nil {
			return fail(err)
		}
		manifestPath = m
	}
	if lang == "" && manifestPath != "" {
		// The manifest may name it (language = "c"): a folder with the
		// sources of two languages needs no --lang then.
		if text, err := os.ReadFile(manifestPath); err == nil {
			if skim, err := manifest.ParseSkim(text); err == nil {
				lang = skim.Language
			}
		}
	}
	if lang == "" {
		l, err := detectLang(dir)
		if err != nil {
			return fail(err)
		}
		lang = l
	}
	if err := checkToolchain(ctx, lang, dir); err != nil {
		return fail(err)
	}
	if lang == langGo && sdkcopy.Managed(dir) && !check {
		changed, err := sdkcopy.Write(dir)
		if err != nil {
			return fail(err)
		}
		if changed {
			fmt.Fprintf(stdout, "updated %s: the Go SDK of moat %s\n", rel(filepath.Join(dir, filepath.FromSlash(sdkcopy.Dir))), moatVersion())
		}
	}
	// A Go tool that uses the SDK gets its schemas generated too; asked
	// to by name, any Go tool goes this way (and is refused there if it
	// does not use the SDK, rather than silently pinned only).
	if lang == langGo && manifestPath != "" && (explicit || importsSDK(dir)) {
		return buildWithManifest(ctx, dir, manifestPath, check, stdout, stderr)
	}

	out := filepath.Join(dir, filepath.Base(absPath(dir))+".wasm")
	skim := &manifestSkim{}
	var text []byte
	if manifestPath != "" {
		var err error
		if text, err = os.ReadFile(manifestPath); err != nil {
			return fail(err)
		}
		if skim, err = manifest.ParseSkim(text); err != nil {
			return fail(fmt.Errorf("%s: %w", manifestPath, err))
		}
		if skim.Module == "" {
			return fail(fmt.Errorf("%s: no module field", manifestPath))
		}
		out = skim.Module
		if !filepath.IsAbs(out) {
			out = filepath.Join(filepath.Dir(manifestPath), out)
		}
	}
	if check {
		tmp, err := os.MkdirTemp("", "moat-build-check")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(tmp)
		out = filepath.Join(tmp, filepath.Base(out))
	}
	reactor := false
	var err error
	switch lang {
	case langGo:
		reactor = toolForm(dir)
		err = goBuild(ctx, dir, out, reactor, stderr)
	case langC:
		err = buildC(ctx, dir, out, stderr)
	case langAS:
		err = buildAS(ctx, dir, out, stderr)
	}
	if err != nil {
		return fail(err)
	}
	if !check {
		if err := printModule(stdout, out, reactor); err != nil {
			return fail(err)
		}
	}
	if manifestPath == "" {
		return exitOK
	}
	sum, err := moduleDigest(out)
	if err != nil {
		return fail(err)
	}
	return pinManifest(manifestPath, text, skim, sum, check, dir, stdout, stderr)
}

// pinManifest writes (or, check, compares) the sha256 pin of a manifest
// whose schemas are its author's, as the C and AssemblyScript ones are.
func pinManifest(manifestPath string, text []byte, skim *manifestSkim, sum string, check bool, dir string, stdout, stderr io.Writer) int {
	pin := strings.ToLower(strings.TrimPrefix(skim.SHA256, "sha256:"))
	if check {
		switch {
		case pin == "":
			fmt.Fprintf(stdout, "%s: no sha256 pin (the build has %s)\n", rel(manifestPath), sum)
		case pin != sum:
			fmt.Fprintf(stdout, "%s: sha256 pins %s but the build has %s\n", rel(manifestPath), pin, sum)
		default:
			fmt.Fprintf(stdout, "%s: up to date (sha256:%s)\n", rel(manifestPath), sum)
			return exitOK
		}
		fmt.Fprintf(stdout, "run: moat build %s --update-manifest %s\n", dir, manifestPath)
		return exitToolErr
	}
	newText, err := manifest.EditTopLevel(text, []manifest.Edit{{Key: "sha256", Value: sum}})
	if err != nil {
		fmt.Fprintf(stderr, "moat build: %s: %v\n", manifestPath, err)
		return exitUsage
	}
	if bytes.Equal(newText, text) {
		fmt.Fprintf(stdout, "%s: up to date\n", rel(manifestPath))
	} else {
		mode := os.FileMode(0o644)
		if st, err := os.Stat(manifestPath); err == nil {
			mode = st.Mode().Perm()
		}
		if err := atomicfile.WriteFile(manifestPath, newText, mode); err != nil {
			fmt.Fprintf(stderr, "moat build: %v\n", err)
			return exitUsage
		}
		fmt.Fprintf(stdout, "updated %s\n", rel(manifestPath))
	}
	if _, err := manifest.Load(manifestPath); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	return exitOK
}

// errManyManifests: a folder whose several manifests name modules in it.
var errManyManifests = errors.New("more than one manifest names a module in this folder")

// findManifest returns the manifest in dir whose module is in dir (as
// moat new lays a tool out), or "" when there is none. TOML files that
// are not manifests (no module field) are passed over; one that does not
// parse is an error, since it may be the manifest.
func findManifest(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		return "", err
	}
	absDir := absPath(dir)
	var found []string
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		skim, err := manifest.ParseSkim(text)
		if err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		if skim.Module == "" {
			continue
		}
		mod := skim.Module
		if !filepath.IsAbs(mod) {
			mod = filepath.Join(filepath.Dir(f), mod)
		}
		if filepath.Dir(absPath(mod)) == absDir {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%s: %w (%s); name one with --update-manifest", dir, errManyManifests, strings.Join(found, ", "))
}

// absPath is filepath.Abs, or p itself if the working directory is gone.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// buildGoTool compiles the Go main package in dir to out for wasip1, as a
// command module.
func buildGoTool(ctx context.Context, dir, out string, stderr io.Writer) error {
	return goBuild(ctx, dir, out, false, stderr)
}

// goBuild compiles the Go main package in dir to out for wasip1: as a
// reactor (-buildmode=c-shared) or a command. It then checks that the
// module has the entry the host will look for, so that a tool the host
// would treat as the other kind never leaves moat build.
func goBuild(ctx context.Context, dir, out string, reactor bool, stderr io.Writer) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("building Go tools needs the go command on PATH")
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	args := []string{"build", "-trimpath"}
	if reactor {
		args = append(args, "-buildmode=c-shared")
	}
	cmd := exec.CommandContext(ctx, goBin, append(args, "-o", absOut, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		stderr.Write(buf.Bytes())
		return fmt.Errorf("go build in %s: %w", dir, err)
	}
	return checkEntry(absOut, reactor)
}

// Errors of checkEntry and wasmExports.
var (
	errEntry     = errors.New("the module does not have the expected entry")
	errWasmShape = errors.New("not a WebAssembly module moat build can read")
)

// reactorExport and commandExport are the entries the host looks for
// (docs/abi.md): a module exporting moat_call and no _start is a reactor.
const (
	reactorExport = "moat_call"
	commandExport = "_start"
)

// checkEntry reads the exports of the module at path and checks it is a
// reactor (moat_call, no _start) or a command (_start), as intended.
func checkEntry(path string, reactor bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	exports, err := wasmExports(b)
	if err != nil {
		return fmt.Errorf("%s: %w", rel(path), err)
	}
	_, hasCall := exports[reactorExport]
	_, hasStart := exports[commandExport]
	switch {
	case reactor && (!hasCall || hasStart):
		return fmt.Errorf("%s: %w: a reactor must export %s and no %s (has %s: %v, %s: %v)",
			rel(path), errEntry, reactorExport, commandExport, reactorExport, hasCall, commandExport, hasStart)
	case !reactor && !hasStart:
		return fmt.Errorf("%s: %w: a command must export %s", rel(path), errEntry, commandExport)
	}
	return nil
}

// wasmExports returns the names a WebAssembly binary exports, each with
// its kind (0 function, 1 table, 2 memory, 3 global). It reads only the
// section headers and the export section (internal/wasmbin): moat build
// checks a module it has just built, and compiling it to ask wazero would
// take seconds.
func wasmExports(b []byte) (map[string]byte, error) {
	secs, err := wasmbin.Sections(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errWasmShape, err)
	}
	exports := map[string]byte{}
	for _, s := range secs {
		if s.ID != wasmbin.SectionExport {
			continue
		}
		if exports, err = wasmbin.Exports(s.Body); err != nil {
			return nil, fmt.Errorf("%w: export section: %w", errWasmShape, err)
		}
	}
	return exports, nil
}

// toolForm reports whether the Go tool in dir is to be built as a
// reactor: when it imports the sdk and one of its (non-test) files calls
// sdk.Handle from a func init or a package-level var initialiser, which a
// reactor runs at its start-up (main never runs in one). It reads the
// source only: deciding must not run the tool natively, and a plain build
// (moat serve --build) and --update-manifest must agree, and so must the
// sha256 pin. A tool that registers from another package is a command,
// which serves the handler just as well, only slower; one that calls
// Handle from init and Run from main is a reactor whose Run never runs.
func toolForm(dir string) bool {
	for _, f := range sdkFiles(dir, parser.SkipObjectResolution) {
		for _, decl := range f.file.Decls {
			var atInit ast.Node
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.Name == "init" {
					atInit = d.Body
				}
			case *ast.GenDecl:
				if d.Tok == token.VAR {
					atInit = d
				}
			}
			if atInit != nil && callsHandle(atInit, f.local) {
				return true
			}
		}
	}
	return false
}

// sdkFile is a parsed Go file that imports the sdk as local.
type sdkFile struct {
	file  *ast.File
	local string
}

// sdkFiles parses the non-test Go files in dir and returns those that
// import the sdk.
func sdkFiles(dir string, mode parser.Mode) []sdkFile {
	var out []sdkFile
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		pf, err := parser.ParseFile(token.NewFileSet(), f, nil, mode)
		if err != nil {
			continue
		}
		for _, imp := range pf.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == sdkImportPath {
				local := "sdk"
				if imp.Name != nil {
					local = imp.Name.Name
				}
				out = append(out, sdkFile{file: pf, local: local})
				break
			}
		}
	}
	return out
}

// callsHandle reports whether n calls local.Handle.
func callsHandle(n ast.Node, local string) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			fun := call.Fun
			if ix, ok := fun.(*ast.IndexExpr); ok { // sdk.Handle[In, Out](h)
				fun = ix.X
			} else if ix, ok := fun.(*ast.IndexListExpr); ok {
				fun = ix.X
			}
			if sel, ok := fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Handle" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == local {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

// printModule prints what was built: path, size, digest, and "reactor"
// for a reactor.
func printModule(w io.Writer, path string, reactor bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	form := ""
	if reactor {
		form = "  reactor"
	}
	fmt.Fprintf(w, "built %s  %d bytes  sha256:%s%s\n", rel(path), len(b), hex.EncodeToString(sum[:]), form)
	return nil
}

// buildForManifests builds the Go tools that the manifests in dirs name:
// for each manifest whose module sits in a folder holding a Go main
// package, it runs go build into that module path. Manifests are only
// skimmed here (for `module`); they are loaded properly afterwards.
func buildForManifests(ctx context.Context, dirs []string, stdout, stderr io.Writer) error {
	seen := map[string]bool{}
	var targets []string
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
		if err != nil {
			return err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			skim, err := manifest.ParseSkim(data)
			if err != nil || skim.Module == "" || !strings.HasSuffix(skim.Module, ".wasm") {
				continue // moat serve reports the manifest's errors properly
			}
			mod := skim.Module
			if !filepath.IsAbs(mod) {
				mod = filepath.Join(filepath.Dir(f), mod)
			}
			mod = filepath.Clean(mod)
			if !seen[mod] && isGoMainDir(filepath.Dir(mod)) {
				seen[mod] = true
				targets = append(targets, mod)
			}
		}
	}
	sort.Strings(targets)
	for _, mod := range targets {
		dir := filepath.Dir(mod)
		reactor := toolForm(dir)
		if err := goBuild(ctx, dir, mod, reactor, stderr); err != nil {
			return err
		}
		if err := printModule(stdout, mod, reactor); err != nil {
			return err
		}
	}
	return nil
}

// isGoMainDir reports whether dir holds a Go main package.
func isGoMainDir(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err == nil && pf.Name.Name == "main" {
			return true
		}
	}
	return false
}

// Errors of moat build with a manifest.
var (
	errInlineSchema = errors.New("the manifest declares this schema inline")
	errNotSDKTool   = errors.New("the tool does not import github.com/moatmcp/moat/sdk")
	errNoSchemas    = errors.New("the tool did not print its schemas")
)

// maxSchemaOutput caps what the native schema probe may print.
const maxSchemaOutput = 4 << 20

// buildWithManifest builds the tool in dir to the module the manifest
// names, generates its schemas, and updates the manifest or (check) reports
// drift.
func buildWithManifest(ctx context.Context, dir, manifestPath string, check bool, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "moat build: %v\n", err)
		return exitUsage
	}
	text, err := os.ReadFile(manifestPath)
	if err != nil {
		return fail(err)
	}
	skim, err := manifest.ParseSkim(text)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", manifestPath, err))
	}
	if skim.Module == "" {
		return fail(fmt.Errorf("%s: no module field", manifestPath))
	}
	// Refuse before building what would be refused after.
	if !importsSDK(dir) {
		return fail(fmt.Errorf("%s: %w; write its schemas into the manifest by hand", dir, errNotSDKTool))
	}
	if !check {
		if err := checkNoInline(manifestPath, skim); err != nil {
			return fail(err)
		}
	}
	mdir := filepath.Dir(manifestPath)
	out := skim.Module
	if !filepath.IsAbs(out) {
		out = filepath.Join(mdir, out)
	}
	if check {
		// Build beside, not over, the module: --check changes nothing.
		tmp, err := os.MkdirTemp("", "moat-build-check")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(tmp)
		out = filepath.Join(tmp, filepath.Base(out))
	}
	schemas, err := toolSchemas(ctx, dir, stderr)
	if err != nil {
		return fail(err)
	}
	// The form is toolForm's, as in a plain build (moat serve --build), so
	// that the sha256 pin agrees; the probe is only a second opinion.
	reactor := toolForm(dir)
	if schemas.Reactor != reactor {
		fmt.Fprintf(stderr, "moat build: %s: warning: the handler was registered %s main ran, but the source says %s\n",
			dir, map[bool]string{true: "before", false: "after"}[schemas.Reactor], map[bool]string{true: "reactor", false: "command"}[reactor])
	}
	if err := goBuild(ctx, dir, out, reactor, stderr); err != nil {
		return fail(err)
	}
	sum, err := moduleDigest(out)
	if err != nil {
		return fail(err)
	}
	if !check {
		if err := printModule(stdout, out, reactor); err != nil {
			return fail(err)
		}
	}
	if check {
		drift, err := manifestDrift(manifestPath, skim, sum, schemas)
		if err != nil {
			return fail(err)
		}
		for _, d := range drift {
			fmt.Fprintf(stdout, "%s: %s\n", rel(manifestPath), d)
		}
		if len(drift) > 0 {
			fmt.Fprintf(stdout, "run: moat build %s --update-manifest %s\n", dir, manifestPath)
			return exitToolErr
		}
		fmt.Fprintf(stdout, "%s: up to date (sha256:%s)\n", rel(manifestPath), sum)
		return exitOK
	}
	changed, err := updateManifest(manifestPath, text, skim, sum, schemas)
	if err != nil {
		return fail(err)
	}
	for _, c := range changed {
		fmt.Fprintf(stdout, "updated %s\n", c)
	}
	if len(changed) == 0 {
		fmt.Fprintf(stdout, "%s: up to date\n", rel(manifestPath))
	}
	// The result must load: a stale result = "text" next to a new output
	// schema, say, is better found now than by moat serve.
	if _, err := manifest.Load(manifestPath); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	return exitOK
}

// manifestSkim is what moat build reads of a manifest; manifest.Load checks
// the rest.
type manifestSkim = manifest.Skim

func moduleDigest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// toolSchemas builds the Go tool in dir for this machine and runs it with
// MOAT_SCHEMA=1, so that sdk.Main or sdk.Run prints the schemas of the
// handler's types and whether it was registered at init time.
// Only a tool that imports the sdk is run: anything else would do its real
// work, natively and unsandboxed.
func toolSchemas(ctx context.Context, dir string, stderr io.Writer) (*sdk.Schemas, error) {
	if !importsSDK(dir) {
		return nil, fmt.Errorf("%s: %w; write its schemas into the manifest by hand", dir, errNotSDKTool)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, errors.New("building Go tools needs the go command on PATH")
	}
	tmp, err := os.MkdirTemp("", "moat-schema")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	probe := filepath.Join(tmp, "schema-probe")
	build := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", probe, ".")
	build.Dir = dir
	// Empty GOOS and GOARCH mean this machine, whatever the caller's
	// environment says.
	build.Env = append(os.Environ(), "GOOS=", "GOARCH=", "CGO_ENABLED=0")
	var buf bytes.Buffer
	build.Stdout, build.Stderr = &buf, &buf
	if err := build.Run(); err != nil {
		stderr.Write(buf.Bytes())
		return nil, fmt.Errorf("go build (native, for the schemas) in %s: %w", dir, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, probe)
	run.Dir = tmp
	run.Env = []string{sdk.SchemaEnv + "=1"} // nothing else of ours: no secrets
	var out, errOut bytes.Buffer
	run.Stdout = &limitedBuffer{buf: &out, left: maxSchemaOutput}
	run.Stderr = &limitedBuffer{buf: &errOut, left: 64 << 10}
	if err := run.Run(); err != nil {
		stderr.Write(errOut.Bytes())
		return nil, fmt.Errorf("%s: %w (%v); does main call sdk.Main or sdk.Run?", dir, errNoSchemas, err)
	}
	var s sdk.Schemas
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil || len(s.Input) == 0 || dec.More() {
		return nil, fmt.Errorf("%s: %w; does main call sdk.Main or sdk.Run?", dir, errNoSchemas)
	}
	if string(s.Output) == "null" {
		s.Output = nil
	}
	return &s, nil
}

// importsSDK reports whether a non-test Go file in dir imports the sdk.
func importsSDK(dir string) bool { return len(sdkFiles(dir, parser.ImportsOnly)) > 0 }

const sdkImportPath = "github.com/moatmcp/moat/sdk"

// limitedBuffer keeps the first left bytes and fails the write after.
type limitedBuffer struct {
	buf  *bytes.Buffer
	left int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(p) > l.left {
		l.buf.Write(p[:l.left])
		l.left = 0
		return 0, errors.New("output too large")
	}
	l.left -= len(p)
	return l.buf.Write(p)
}

// schemaFileNames are where moat build writes a manifest's schemas: the
// files it already names, else STEM.input.json and STEM.output.json beside
// it (manifests are *.toml, so moat serve never mistakes them for one).
func schemaFileNames(manifestPath string, skim *manifestSkim) (in, out string) {
	stem := strings.TrimSuffix(filepath.Base(manifestPath), filepath.Ext(manifestPath))
	in, out = skim.InputSchemaFile, skim.OutputSchemaFile
	if in == "" {
		in = stem + ".input.json"
	}
	if out == "" {
		out = stem + ".output.json"
	}
	return in, out
}

// manifestDrift lists how the manifest differs from a fresh build.
func manifestDrift(manifestPath string, skim *manifestSkim, sum string, s *sdk.Schemas) ([]string, error) {
	var drift []string
	pin := strings.ToLower(strings.TrimPrefix(skim.SHA256, "sha256:"))
	switch {
	case pin == "":
		drift = append(drift, "no sha256 pin (the build has "+sum+")")
	case pin != sum:
		drift = append(drift, "sha256 pins "+pin+" but the build has "+sum)
	}
	for _, c := range []struct {
		key    string
		inline map[string]any
		file   string
		want   json.RawMessage
	}{
		{"input_schema", skim.InputSchema, skim.InputSchemaFile, s.Input},
		{"output_schema", skim.OutputSchema, skim.OutputSchemaFile, s.Output},
	} {
		var have json.RawMessage
		switch {
		case c.inline != nil:
			b, err := json.Marshal(c.inline)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", manifestPath, c.key, err)
			}
			have = b
		case c.file != "":
			p := c.file
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(manifestPath), p)
			}
			b, err := os.ReadFile(p)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
			if err != nil {
				drift = append(drift, c.key+"_file "+c.file+" does not exist")
				continue
			}
			have = b
		}
		same, err := sameJSON(have, c.want)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", manifestPath, c.key, err)
		}
		if !same {
			switch {
			case have == nil:
				drift = append(drift, c.key+" missing (the handler's types have one)")
			case c.want == nil:
				drift = append(drift, c.key+" declared, but the handler returns text")
			default:
				drift = append(drift, c.key+" differs from the handler's types")
			}
		}
	}
	return drift, nil
}

// sameJSON compares two JSON documents by value (nil is no document).
func sameJSON(a, b json.RawMessage) (bool, error) {
	if a == nil || b == nil {
		return a == nil && b == nil, nil
	}
	var va, vb any
	for _, p := range []struct {
		raw json.RawMessage
		v   *any
	}{{a, &va}, {b, &vb}} {
		dec := json.NewDecoder(bytes.NewReader(p.raw))
		dec.UseNumber()
		if err := dec.Decode(p.v); err != nil {
			return false, err
		}
	}
	return reflect.DeepEqual(va, vb), nil
}

// updateManifest writes the pin and schema files and edits the manifest's
// text in place: only the sha256, input_schema_file and output_schema_file
// lines change, so comments and layout survive. It returns what changed.
func updateManifest(manifestPath string, text []byte, skim *manifestSkim, sum string, s *sdk.Schemas) ([]string, error) {
	if err := checkNoInline(manifestPath, skim); err != nil {
		return nil, err
	}
	mdir := filepath.Dir(manifestPath)
	inName, outName := schemaFileNames(manifestPath, skim)
	var changed []string
	writeSchema := func(name string, schema json.RawMessage) error {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(mdir, p)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, schema, "", "  "); err != nil {
			return err
		}
		pretty.WriteByte('\n')
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, pretty.Bytes()) {
			return nil
		}
		if err := atomicfile.WriteFile(p, pretty.Bytes(), 0o644); err != nil {
			return err
		}
		changed = append(changed, rel(p))
		return nil
	}
	if err := writeSchema(inName, s.Input); err != nil {
		return nil, err
	}
	if s.Output != nil {
		if err := writeSchema(outName, s.Output); err != nil {
			return nil, err
		}
	}

	edits := []manifest.Edit{
		{Key: "sha256", Value: sum},
		{Key: "input_schema_file", Value: inName},
		{Key: "output_schema_file", Value: outName, Remove: s.Output == nil},
	}
	newText, err := manifest.EditTopLevel(text, edits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifestPath, err)
	}
	if !bytes.Equal(newText, text) {
		mode := os.FileMode(0o644)
		if st, err := os.Stat(manifestPath); err == nil {
			mode = st.Mode().Perm()
		}
		if err := atomicfile.WriteFile(manifestPath, newText, mode); err != nil {
			return nil, err
		}
		changed = append(changed, rel(manifestPath))
	}
	return changed, nil
}

// checkNoInline refuses a manifest with an inline schema table: moat build
// edits lines, not tables, and two forms of one schema is a load error.
func checkNoInline(manifestPath string, skim *manifestSkim) error {
	if skim.InputSchema != nil {
		return fmt.Errorf("%s: input_schema: %w; delete the [input_schema] table and moat build will write input_schema_file", manifestPath, errInlineSchema)
	}
	if skim.OutputSchema != nil {
		return fmt.Errorf("%s: output_schema: %w; delete the [output_schema] table and moat build will write output_schema_file", manifestPath, errInlineSchema)
	}
	return nil
}
