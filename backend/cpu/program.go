// This file implements Compile, Program and the executor: storage for
// inputs, the planned arena, the step list and Run.

package cpu

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/backend/host"
	"github.com/encc-lang/encc/ir"
)

// Options tunes Compile.
type Options struct {
	Threads int // cores kernels split work over; 0: GOMAXPROCS

	// Int8 maps weight input names to their int8 form: the products
	// with those weights run in int8 (int8.go).
	Int8 map[string]*Int8Linear
	// Observe, when set, is called before every f32 product whose
	// weight operand is a named input, with that input's name and the
	// product's other operand (post-training calibration).
	Observe func(weight string, x []float32)
	// Arena, when set, holds the program's planned arena, shared with
	// the other programs compiled into it (arena.go); nil: its own.
	Arena *Arena
	// FrozenWeights declares the parameter and constant inputs constant
	// between runs (an inference program): an f32 product by one packs
	// that weight at the first run and reuses the packing, packing it
	// again only when its storage moves (Bind) or after
	// Program.WeightsChanged. A program whose weights are written in
	// place between runs (a training step's, or one sharing their
	// storage) must not set it, or must call WeightsChanged after each
	// write.
	FrozenWeights bool
}

// A Program is a graph prepared to run on the CPU: one arena placed by
// ir.PlanMemory, storage for every input, and a list of steps with their
// buffers resolved. A Program is not safe for concurrent use.
type Program struct {
	g       *ir.Graph
	plan    *ir.Plan
	arena   []uint64    // keeps the arena alive; buffers point into it
	shared  *Arena      // Options.Arena, which holds the arena instead
	slots   []arenaSlot // the buffers in shared, moved when it grows
	owned   bool        // every input has storage (own)
	bufs    map[*ir.Value]*buffer
	inputs  map[string]*buffer // by input name
	outputs map[string]*buffer // named outputs, by name
	io      host.IO[*buffer]   // Bind, Float32, … over inputs and outputs
	steps   []step
	frozen  []*matmulF32 // products by a weight packed once (Options.FrozenWeights)
	// reluInto maps a training ReLU whose product applies it in its
	// epilogue to that product (reluEpilogues): it has the product's
	// storage and, where the product took the ReLU, no step.
	reluInto map[*ir.Value]*ir.Value
	// outOfArena: buffers given storage of their own after the plan
	// (moveOutOfArena); spanOf does not place them in the arena.
	outOfArena map[*buffer]bool
	copies     []updateCopy // updates not planned in place
}

// A step runs the kernel of one value.
type step struct {
	v *ir.Value
	k kernel
}

// An updateCopy writes an update's value into the input it updates after
// the step, when the plan could not compute it in place.
type updateCopy struct {
	dst, src *buffer
}

// Compile prepares g: verifies it, plans memory, picks a kernel per value.
func Compile(g *ir.Graph, opts Options) (*Program, error) {
	return compile(g, opts, ir.PlanOptions{})
}

// compile is Compile with the planner's options (tests run every kernel
// with and without slot reuse and aliasing).
func compile(g *ir.Graph, opts Options, popts ir.PlanOptions) (*Program, error) {
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	for _, v := range g.Values {
		switch v.Type.DType {
		case ir.F32, ir.I32, ir.I64, ir.Bool:
		default:
			return nil, fmt.Errorf("cpu: %s is %v: the CPU backend runs f32, i32, i64 and bool", v.Ref(), v.Type)
		}
		if !HasKernel(v.Op) {
			return nil, fmt.Errorf("cpu: %s: no kernel for %s", v.Ref(), v.Op)
		}
	}
	var accum map[*ir.Value]bool
	popts.Into, accum = accumulateFolds(g, opts)
	plan, err := ir.PlanMemory(g, popts)
	if err != nil {
		return nil, err
	}
	p := &Program{
		g:       g,
		plan:    plan,
		bufs:    make(map[*ir.Value]*buffer, len(g.Values)),
		inputs:  map[string]*buffer{},
		outputs: map[string]*buffer{},
	}
	p.io = host.IO[*buffer]{Backend: "cpu", Graph: g, Inputs: p.inputs, Outputs: p.outputs}
	// The arena, 64-byte aligned.
	base := p.place(opts.Arena, plan.Size)
	for _, v := range g.Inputs {
		b := &buffer{n: v.Type.NumElements(), dt: v.Type.DType}
		if b.n == 1 { // a scalar: SetScalar writes it
			b.p = unsafe.Pointer(&make([]uint64, 1)[0])
		}
		p.bufs[v] = b
		p.inputs[v.Name] = b
	}
	var reluM map[*ir.Value]bool
	p.reluInto, reluM = reluEpilogues(g, plan)
	for _, v := range g.Values {
		if v.Op == ir.OpInput {
			continue
		}
		if m, ok := p.reluInto[v]; ok {
			p.bufs[v] = p.bufs[m]
			continue
		}
		if a, ok := plan.Alias[v]; ok {
			p.bufs[v] = p.bufs[a]
			continue
		}
		if in, ok := plan.InPlace[v]; ok {
			p.bufs[v] = p.bufs[in]
			continue
		}
		off, ok := plan.Offset[v]
		if !ok {
			return nil, fmt.Errorf("cpu: %s has no place in the memory plan", v.Ref())
		}
		b := &buffer{n: v.Type.NumElements(), dt: v.Type.DType}
		if b.n == 1 {
			// A scalar (a loss, a step counter and its increment) has
			// storage of its own: in the arena, a slot freed late would
			// order its step after the last reader of the slot's earlier
			// value (stageSteps orders by storage), as it did the step
			// counters, and with them the small optimizer updates,
			// after the first layer's weight gradient.
			b.p = unsafe.Pointer(&make([]uint64, 1)[0])
		} else if b.n > 0 {
			b.p = unsafe.Add(base, off)
			p.slot(b, off)
		}
		p.bufs[v] = b
	}
	c := &compileCtx{g: g, plan: plan, bufs: p.bufs, pool: poolOf(opts.Threads), opts: opts, accumulate: accum}
	reluFused := map[*ir.Value]bool{}
	for _, v := range g.Values {
		if v.Op == ir.OpInput || plan.Alias[v] != nil && !accum[v] || reluFused[p.reluInto[v]] {
			continue
		}
		k, err := builders[v.Op](c, v)
		if err != nil {
			return nil, fmt.Errorf("cpu: %s = %s: %w", v.Ref(), v.Op, err)
		}
		if mm, ok := k.(*matmulF32); ok && reluM[v] && mm.bias != nil && mm.act == gemm.ActNone {
			mm.act = gemm.ActReLU
			reluFused[v] = true
		}
		if k != nil {
			p.steps = append(p.steps, step{v, k})
		}
	}
	p.fuseAdam(c)
	p.fuseCrossEntropy()
	p.fuseConvBias()
	p.fuseReluPool()
	p.int8Passes()
	p.shareAttentionWeights()
	p.shareAttentionProducts()
	p.fuseResidualLayerNorm()
	p.fuseGatherAdd()
	p.shareLayerNormStats()
	p.shareGeluPhi()
	p.foldGeluProducts()
	p.foldLayerNormProducts()
	if shareColumnsOn {
		p.shareColumns()
	}
	p.fuseGeluBiasGrad()
	p.fuseBiasSums()
	p.groupProducts()
	p.fuseLayerNormBackward()
	p.stageSteps(c.pool)
	p.frozen = c.frozen
	p.chainFrozen(c.pool)
	for _, o := range g.Outputs {
		if o.Updates == nil {
			p.outputs[o.Name] = p.bufs[o.Value]
			continue
		}
		dst, src := p.bufs[o.Updates], p.bufs[o.Value]
		if dst != src {
			p.copies = append(p.copies, updateCopy{dst, src})
		}
	}
	p.register()
	return p, nil
}

var (
	poolsMu sync.Mutex
	pools   = map[int]*parallel.Pool{}
)

// poolOf returns the pool of n participants: the default pool when n is
// 0 or its size, else one pool per size shared by every Program.
func poolOf(n int) *parallel.Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if d := parallel.Default(); d.Size() == n {
		return d
	}
	poolsMu.Lock()
	defer poolsMu.Unlock()
	if pools[n] == nil {
		pools[n] = parallel.New(n)
	}
	return pools[n]
}

// Graph returns the graph p runs.
func (p *Program) Graph() *ir.Graph { return p.g }

// Plan returns p's memory plan.
func (p *Program) Plan() *ir.Plan { return p.plan }

// Inputs returns the inputs of the graph, in declaration order.
func (p *Program) Inputs() []*ir.Value { return p.g.Inputs }

// Host and SetHost make a buffer a host.Buffer: the storage of an
// input or named output, which Bind points at caller-owned memory.
func (b *buffer) Host() (unsafe.Pointer, int, ir.DType) { return b.p, b.n, b.dt }
func (b *buffer) SetHost(p unsafe.Pointer)              { b.p = p }

// Bind makes input name use caller-owned storage (params and optimizer
// state shared between the programs of several phases; data batches).
// data is []float32 for f32, []int32 for i32, []int64 for i64, []bool for
// bool; its length must match. Unbound inputs get program-owned zeroed
// storage.
func (p *Program) Bind(name string, data any) error { return p.io.Bind(name, data) }

// Float32 returns the storage of an f32 input or named output (valid
// until the next Run for outputs), or nil.
func (p *Program) Float32(name string) []float32 { p.own(); return p.io.Float32(name) }

// Int32 returns the storage of an i32 input or named output, or nil.
func (p *Program) Int32(name string) []int32 { p.own(); return p.io.Int32(name) }

// Int64 returns the storage of an i64 input or named output, or nil.
func (p *Program) Int64(name string) []int64 { p.own(); return p.io.Int64(name) }

// Bool returns the storage of a bool input or named output, or nil.
func (p *Program) Bool(name string) []bool { p.own(); return p.io.Bool(name) }

// WeightsChanged tells a program compiled with Options.FrozenWeights
// that its weights were written: their products pack them again at the
// next run.
func (p *Program) WeightsChanged() {
	for _, k := range p.frozen {
		k.packedAt = nil
	}
}

// SetScalar sets a scalar input (lr, step, seed, lr_scale) to v,
// converted to its dtype. It panics if name is not a scalar input.
func (p *Program) SetScalar(name string, v float64) { p.io.SetScalar(name, v) }

// Run executes the graph once; in-place updates are written to the bound
// storage of the inputs they update. It does not allocate.
func (p *Program) Run() error {
	p.own()
	for i := range p.steps {
		s := &p.steps[i]
		if err := s.k.run(); err != nil {
			return stepErr(s, err)
		}
	}
	for _, c := range p.copies {
		copy(bytesOf(c.dst), bytesOf(c.src))
	}
	return nil
}
