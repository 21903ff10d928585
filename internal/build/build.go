package build

import (
	"bytes"
	"context"
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
	"strconv"
	"strings"
	"time"

	"github.com/moatmcp/moat/internal/abi"

	"github.com/moatmcp/moat/internal/atomicfile"
	"github.com/moatmcp/moat/internal/wasmbin"

	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/sdk"
)

// errManyManifests: a folder whose several manifests name modules in it.
var errManyManifests = errors.New("more than one manifest names a module in this folder")

// FindManifest returns the manifest in dir whose module is in dir (as
// moat new lays a tool out), or "" when there is none. TOML files that
// are not manifests (no module field) are passed over; one that does not
// parse is an error, since it may be the manifest.
func FindManifest(dir string) (string, error) {
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

// Go compiles the Go main package in dir to out for wasip1: as a
// reactor (-buildmode=c-shared) or a command. It then checks that the
// module has the entry the host will look for, so that a tool the host
// would treat as the other kind never leaves moat build. The compiler's
// output goes to log (nil: discarded).
func Go(ctx context.Context, dir, out string, reactor bool, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
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
		log.Write(buf.Bytes())
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
	reactorExport = abi.ReactorEntry
	commandExport = abi.CommandEntry
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
		return fmt.Errorf("%s: %w", Rel(path), err)
	}
	_, hasCall := exports[reactorExport]
	_, hasStart := exports[commandExport]
	switch {
	case reactor && (!hasCall || hasStart):
		return fmt.Errorf("%s: %w: a reactor must export %s and no %s (has %s: %v, %s: %v)",
			Rel(path), errEntry, reactorExport, commandExport, reactorExport, hasCall, commandExport, hasStart)
	case !reactor && !hasStart:
		return fmt.Errorf("%s: %w: a command must export %s", Rel(path), errEntry, commandExport)
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

// isReactor reports whether the Go tool in dir is to be built as a
// reactor: when it imports the sdk and one of its (non-test) files calls
// sdk.Handle from a func init or a package-level var initialiser, which a
// reactor runs at its start-up (main never runs in one). It reads the
// source only: deciding must not run the tool natively, and a plain build
// (moat serve --build) and --update-manifest must agree, and so must the
// sha256 pin. A tool that registers from another package is a command,
// which serves the handler just as well, only slower; one that calls
// Handle from init and Run from main is a reactor whose Run never runs.
func isReactor(dir string) bool {
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
func schemaFileNames(manifestPath string, skim *manifest.Skim) (in, out string) {
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
func manifestDrift(manifestPath string, skim *manifest.Skim, sum string, s *sdk.Schemas) ([]string, error) {
	drift := pinDrift(skim, sum)
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
// lines change, so comments and layout survive. It records what changed in
// res.Changed.
func updateManifest(manifestPath string, text []byte, skim *manifest.Skim, sum string, s *sdk.Schemas, res *Result) error {
	if err := checkNoInline(manifestPath, skim); err != nil {
		return err
	}
	mdir := filepath.Dir(manifestPath)
	inName, outName := schemaFileNames(manifestPath, skim)
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
		res.Changed = append(res.Changed, Rel(p))
		return nil
	}
	if err := writeSchema(inName, s.Input); err != nil {
		return err
	}
	if s.Output != nil {
		if err := writeSchema(outName, s.Output); err != nil {
			return err
		}
	}

	edits := []manifest.Edit{
		{Key: "sha256", Value: sum},
		{Key: "input_schema_file", Value: inName},
		{Key: "output_schema_file", Value: outName, Remove: s.Output == nil},
	}
	newText, err := manifest.EditTopLevel(text, edits)
	if err != nil {
		return fmt.Errorf("%s: %w", manifestPath, err)
	}
	return writeManifest(manifestPath, text, newText, res)
}

// checkNoInline refuses a manifest with an inline schema table: moat build
// edits lines, not tables, and two forms of one schema is a load error.
func checkNoInline(manifestPath string, skim *manifest.Skim) error {
	if skim.InputSchema != nil {
		return fmt.Errorf("%s: input_schema: %w; delete the [input_schema] table and moat build will write input_schema_file", manifestPath, errInlineSchema)
	}
	if skim.OutputSchema != nil {
		return fmt.Errorf("%s: output_schema: %w; delete the [output_schema] table and moat build will write output_schema_file", manifestPath, errInlineSchema)
	}
	return nil
}
