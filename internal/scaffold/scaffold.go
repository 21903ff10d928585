// Package scaffold writes a new tool's folder: the source of a tool that
// greets by name, its manifest and a test, in Go, C or AssemblyScript.
//
// It sits behind moat new: the command parses flags and prints the files
// New returns; the name rule, the templates (templates/LANG/*.tmpl), the
// choice between a go.mod with the SDK copy (internal/sdkcopy) and joining
// moat's own module, and the refusal to overwrite anything are here.
// internal/build then builds what it wrote.
package scaffold

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/moatmcp/moat/internal/build"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/sdkcopy"
)

// templates holds one folder per language; each NAME.tmpl becomes NAME in
// the new tool's folder, with "tool.toml" renamed to the tool's manifest
// and "gitignore" to ".gitignore" (go:embed skips dot files).
//
//go:embed templates
var templates embed.FS

// Errors of New.
var (
	// ErrExists: the folder, or a file New would write, already exists.
	ErrExists = errors.New("refusing to overwrite")
	// ErrBadName: the name breaks CheckName's rule.
	ErrBadName = errors.New("invalid tool name")
)

// Options say what New writes. A nil *Options means the zero value of
// every field.
type Options struct {
	// Lang is the tool's language. Zero: Go.
	Lang build.Lang
	// Dir is the new tool's folder; it must not exist or be empty. Zero:
	// ./NAME.
	Dir string
	// SDK is a local checkout of moat for a Go tool's go.mod replace
	// directive. Zero: the SDK copy in .moat/sdk.
	SDK string
}

// Result is what New wrote.
type Result struct {
	// Dir is the tool's folder.
	Dir string
	// Files are the files written, each joined to Dir, in template order.
	Files []string
	// SDKCopy: a copy of this binary's Go SDK was written to Dir/.moat/sdk.
	SDKCopy bool
	// Next are the commands to type next, each runnable as it is.
	Next []string
}

// InternalError is a failure of moat's own work (a template that does not
// render, the SDK copy that cannot be written) rather than of the input.
type InternalError struct{ Err error }

func (e *InternalError) Error() string { return e.Err.Error() }
func (e *InternalError) Unwrap() error { return e.Err }

// New writes a new tool called name.
func New(ctx context.Context, name string, opts *Options) (*Result, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Lang == "" {
		o.Lang = build.LangGo
	}
	if _, err := build.ParseLang(string(o.Lang)); err != nil {
		return nil, err
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	target := o.Dir
	if target == "" {
		target = name
	}
	if err := checkTargetFree(target); err != nil {
		return nil, err
	}
	data := newData{Name: name, NPMName: name, GoVersion: sdkcopy.GoVersion}
	if o.SDK != "" {
		abs, err := filepath.Abs(o.SDK)
		if err != nil {
			return nil, err
		}
		data.SDK = filepath.ToSlash(abs)
		// The tool's go line may not be older than the checkout's, or go
		// asks for go mod tidy.
		if v := goModGoLine(filepath.Join(abs, "go.mod")); v != "" && !build.GoAtLeast("go"+data.GoVersion, v) {
			data.GoVersion = v
		}
	}
	withGoMod := o.Lang == build.LangGo && !insideMoatModule(ctx, target)
	files, err := renderTemplates(string(o.Lang), data, withGoMod)
	if err != nil {
		return nil, &InternalError{Err: err}
	}
	if err := writeNewFiles(target, files); err != nil {
		return nil, err
	}
	res := &Result{Dir: target}
	for _, f := range files {
		res.Files = append(res.Files, filepath.Join(target, f.name))
	}
	if withGoMod && data.SDK == "" {
		if _, err := sdkcopy.Write(target); err != nil {
			return res, &InternalError{Err: err}
		}
		res.SDKCopy = true
	}
	res.Next = append(res.Next, "cd "+build.ShellQuote(target))
	switch o.Lang {
	case build.LangGo:
		res.Next = append(res.Next, "go test ./...")
	case build.LangAssemblyScript:
		res.Next = append(res.Next, "npm install")
	}
	res.Next = append(res.Next, "moat build", "moat call "+name+".toml --args '{\"name\":\"ada\"}'")
	return res, nil
}

// CheckName applies moat new's rule for names (checkNewName); the error
// wraps ErrBadName and quotes the name.
func CheckName(name string) error {
	if msg := checkNewName(name); msg != "" {
		return fmt.Errorf("%w: %q %s", ErrBadName, name, msg)
	}
	return nil
}

// goKeywords are refused as tool names: a Go tool's name is its module
// path and folder, and a keyword there is a trap (package names, imports).
var goKeywords = map[string]bool{
	"break": true, "case": true, "chan": true, "const": true, "continue": true, "default": true,
	"defer": true, "else": true, "fallthrough": true, "for": true, "func": true, "go": true, "goto": true,
	"if": true, "import": true, "interface": true, "map": true, "package": true, "range": true,
	"return": true, "select": true, "struct": true, "switch": true, "type": true, "var": true,
}

// maxNewName caps a new tool's name: it becomes a folder, a file, a Go
// module path and an npm package name.
const maxNewName = 64

// checkNewName is moat new's rule for names, stricter than the manifest's
// (which also admits upper case and dots): the one name is the tool's, its
// folder's, its module's and its npm package's, and lower-case letters,
// digits, _ and - are valid in all of them. Upper case would differ between
// file systems and is refused by npm; a dot reads as a domain in a Go
// module path and as an extension in a file name.
func checkNewName(name string) string {
	// First the rule every manifest is held to, so that moat new never
	// makes a tool its own manifest check refuses; then what the scaffold
	// adds, because the name also becomes a folder, a Go package and an
	// npm package name.
	if msg := manifest.CheckToolName(name); msg != "" {
		return msg
	}
	if len(name) > maxNewName {
		return fmt.Sprintf("must be 1 to %d characters", maxNewName)
	}
	for _, c := range name {
		switch {
		case c >= 'A' && c <= 'Z':
			return "has upper case; use lower case (" + strings.ToLower(name) + ")"
		case c == '.':
			return "has a dot; use _ or - instead"
		case !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'):
			return "may hold only a-z 0-9 _ -"
		}
	}
	if c := name[0]; !(c >= 'a' && c <= 'z') {
		return "must start with a letter"
	}
	if goKeywords[name] {
		return "is a Go keyword; pick another name (" + name + "_tool)"
	}
	return ""
}

// checkTargetFree refuses a folder that already exists with anything in
// it: moat new makes new tools, it never adds to or overwrites one.
func checkTargetFree(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		if st, serr := os.Stat(dir); serr == nil && !st.IsDir() {
			return fmt.Errorf("%w %s: it already exists and is not a folder", ErrExists, dir)
		}
		return err
	case len(entries) > 0:
		return fmt.Errorf("%w %s: it already exists and is not empty", ErrExists, dir)
	}
	return nil
}

// newData is what the templates see.
type newData struct {
	Name      string
	NPMName   string // npm package names are lower case
	GoVersion string // for a new go.mod
	SDK       string // a moat checkout for go.mod's replace directive, or ""
}

// newFile is one rendered file, relative to the tool's folder.
type newFile struct {
	name string
	data []byte
	mode fs.FileMode
}

func renderTemplates(lang string, data newData, withGoMod bool) ([]newFile, error) {
	root := path.Join("templates", lang)
	var files []newFile
	err := fs.WalkDir(templates, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, root+"/"), ".tmpl")
		switch name {
		case "tool.toml":
			name = data.Name + ".toml"
		case "gitignore":
			name = ".gitignore"
		case "go.mod":
			if !withGoMod {
				return nil
			}
		}
		src, err := templates.ReadFile(p)
		if err != nil {
			return err
		}
		t, err := template.New(name).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return fmt.Errorf("template %s: %w", p, err)
		}
		var b strings.Builder
		if err := t.Execute(&b, data); err != nil {
			return fmt.Errorf("template %s: %w", p, err)
		}
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		files = append(files, newFile{name: filepath.FromSlash(name), data: []byte(b.String()), mode: mode})
		return nil
	})
	return files, err
}

// writeNewFiles creates dir and the files in it, after checking that none
// of them exists: moat new never overwrites, not even one file of many.
func writeNewFiles(dir string, files []newFile) error {
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%w %s", ErrExists, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		// O_EXCL: a file that appeared since the check is still not replaced.
		w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return err
		}
		_, err = w.Write(f.data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// insideMoatModule reports whether dir (which may not exist yet) is inside
// moat's own module (this repository), so that a new Go tool joins it and
// imports the SDK from the tree. Anywhere else, including inside another
// project's Go module, the tool gets its own go.mod (a nested module is
// left out of the enclosing one) and the SDK copy, so it builds the same
// everywhere.
func insideMoatModule(ctx context.Context, dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	gomod := ""
	for d := abs; ; d = filepath.Dir(d) {
		if st, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !st.IsDir() {
			gomod = filepath.Join(d, "go.mod")
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	// GOFLAGS=-modfile is rare; ask go only if it is there, and trust the
	// walk above otherwise.
	if goBin, err := exec.LookPath("go"); err == nil && gomod == "" {
		existing := abs
		for {
			if _, err := os.Stat(existing); err == nil {
				break
			}
			existing = filepath.Dir(existing)
		}
		cmd := exec.CommandContext(ctx, goBin, "env", "GOMOD")
		cmd.Dir = existing
		if out, err := cmd.Output(); err == nil {
			if s := strings.TrimSpace(string(out)); s != os.DevNull {
				gomod = s
			}
		}
	}
	return gomod != "" && goModModule(gomod) == "github.com/moatmcp/moat"
}

// goModModule returns the module path a go.mod declares, or "".
func goModModule(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			v, _, _ = strings.Cut(v, "//")
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// goModGoLine returns the version on a go.mod's go line, or "".
func goModGoLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
