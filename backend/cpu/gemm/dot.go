package gemm

import "sync/atomic"

// A small batch times a transposed weight, C = A·Bᵀ with A m×k (a batch
// of m ≤ dotMaxRows rows) and B n×k (a Linear layer's weight, out×in),
// goes as dot products of A's rows with B's rows, both read in place
// (kernel.dotNT, dotNT4x3AVX2: 4 rows of A × 3 of B per tile, each dot
// product in 8 lanes along k, summed across the lanes at the end; the
// same micro-kernel, kernel_amd64.s's DOT4X3 macros, runs backend/cpu's
// convolution weight gradients as Dot4x3AVX2), instead of
// packing op(B) = Bᵀ into 16-column panels at every call (the 8×8
// transposes of all n·k floats) or, on one core, computing the product
// swapped (swapWorth: packing Aᵀ and transposing C). A task takes strips
// of 3 columns of C (3 rows of B, in L1 while it goes down the m rows of
// A, which stay in L2: m·k floats of at most dotMaxABytes).
//
// W1's first layer (64×784 times the 256×784 weight), the half that a
// task of two computes (64×128×784), one core, p50 of BenchmarkWorkloads
// (fc1h): 155–156 µs by the panels (82.4–83.0 GFLOP/s: about a tenth of
// it transposing Wᵀ), 141–143 by dot products (89.8–91.1); in W1's step
// on two threads (TestGemmTrace, 6 alternated runs, thread CPU of the
// longer task) 157 → 148 µs. Where k is smaller the final sums weigh
// more: 64×128×256 (fc2) was 5% slower by dot products, 64×120×400 (W3's
// fc1) 14% faster, hence dotMinK.
//
// The bits differ from the other paths' (there each element of C is one
// FMA chain over k in order), but they are the same whatever the split
// and the tile an element falls in: each depends on its row of A, its
// row of B and k only (TestDot); edge tiles overlap the tiles before
// them and go through a scratch tile.
const (
	dotCols      = 3         // columns of C per strip (rows of B per tile)
	dotRows      = 4         // rows of C per tile
	dotMaxRows   = 96        // m at most
	dotMinK      = 384       // k at least
	dotMaxABytes = 256 << 10 // m·k·4 at most: A stays in L2
)

// noDot (tests) turns the dot-product path off; dotCalls counts the calls
// that take it.
var (
	noDot    bool
	dotCalls atomic.Uint64
)

// dotWorth reports whether C = A·Bᵀ of p goes by dot products on kernel k.
func dotWorth(p *Params, k *kernel) bool {
	return !noDot && k.dotNT != nil && p.TransB && !p.TransA && p.Alpha == 1 && p.PackedB == nil &&
		p.M >= dotRows && p.M <= dotMaxRows && p.N >= dotCols && p.K >= dotMinK && p.M*p.K*4 <= dotMaxABytes
}

// dot runs the product by dot products, its strips of 3 columns split
// over the pool where that pays (the model of gemm's split over N, with
// nothing packed).
func (j *job) dot() {
	p := &j.p
	dotCalls.Add(1)
	pool := getPool()
	P := pool.Size()
	j.mode, j.splitM, j.unit = modeDot, false, dotCols
	j.units = ceilDiv(p.N, dotCols)
	j.tasks = 1
	serial := float64(p.M) * float64(p.N) * float64(p.K) * costMAC
	best := serial
	if P > 1 && !j.serial && j.units >= 2 {
		handoff := float64(costHandoff)
		if pool.Parked() {
			handoff = costWake
		}
		t := min(P, j.units)
		if split := serial/float64(t) + handoff; split < best {
			best, j.tasks = split, t
		}
	}
	split := "serial"
	if j.tasks > 1 {
		split = "N"
	}
	j.traceSplit(split, best)
	if j.tasks == 1 {
		j.RangeWorker(0, 0, 1)
		return
	}
	pool.Tasks(j.tasks, j)
}

// dotCols computes columns [c0, c1) of C (c1 - c0 a multiple of 3 but at
// the last column) with the epilogue; tmp is scratch for a tile.
func (j *job) dotCols(c0, c1 int, tmp []float32) {
	p, k := &j.p, j.kern
	m, n, kk := p.M, p.N, p.K
	if c0 >= c1 {
		return
	}
	acc := 0
	if p.Beta != 0 {
		acc = 1
		if p.Beta != 1 {
			p.scaleRows(0, m, c0, c1)
		}
	}
	whole := m / dotRows
	_ = p.A[(m-1)*p.LDA+kk-1]
	_ = p.C[(m-1)*p.LDC+c1-1]
	for j0 := c0; j0 < c1; j0 += dotCols {
		if j0+dotCols <= n {
			_ = p.B[(j0+dotCols-1)*p.LDB+kk-1]
			b := &p.B[j0*p.LDB]
			k.dotNT(kk, &p.A[0], p.LDA, whole, b, p.LDB, &p.C[j0], p.LDC, acc)
			if r0 := whole * dotRows; r0 < m {
				j.dotEdge(m-dotRows, r0, j0, j0, acc, tmp)
			}
			continue
		}
		// The last columns, fewer than 3: the strip of B's last 3 rows,
		// kept from column j0 on.
		for i := 0; i < m; i += dotRows {
			j.dotEdge(min(i, m-dotRows), i, n-dotCols, j0, acc, tmp)
		}
	}
	if p.hasEpilogue() {
		for i := 0; i < m; i++ {
			p.epilogueRow(p.C[i*p.LDC+c0:i*p.LDC+c1], i, c0)
		}
	}
	if p.Tile != nil {
		p.Tile.Tile(p.C[c0:], p.LDC, 0, c0, m, c1-c0)
	}
}

// dotEdge computes the tile of rows t0… and columns s0… (4×3) into the
// scratch tmp and adds (acc) or stores its rows from r0 and columns from
// j0 (r0 ≥ t0, j0 ≥ s0) into C. (The scratch is the task's workspace's:
// one on the stack would escape through the kernel's func value.)
func (j *job) dotEdge(t0, r0, s0, j0, acc int, tmp []float32) {
	p := &j.p
	tmp = tmp[:dotRows*dotCols]
	_ = p.B[(s0+dotCols-1)*p.LDB+p.K-1]
	j.kern.dotNT(p.K, &p.A[t0*p.LDA], p.LDA, 1, &p.B[s0*p.LDB], p.LDB, &tmp[0], dotCols, 0)
	for i := r0; i < t0+dotRows; i++ {
		row := p.C[i*p.LDC+j0 : i*p.LDC+s0+dotCols]
		src := tmp[(i-t0)*dotCols+j0-s0 : (i-t0+1)*dotCols]
		for q, v := range src {
			if acc != 0 {
				row[q] += v
			} else {
				row[q] = v
			}
		}
	}
}
