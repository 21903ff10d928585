package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/moatmcp/moat/internal/build"
	"github.com/moatmcp/moat/internal/sdkcopy"
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
	opts := &build.Options{Manifest: manifestPath, Check: *check != "", Log: stderr}
	if *lang != "" {
		l, err := build.ParseLang(*lang)
		if err != nil {
			fmt.Fprintf(stderr, "moat build: %v\n", err)
			return exitUsage
		}
		opts.Lang = l
	}
	for _, dir := range pos {
		if code := buildDir(ctx, dir, opts, stdout, stderr); code != exitOK {
			return code
		}
	}
	return exitOK
}

// buildDir builds one tool folder (build.Dir) and says what it did:
// the SDK copy refreshed, the module built, then the manifest updated or,
// under --check, how it drifted (exit 1).
func buildDir(ctx context.Context, dir string, opts *build.Options, stdout, stderr io.Writer) int {
	res, err := build.Dir(ctx, dir, opts)
	if res.SDKUpdated {
		fmt.Fprintf(stdout, "updated %s: the Go SDK of moat %s\n", build.Rel(filepath.Join(dir, filepath.FromSlash(sdkcopy.Dir))), moatVersion())
	}
	if res.Module != nil && !opts.Check {
		printModule(stdout, res.Module)
	}
	var loadErr *build.LoadError
	if err != nil && !errors.As(err, &loadErr) {
		fmt.Fprintf(stderr, "moat build: %v\n", err)
		return exitUsage
	}
	if res.Manifest == "" {
		return exitOK
	}
	if opts.Check {
		for _, d := range res.Drift {
			fmt.Fprintf(stdout, "%s: %s\n", build.Rel(res.Manifest), d)
		}
		if len(res.Drift) > 0 {
			fmt.Fprintf(stdout, "run: moat build %s --update-manifest %s\n", dir, res.Manifest)
			return exitToolErr
		}
		fmt.Fprintf(stdout, "%s: up to date (sha256:%s)\n", build.Rel(res.Manifest), res.Module.SHA256)
		return exitOK
	}
	for _, c := range res.Changed {
		fmt.Fprintf(stdout, "updated %s\n", c)
	}
	if len(res.Changed) == 0 {
		fmt.Fprintf(stdout, "%s: up to date\n", build.Rel(res.Manifest))
	}
	if loadErr != nil {
		fmt.Fprintln(stderr, loadErr)
		return exitUsage
	}
	return exitOK
}

// printModule prints what was built: path, size, digest, and "reactor"
// for a reactor.
func printModule(w io.Writer, m *build.Module) {
	form := ""
	if m.Reactor {
		form = "  reactor"
	}
	fmt.Fprintf(w, "built %s  %d bytes  sha256:%s%s\n", build.Rel(m.Path), m.Size, m.SHA256, form)
}

// buildGoTool compiles the Go main package in dir to out for wasip1, as a
// command module (moat bench's tool).
func buildGoTool(ctx context.Context, dir, out string, stderr io.Writer) error {
	return build.Go(ctx, dir, out, false, stderr)
}

// buildForManifests builds the Go tools the manifests in dirs name (moat
// serve --build), printing each module to stdout as it is written.
func buildForManifests(ctx context.Context, dirs []string, stdout, stderr io.Writer) error {
	return build.ForManifests(ctx, dirs, stderr, func(m *build.Module) { printModule(stdout, m) })
}
