// This file groups the products that read one input: x·W₁ᵀ, x·W₂ᵀ, …
// (attention's q, k and v projections) as one gemm call, and the
// products of several inputs by one (their weight gradients dY₁ᵀ·X,
// dY₂ᵀ·X, …) as another.

package cpu

import (
	"github.com/encc-lang/encc/backend/cpu/gemm"
)

// groupProductsOn turns groupProducts on (tests compare with it off).
var groupProductsOn = true

// groupWindow bounds how many steps after a product its siblings are
// looked for; groupRowsWindow for groups stacked by rows (W4/W5's third
// q/k/v weight gradient comes 21 steps after the first, past the step
// counter's scalar arithmetic).
const (
	groupWindow     = 16
	groupRowsWindow = 32
)

// matmulGroup runs products of one op(x) (the same x, M, K and
// transposes) by several weights as one gemm call (gemm.SgemmGroup):
// each task packs its block of x once for all of them, and the call pays
// one hand-off where the products paid one each. Each product keeps its
// own operands, result and epilogue (bias, activation, accumulation),
// and gets the bits of its own call.
//
// With rows, the products are instead those of several op(x) by one
// op(y) (the same y, N, K and transposes: groupsRows), each with its own
// x, result, epilogue and column sums of x (fuseBiasSums), as one call
// stacked by rows (gemm.SgemmGroupRows): op(y) is packed once for all of
// them.
type matmulGroup struct {
	ks     []*matmulF32
	ps     []gemm.Params
	serial bool
	rows   bool
}

func (g *matmulGroup) run() error {
	for i, k := range g.ks {
		x, y, o := f32s(k.x), f32s(k.y), f32s(k.out)
		p := k.ps[0]
		p.A, p.B, p.C = x[k.xOff[0]:], y[k.yOff[0]:], o[:k.m*k.n]
		p.Act = k.act
		if k.bias != nil {
			p.ColBias = f32s(k.bias)
		}
		if k.sums != nil {
			p.ASums = k.sums.acc
		}
		g.ps[i] = p
	}
	switch {
	case g.rows && g.serial:
		gemm.SgemmGroupRowsSerial(g.ps)
	case g.rows:
		gemm.SgemmGroupRows(g.ps)
	case g.serial:
		gemm.SgemmGroupSerial(g.ps)
	default:
		gemm.SgemmGroup(g.ps)
	}
	clear(g.ps)
	for _, k := range g.ks {
		if k.sums != nil {
			k.sums.emit(0, k.sums.out.n) // sumCols's conversion
		}
	}
	return nil
}

// runSerial is run on the calling core only (a step of a stage).
func (g *matmulGroup) runSerial() error {
	g.serial = true
	err := g.run()
	g.serial = false
	return err
}

// groupsWith reports whether b is a product that can join a's group:
// one f32 product each (no batch), not by a frozen weight, of the same
// x, shape of op(x) and transposes, and the same accumulation, with no
// epilogue of the caller (Params.Tile) or column sums (fuseBiasSums) that
// a group call would not run.
func groupsWith(a, b *matmulF32) bool {
	return len(a.ps) == 1 && len(b.ps) == 1 && !a.frozen && !b.frozen && a.x == b.x &&
		a.sums == nil && b.sums == nil && a.ps[0].Tile == nil && b.ps[0].Tile == nil &&
		a.m == b.m && a.k == b.k && a.transA == b.transA && a.transB == b.transB &&
		a.xOff[0] == b.xOff[0] && a.ps[0].Beta == b.ps[0].Beta && a.m > 1
}

// groupsRows reports whether b is a product that can join a's group
// stacked by rows: one f32 product each (no batch), not by a frozen
// weight, by the same y, shape of op(y) and transposes, and the same
// accumulation, with no epilogue of the caller (Params.Tile). Each keeps
// its own x, result, bias, activation and column sums of x.
func groupsRows(a, b *matmulF32) bool {
	return len(a.ps) == 1 && len(b.ps) == 1 && !a.frozen && !b.frozen && a.y == b.y &&
		a.ps[0].Tile == nil && b.ps[0].Tile == nil && a.n == b.n && a.k == b.k &&
		a.transA == b.transA && a.transB == b.transB && a.yOff[0] == b.yOff[0] &&
		a.ps[0].LDB == b.ps[0].LDB && a.ps[0].Beta == b.ps[0].Beta && a.m > 1 && b.m > 1
}

// mmUse is what a product reads and writes (its fused bias gradient's
// sums included: fuseBiasSums).
func mmUse(k *matmulF32, spanOf func(*buffer) span) stepUse {
	u := stepUse{reads: []span{spanOf(k.x), spanOf(k.y)}, writes: []span{spanOf(k.out)}}
	if k.bias != nil {
		u.reads = append(u.reads, spanOf(k.bias))
	}
	if k.ps[0].Beta != 0 {
		u.reads = append(u.reads, spanOf(k.out))
	}
	if k.sums != nil {
		u.writes = append(u.writes, spanOf(k.sums.out))
	}
	return u
}

// groupProducts merges products of one x (groupsWith) into one step, at
// the place of the first (matmulGroup). A later product moves there only
// across steps whose storage is known (stageable) and that neither write
// what it reads nor touch what it writes, and where no product of the
// group reads or writes what another writes: it then computes what it
// computed in its own place, and nothing between sees the difference.
//
// Then the products of several x by one y (groupsRows: the weight
// gradients of projections of one input) likewise, as groups stacked by
// rows.
func (p *Program) groupProducts() {
	if !groupProductsOn || len(p.steps) < 2 {
		return
	}
	p.groupSteps(groupsWith, false, groupWindow)
	if groupRowsOn {
		p.groupSteps(groupsRows, true, groupRowsWindow)
	}
}

// groupRowsOn turns the groups stacked by rows on (tests compare with
// it off).
var groupRowsOn = true

// groupSteps merges the products that with lets join the first's group
// into one step, as groupProducts says: groups stacked by rows (rows), or
// by columns, looking for siblings up to window steps after a product.
func (p *Program) groupSteps(with func(a, b *matmulF32) bool, rows bool, window int) {
	spanOf := p.spanOf()
	gone := make([]bool, len(p.steps))
	for i := range p.steps {
		k0, ok := p.steps[i].k.(*matmulF32)
		if gone[i] || !ok || len(k0.ps) != 1 || k0.frozen {
			continue
		}
		ks := []*matmulF32{k0}
		uses := []stepUse{mmUse(k0, spanOf)}
		var between []stepUse
		var moved []int
		for j := i + 1; j < len(p.steps) && j <= i+window; j++ {
			if gone[j] {
				continue
			}
			if k, ok := p.steps[j].k.(*matmulF32); ok && with(k0, k) {
				u := mmUse(k, spanOf)
				free := true
				for b := range between {
					free = free && !conflict(&u, &between[b])
				}
				for m := range uses {
					free = free && !conflict(&u, &uses[m])
				}
				if free {
					ks, uses, moved = append(ks, k), append(uses, u), append(moved, j)
					continue
				}
			}
			u, ok := p.stageable(p.steps[j], spanOf)
			if !ok {
				break
			}
			between = append(between, u)
		}
		if len(ks) < 2 {
			continue
		}
		for _, j := range moved {
			gone[j] = true
		}
		p.steps[i].k = &matmulGroup{ks: ks, ps: make([]gemm.Params, len(ks)), rows: rows}
	}
	out := p.steps[:0]
	for i, s := range p.steps {
		if !gone[i] {
			out = append(out, s)
		}
	}
	p.steps = out
}
