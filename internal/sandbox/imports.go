package sandbox

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// ImportError is a Load error: the module imports something moat does not
// link for it.
type ImportError struct {
	Module, Name string
	Kind         string // "function" or "memory"
	Grant        string // the manifest grant that would link it; "" if none would
	Detail       string // e.g. a signature mismatch
}

func (e *ImportError) Error() string {
	what := fmt.Sprintf("%q", e.Module+"."+e.Name)
	if e.Kind != "function" {
		what = e.Kind + " " + what
	}
	switch {
	case e.Detail != "":
		return fmt.Sprintf("module imports %s %s", what, e.Detail)
	case e.Grant != "":
		return fmt.Sprintf("module imports %s, which needs the [%s] grant", what, e.Grant)
	}
	return fmt.Sprintf("module imports %s, which moat does not provide", what)
}

// grants is the set of manifest grants that link extra moat host
// functions: a function in moatFuncs with a grant name is linked only when
// the Spec grants it ("net": Spec.HTTP set).
type grants map[string]bool

// laterGrants names moat imports that later grants will provide, so that
// a module built against them gets a useful message now. Empty while every
// planned grant exists.
var laterGrants = map[string]string{}

// checkImports refuses any import that is not a WASI preview 1 function or
// an always-linked (or granted) moat function with the right signature.
func (r *Runtime) checkImports(compiled wazero.CompiledModule, granted grants) error {
	var errs []error
	for _, def := range compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		var want api.FunctionDefinition
		switch mod {
		case wasi_snapshot_preview1.ModuleName:
			want = r.wasi[name]
		case resetModule: // only ever put there by Load (reset.go)
			if name == "fd_close" {
				want = r.wasi[name]
			}
		case moatModule:
			if f, ok := moatFuncByName(name); ok && (f.grant == "" || granted[f.grant]) {
				if !sameSignature(def, f.params, f.results) {
					errs = append(errs, &ImportError{Module: mod, Name: name, Kind: "function",
						Detail: fmt.Sprintf("with type %s, but moat provides %s", signature(def.ParamTypes(), def.ResultTypes()), signature(f.params, f.results))})
				}
				continue
			} else if ok {
				errs = append(errs, &ImportError{Module: mod, Name: name, Kind: "function", Grant: f.grant})
				continue
			}
			if g, ok := laterGrants[name]; ok {
				errs = append(errs, &ImportError{Module: mod, Name: name, Kind: "function", Grant: g})
				continue
			}
		}
		if want == nil {
			errs = append(errs, &ImportError{Module: mod, Name: name, Kind: "function"})
			continue
		}
		if !sameSignature(def, want.ParamTypes(), want.ResultTypes()) {
			errs = append(errs, &ImportError{Module: mod, Name: name, Kind: "function",
				Detail: fmt.Sprintf("with type %s, but moat provides %s", signature(def.ParamTypes(), def.ResultTypes()), signature(want.ParamTypes(), want.ResultTypes()))})
		}
	}
	// Every instance gets its own memory: nothing is shared to import.
	for _, def := range compiled.ImportedMemories() {
		mod, name, _ := def.Import()
		errs = append(errs, &ImportError{Module: mod, Name: name, Kind: "memory"})
	}
	return errors.Join(errs...)
}

func sameSignature(def api.FunctionDefinition, params, results []api.ValueType) bool {
	return slices.Equal(def.ParamTypes(), params) && slices.Equal(def.ResultTypes(), results)
}

// signature prints a function type the way the WebAssembly text format
// names value types: (i32, i32) -> (i32).
func signature(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return names(params) + " -> " + names(results)
}
