package gemm

import "sync/atomic"

// noSwap (tests) computes every product as stated; swappedCalls counts
// the calls computed swapped.
var (
	noSwap       bool
	swappedCalls atomic.Uint64
)

// swapWorth reports whether C = A·Bᵀ (A stored m×k, B stored n×k) is
// computed as its transpose Cᵀ = B·Aᵀ instead, then written back
// transposed with the epilogue: where C has few rows (m ≤
// directAMaxRows, a batch, and whole panels of nr for the swapped
// product's columns) and at least four times as many columns and as
// much depth, the product as stated packs all of B (n×k, transposed by
// 8×8 blocks) and A at every call, where the swapped one reads B in
// place as its A
// (kernel.microA, rows k floats apart) and packs only the m×k of A (as
// its op(B)), then transposes the m×n result. W1's first layer (64×784
// times the 256×784 weight) packed 200 704 + 50 176 floats per call; it
// now packs 50 176 and transposes 16 384: 315 → 291 µs on one core (5%
// less CPU per call, benchmark fc1T). Where it does not pay: fc2's
// 64×128×256 (two columns per row) was 5% slower swapped, 64×1024×64
// (the transpose of C costs as much as packing Wᵀ saves) 14%, 24×96×512
// (an edge panel of 8 columns) 8%; 16×256×256 and 32×512×128 were 20–30%
// faster, 96×384×1000 the same (CPU time on one core). Only calls that
// run on one core (serial, or a pool of one) are swapped: on two cores
// fc1 swapped was no faster than the split over N as stated (each task
// packing its half of Bᵀ, reading A in place): split over its 256 rows
// in 4 tasks sharing Aᵀ's packing, up to 12% more CPU; in 2 tasks each
// packing Aᵀ, the same; over its 64 columns (each task reading all of
// B), 5–10% more (thread CPU per task, loaded machine).
// A product that goes by dot products (dotWorth, checked first: W1's fc1
// forward among them) is not swapped.
// Each element of C is the same FMA chain over the same KC slices in
// either form (the tile accumulates the chain from zero and adds it to
// C: the sum commutes), and a C kept by Beta ≠ 0 is transposed in
// first, so the bits are the same (TestSwapped).
func swapWorth(p *Params, k *kernel, serial bool) bool {
	return !noSwap && p.TransB && !p.TransA && p.Alpha == 1 && p.PackedB == nil &&
		k.microA != nil && k.transpose8 != nil &&
		p.M%k.nr == 0 && p.M <= directAMaxRows && p.N >= 4*p.M && p.K >= 4*p.M &&
		(serial || getPool().Size() == 1)
}

// swap turns j's product C = A·Bᵀ into Cᵀ = B·Aᵀ, computed into j.tbuf
// (n×m, rows m floats apart); the tasks write it back (unswap).
func (j *job) swap() {
	o := j.p
	m, n := o.M, o.N
	j.tbuf = grow(j.tbuf, n*m)
	t := j.tbuf
	if o.Beta != 0 {
		for i := 0; i < m; i++ {
			row := o.C[i*o.LDC : i*o.LDC+n]
			for q, v := range row {
				t[q*m+i] = v
			}
		}
	}
	j.orig, j.swapped = o, true
	j.p = Params{TransB: true, M: n, N: m, K: o.K, Alpha: o.Alpha,
		A: o.B, LDA: o.LDB, B: o.A, LDB: o.LDA, Beta: o.Beta, C: t, LDC: m}
	swappedCalls.Add(1)
}

// unswap writes rows [q0, q1) × columns [i0, i1) of the swapped result
// (tbuf) into columns [q0, q1) × rows [i0, i1) of the caller's C, then
// applies the caller's epilogue to them.
func (j *job) unswap(q0, q1, i0, i1 int) {
	o, t, m := &j.orig, j.tbuf, j.p.LDC
	c, ldc := o.C, o.LDC
	if q0 >= q1 || i0 >= i1 {
		return
	}
	t8 := j.kern.transpose8
	blocks := (i1 - i0) / 8
	q := q0
	if t8 != nil && blocks > 0 {
		for ; q+8 <= q1; q += 8 {
			// dst[(8b+x)·ldc + r] = src[r·m + 8b + x]: 8 rows of tbuf
			// into 8 columns of C, 8 rows of C per block.
			_ = t[(q+7)*m+i0+8*blocks-1]
			_ = c[(i0+8*blocks-1)*ldc+q+7]
			t8(blocks, &t[q*m+i0], m, &c[i0*ldc+q], ldc)
		}
		// The rows of C past the blocks, in the columns they covered.
		for i := i0 + 8*blocks; i < i1; i++ {
			for x := q0; x < q; x++ {
				c[i*ldc+x] = t[x*m+i]
			}
		}
	}
	for ; q < q1; q++ {
		for i := i0; i < i1; i++ {
			c[i*ldc+q] = t[q*m+i]
		}
	}
	if o.hasEpilogue() {
		for i := i0; i < i1; i++ {
			o.epilogueRow(c[i*ldc+q0:i*ldc+q1], i, q0)
		}
	}
	if o.Tile != nil {
		o.Tile.Tile(c[i0*ldc+q0:], ldc, i0, q0, i1-i0, q1-q0)
	}
}
