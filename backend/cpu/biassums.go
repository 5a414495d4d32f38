// This file folds a bias gradient, the column sums of dY over its rows,
// into the weight gradient dYᵀ·X that reads the same dY.

package cpu

import "github.com/encc-lang/encc/backend/cpu/gemm"

func init() {
	gemm.ColSums = gemmColSums
}

// gemmColSums adds x[r·stride+i] into acc[i] for r < rows and i < n,
// every column its rows in order (gemm.ColSums): the vector column sums
// of sumCols where AVX2 is on, the same bits.
func gemmColSums(acc []float64, x []float32, rows, n, stride int) {
	nv := 0
	if simdOn {
		nv = n &^ 3
		if nv > 0 {
			colSumBlocks(acc, x, rows, nv, stride)
		}
	}
	if nv == n {
		return
	}
	tail := acc[nv:n]
	for r := range rows {
		for i, e := range x[r*stride+nv:][:n-nv] {
			tail[i] += float64(e)
		}
	}
}

// biasSumsOn enables fuseBiasSums (tests turn it off to compare).
var biasSumsOn = true

// biasSumsMinBytes: fuseBiasSums takes a dY of at least this many bytes,
// more than an L2 holds (W4/W5's 2048 tokens of 128 or 512 floats, 1–4
// MiB), which the separate reduce would read back from L3 or memory; a
// smaller one (W1's 64 rows) is read from cache by the reduce anyway,
// which the stage pass runs beside the other small steps. Tests lower it.
var biasSumsMinBytes = 512 << 10

// fuseBiasSums folds a reduce_to over the rows of a 2-D dY ([rows, n] to
// [n]: a Linear layer's bias gradient) into a product dYᵀ·X (matmul
// {transpose_a}, one matrix, dY read in place: the weight gradient of
// the same layer). gemm's tasks add each block of dY into the column
// sums right after packing it (gemm.Params.ASums), in the order of the
// rows as sumCols does, so the sums are the reduce_to's bits; the
// reduce's step goes, one pass over dY less (1 MiB per W5 projection,
// read from memory after the products in between have evicted it). The
// reduce moves to the product's place, before or after its own: every
// step in between must be one whose storage stageable knows and that
// neither writes dY nor touches the sums' storage, and the sums' storage
// must be apart from the product's operands and result (the sums are
// written after the product). Runs before the stage pass, on the flat
// program order.
func (p *Program) fuseBiasSums() {
	if !biasSumsOn {
		return
	}
	spanOf := p.spanOf()
	drop := map[int]bool{}
	for j, st := range p.steps {
		sw, ok := st.k.(*sumWalk)
		if !ok || !sw.colsOK || sw.x.p == nil || sw.x.n*4 < biasSumsMinBytes || sw.lens[0]*sw.lens[1] != sw.x.n || sw.xstr[0] != sw.lens[1] {
			continue
		}
		i := p.biasSumsProduct(sw)
		if i < 0 {
			continue
		}
		mm := p.steps[i].k.(*matmulF32)
		x, sums := spanOf(sw.x), spanOf(sw.out)
		apart := true
		for _, b := range []*buffer{mm.x, mm.y, mm.out, mm.bias} {
			if b != nil && sums.overlaps(spanOf(b)) {
				apart = false
			}
		}
		if !apart {
			continue
		}
		lo, hi := min(i, j), max(i, j)
		if p.leaveAlone(p.steps[lo+1:hi], spanOf, []span{x}, []span{sums}) {
			mm.sums = sw
			drop[j] = true
		}
	}
	p.dropSteps(drop)
}

// biasSumsProduct returns the index of a step computing dYᵀ·X for the
// dY that sw sums over its rows (one f32 matrix, dY read from the start
// of sw's x as stored, rows × n with stride n), without sums of its own;
// -1 where none.
func (p *Program) biasSumsProduct(sw *sumWalk) int {
	rows, n := sw.lens[0], sw.lens[1]
	for i, st := range p.steps {
		mm, ok := st.k.(*matmulF32)
		if !ok || mm.sums != nil || !mm.transA || len(mm.ps) != 1 || mm.xOff[0] != 0 ||
			mm.x.p != sw.x.p || mm.x.n != sw.x.n || mm.m != n || mm.k != rows || mm.ps[0].LDA != n {
			continue
		}
		return i
	}
	return -1
}
