package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"
)

// templates holds one folder per language; each NAME.tmpl becomes NAME in
// the new tool's folder, with "tool.toml" renamed to the tool's manifest
// and "gitignore" to ".gitignore" (go:embed skips dot files).
//
//go:embed templates
var templates embed.FS

// Errors of moat new.
var (
	errToolExists = errors.New("refusing to overwrite")
	errBadName    = errors.New("invalid tool name")
)

// newLangs are the languages moat new scaffolds, by template folder.
var newLangs = map[string]string{
	"go":             "go",
	"c":              "c",
	"assemblyscript": "assemblyscript",
	"as":             "assemblyscript",
}

func cmdNew(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat new", stderr, "usage: moat new NAME [--lang go|c|assemblyscript] [--dir DIR] [--sdk MOAT_CHECKOUT]\n\n"+
		"Scaffolds a tool folder: the source of a tool that greets by name, its\n"+
		"manifest (NAME.toml) and a test (Go: main_test.go; C and AssemblyScript:\n"+
		"smoke.sh, one moat call). Nothing is overwritten. A Go tool outside any\n"+
		"Go module also gets a go.mod.")
	lang := fs.String("lang", "go", "go, c or assemblyscript")
	dir := fs.String("dir", "", "the new tool's folder (default ./NAME); it must not hold any of the files")
	sdkDir := fs.String("sdk", "", "Go only: a local checkout of moat, written as a replace directive in a new go.mod")
	pos, code, ok := parseArgs(fs, args, 1, 1)
	if !ok {
		return code
	}
	tmplDir, ok := newLangs[strings.ToLower(*lang)]
	if !ok {
		fmt.Fprintf(stderr, "moat new: unknown language %q (go, c or assemblyscript)\n", *lang)
		return exitUsage
	}
	name := pos[0]
	if msg := checkToolName(name); msg != "" {
		fmt.Fprintf(stderr, "moat new: %v: %q %s\n", errBadName, name, msg)
		return exitUsage
	}
	target := *dir
	if target == "" {
		target = name
	}
	data := newData{Name: name, NPMName: strings.ToLower(name), GoVersion: goVersion()}
	if *sdkDir != "" {
		abs, err := filepath.Abs(*sdkDir)
		if err != nil {
			fmt.Fprintf(stderr, "moat new: %v\n", err)
			return exitUsage
		}
		data.SDK = filepath.ToSlash(abs)
	}
	withGoMod := tmplDir == "go" && !insideGoModule(ctx, target)
	files, err := renderTemplates(tmplDir, data, withGoMod)
	if err != nil {
		fmt.Fprintf(stderr, "moat new: %v\n", err)
		return exitInternal
	}
	if err := writeNewFiles(target, files); err != nil {
		fmt.Fprintf(stderr, "moat new: %v\n", err)
		return exitUsage
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "created %s\n", filepath.Join(target, f.name))
	}
	fmt.Fprintf(stdout, "\nnext:\n  cd %s\n", target)
	switch tmplDir {
	case "go":
		if withGoMod && data.SDK == "" {
			fmt.Fprintln(stdout, "  # edit go.mod: point the replace line at a checkout of moat")
		}
		fmt.Fprintf(stdout, "  go test ./...\n  moat build . --update-manifest %s.toml\n", name)
	default:
		fmt.Fprintln(stdout, "  ./build.sh")
	}
	fmt.Fprintf(stdout, "  moat call %s.toml --args '{\"name\":\"ada\"}'\n", name)
	return exitOK
}

// checkToolName applies the manifest's rule for names (1–128 characters of
// A-Z a-z 0-9 _ . -), which also makes the name safe as a file name; a
// leading dot or dash would make a hidden file or a flag.
func checkToolName(name string) string {
	if name == "" || len(name) > 128 {
		return "must be 1 to 128 characters"
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return "may hold only A-Z a-z 0-9 _ . -"
		}
	}
	if name[0] == '.' || name[0] == '-' {
		return "may not start with . or -"
	}
	return ""
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
			return fmt.Errorf("%w %s", errToolExists, p)
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

// insideGoModule reports whether dir (which may not exist yet) is inside a
// Go module, so that a new Go tool joins it rather than getting a go.mod.
func insideGoModule(ctx context.Context, dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for d := abs; ; d = filepath.Dir(d) {
		if st, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !st.IsDir() {
			return true
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	// GOFLAGS=-modfile or a go.work elsewhere are rare; ask go only if it
	// is there, and trust the walk above otherwise.
	if goBin, err := exec.LookPath("go"); err == nil {
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
			s := strings.TrimSpace(string(out))
			return s != "" && s != os.DevNull
		}
	}
	return false
}

// goVersion is this moat's Go version without a patch suffix such as
// "-rc1" ("1.26.8"), for the go line of a new go.mod.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	if i := strings.IndexAny(v, " -+"); i >= 0 {
		v = v[:i]
	}
	return v
}
