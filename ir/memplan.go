// This file implements memory planning: Plan, PlanMemory and Plan.Check.
//
// A backend runs a planned graph with one arena allocated once, so a
// training step allocates nothing. Every value the graph computes lives
// in exactly one of three places:
//
//   - the arena, at Plan.Offset[v] (64-byte aligned, Type.Bytes() long);
//   - an alias: a reshape shares its operand's storage (Plan.Alias[v] is
//     the operand, which may itself be an alias, an input or an in-place
//     result); the bytes are the same, in the same row-major order; a
//     value of PlanOptions.Into likewise takes over an earlier value's
//     storage (a backend's fold, which it checked; Plan.Into);
//   - external storage: an in-place optimizer update (op.IsInPlace())
//     writes into its arg0's storage, which is in the end a param or state
//     input's own buffer (Plan.InPlace[v] is that input).
//
// Inputs are never in the arena: the caller owns their storage.
//
// Liveness is computed over the graph order: a storage is live from the
// value that defines it to the last value that reads it or any alias of
// it; graph outputs (named outputs and updates) stay live to the end. A
// buffer may be reused by a value defined strictly after its last read,
// so a kernel never writes over one of its own operands. Buffers are
// placed greedily by size, largest first, each at the offset that leaves
// the smallest gap among the buffers whose lifetimes overlap it (best
// fit), which is close to optimal on dataflow graphs.
//
// An in-place update is only planned in place when nothing reads its
// target storage after it; otherwise it gets an arena slot like any
// value, and the backend copies update values that are not in place into
// the input after the step.

package ir

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// PlanAlign is the alignment, in bytes, of every arena offset and the
// granularity of every arena slot.
const PlanAlign = 64

// PlanOptions tunes PlanMemory.
type PlanOptions struct {
	NoReuse bool // give every buffer its own slot (for debugging backends)
	NoAlias bool // copy reshapes into their own buffer instead of aliasing

	// Into lists values that take over the storage of another value
	// of the same bytes, as an alias does (Plan.Alias and Plan.Into
	// record them): a backend that folds a step into an earlier one
	// (the CPU backend's product accumulating into the other operand
	// of the add that reads it) and has checked that the overwrite is
	// safe. The storage then lives to the last read of any of them.
	Into map[*Value]*Value
}

// A Plan places every non-input value of a graph in memory.
type Plan struct {
	Offset  map[*Value]int    // arena byte offset of each value that owns an arena slot
	Alias   map[*Value]*Value // reshapes sharing their operand's storage: v → v.Args[0]
	InPlace map[*Value]*Value // in-place updates: v → the input whose storage it overwrites
	Into    map[*Value]*Value // PlanOptions.Into's values (also in Alias)
	Size    int               // arena bytes, a multiple of PlanAlign
	Sum     int               // arena bytes if no slot were reused (the sum of the slots)
}

// SlotBytes is the arena bytes taken by a value of type t: its bytes
// rounded up to PlanAlign.
func SlotBytes(t Type) int { return alignUp(t.Bytes()) }

func alignUp(n int) int { return (n + PlanAlign - 1) / PlanAlign * PlanAlign }

// Root returns the value owning v's storage: v itself when it has an
// arena slot, the input it is in place on or that it aliases, or the
// aliased value's root.
func (p *Plan) Root(v *Value) *Value {
	for {
		if a, ok := p.Alias[v]; ok {
			v = a
			continue
		}
		if in, ok := p.InPlace[v]; ok {
			return in
		}
		return v
	}
}

// PlanMemory computes liveness over g's order and places every non-input
// value in one arena, reusing slots whose values are dead.
func PlanMemory(g *Graph, opts PlanOptions) (*Plan, error) {
	p := &Plan{
		Offset:  map[*Value]int{},
		Alias:   map[*Value]*Value{},
		InPlace: map[*Value]*Value{},
		Into:    map[*Value]*Value{},
	}
	index := make(map[*Value]int, len(g.Values))
	for i, v := range g.Values {
		index[v] = i
	}
	// Decide storage: aliases and in-place updates, in graph order so an
	// operand's storage is decided before its users'.
	for _, v := range g.Values {
		switch {
		case v.Op == OpInput:
		case opts.Into[v] != nil && opts.Into[v].Type.Bytes() == v.Type.Bytes():
			p.Alias[v], p.Into[v] = opts.Into[v], opts.Into[v]
		case v.Op == OpReshape && !opts.NoAlias && len(v.Args) == 1 && v.Args[0].Type.Bytes() == v.Type.Bytes():
			p.Alias[v] = v.Args[0]
		case v.Op.IsInPlace() && len(v.Args) > 0:
			if root := p.Root(v.Args[0]); root.Op == OpInput && p.safeInPlace(g, index, v, root) {
				p.InPlace[v] = root
			}
		}
	}
	live := p.liveness(g, index)
	var bufs []*Value
	for _, v := range g.Values {
		if v.Op == OpInput || p.Alias[v] != nil || p.InPlace[v] != nil {
			continue
		}
		bufs = append(bufs, v)
		p.Sum += SlotBytes(v.Type)
	}
	if opts.NoReuse {
		off := 0
		for _, v := range bufs {
			p.Offset[v] = off
			off += SlotBytes(v.Type)
		}
		p.Size = off
		return p, nil
	}
	// Greedy by size: largest first, ties in graph order.
	order := slices.Clone(bufs)
	sort.SliceStable(order, func(i, j int) bool {
		return SlotBytes(order[i].Type) > SlotBytes(order[j].Type)
	})
	type placed struct {
		off, size int
		iv        interval
	}
	var done []placed
	for _, v := range order {
		size := SlotBytes(v.Type)
		iv := live[v]
		var conflicts []placed
		for _, q := range done {
			if q.iv.overlaps(iv) && q.size > 0 {
				conflicts = append(conflicts, q)
			}
		}
		slices.SortFunc(conflicts, func(a, b placed) int { return a.off - b.off })
		best, bestGap := -1, 0
		prev := 0
		for _, q := range conflicts {
			if gap := q.off - prev; gap >= size && (best < 0 || gap < bestGap) {
				best, bestGap = prev, gap
			}
			prev = max(prev, q.off+q.size)
		}
		if best < 0 {
			best = prev
		}
		p.Offset[v] = best
		p.Size = max(p.Size, best+size)
		done = append(done, placed{best, size, iv})
	}
	return p, nil
}

// safeInPlace reports whether v may overwrite root's storage: nothing
// after v reads that storage, except through v itself.
func (p *Plan) safeInPlace(g *Graph, index map[*Value]int, v, root *Value) bool {
	for _, u := range g.Values[index[v]+1:] {
		for _, a := range u.Args {
			if a != v && p.Root(a) == root && !p.derivedFrom(a, v) {
				return false
			}
		}
	}
	for _, o := range g.Outputs {
		if o.Value != v && p.Root(o.Value) == root && !p.derivedFrom(o.Value, v) {
			return false
		}
	}
	return true
}

// derivedFrom reports whether a's storage is v's: a is v or an alias
// chain ending at v.
func (p *Plan) derivedFrom(a, v *Value) bool {
	for a != v {
		next, ok := p.Alias[a]
		if !ok {
			return false
		}
		a = next
	}
	return true
}

// An interval is a closed range of graph positions.
type interval struct{ start, end int }

func (a interval) overlaps(b interval) bool { return a.start <= b.end && b.start <= a.end }

// liveness returns, for every value that owns an arena slot, the
// positions from its definition to the last read of it or of an alias of
// it; outputs live to the end.
func (p *Plan) liveness(g *Graph, index map[*Value]int) map[*Value]interval {
	live := map[*Value]interval{}
	end := len(g.Values)
	for i, v := range g.Values {
		if v.Op != OpInput {
			r := p.Root(v)
			if r == v {
				live[v] = interval{i, i}
			}
		}
		for _, a := range v.Args {
			r := p.Root(a)
			if iv, ok := live[r]; ok {
				iv.end = max(iv.end, i)
				live[r] = iv
			}
		}
	}
	for _, o := range g.Outputs {
		r := p.Root(o.Value)
		if iv, ok := live[r]; ok {
			iv.end = end
			live[r] = iv
		}
	}
	return live
}

// Check verifies the plan's invariants against g: every non-input value
// is placed exactly once; aliases are reshapes of their operand with the
// same bytes (or PlanOptions.Into's, of an earlier value's bytes);
// in-place values are in-place ops whose arg0 storage is the
// input named, and nothing reads that input after them; slots are
// aligned and inside the arena; and no two slots that are live at the
// same time overlap.
func (p *Plan) Check(g *Graph) error {
	index := make(map[*Value]int, len(g.Values))
	for i, v := range g.Values {
		index[v] = i
	}
	for _, v := range g.Values {
		_, hasOff := p.Offset[v]
		alias, isAlias := p.Alias[v]
		in, isInPlace := p.InPlace[v]
		n := 0
		for _, b := range []bool{hasOff, isAlias, isInPlace} {
			if b {
				n++
			}
		}
		if v.Op == OpInput {
			if n != 0 {
				return fmt.Errorf("plan: input %s is placed", v.Ref())
			}
			continue
		}
		if n != 1 {
			return fmt.Errorf("plan: %s is placed %d times, want once", v.Ref(), n)
		}
		switch {
		case hasOff:
			off := p.Offset[v]
			if off%PlanAlign != 0 || off < 0 {
				return fmt.Errorf("plan: %s at offset %d, not %d-byte aligned", v.Ref(), off, PlanAlign)
			}
			if off+v.Type.Bytes() > p.Size {
				return fmt.Errorf("plan: %s at [%d,%d) outside the arena of %d bytes", v.Ref(), off, off+v.Type.Bytes(), p.Size)
			}
		case isAlias && p.Into[v] == alias:
			if alias.Type.Bytes() != v.Type.Bytes() || index[alias] >= index[v] {
				return fmt.Errorf("plan: %s takes the storage of %s, of other bytes or not before it", v.Ref(), alias.Ref())
			}
		case isAlias:
			if v.Op != OpReshape || len(v.Args) != 1 || alias != v.Args[0] || alias.Type.Bytes() != v.Type.Bytes() {
				return fmt.Errorf("plan: %s aliases %s but is not a reshape of it", v.Ref(), alias.Ref())
			}
		case isInPlace:
			if !v.Op.IsInPlace() || in.Op != OpInput || p.Root(v.Args[0]) != in {
				return fmt.Errorf("plan: %s is not an in-place update of %s", v.Ref(), in.Ref())
			}
			if !p.safeInPlace(g, index, v, in) {
				return fmt.Errorf("plan: %s overwrites %s, which is read after it", v.Ref(), in.Ref())
			}
		}
	}
	for v := range p.Offset {
		if _, ok := index[v]; !ok {
			return fmt.Errorf("plan: %s is not in the graph", v.Ref())
		}
	}
	live := p.liveness(g, index)
	vals := make([]*Value, 0, len(p.Offset))
	for v := range p.Offset {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return p.Offset[vals[i]] < p.Offset[vals[j]] })
	for i, v := range vals {
		end := p.Offset[v] + v.Type.Bytes()
		for _, u := range vals[i+1:] {
			if p.Offset[u] >= end {
				break
			}
			if u.Type.Bytes() > 0 && v.Type.Bytes() > 0 && live[u].overlaps(live[v]) {
				return fmt.Errorf("plan: %s [%d,%d) live %v and %s [%d,%d) live %v overlap",
					v.Ref(), p.Offset[v], end, live[v], u.Ref(), p.Offset[u], p.Offset[u]+u.Type.Bytes(), live[u])
			}
		}
	}
	return nil
}

// Format prints the plan of g, one line per non-input value in graph
// order: its slot and live range, the value it aliases, or the input it
// updates in place.
//
//	plan: arena 192 bytes, 320 without reuse
//	%5 f32[4,5] @0 +80 live [5,6]
//	%6 f32[20] alias %5
//	%12 f32[5,6] in place %fc1.weight
func (p *Plan) Format(g *Graph) string {
	index := make(map[*Value]int, len(g.Values))
	for i, v := range g.Values {
		index[v] = i
	}
	live := p.liveness(g, index)
	var b strings.Builder
	fmt.Fprintf(&b, "plan: arena %d bytes, %d without reuse\n", p.Size, p.Sum)
	for _, v := range g.Values {
		if v.Op == OpInput {
			continue
		}
		fmt.Fprintf(&b, "%s %v ", v.Ref(), v.Type)
		if off, ok := p.Offset[v]; ok {
			iv := live[v]
			fmt.Fprintf(&b, "@%d +%d live [%d,%d]\n", off, v.Type.Bytes(), iv.start, iv.end)
		} else if a, ok := p.Into[v]; ok {
			fmt.Fprintf(&b, "into %s\n", a.Ref())
		} else if a, ok := p.Alias[v]; ok {
			fmt.Fprintf(&b, "alias %s\n", a.Ref())
		} else if in, ok := p.InPlace[v]; ok {
			fmt.Fprintf(&b, "in place %s\n", in.Ref())
		} else {
			b.WriteString("unplaced\n")
		}
	}
	return b.String()
}
