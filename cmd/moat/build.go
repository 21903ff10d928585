package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

func cmdBuild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("moat build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: moat build TOOL_DIR...\n\nCompiles each Go tool folder (a main package) to TOOL_DIR/NAME.wasm\n(GOOS=wasip1 GOARCH=wasm) and prints its size and sha256.")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) == 0 {
		fs.Usage()
		return exitUsage
	}
	for _, dir := range pos {
		out := filepath.Join(dir, filepath.Base(filepath.Clean(dir))+".wasm")
		if err := buildGoTool(ctx, dir, out, stderr); err != nil {
			fmt.Fprintf(stderr, "moat build: %v\n", err)
			return exitUsage
		}
		if err := printModule(stdout, out); err != nil {
			fmt.Fprintf(stderr, "moat build: %v\n", err)
			return exitUsage
		}
	}
	return exitOK
}

// buildGoTool compiles the Go main package in dir to out for wasip1.
func buildGoTool(ctx context.Context, dir, out string, stderr io.Writer) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("building Go tools needs the go command on PATH")
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", absOut, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		stderr.Write(buf.Bytes())
		return fmt.Errorf("go build in %s: %w", dir, err)
	}
	return nil
}

func printModule(w io.Writer, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	fmt.Fprintf(w, "built %s  %d bytes  sha256:%s\n", rel(path), len(b), hex.EncodeToString(sum[:]))
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
			var skim struct {
				Module string `toml:"module"`
			}
			if toml.Unmarshal(data, &skim) != nil || skim.Module == "" || !strings.HasSuffix(skim.Module, ".wasm") {
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
		if err := buildGoTool(ctx, filepath.Dir(mod), mod, stderr); err != nil {
			return err
		}
		if err := printModule(stdout, mod); err != nil {
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
