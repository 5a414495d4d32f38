// This file folds GELU (erf form) and its linked backward into the
// products next to them: the forward into the epilogue of the product
// that computes its x, the backward into the epilogue of the product
// that computes its dy (foldGeluProducts).

package cpu

import (
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/ir"
)

// geluFoldOn enables foldGeluProducts (tests turn it off to compare).
var geluFoldOn = true

// geluTile is the epilogue (gemm.Params.Tile) of a product whose result
// x only a linked GELU forward reads: each block of the product's C
// becomes gelu(x) in place, and GELU'(x) goes to deriv at the same
// place (ld floats a row); with no deriv, it is a matmul_bias's own
// GELU activation (a frozen block's ff1, inference). geluVecF32's bits do not depend on where a
// range starts, so they are the bits of the forward's own pass.
type geluTile struct {
	deriv []float32
	ld    int
}

func (t *geluTile) Tile(c []float32, ldc, i0, j0, m, n int) {
	if t.deriv == nil { // a matmul_bias's GELU (matmulBiasOf)
		for i := range m {
			row := c[i*ldc : i*ldc+n]
			geluVecF32(row, row, nil, nil)
		}
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		off := (i0+i)*t.ld + j0
		geluVecF32(row, row, nil, t.deriv[off:off+n])
	}
}

// geluGradTile is the epilogue of a product whose result dy only a
// linked gelu_backward reads: each block of C becomes dy·GELU'(x), the
// product the backward's own pass computes (the same two factors, so
// the same bits).
type geluGradTile struct {
	deriv []float32
	ld    int
}

func (t *geluGradTile) Tile(c []float32, ldc, i0, j0, m, n int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		off := (i0+i)*t.ld + j0
		binaryF32Vector(ir.OpMul, row, row, t.deriv[off:off+n])
	}
}

// foldGeluProducts moves the linked GELU pairs (shareGeluPhi) into the
// f32 products beside them, where it can:
//
//   - a gelu forward y = gelu(x) of x = a product's result (W4/W5: ff1's
//     matmul_bias) runs in that product's epilogue (geluTile), which
//     writes y in y's storage and GELU'(x) into the kept derivative;
//     x is never stored. x's readers must be the forward and linked
//     backwards only (they read the derivative, not x).
//   - a linked e = gelu_backward(x, dy) of dy = a product's result
//     (ff2's input gradient) runs in that product's epilogue
//     (geluGradTile), which writes dy·GELU'(x) in e's storage; dy is
//     never stored. dy's only reader must be e. A reduce_to of e (ff1's
//     bias gradient) then stays a step of its own.
//
// Either way the product writes the elementwise step's result and that
// step goes: the product must not accumulate (beta 0), its operands must
// not share the result's storage, the values that share the folded
// value's storage must be views of it, and every step in between must be
// one whose storage stageable knows. The product stays in its place
// where none of them touches the result's storage, else it moves to the
// folded step's place where none of them writes what it reads. Runs
// after shareGeluPhi and before fuseGeluBiasGrad, on the flat program
// order.
func (p *Program) foldGeluProducts() {
	if !geluFoldOn || !simdOn {
		return
	}
	_, uses, out := graphUses(p.g)
	// linked: the gelu_backward values reading a kept derivative.
	linked := map[*ir.Value][]float32{}
	at := map[*buffer]int{} // a product's step, by its result's storage
	for i, s := range p.steps {
		switch k := s.k.(type) {
		case *gradF32:
			if k.deriv != nil {
				linked[s.v] = k.deriv
			}
		case *matmulF32:
			if len(k.ps) > 0 && k.ps[0].Beta == 0 && k.ps[0].Tile == nil && p.bufs[s.v] == k.out {
				at[k.out] = i
			}
		}
	}
	spanOf := p.spanOf()
	drop := map[int]bool{}
	for i, s := range p.steps {
		var src, res *buffer // the folded value's storage, the step's result
		var tile func(mm *matmulF32, b int) gemm.TileEpilogue
		var reader func(u *ir.Value) bool
		switch k := s.k.(type) {
		case *unaryF32:
			if k.deriv == nil {
				continue
			}
			src, res = k.x, k.out
			d := k.deriv
			tile = func(mm *matmulF32, b int) gemm.TileEpilogue {
				mn := mm.m * mm.n
				return &geluTile{d[b*mn : (b+1)*mn], mm.n}
			}
			reader = func(u *ir.Value) bool {
				ld, ok := linked[u]
				return u == s.v || ok && &ld[0] == &d[0] && p.bufs[u.Args[1]] != src
			}
		case *gradF32:
			if k.deriv == nil || k.x == k.dy {
				continue
			}
			src, res = k.dy, k.out
			d := k.deriv
			tile = func(mm *matmulF32, b int) gemm.TileEpilogue {
				mn := mm.m * mm.n
				return &geluGradTile{d[b*mn : (b+1)*mn], mm.n}
			}
			reader = func(u *ir.Value) bool { return u == s.v }
		default:
			continue
		}
		j, ok := at[src]
		if !ok || j >= i || drop[j] || src.n != res.n {
			continue
		}
		mm := p.steps[j].k.(*matmulF32)
		if mm.m*mm.n*len(mm.ps) != res.n || !p.foldable(s.v, p.steps[j].v, src, uses, out, reader) {
			continue
		}
		rs := spanOf(res)
		reads := []span{spanOf(mm.x), spanOf(mm.y)}
		if mm.bias != nil {
			reads = append(reads, spanOf(mm.bias))
		}
		if touches(reads, rs) {
			continue
		}
		// In place, where no step in between touches the result's
		// storage; else moved down to the folded step's place (W5's
		// ff2 input gradient: the weight gradient in between reads the
		// GELU output, whose slot the gelu_backward's result takes),
		// where no step in between writes what the product reads.
		stay, move := true, true
		for _, t := range p.steps[j+1 : i] {
			u, ok := p.stageable(t, spanOf)
			if !ok {
				stay, move = false, false
				break
			}
			stay = stay && !touches(u.writes, rs) && !touches(u.reads, rs)
			for _, r := range reads {
				move = move && !touches(u.writes, r)
			}
		}
		if !stay && !move {
			continue
		}
		for b := range mm.ps {
			mm.ps[b].Tile = tile(mm, b)
		}
		mm.out = res
		delete(at, src)
		if stay {
			drop[i] = true
		} else {
			p.steps[i], drop[j] = p.steps[j], true
		}
	}
	p.dropSteps(drop)
}

// foldable reports whether the value v's step may take its operand's
// storage src over from the product m: every value in src is m, a view
// or v itself, none but v is a graph output, and every reader of them is
// one of them or passes reader.
func (p *Program) foldable(v, m *ir.Value, src *buffer, uses map[*ir.Value][]*ir.Value, out map[*ir.Value]bool, reader func(*ir.Value) bool) bool {
	var in []*ir.Value
	for _, w := range p.g.Values {
		if p.bufs[w] != src {
			continue
		}
		if w != m && w != v && p.plan.Alias[w] == nil || w != v && out[w] {
			return false
		}
		in = append(in, w)
	}
	for _, w := range in {
		if w == v {
			continue
		}
		for _, u := range uses[w] {
			if p.bufs[u] != src && !reader(u) {
				return false
			}
		}
	}
	return true
}
