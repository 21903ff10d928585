// Package build turns a tool's source folder into the WebAssembly module
// its manifest names, and keeps the manifest's sha256 pin and generated
// schemas in step with the build.
//
// It sits behind moat build, moat serve --build and moat dev: the command
// parses flags and prints what Dir returns; everything between a folder
// and a module is here. The languages are those moat new writes: Go
// (GOOS=wasip1, as a reactor when the handler registers at init time, else
// a command), C (clang --target=wasm32-wasi) and AssemblyScript (asc with
// the WASI shim). The toolchain is checked first, and a missing part is
// named with the command that installs it.
//
// Manifests are read and edited only through internal/manifest (ParseSkim,
// EditTopLevel, Load): the lines build changes are sha256,
// input_schema_file and output_schema_file; every other line stays as it
// was, and the result must load.
//
// # Notes
//
//   - A Go tool's schemas are asked of the tool itself: it is built for
//     this machine and run with MOAT_SCHEMA=1, with no other environment,
//     and only when it imports the sdk (anything else would do its real
//     work, natively and unsandboxed).
//   - Whether a Go tool is a reactor is read from its source (isReactor), never
//     by running it, so a plain build and --update-manifest agree on the pin.
package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moatmcp/moat/internal/atomicfile"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/sdkcopy"
)

// Lang is a language build builds.
type Lang string

// Errors of Dir and ParseLang.
var (
	// ErrUnknownLang: a language build does not know.
	ErrUnknownLang = errors.New("unknown language")
	// ErrNotFolder: Dir was given a file.
	ErrNotFolder = errors.New("not a folder")
)

// langNames are the names ParseLang accepts ("as" is moat new's short one).
var langNames = map[string]Lang{
	"go":             LangGo,
	"c":              LangC,
	"assemblyscript": LangAssemblyScript,
	"as":             LangAssemblyScript,
}

// ParseLang reads a language as a user writes it (--lang, in any case).
func ParseLang(s string) (Lang, error) {
	if l, ok := langNames[strings.ToLower(s)]; ok {
		return l, nil
	}
	return "", fmt.Errorf("%w %q (go, c or assemblyscript)", ErrUnknownLang, s)
}

// Options say how Dir builds a folder. A nil *Options means the zero value
// of every field.
type Options struct {
	// Lang is the tool's language. Zero: the manifest's language key, else
	// what the folder's files say (detectLang).
	Lang Lang
	// Manifest is the manifest to pin (moat build --update-manifest or
	// --check). Zero: the *.toml in the folder whose module is in the
	// folder, if there is one; without one the module is DIR/NAME.wasm and
	// nothing is pinned. Given by name, any Go tool has its schemas
	// generated (and is refused if it does not import the sdk).
	Manifest string
	// Check builds beside the module (in a temporary folder) and changes
	// nothing: Result.Drift says how the manifest differs from the build.
	// Zero: the module is written and the manifest updated.
	Check bool
	// Log receives the compilers' own output (errors and warnings) and
	// build's warnings, as they come. Zero: discarded.
	Log io.Writer
}

// Module is a module build wrote.
type Module struct {
	Path    string // where it was written
	Size    int
	SHA256  string // hex, lower case
	Reactor bool   // exports moat_call and no _start
}

// Result is what Dir did. Dir returns it even with an error, holding what
// was done before the error.
type Result struct {
	// Lang is the language the folder was built as.
	Lang Lang
	// SDKUpdated: the Go tool's .moat/sdk copy was rewritten to this
	// binary's SDK.
	SDKUpdated bool
	// Module is the module built (under Check, in a temporary folder since
	// removed).
	Module *Module
	// Manifest is the manifest pinned or checked, as given or found; ""
	// when there was none.
	Manifest string
	// Changed lists the files written besides the module (schema files,
	// then the manifest), for display; empty when the manifest was up to
	// date. Never set under Check.
	Changed []string
	// Drift lists, under Check, how the manifest differs from the build
	// ("sha256 pins … but the build has …"); empty when it is up to date.
	Drift []string
}

// LoadError is a manifest that build updated and that then failed to load
// (manifest.Load): the pin and schemas were written, but something else in
// it is wrong. Err is shown as it is.
type LoadError struct{ Err error }

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// Dir builds one tool folder: language, toolchain, the SDK copy of a Go
// tool moat new made, then the module, and the manifest's pin and schemas
// when there is a manifest.
func Dir(ctx context.Context, dir string, opts *Options) (*Result, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	res := &Result{}
	if st, err := os.Stat(dir); err != nil {
		return res, err
	} else if !st.IsDir() {
		return res, fmt.Errorf("%s is %w: moat build takes a tool's folder (moat check reads manifests)", dir, ErrNotFolder)
	}
	manifestPath, explicit := o.Manifest, o.Manifest != ""
	if !explicit {
		m, err := FindManifest(dir)
		if err != nil {
			return res, err
		}
		manifestPath = m
	}
	lang := o.Lang
	if lang == "" && manifestPath != "" {
		// The manifest may name it (language = "c"): a folder with the
		// sources of two languages needs no --lang then.
		if text, err := os.ReadFile(manifestPath); err == nil {
			if skim, err := manifest.ParseSkim(text); err == nil {
				lang = Lang(skim.Language)
			}
		}
	}
	if lang == "" {
		l, err := detectLang(dir)
		if err != nil {
			return res, err
		}
		lang = l
	}
	res.Lang = lang
	if err := checkToolchain(ctx, lang, dir); err != nil {
		return res, err
	}
	if lang == LangGo && sdkcopy.Managed(dir) && !o.Check {
		changed, err := sdkcopy.Write(dir)
		if err != nil {
			return res, err
		}
		res.SDKUpdated = changed
	}
	// A Go tool that uses the SDK gets its schemas generated too; asked
	// to by name, any Go tool goes this way (and is refused there if it
	// does not use the SDK, rather than silently pinned only).
	if lang == LangGo && manifestPath != "" && (explicit || importsSDK(dir)) {
		res.Manifest = manifestPath
		return res, buildWithManifest(ctx, dir, manifestPath, &o, res)
	}

	out := filepath.Join(dir, filepath.Base(absPath(dir))+".wasm")
	skim := &manifest.Skim{}
	var text []byte
	if manifestPath != "" {
		var err error
		if text, err = os.ReadFile(manifestPath); err != nil {
			return res, err
		}
		if skim, err = manifest.ParseSkim(text); err != nil {
			return res, fmt.Errorf("%s: %w", manifestPath, err)
		}
		if skim.Module == "" {
			return res, fmt.Errorf("%s: no module field", manifestPath)
		}
		out = skim.Module
		if !filepath.IsAbs(out) {
			out = filepath.Join(filepath.Dir(manifestPath), out)
		}
	}
	if o.Check {
		tmp, err := os.MkdirTemp("", "moat-build-check")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(tmp)
		out = filepath.Join(tmp, filepath.Base(out))
	}
	reactor := false
	var err error
	switch lang {
	case LangGo:
		reactor = isReactor(dir)
		err = Go(ctx, dir, out, reactor, o.Log)
	case LangC:
		err = buildC(ctx, dir, out, o.Log)
	case LangAssemblyScript:
		err = buildAS(ctx, dir, out, o.Log)
	}
	if err != nil {
		return res, err
	}
	if res.Module, err = readModule(out, reactor); err != nil {
		return res, err
	}
	if manifestPath == "" {
		return res, nil
	}
	res.Manifest = manifestPath
	return res, pinManifest(manifestPath, text, skim, &o, res)
}

// pinManifest writes (or, under Check, compares) the sha256 pin of a
// manifest whose schemas are its author's, as the C and AssemblyScript
// ones are.
func pinManifest(manifestPath string, text []byte, skim *manifest.Skim, o *Options, res *Result) error {
	sum := res.Module.SHA256
	if o.Check {
		res.Drift = pinDrift(skim, sum)
		return nil
	}
	newText, err := manifest.EditTopLevel(text, []manifest.Edit{{Key: "sha256", Value: sum}})
	if err != nil {
		return fmt.Errorf("%s: %w", manifestPath, err)
	}
	if err := writeManifest(manifestPath, text, newText, res); err != nil {
		return err
	}
	if _, err := manifest.Load(manifestPath); err != nil {
		return &LoadError{Err: err}
	}
	return nil
}

// pinDrift says how a manifest's sha256 pin differs from sum; nil when it
// does not.
func pinDrift(skim *manifest.Skim, sum string) []string {
	pin := strings.ToLower(strings.TrimPrefix(skim.SHA256, "sha256:"))
	switch {
	case pin == "":
		return []string{"no sha256 pin (the build has " + sum + ")"}
	case pin != sum:
		return []string{"sha256 pins " + pin + " but the build has " + sum}
	}
	return nil
}

// writeManifest writes a manifest's edited text when it differs, keeping
// the file's mode, and records it in res.Changed.
func writeManifest(manifestPath string, text, newText []byte, res *Result) error {
	if string(newText) == string(text) {
		return nil
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(manifestPath); err == nil {
		mode = st.Mode().Perm()
	}
	if err := atomicfile.WriteFile(manifestPath, newText, mode); err != nil {
		return err
	}
	res.Changed = append(res.Changed, Rel(manifestPath))
	return nil
}

// buildWithManifest builds the Go tool in dir to the module the manifest
// names, generates its schemas, and updates the manifest or (Check)
// reports drift.
func buildWithManifest(ctx context.Context, dir, manifestPath string, o *Options, res *Result) error {
	text, err := os.ReadFile(manifestPath)
	if err != nil {
		return err
	}
	skim, err := manifest.ParseSkim(text)
	if err != nil {
		return fmt.Errorf("%s: %w", manifestPath, err)
	}
	if skim.Module == "" {
		return fmt.Errorf("%s: no module field", manifestPath)
	}
	// Refuse before building what would be refused after.
	if !importsSDK(dir) {
		return fmt.Errorf("%s: %w; write its schemas into the manifest by hand", dir, errNotSDKTool)
	}
	if !o.Check {
		if err := checkNoInline(manifestPath, skim); err != nil {
			return err
		}
	}
	out := skim.Module
	if !filepath.IsAbs(out) {
		out = filepath.Join(filepath.Dir(manifestPath), out)
	}
	if o.Check {
		// Build beside, not over, the module: Check changes nothing.
		tmp, err := os.MkdirTemp("", "moat-build-check")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		out = filepath.Join(tmp, filepath.Base(out))
	}
	schemas, err := toolSchemas(ctx, dir, o.Log)
	if err != nil {
		return err
	}
	// The form is isReactor's, as in a plain build (moat serve --build), so
	// that the sha256 pin agrees; the probe is only a second opinion.
	reactor := isReactor(dir)
	if schemas.Reactor != reactor {
		fmt.Fprintf(o.Log, "moat build: %s: warning: the handler was registered %s main ran, but the source says %s\n",
			dir, map[bool]string{true: "before", false: "after"}[schemas.Reactor], map[bool]string{true: "reactor", false: "command"}[reactor])
	}
	if err := Go(ctx, dir, out, reactor, o.Log); err != nil {
		return err
	}
	if res.Module, err = readModule(out, reactor); err != nil {
		return err
	}
	if o.Check {
		res.Drift, err = manifestDrift(manifestPath, skim, res.Module.SHA256, schemas)
		return err
	}
	if err := updateManifest(manifestPath, text, skim, res.Module.SHA256, schemas, res); err != nil {
		return err
	}
	// The result must load: a stale result = "text" next to a new output
	// schema, say, is better found now than by moat serve.
	if _, err := manifest.Load(manifestPath); err != nil {
		return &LoadError{Err: err}
	}
	return nil
}

// readModule describes the module at path.
func readModule(path string, reactor bool) (*Module, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return &Module{Path: path, Size: len(b), SHA256: hex.EncodeToString(sum[:]), Reactor: reactor}, nil
}

// ForManifests builds the Go tools that the manifests in dirs name (moat
// serve --build): for each manifest whose module sits in a folder holding
// a Go main package, it runs go build into that module path, and calls
// built (if not nil) with each module as it is written. Manifests are only
// skimmed here (for module); the server loads them properly afterwards.
// log receives the compilers' output (nil: discarded).
func ForManifests(ctx context.Context, dirs []string, log io.Writer, built func(*Module)) error {
	if log == nil {
		log = io.Discard
	}
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
				continue // the server reports the manifest's errors properly
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
		reactor := isReactor(dir)
		if err := Go(ctx, dir, mod, reactor, log); err != nil {
			return err
		}
		m, err := readModule(mod, reactor)
		if err != nil {
			return err
		}
		if built != nil {
			built(m)
		}
	}
	return nil
}

// Rel shortens a path for messages when it is under the working
// directory; moat's commands print paths with it too.
func Rel(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && filepath.IsLocal(r) {
		return r
	}
	return p
}

// ShellQuote quotes s for a POSIX shell when it needs quoting: for the
// commands build and scaffold tell the user to type.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./+:@%=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
