package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/netpolicy"
	"github.com/moatmcp/moat/internal/sandbox"
	"github.com/moatmcp/moat/internal/schema"
	"github.com/moatmcp/moat/internal/telemetry"
)

// Tool is one loaded tool: its manifest, its compiled module and its
// resolved schemas. It follows the lifecycle decode → validate → compile →
// serve → close, and nothing in it changes after LoadTool returns.
//
// # Notes
//
//   - Safe for concurrent use: every call gets a fresh instance.
type Tool struct {
	Manifest *manifest.Tool
	module   *sandbox.Module
	input    *schema.Schema
	output   *schema.Schema // nil without an output schema
	mcpTool  *mcp.Tool
	net      *netpolicy.Policy // nil without [net]; its idle connections close with the tool

	digest    string   // of the manifest, to share an unchanged tool with the next snapshot
	sensitive []string // argument paths the audit log redacts (from the input schema)
}

// LoadTool compiles the manifest's module in rt and resolves its schemas.
// Errors are for the operator: they name the manifest file.
func LoadTool(ctx context.Context, rt *sandbox.Runtime, m *manifest.Tool) (*Tool, error) {
	m, err := resolveModule(ctx, m)
	if err != nil {
		return nil, err
	}
	in, err := schema.CompileInput(m.InputSchema)
	if err != nil {
		return nil, fmt.Errorf("%s: input_schema: %w", m.File, err)
	}
	var out *schema.Schema
	if m.OutputSchema != nil {
		if out, err = schema.CompileOutput(m.OutputSchema); err != nil {
			return nil, fmt.Errorf("%s: output_schema: %w", m.File, err)
		}
	}
	if m.Result == manifest.ResultJSON && out == nil {
		return nil, fmt.Errorf("%s: result = \"json\" needs an output schema", m.File)
	}
	spec, pol := sandboxSpec(m)
	mod, err := rt.Load(ctx, spec)
	if err != nil {
		if pol != nil {
			pol.Close()
		}
		return nil, fmt.Errorf("%s: module %s: %w", m.File, m.ModulePath, err)
	}
	t := &Tool{Manifest: m, module: mod, input: in, output: out, net: pol}
	t.mcpTool = describeTool(m, in, out)
	t.digest = m.Digest
	t.sensitive = in.SensitivePaths()
	return t, nil
}

// Close releases the compiled module, the tool's mounts and its network
// connections. Calls still in flight finish first.
func (t *Tool) Close(ctx context.Context) error {
	if t == nil || t.module == nil {
		return nil
	}
	err := t.module.Close(ctx)
	if t.net != nil {
		t.net.Close() // after the calls: none is using a connection now
	}
	return err
}

// Entry says how the tool's calls run, for moat check and the log: as a
// command in a new instance each, or as a reactor from its snapshot, and
// if a per-call reactor cannot be reset in place, why.
func (t *Tool) Entry() string {
	m := t.module
	switch ok, why := m.ResetInPlace(); {
	case !m.Reactor():
		return "command: a new instance per call"
	case m.Isolation() != sandbox.IsolationPerCall:
		return "reactor, " + m.Isolation().String() + " isolation: instances reused as they are"
	case ok:
		return "reactor, per-call isolation: each call starts from the snapshot, its instance reset in place after"
	default:
		return "reactor, per-call isolation: a new instance from the snapshot per call, not reset in place because " + why
	}
}

// Name is the tool's MCP name.
func (t *Tool) Name() string { return t.Manifest.Name }

// MCPTool is the tool as tools/list shows it.
func (t *Tool) MCPTool() *mcp.Tool { return t.mcpTool }

// sandboxSpec translates the manifest's grants; pol is the tool's network
// policy (nil without [net]), for the Tool to close.
func sandboxSpec(m *manifest.Tool) (spec sandbox.Spec, pol *netpolicy.Policy) {
	spec = sandbox.Spec{
		Name:       m.Name,
		Wasm:       m.Wasm,
		RealClock:  m.Clock,
		RealRandom: m.Random,
		Isolation:  m.Isolation,
		Limits: sandbox.Limits{
			MemoryBytes:    m.Limits.Memory,
			Timeout:        m.Limits.Timeout,
			MaxInputBytes:  m.Limits.MaxInput,
			MaxOutputBytes: m.Limits.MaxOutput,
			MaxConcurrency: m.Limits.MaxConcurrency,
		},
	}
	for _, mt := range m.Mounts {
		spec.Mounts = append(spec.Mounts, sandbox.Mount{HostDir: mt.Host, GuestPath: mt.Guest, ReadOnly: mt.ReadOnly})
	}
	for _, e := range m.Env {
		spec.Env = append(spec.Env, e.Name+"="+e.Value)
	}
	if m.Net != nil {
		// One policy (and connection pool) per loaded tool. Audit records
		// come from netpolicy.WithObserver on each call's ctx, which knows
		// the principal; the grant itself was checked at manifest load,
		// and if New still fails every request fails closed.
		var polErr error
		pol, polErr = netpolicy.New(netpolicy.ConfigFor(m.Net))
		spec.HTTP = sandbox.HTTPFunc(func(ctx context.Context, r *sandbox.HTTPRequest) (*sandbox.HTTPResponse, error) {
			if polErr != nil {
				return nil, polErr
			}
			resp, err := pol.Do(ctx, &netpolicy.Request{Method: r.Method, URL: r.URL, Header: r.Header, Body: r.Body})
			if err != nil {
				return nil, err
			}
			return &sandbox.HTTPResponse{Status: resp.Status, URL: resp.URL, Header: resp.Header, Body: resp.Body}, nil
		})
	}
	return spec, pol
}

// describeTool builds the tools/list entry. Hints the manifest leaves unset
// are derived from the grants, so an agent's client never sees a tool
// claim less power than it has: no rw mount and no network means read-only
// and closed-world.
func describeTool(m *manifest.Tool, in, out *schema.Schema) *mcp.Tool {
	writes := false
	for _, mt := range m.Mounts {
		if !mt.ReadOnly {
			writes = true
		}
	}
	network := m.Net != nil
	ann := &mcp.ToolAnnotations{Title: m.Title}
	ann.ReadOnlyHint = pick(m.Annotations.ReadOnly, !writes && !network)
	ann.DestructiveHint = ptr(pick(m.Annotations.Destructive, writes))
	ann.OpenWorldHint = ptr(pick(m.Annotations.OpenWorld, network))
	if m.Annotations.Idempotent != nil {
		ann.IdempotentHint = *m.Annotations.Idempotent
	}
	t := &mcp.Tool{
		Name:        m.Name,
		Title:       m.Title,
		Description: m.Description,
		InputSchema: in.Raw(),
		Annotations: ann,
	}
	if out != nil {
		t.OutputSchema = out.Raw()
	}
	return t
}

func pick(set *bool, derived bool) bool {
	if set != nil {
		return *set
	}
	return derived
}

func ptr[T any](v T) *T { return &v }

// callInfo is what one call reports besides its result, for the audit log
// and metrics.
type callInfo struct {
	Outcome  audit.Outcome // ok, tool_error, invalid_arguments, input_too_large, busy, timeout, memory, output_overflow, trap, canceled, bad_output, host_error
	ExitCode uint32
	BytesIn  int
	BytesOut int
	Run      *sandbox.Result // nil when no instance ran
	// Reason and ErrorID go to the audit record when set: why the
	// outcome, and the error id the client was given (mrtr.go's
	// invalid_input).
	Reason  string
	ErrorID string
}

// Call validates args, runs the tool in a fresh instance and maps what it
// did to a CallToolResult (ABI v1). A failing tool is a result with IsError
// set; the error is non-nil only for host faults, whose text must not reach
// the client.
func (t *Tool) Call(ctx context.Context, args json.RawMessage, hooks *sandbox.Hooks) (*mcp.CallToolResult, *callInfo, error) {
	info := &callInfo{BytesIn: len(args)}
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	if max := t.Manifest.Limits.MaxInput; max > 0 && int64(len(args)) > max {
		info.Outcome = "input_too_large"
		return toolError(fmt.Sprintf("arguments too large: %d bytes (limit %d)", len(args), max)), info, nil
	}
	_, vspan := telemetry.Start(ctx, "moat.validate")
	verr := t.input.Validate(args)
	vspan.End()
	if err := verr; err != nil {
		info.Outcome = "invalid_arguments"
		var ve *schema.ValidationError
		if errors.As(err, &ve) {
			return toolError(ve.Error()), info, nil
		}
		return toolError("invalid arguments"), info, nil
	}
	run, err := t.module.Call(ctx, args, hooks)
	switch {
	case errors.Is(err, sandbox.ErrInputTooLarge):
		info.Outcome = "input_too_large"
		return toolError("arguments too large"), info, nil
	case errors.Is(err, sandbox.ErrClosed):
		// The tool was replaced or removed by a reload while this call
		// waited; the next call reaches the new version.
		info.Outcome = "busy"
		return toolError(fmt.Sprintf("tool %s was just reloaded; retry the call", t.Name())), info, nil
	case errors.Is(err, sandbox.ErrHostMemoryBudget):
		info.Outcome = "busy"
		return toolError("the host is out of guest memory; retry later"), info, nil
	case errors.Is(err, sandbox.ErrBusy):
		info.Outcome = "busy"
		return toolError(fmt.Sprintf("tool %s is busy (%d calls running); retry later", t.Name(), t.Manifest.Limits.MaxConcurrency)), info, nil
	case err != nil:
		info.Outcome = "host_error"
		return nil, info, fmt.Errorf("tool %s: %w", t.Name(), err)
	}
	info.Run = run
	info.ExitCode = run.ExitCode
	info.BytesOut = len(run.Stdout)
	res, outcome := t.result(run)
	info.Outcome = outcome
	return res, info, nil
}
