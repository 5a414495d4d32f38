package train

// This file implements the executor interface the loop drives, the
// registry of backends behind it, and the reference backend: an adapter
// over ir/eval.

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/encc-lang/encc/backend"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/ir/eval"
)

// An Executor runs one compiled graph: backend.Program, the method set
// that *cpu.Program and *cuda.Program share.
//
// Inputs are bound once to caller-owned storage ([]float32, []int32,
// []int64 or []bool of the input's element count) and read at every
// Run; the scalars of role scalar (lr, step, seed, lr scales) are set
// with SetScalar. Run writes every update (optimizer steps) in place
// into the bound storage of the input it updates. Float32, Int32 and
// Int64 return a named output after Run; the slice may be reused by the
// next Run.
type Executor = backend.Program

// A Backend compiles a graph to an Executor. threads is a hint; 0 means
// the backend's default (every core).
type Backend func(g *ir.Graph, threads int) (Executor, error)

var (
	backendsMu sync.Mutex
	backends   = map[string]Backend{"reference": compileReference}
	// defaultBackend is the backend of Device "" (and "cpu" when no CPU
	// backend is registered).
	defaultBackend = "reference"
	// perRun makes, for one run, a backend of the same name whose
	// programs share state (the CPU backend: one arena; see runBackend);
	// a backend registered again under that name drops it.
	perRun = map[string]func() Backend{}
	// frozen holds, per backend name, a backend of the same name whose
	// programs may treat their parameter and constant inputs as constant
	// between runs (the CPU backend packs each weight of a product once):
	// for eval and predict, which bind a checkpoint's weights once and
	// never change them; a backend registered again under that name drops
	// it.
	frozen = map[string]Backend{}
)

// inferBackend returns the backend eval and predict compile with: the
// frozen-weights variant of name where one is registered, else b.
func inferBackend(name string, b Backend) Backend {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if f := frozen[name]; f != nil {
		return f
	}
	return b
}

// runBackend returns the backend one training run compiles its programs
// with: b, the backend registered as name, or the one perRun makes for
// that name. The run executes its programs one at a time and reads a
// program's outputs right after its Run, so they may share an arena.
func runBackend(name string, b Backend) Backend {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if mk := perRun[name]; mk != nil {
		return mk()
	}
	return b
}

// RegisterBackend makes a backend available as Options.Device name. With
// preferred set it becomes the default. The CPU backend registers itself
// as "cpu", preferred.
func RegisterBackend(name string, b Backend, preferred bool) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	backends[name] = b
	delete(perRun, name)
	delete(frozen, name)
	if preferred {
		defaultBackend = name
	}
}

// Backends lists the registered backend names, sorted.
func Backends() []string {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	var out []string
	for n := range backends {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// backendFor resolves Options.Device: "" is the default backend; "cpu"
// is the CPU backend, or the reference evaluator while none is
// registered.
func backendFor(device string) (Backend, string, error) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	name := device
	switch device {
	case "":
		name = defaultBackend
	case "cpu":
		if _, ok := backends["cpu"]; !ok {
			name = "reference"
		}
	}
	b, ok := backends[name]
	if !ok {
		var have []string
		for n := range backends {
			have = append(have, n)
		}
		sort.Strings(have)
		return nil, "", fmt.Errorf("unknown device %q (have: %s)", device, strings.Join(have, ", "))
	}
	return b, name, nil
}

// A reference executor runs a graph with the reference evaluator,
// converting bound storage to float64 tensors at each Run. It is slow
// (every element a float64, no fusion) and exact to the IR's semantics;
// it is the backend while backend/cpu is not registered, and the one
// tests compare against.
type reference struct {
	g       *ir.Graph
	bound   map[string]any
	scalars map[string]float64
	inputs  map[string]*eval.Tensor
	outF32  map[string][]float32
	outI32  map[string][]int32
	outI64  map[string][]int64
}

func compileReference(g *ir.Graph, _ int) (Executor, error) {
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	r := &reference{g: g, bound: map[string]any{}, scalars: map[string]float64{}, inputs: map[string]*eval.Tensor{},
		outF32: map[string][]float32{}, outI32: map[string][]int32{}, outI64: map[string][]int64{}}
	for _, in := range g.Inputs {
		r.inputs[in.Name] = eval.Zeros(in.Type)
	}
	return r, nil
}

func (r *reference) Bind(name string, data any) error {
	in := r.g.Input(name)
	if in == nil {
		return fmt.Errorf("bind %s: the graph has no such input", name)
	}
	n := in.Type.NumElements()
	var got int
	switch d := data.(type) {
	case []float32:
		got = len(d)
	case []int32:
		got = len(d)
	case []int64:
		got = len(d)
	case []bool:
		got = len(d)
	default:
		return fmt.Errorf("bind %s: unsupported storage %T", name, data)
	}
	if got != n {
		return fmt.Errorf("bind %s: %d elements for %v", name, got, in.Type)
	}
	r.bound[name] = data
	return nil
}

func (r *reference) SetScalar(name string, v float64) { r.scalars[name] = v }

func (r *reference) Float32(name string) []float32 { return r.outF32[name] }
func (r *reference) Int32(name string) []int32     { return r.outI32[name] }
func (r *reference) Int64(name string) []int64     { return r.outI64[name] }

func (r *reference) Run() error {
	for _, in := range r.g.Inputs {
		t := r.inputs[in.Name]
		if in.Role() == ir.RoleScalar {
			v, ok := r.scalars[in.Name]
			if !ok {
				return fmt.Errorf("run: scalar %s not set", in.Name)
			}
			if in.Type.DType == ir.F32 {
				v = float64(float32(v)) // as a backend holding an f32 sees it
			}
			t.F[0] = v
			continue
		}
		switch d := r.bound[in.Name].(type) {
		case []float32:
			for i, x := range d {
				t.F[i] = float64(x)
			}
		case []int32:
			for i, x := range d {
				t.F[i] = float64(x)
			}
		case []int64:
			for i, x := range d {
				t.F[i] = float64(x)
			}
		case []bool:
			for i, x := range d {
				t.F[i] = b2f(x)
			}
		case nil:
			return fmt.Errorf("run: input %s not bound", in.Name)
		}
	}
	res, err := eval.Run(r.g, r.inputs)
	if err != nil {
		return err
	}
	for name, t := range res.Updates {
		switch d := r.bound[name].(type) {
		case []float32:
			for i, x := range t.F {
				d[i] = float32(x)
			}
		case []int32:
			for i, x := range t.F {
				d[i] = int32(x)
			}
		case []int64:
			for i, x := range t.F {
				d[i] = int64(x)
			}
		case []bool:
			for i, x := range t.F {
				d[i] = x != 0
			}
		}
	}
	for name, t := range res.Outputs {
		switch {
		case t.Type.DType == ir.I32 || t.Type.DType == ir.Bool:
			o := slices.Grow(r.outI32[name][:0], len(t.F))[:len(t.F)]
			for i, x := range t.F {
				o[i] = int32(x)
			}
			r.outI32[name] = o
		case t.Type.DType == ir.I64:
			o := slices.Grow(r.outI64[name][:0], len(t.F))[:len(t.F)]
			for i, x := range t.F {
				o[i] = int64(x)
			}
			r.outI64[name] = o
		default:
			o := slices.Grow(r.outF32[name][:0], len(t.F))[:len(t.F)]
			for i, x := range t.F {
				o[i] = float32(x)
			}
			r.outF32[name] = o
		}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
