package cpu

import (
	"math/rand"
	"runtime"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestSharedArena: training steps of two batch sizes compiled into one
// Arena, the smaller first so that the second grows it and moves the
// first, give at every step bit for bit the losses and weights of the
// same programs on arenas of their own, run interleaved; the arena holds
// the larger plan, not the sum.
func TestSharedArena(t *testing.T) {
	batches := []int{4, 16}
	type run struct {
		p *Program
		g *ir.Graph
	}
	compileAll := func(a *Arena) []run {
		var rs []run
		for _, b := range batches {
			g := stepGraph(t, "digits_mlp", 0, 0, b, true)
			p, err := Compile(g, Options{Threads: 2, Arena: a})
			if err != nil {
				t.Fatal(err)
			}
			bindAll(t, p, g, initInputs(g, rand.New(rand.NewSource(int64(b)))))
			rs = append(rs, run{p, g})
		}
		return rs
	}
	own, a := compileAll(nil), NewArena()
	shared := compileAll(a)
	if small, large := shared[0].p.Plan().Size, shared[1].p.Plan().Size; small >= large || a.Size() != large {
		t.Fatalf("plans %d and %d, shared arena %d: want a smaller first plan and the arena the larger", small, large, a.Size())
	}
	// Both programs' slots lie in the arena's one storage: the first
	// moved there when the second grew it.
	lo, hi := uintptr(a.base), uintptr(a.base)+uintptr(a.size)
	for i, r := range shared {
		if len(r.p.slots) == 0 {
			t.Fatalf("program %d has no slots in the shared arena", i)
		}
		for _, s := range r.p.slots {
			if p := uintptr(s.b.p); p < lo || p+uintptr(s.b.n*s.b.dt.Size()) > hi {
				t.Fatalf("program %d: a slot at %#x lies outside the shared arena [%#x, %#x)", i, p, lo, hi)
			}
		}
	}
	param := ""
	for _, v := range own[0].g.Inputs {
		if v.Role() == ir.RoleParam {
			param = v.Name
			break
		}
	}
	for step := 0; step < 3; step++ {
		for i := range batches {
			for _, r := range []run{own[i], shared[i]} {
				if err := r.p.Run(); err != nil {
					t.Fatal(err)
				}
			}
			lo, ls := own[i].p.Float32("loss")[0], shared[i].p.Float32("loss")[0]
			if lo != ls {
				t.Fatalf("step %d, batch %d: loss %v in the shared arena, %v in its own", step, batches[i], ls, lo)
			}
			wo, ws := own[i].p.Float32(param), shared[i].p.Float32(param)
			for j := range wo {
				if wo[j] != ws[j] {
					t.Fatalf("step %d, batch %d: %s[%d] = %v in the shared arena, %v in its own", step, batches[i], param, j, ws[j], wo[j])
				}
			}
		}
	}
}

// TestBoundInputsNotAllocated: Compile makes no storage for the inputs
// that a caller binds (a training step's parameters and optimizer state
// would otherwise be allocated twice), and an input left unbound still
// reads as zeroed storage of its own.
func TestBoundInputsNotAllocated(t *testing.T) {
	g := stepGraph(t, "mnist_mlp", 0, 0, 1, true)
	inputs := 0
	for _, v := range g.Inputs {
		inputs += v.Type.Bytes()
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := Compile(g, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := int(after.TotalAlloc - before.TotalAlloc); alloc >= inputs {
		t.Errorf("Compile allocated %d bytes, as much as the inputs' %d: it made storage for inputs to be bound", alloc, inputs)
	}
	for _, v := range g.Inputs {
		if v.Role() == ir.RoleParam && v.Type.DType == ir.F32 {
			x := p.Float32(v.Name)
			if len(x) != v.Type.NumElements() {
				t.Fatalf("unbound %s: %d elements, want %d", v.Name, len(x), v.Type.NumElements())
			}
			for _, e := range x {
				if e != 0 {
					t.Fatalf("unbound %s is not zeroed", v.Name)
				}
			}
		}
	}
}
