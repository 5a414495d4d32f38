// This file implements Emit, Module and the emitter that walks the
// planned graph: one kernel (or GEMM, copy or memset) per value, in
// graph order, with the arguments resolved to arena or input storage.

package cuda

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/encc-lang/encc/ir"
)

// EmitOptions tunes Emit.
type EmitOptions struct {
	Block  int    // threads per block of elementwise and reduction kernels: a power of two in [32,1024]; 0 means 256
	Source string // what the graph was compiled from, for the README ("examples/digits_mlp.enc classify")
}

// A Module is the CUDA form of one planned graph: the kernels' source,
// the launch plan and a README describing both.
type Module struct {
	Kernels string // kernels.cu
	Plan    *Plan  // plan.json
	README  string // README.md
}

// WriteDir writes kernels.cu, plan.json and README.md into dir, creating
// it if needed.
func (m *Module) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"kernels.cu", []byte(m.Kernels)},
		{"plan.json", m.Plan.JSON()},
		{"README.md", []byte(m.README)},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// maxElements bounds every tensor so that kernels can index with int.
const maxElements = math.MaxInt32

// Emit renders the kernels and the launch plan of g, which has been
// optimized (ir.Optimize) and planned (ir.PlanMemory gave plan). The
// output is deterministic: the same graph and plan give the same bytes.
func Emit(g *ir.Graph, plan *ir.Plan, opts EmitOptions) (*Module, error) {
	if opts.Block == 0 {
		opts.Block = 256
	}
	if opts.Block < 32 || opts.Block > 1024 || opts.Block&(opts.Block-1) != 0 {
		return nil, fmt.Errorf("cuda: block size %d is not a power of two in [32,1024]", opts.Block)
	}
	if err := plan.Check(g); err != nil {
		return nil, fmt.Errorf("cuda: %v", err)
	}
	e := &emitter{g: g, plan: plan, opts: opts, block: opts.Block}
	e.out = &Plan{Graph: g.Name, ArenaBytes: plan.Size, Block: opts.Block}
	for _, v := range g.Values {
		if err := checkType(v); err != nil {
			return nil, err
		}
	}
	for _, v := range g.Inputs {
		e.out.Inputs = append(e.out.Inputs, Input{
			Name: v.Name, Role: v.Role().String(), DType: v.Type.DType.String(),
			Shape: shapeOf(v.Type.Shape), Bytes: v.Type.Bytes(),
		})
	}
	for _, v := range g.Values {
		if v.Op == ir.OpInput {
			continue
		}
		e.out.Buffers = append(e.out.Buffers, e.buffer(v))
	}
	e.src.WriteString(header(g, opts))
	for _, v := range g.Values {
		if v.Op == ir.OpInput || plan.Alias[v] != nil || v.Type.NumElements() == 0 {
			continue
		}
		gen := generators[v.Op]
		if gen == nil {
			return nil, fmt.Errorf("cuda: %s = %s: no CUDA kernel for %s", v.Ref(), v.Op, v.Op)
		}
		if err := gen(e, v); err != nil {
			return nil, fmt.Errorf("cuda: %s = %s: %w", v.Ref(), v.Op, err)
		}
	}
	for _, o := range g.Outputs {
		at := e.arg(o.Value)
		if o.Updates == nil {
			e.out.Outputs = append(e.out.Outputs, Output{Name: o.Name, At: at})
			continue
		}
		inPlace := plan.Root(o.Value) == o.Updates
		e.out.Outputs = append(e.out.Outputs, Output{Updates: o.Updates.Name, InPlace: inPlace, At: at})
		if !inPlace {
			src := at
			e.out.Steps = append(e.out.Steps, Step{
				Kind: "copy", Value: o.Value.Ref(), IR: "update " + o.Updates.Ref() + " = " + o.Value.Ref(),
				Out: e.arg(o.Updates), Src: &src,
			})
		}
	}
	m := &Module{Kernels: e.src.String(), Plan: e.out}
	m.README = readme(g, m, opts, plan.Sum)
	return m, nil
}

// checkType rejects the dtypes and sizes the kernels do not handle.
func checkType(v *ir.Value) error {
	switch v.Type.DType {
	case ir.F32, ir.I32, ir.I64, ir.Bool:
	default:
		return fmt.Errorf("cuda: %s is %v: the CUDA backend runs f32, i32, i64 and bool", v.Ref(), v.Type)
	}
	if v.Type.NumElements() > maxElements {
		return fmt.Errorf("cuda: %s is %v: more than 2^31-1 elements", v.Ref(), v.Type)
	}
	return nil
}

// An emitter holds the state of one Emit.
type emitter struct {
	g     *ir.Graph
	plan  *ir.Plan
	opts  EmitOptions
	block int
	src   strings.Builder
	out   *Plan
	gemm  bool // encc_sgemm has been written
}

// A generator writes the kernels and steps of one value.
type generator func(e *emitter, v *ir.Value) error

// generators maps every op the backend runs to its generator; the files
// elementwise.go, reduce.go, movement.go, conv.go and gemm.go fill it.
var generators = map[ir.Op]generator{}

func register(g generator, ops ...ir.Op) {
	for _, op := range ops {
		generators[op] = g
	}
}

// HasKernel reports whether the backend can run op.
func HasKernel(op ir.Op) bool { return op == ir.OpInput || generators[op] != nil }

func shapeOf(s ir.Shape) []int {
	if s == nil {
		return []int{}
	}
	return append([]int{}, s...)
}

// posString is file:line of v's source position (the file's base
// name, so the output does not depend on where encc ran), or "".
func posString(v *ir.Value) string {
	if !v.Pos.IsValid() {
		return ""
	}
	return fmt.Sprintf("%s:%d", filepath.Base(v.Pos.File), v.Pos.Line)
}

// buffer describes where v lives.
func (e *emitter) buffer(v *ir.Value) Buffer {
	b := Buffer{
		Ref: v.Ref(), Op: v.Op.String(), DType: v.Type.DType.String(),
		Shape: shapeOf(v.Type.Shape), Bytes: v.Type.Bytes(), Root: e.plan.Root(v).Ref(), Pos: posString(v),
	}
	if off, ok := e.plan.Offset[v]; ok {
		b.Offset = &off
	}
	if a, ok := e.plan.Alias[v]; ok {
		b.Alias = a.Ref()
	}
	if in, ok := e.plan.InPlace[v]; ok {
		b.InPlace = in.Name
	}
	return b
}

// arg is the pointer argument for v's storage.
func (e *emitter) arg(v *ir.Value) Arg {
	root := e.plan.Root(v)
	a := Arg{Value: v.Ref(), Buffer: root.Ref(), Bytes: v.Type.Bytes()}
	if root.Op == ir.OpInput {
		a.Kind, a.Input = "input", root.Name
	} else {
		a.Kind, a.Offset = "arena", e.plan.Offset[root]
	}
	return a
}

// argAt is arg(v) moved elems elements of v's dtype in, touching n elements.
func (e *emitter) argAt(v *ir.Value, elems, n int) Arg {
	a := e.arg(v)
	a.Offset += elems * v.Type.DType.Size()
	a.Bytes = n * v.Type.DType.Size()
	return a
}

func intArg(kind string, n int64) Arg { return Arg{Kind: kind, Int: &n} }

// args returns the pointer arguments of vs.
func (e *emitter) args(vs ...*ir.Value) []Arg {
	out := make([]Arg, len(vs))
	for i, v := range vs {
		out[i] = e.arg(v)
	}
	return out
}

// step appends a step computing v.
func (e *emitter) step(v *ir.Value, s Step) {
	s.Value = v.Ref()
	s.IR = irLine(v)
	s.Pos = posString(v)
	e.out.Steps = append(e.out.Steps, s)
}

// launchThreads appends a launch of kernel over n threads (one per
// element), with v's storage as the first argument and ins after it.
func (e *emitter) launchThreads(v *ir.Value, kernel string, n int, ins ...*ir.Value) {
	e.step(v, Step{Kind: "launch", Out: e.arg(v), Launch: e.threads(kernel, n, e.args(append([]*ir.Value{v}, ins...)...))})
}

// threads is a 1-D launch of n threads in blocks of e.block.
func (e *emitter) threads(kernel string, n int, args []Arg) *Launch {
	return &Launch{
		Kernel: kernel, Grid: [3]int{ceilDiv(n, e.block), 1, 1}, Block: [3]int{e.block, 1, 1},
		Args: args, Cover: [3]int{n, 1, 1}, Unit: "thread",
	}
}

// launchBlocks appends a launch of kernel with one block per row (rows
// blocks of e.block threads).
func (e *emitter) launchBlocks(v *ir.Value, kernel string, rows int, ins ...*ir.Value) {
	e.step(v, Step{Kind: "launch", Out: e.arg(v), Launch: &Launch{
		Kernel: kernel, Grid: [3]int{rows, 1, 1}, Block: [3]int{e.block, 1, 1},
		Args: e.args(append([]*ir.Value{v}, ins...)...), Cover: [3]int{rows, 1, 1}, Unit: "block",
	}})
}

// memset appends a step zeroing v's storage (before a kernel that adds
// into it with atomics).
func (e *emitter) memset(v *ir.Value) {
	e.step(v, Step{Kind: "memset", Out: e.arg(v)})
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// irLine is v in the text form, shortened for comments.
func irLine(v *ir.Value) string {
	var args []string
	for _, a := range v.Args {
		args = append(args, a.Ref())
	}
	s := fmt.Sprintf("%s = %s(%s)", v.Ref(), v.Op, strings.Join(args, ", "))
	if a := ir.FormatAux(v.Aux); a != "" {
		s += " {" + a + "}"
	}
	s += " : " + v.Type.String()
	if len(s) > 400 {
		s = s[:397] + "..."
	}
	return s
}
