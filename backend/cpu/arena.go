package cpu

// This file implements arenas shared by several programs.

import (
	"unsafe"

	"github.com/encc-lang/encc/ir"
)

// An Arena is storage that the planned arenas of several Programs share
// (Options.Arena). A training run compiles a step program per batch size
// (the full batches, a short last one) and evaluation programs, and runs
// them one at a time; each program's arena is scratch that no value
// outlives a Run in (constants are written at every Run, updates land in
// the inputs' own storage), so one arena the size of the largest plan
// serves them all, where separate arenas would hold their sum.
//
// Programs that share an Arena must not run at the same time, and a
// named output of one (Float32, …) is valid only until another runs.
// The Arena grows when a program needing more is compiled into it, and
// moves the programs compiled before onto the new storage.
type Arena struct {
	mem   []uint64
	base  unsafe.Pointer // 64-byte aligned, inside mem
	size  int
	progs []*Program
}

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{} }

// Size reports the bytes the arena holds for its programs: the largest
// of their plans.
func (a *Arena) Size() int { return a.size }

// An arenaSlot is a buffer placed in a shared arena, at off.
type arenaSlot struct {
	b   *buffer
	off int
}

// place returns the base of p's arena of size bytes: its own, or the
// shared one of opts.Arena (grown when smaller).
func (p *Program) place(a *Arena, size int) unsafe.Pointer {
	if a == nil {
		p.arena = make([]uint64, size/8+8)
		return alignArena(unsafe.Pointer(&p.arena[0]))
	}
	p.shared = a
	if a.mem == nil || size > a.size {
		a.mem = make([]uint64, size/8+8)
		a.base = alignArena(unsafe.Pointer(&a.mem[0]))
		a.size = size
		for _, q := range a.progs {
			for _, s := range q.slots {
				s.b.p = unsafe.Add(a.base, s.off)
			}
		}
	}
	return a.base
}

// register adds p, compiled, to the programs of its shared arena.
func (p *Program) register() {
	if p.shared != nil {
		p.shared.progs = append(p.shared.progs, p)
	}
}

// slot records that b lies at off in a shared arena, to be moved when
// the arena grows.
func (p *Program) slot(b *buffer, off int) {
	if p.shared != nil {
		p.slots = append(p.slots, arenaSlot{b, off})
	}
}

func alignArena(base unsafe.Pointer) unsafe.Pointer {
	if r := uintptr(base) % ir.PlanAlign; r != 0 {
		base = unsafe.Add(base, ir.PlanAlign-r)
	}
	return base
}

// own gives every input that is still unbound zeroed storage of its
// own. Compile allocates none (but for scalars) so that the inputs a
// caller binds, the parameters and optimizer state of a training step,
// are never allocated twice: own runs at the first Run or the first
// look at an input's storage.
func (p *Program) own() {
	if p.owned {
		return
	}
	for _, v := range p.g.Inputs {
		if b := p.inputs[v.Name]; b.p == nil && b.n > 0 {
			b.p = unsafe.Pointer(&make([]uint64, (v.Type.Bytes()+7)/8)[0])
		}
	}
	p.owned = true
}
