// This file implements Plan.Check, the invariants of a launch plan,
// checked on the plan alone (as a host would read plan.json).

package cuda

import (
	"fmt"
)

// Check verifies the plan's invariants:
//
//   - every arena buffer is 64-byte aligned and inside the arena;
//   - every pointer argument names an arena buffer or an input, and the
//     bytes it may touch lie inside that buffer (so inside the arena or
//     the input's storage);
//   - no step reads an arena buffer before a step has written it;
//   - no step writes over an arena buffer that is live across it
//     (written by an earlier step and read by this one or a later one,
//     or an output): simultaneously live buffers never overlap;
//   - every launch covers its extent: grid×block threads, or grid blocks,
//     per dimension, and the block has at most 1024 threads.
func (p *Plan) Check() error {
	if p.ArenaBytes%64 != 0 {
		return fmt.Errorf("arena of %d bytes is not a multiple of 64", p.ArenaBytes)
	}
	type slot struct{ off, bytes int }
	slots := map[string]slot{}
	for _, b := range p.Buffers {
		if b.Offset == nil {
			continue
		}
		off := *b.Offset
		if off%64 != 0 || off < 0 || off+b.Bytes > p.ArenaBytes {
			return fmt.Errorf("buffer %s at [%d,%d) is unaligned or outside the arena of %d bytes", b.Ref, off, off+b.Bytes, p.ArenaBytes)
		}
		slots[b.Ref] = slot{off, b.Bytes}
	}
	inputs := map[string]int{}
	for _, in := range p.Inputs {
		inputs[in.Name] = in.Bytes
	}
	checkArg := func(where string, a Arg) error {
		switch a.Kind {
		case "arena":
			s, ok := slots[a.Buffer]
			if !ok {
				return fmt.Errorf("%s: %s is in %s, which has no arena slot", where, a.Value, a.Buffer)
			}
			if a.Offset < s.off || a.Offset+a.Bytes > s.off+s.bytes {
				return fmt.Errorf("%s: %s touches [%d,%d), outside its buffer %s at [%d,%d)", where, a.Value, a.Offset, a.Offset+a.Bytes, a.Buffer, s.off, s.off+s.bytes)
			}
		case "input":
			n, ok := inputs[a.Input]
			if !ok {
				return fmt.Errorf("%s: no input %q", where, a.Input)
			}
			if a.Offset < 0 || a.Offset+a.Bytes > n {
				return fmt.Errorf("%s: %s touches [%d,%d) of input %s of %d bytes", where, a.Value, a.Offset, a.Offset+a.Bytes, a.Input, n)
			}
		case "i32", "i64":
			if a.Int == nil {
				return fmt.Errorf("%s: %s argument without a value", where, a.Kind)
			}
		case "f32":
			if a.Float == nil {
				return fmt.Errorf("%s: f32 argument without a value", where)
			}
		default:
			return fmt.Errorf("%s: argument of kind %q", where, a.Kind)
		}
		return nil
	}
	// Reads and writes of each step, by storage.
	type access struct {
		reads []Arg
		write Arg
	}
	acc := make([]access, len(p.Steps))
	for i, s := range p.Steps {
		where := fmt.Sprintf("step %d (%s %s)", i, s.Kind, s.Value)
		if !s.Out.IsPointer() {
			return fmt.Errorf("%s: output is not a pointer", where)
		}
		acc[i].write = s.Out
		var launches []*Launch
		switch s.Kind {
		case "launch":
			if s.Launch == nil {
				return fmt.Errorf("%s: no launch", where)
			}
			launches = append(launches, s.Launch)
		case "gemm":
			g := s.GEMM
			if g == nil || g.Fallback == nil {
				return fmt.Errorf("%s: no GEMM or no fallback", where)
			}
			if err := g.check(); err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
			acc[i].reads = append(acc[i].reads, g.A, g.B)
			launches = append(launches, g.Fallback)
			if g.Epilogue != nil {
				launches = append(launches, g.Epilogue)
			}
		case "copy":
			if s.Src == nil || s.Src.Bytes != s.Out.Bytes {
				return fmt.Errorf("%s: copy without a source of the same size", where)
			}
			acc[i].reads = append(acc[i].reads, *s.Src)
		case "memset":
		default:
			return fmt.Errorf("%s: unknown kind", where)
		}
		all := []Arg{s.Out}
		all = append(all, acc[i].reads...)
		for _, l := range launches {
			if err := l.check(); err != nil {
				return fmt.Errorf("%s: %s: %v", where, l.Kernel, err)
			}
			for j, a := range l.Args {
				all = append(all, a)
				// By convention the first argument is the output; for
				// in-place and epilogue kernels it is read as well.
				if a.IsPointer() && (j > 0 || a.Buffer != s.Out.Buffer) {
					acc[i].reads = append(acc[i].reads, a)
				}
			}
		}
		for _, a := range all {
			if err := checkArg(where, a); err != nil {
				return err
			}
		}
	}
	// Liveness over steps: a buffer is live from the first step writing
	// it to the last step reading it (the end for outputs).
	def := map[string]int{}
	last := map[string]int{}
	for i, a := range acc {
		for _, r := range a.reads {
			if r.Kind != "arena" {
				continue
			}
			d, ok := def[r.Buffer]
			if !ok || (d == i && r.Buffer != a.write.Buffer) {
				return fmt.Errorf("step %d (%s) reads %s (in %s) before any step writes it", i, p.Steps[i].Value, r.Value, r.Buffer)
			}
			last[r.Buffer] = i
		}
		if w := a.write; w.Kind == "arena" {
			if _, ok := def[w.Buffer]; !ok {
				def[w.Buffer] = i
			}
		}
	}
	for _, o := range p.Outputs {
		if o.At.Kind == "arena" {
			last[o.At.Buffer] = len(p.Steps)
		}
	}
	for i, a := range acc {
		w := a.write
		if w.Kind != "arena" {
			continue
		}
		for ref, d := range def {
			if ref == w.Buffer || d >= i || last[ref] < i {
				continue
			}
			s := slots[ref]
			if w.Offset < s.off+s.bytes && s.off < w.Offset+w.Bytes {
				return fmt.Errorf("step %d (%s) writes [%d,%d), over %s at [%d,%d), live from step %d to %d",
					i, p.Steps[i].Value, w.Offset, w.Offset+w.Bytes, ref, s.off, s.off+s.bytes, d, last[ref])
			}
		}
	}
	return nil
}

// check verifies that the launch covers its extent.
func (l *Launch) check() error {
	threads := l.Block[0] * l.Block[1] * l.Block[2]
	if threads < 1 || threads > 1024 {
		return fmt.Errorf("block %v has %d threads", l.Block, threads)
	}
	for d := range 3 {
		if l.Grid[d] < 1 || l.Block[d] < 1 {
			return fmt.Errorf("empty grid %v or block %v", l.Grid, l.Block)
		}
		have := l.Grid[d]
		if l.Unit == "thread" {
			have *= l.Block[d]
		} else if l.Unit != "block" {
			return fmt.Errorf("unit %q", l.Unit)
		}
		if have < l.Cover[d] {
			return fmt.Errorf("grid %v × block %v covers %d %ss in dimension %d, want %d", l.Grid, l.Block, have, l.Unit, d, l.Cover[d])
		}
	}
	return nil
}

// check verifies the GEMM's shapes against its leading dimensions and
// operand sizes (in elements of 4 bytes).
func (g *GEMM) check() error {
	if g.M != g.Cols || g.N != g.Rows || g.K != g.Inner || g.LDC != g.M {
		return fmt.Errorf("cuBLAS m, n, k, ldc = %d, %d, %d, %d do not restate C[%d,%d] with inner %d", g.M, g.N, g.K, g.LDC, g.Rows, g.Cols, g.Inner)
	}
	// Column-major A is lda × (transa N: k, T: m) with lda ≥ rows of the stored matrix.
	rowsA, colsA := g.M, g.K
	if g.TransA == "T" {
		rowsA, colsA = g.K, g.M
	}
	rowsB, colsB := g.K, g.N
	if g.TransB == "T" {
		rowsB, colsB = g.N, g.K
	}
	if g.LDA < max(1, rowsA) || g.LDB < max(1, rowsB) {
		return fmt.Errorf("lda %d or ldb %d too small", g.LDA, g.LDB)
	}
	need := func(a Arg, stride int64, ld, cols int) error {
		n := (int64(g.Batch)-1)*stride + int64(ld*(cols-1)) + int64(ld)
		if int64(a.Bytes) < 4*n {
			return fmt.Errorf("%s has %d bytes, the call reads %d", a.Value, a.Bytes, 4*n)
		}
		return nil
	}
	if err := need(g.A, g.StrideA, g.LDA, colsA); err != nil {
		return err
	}
	if err := need(g.B, g.StrideB, g.LDB, colsB); err != nil {
		return err
	}
	return need(g.C, g.StrideC, g.LDC, g.N)
}
