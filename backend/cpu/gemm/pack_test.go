package gemm

import (
	"math"
	"math/rand"
	"sync/atomic"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// TestPackAVector checks the vector packing of A (kernel.pack6) against
// the plain gather, bit for bit, for every remainder of the 8-step blocks
// and of the 6-row panels, with the destination sized exactly (the last
// block's 2-float overhang must not be written past it) and with padded
// rows; packing alpha·A too.
func TestPackAVector(t *testing.T) {
	var k *kernel
	for _, c := range kernels {
		if c.pack6 != nil {
			k = c
		}
	}
	if k == nil {
		t.Skip("no vector packing of A on this machine")
	}
	r := rand.New(rand.NewSource(5))
	for _, mc := range []int{1, 5, 6, 7, 12, 13, 18, 60} {
		for _, kc := range []int{1, 7, 8, 9, 15, 16, 17, 24, 64, 100} {
			for _, pad := range []int{0, 3} {
				for _, alpha := range []float32{1, -0.5} {
					pc, i0 := 2, 1
					lda := pc + kc + pad
					p := Params{M: i0 + mc, K: pc + kc, LDA: lda, Alpha: alpha,
						A: randSlice(r, (i0+mc)*lda)}
					size := ceilDiv(mc, 6) * 6 * kc
					want := make([]float32, size)
					packA(want, &p, i0, mc, pc, kc, 6, nil)
					// Poison a destination one float longer than needed
					// to see that nothing is written past it.
					got := make([]float32, size+1)
					for i := range got {
						got[i] = float32(math.NaN())
					}
					guard := math.Float32bits(got[size])
					packA(got[:size], &p, i0, mc, pc, kc, 6, k.pack6)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("mc=%d kc=%d pad=%d alpha=%g: packed[%d] = %g, want %g", mc, kc, pad, alpha, i, got[i], want[i])
						}
					}
					if math.Float32bits(got[size]) != guard {
						t.Fatalf("mc=%d kc=%d: written past the destination", mc, kc)
					}
				}
			}
		}
	}
}

// TestPackBRows checks the row-by-row packing of B stored k×n
// (kernel.packB16) against the panel-by-panel copy, bit for bit, for
// whole panels and a partial last one, with an offset and padded rows,
// into a destination sized exactly.
func TestPackBRows(t *testing.T) {
	var k *kernel
	for _, c := range kernels {
		if c.packB16 != nil {
			k = c
		}
	}
	if k == nil {
		t.Skip("no row-by-row packing of B on this machine")
	}
	plain := *k
	plain.packB16 = nil
	r := rand.New(rand.NewSource(7))
	for _, nc := range []int{1, 15, 16, 17, 32, 40, 64, 100} {
		for _, kc := range []int{1, 2, 7, 16, 33} {
			for _, pad := range []int{0, 5} {
				pc, j0 := 3, 2
				ldb := j0 + nc + pad
				p := Params{N: j0 + nc, K: pc + kc, LDB: ldb, Alpha: 1,
					B: randSlice(r, (pc+kc)*ldb)}
				size := ceilDiv(nc, 16) * 16 * kc
				want := make([]float32, size)
				packB(want, &p, j0, nc, pc, kc, &plain)
				got := make([]float32, size)
				for i := range got {
					got[i] = float32(math.NaN())
				}
				packB(got, &p, j0, nc, pc, kc, k)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("nc=%d kc=%d pad=%d: packed[%d] = %g, want %g", nc, kc, pad, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestEpilogueVector checks the vector bias(+ReLU) epilogue against the
// scalar loops bit for bit, NaN and signed zeros included, for every
// length remainder.
func TestEpilogueVector(t *testing.T) {
	if biasAct == nil {
		t.Skip("no vector epilogue on this machine")
	}
	vec := biasAct
	defer func() { biasAct = vec }()
	r := rand.New(rand.NewSource(6))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), -1e-40}
	for _, act := range []Activation{ActNone, ActReLU} {
		for n := 1; n <= 40; n++ {
			row := randSlice(r, n)
			bias := randSlice(r, n+3)
			for i := range row {
				if r.Intn(3) == 0 {
					row[i] = specials[r.Intn(len(specials))]
				}
				if r.Intn(4) == 0 {
					bias[i+3] = specials[r.Intn(len(specials))]
				}
			}
			p := Params{ColBias: bias, Act: act}
			want := append([]float32(nil), row...)
			biasAct = nil
			p.epilogueRow(want, 0, 3)
			biasAct = vec
			got := append([]float32(nil), row...)
			p.epilogueRow(got, 0, 3)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("act %v n=%d: [%d] = %g (%#x), want %g (%#x); input %g + %g", act, n, i,
						got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]), row[i], bias[i+3])
				}
			}
		}
	}
}

// TestSharedPackedB: products split over M whose tasks share one packing
// of op(B) (transposed B, or too many rows per task to read B in place;
// packed by one core or by the pool; edge panels, several KC slices and MC
// blocks) give the reference result and the same bits as one worker, and
// do take the shared path.
func TestSharedPackedB(t *testing.T) {
	defer func() { getPool = parallel.Default }()
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(9))
		for _, s := range []shape{
			{m: 1100, n: 40, k: 100, transB: true},
			{m: 1200, n: 70, k: 40},
			{m: 400, n: 256, k: 512, transB: true, colBias: true, act: ActReLU},
			{m: 1500, n: 40, k: 300, beta: 1, alpha: -0.5, padB: 3},
			{m: 700, n: 90, k: 150, transA: true, transB: true, rowBias: true, padA: 1, padC: 2},
		} {
			if s.alpha == 0 {
				s.alpha = 1
			}
			var results [][]float32
			for _, workers := range []int{1, 2, 3} {
				pool := parallel.New(workers)
				getPool = func() *parallel.Pool { return pool }
				before := sharedBCalls.Load()
				s.run(t, rand.New(rand.NewSource(10)))
				shared := sharedBCalls.Load() - before
				if workers > 1 && shared == 0 {
					t.Fatalf("%v with %d workers: op(B) was not shared", s, workers)
				}
				if workers == 1 && shared != 0 {
					t.Fatalf("%v with 1 worker: op(B) shared", s)
				}
				results = append(results, lastC)
			}
			for w := 1; w < len(results); w++ {
				for i := range results[0] {
					if math.Float32bits(results[w][i]) != math.Float32bits(results[0][i]) {
						t.Fatalf("%v: %d workers differ from 1 at %d", s, w+1, i)
					}
				}
			}
		}
		_ = r
	})
}

// TestSquareSharesB: a large square product on two workers is split over
// M with one shared packing of B (the model counts that packing once; it
// used to count it in every task and split 1024² over N, each task
// repacking all of A), with the bits of one worker.
func TestSquareSharesB(t *testing.T) {
	defer func() { getPool = parallel.Default }()
	r := rand.New(rand.NewSource(11))
	const n = 1024
	a, b := randSlice(r, n*n), randSlice(r, n*n)
	var results [][]float32
	for _, workers := range []int{1, 2} {
		pool := parallel.New(workers)
		getPool = func() *parallel.Pool { return pool }
		c := make([]float32, n*n)
		before := sharedBCalls.Load()
		Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		if shared := sharedBCalls.Load() - before; (workers > 1) != (shared > 0) {
			t.Fatalf("%d workers: %d calls shared op(B)", workers, shared)
		}
		results = append(results, c)
	}
	for i := range results[0] {
		if math.Float32bits(results[1][i]) != math.Float32bits(results[0][i]) {
			t.Fatalf("2 workers differ from 1 at %d", i)
		}
	}
}

// TestPackedB: a product given op(B) packed before the call (PackB) has
// the bits of one that packs it, on any number of workers and however the
// call is split (over M, over N, on one core, a single row); the packing
// is what is read (B changed after it leaves the result as it was); and
// one packed for another shape is ignored.
func TestPackedB(t *testing.T) {
	noDot = true // (a product with op(B) packed before never goes by dot products)
	defer func() { getPool = parallel.Default; noDot = false }()
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(12))
		for _, s := range []struct {
			m, n, k        int
			transA, transB bool
		}{
			{256, 256, 784, false, false},
			{256, 128, 256, false, false},
			{256, 10, 128, false, false},
			{64, 256, 784, false, true},
			{37, 45, 300, true, false},
			{1, 70, 90, false, false},
			{3, 5, 4, false, true},
			{500, 33, 600, false, true},
		} {
			lda, ldb := s.k, s.n
			if s.transA {
				lda = s.m
			}
			if s.transB {
				ldb = s.k
			}
			a, b, bias := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.n)
			for _, workers := range []int{1, 2, 3} {
				pool := parallel.New(workers)
				getPool = func() *parallel.Pool { return pool }
				p := Params{TransA: s.transA, TransB: s.transB, M: s.m, N: s.n, K: s.k, Alpha: 1,
					A: a, LDA: lda, B: b, LDB: ldb, C: make([]float32, s.m*s.n), LDC: s.n,
					ColBias: bias, Act: ActReLU}
				SgemmEx(&p)
				want := p.C
				p.C = make([]float32, s.m*s.n)
				p.PackedB = PackB(&p, nil)
				SgemmEx(&p)
				for i := range want {
					if math.Float32bits(p.C[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v, %d workers: C[%d] = %v with op(B) packed before, %v without", s, workers, i, p.C[i], want[i])
					}
				}
				// The packing is what is read: B zeroed after it changes nothing.
				p.B = make([]float32, len(b))
				p.C = make([]float32, s.m*s.n)
				SgemmEx(&p)
				if s.m*s.n*s.k > smallMACs && s.m > 1 {
					for i := range want {
						if math.Float32bits(p.C[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v, %d workers: C[%d] = %v, want %v from the packing", s, workers, i, p.C[i], want[i])
						}
					}
				}
				// A packing of another shape is ignored: B (zero) is read.
				q := p
				q.N = s.n - 1
				q.PackedB = PackB(&q, nil)
				p.PackedB, p.C = q.PackedB, make([]float32, s.m*s.n)
				SgemmEx(&p)
				for i, v := range p.C {
					if z := max(bias[i%s.n], 0); v != z {
						t.Fatalf("%v, %d workers: C[%d] = %v with a packing of another shape, want %v", s, workers, i, v, z)
					}
				}
			}
		}
	})
}

// TestSharedBInline: the tasks of a call sharing op(B) pack it
// themselves, claiming parts of each KC slice; when the pool is busy
// (here: calls made from inside its own tasks) every task runs in order on
// the caller, which then packs every part itself instead of waiting for
// a part no task will pack; a task finding a part claimed but not yet
// packed (partsBusy makes every such part look so) packs its own copy.
// Also products wider than one NC block and with fewer panels than
// workers. Same bits as one worker.
func TestSharedBInline(t *testing.T) {
	defer func() { getPool = parallel.Default }()
	r := rand.New(rand.NewSource(12))
	type sh struct{ m, n, k int }
	for _, s := range []sh{{600, 600, 700}, {1200, 4100, 64}, {900, 20, 600}} {
		a, b := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n)
		run := func(workers int, nested bool) [][]float32 {
			pool := parallel.New(workers)
			getPool = func() *parallel.Pool { return pool }
			out := [][]float32{make([]float32, s.m*s.n), make([]float32, s.m*s.n)}
			before := sharedBCalls.Load()
			if nested {
				pool.Tasks(2, workerFunc(func(_, lo, _ int) {
					Sgemm(false, true, s.m, s.n, s.k, 1, a, s.k, b, s.k, 0, out[lo], s.n)
				}))
			} else {
				for _, c := range out {
					Sgemm(false, true, s.m, s.n, s.k, 1, a, s.k, b, s.k, 0, c, s.n)
				}
			}
			if shared := sharedBCalls.Load() - before; (workers > 1) != (shared == 2) {
				t.Fatalf("%v, %d workers, nested %v: %d calls shared op(B)", s, workers, nested, shared)
			}
			return out
		}
		want := run(1, false)[0]
		for _, busy := range []bool{false, true} {
			partsBusy = busy
			for _, w := range []int{2, 3} {
				for _, nested := range []bool{false, true} {
					for _, got := range run(w, nested) {
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%v, %d workers, nested %v, parts busy %v: differs from 1 worker at %d", s, w, nested, busy, i)
							}
						}
					}
				}
			}
		}
		partsBusy = false
	}
}

// pathSameBits runs s on one to three workers with a path of the driver
// turned off (*off true) and on, each from the same seed; ok says
// whether the number of uses its counter gained is right for that run,
// and both runs must give the same bits.
func pathSameBits(t *testing.T, s shape, seed int64, path string, off *bool, uses *atomic.Uint64, ok func(off bool, workers int, n uint64) bool) {
	t.Helper()
	for _, workers := range []int{1, 2, 3} {
		pool := parallel.New(workers)
		getPool = func() *parallel.Pool { return pool }
		var got [2][]float32
		for x, o := range []bool{true, false} {
			*off = o
			before := uses.Load()
			s.run(t, rand.New(rand.NewSource(seed)))
			if n := uses.Load() - before; !ok(o, workers, n) {
				t.Fatalf("%v, %d workers, %s off %v: used %d times", s, workers, path, o, n)
			}
			got[x] = lastC
		}
		for i := range got[0] {
			if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
				t.Fatalf("%v, %d workers: C[%d] = %v with %s, %v without", s, workers, i, got[1][i], path, got[0][i])
			}
		}
	}
}

type workerFunc func(w, lo, hi int)

func (f workerFunc) RangeWorker(w, lo, hi int) { f(w, lo, hi) }

// TestDirectA: products whose tasks read A in place (kernel.microA: split
// over N, A stored m×k, alpha 1, K within one KC slice, rows close
// together, at most directAMaxCols columns per task) give the reference
// result and the same bits as packing A, on one to three workers (split
// over N, over M, serial); edge panels of 1–5 rows and of fewer than nr
// columns, beta, epilogues and padded A and C. The 256² product (W6) on
// two workers (split over N) takes the path, and so does every product
// of one panel of op(B) (at most nr columns), on any number of workers.
func TestDirectA(t *testing.T) {
	defer func() { getPool = parallel.Default; noDirectA = false }()
	forEachKernel(t, func(t *testing.T) {
		if active.Load().microA == nil {
			t.Skip("no in-place A kernel")
		}
		for _, s := range []shape{
			{m: 256, n: 256, k: 256},
			{m: 64, n: 784, k: 256, transB: true},
			{m: 61, n: 100, k: 200, padA: 3, padC: 2, beta: 1, colBias: true, act: ActReLU},
			{m: 130, n: 37, k: 7, beta: 0.5, rowBias: true},
			{m: 13, n: 530, k: 17, transB: true, padB: 1},
			{m: 97, n: 40, k: 1},
			{m: 300, n: 600, k: 256, padA: 0},
			// One panel of op(B): A is read in place in any split
			// (fc3's forward of W1; several KC slices; split over M).
			{m: 64, n: 10, k: 128, transB: true, colBias: true},
			{m: 250, n: 16, k: 700, padA: 2, padC: 1, beta: 1, act: ActReLU},
			{m: 1000, n: 7, k: 64, transB: true, padB: 3},
		} {
			s.alpha = 1
			onePanel := s.n <= active.Load().nr
			pathSameBits(t, s, 21, "A read in place", &noDirectA, &directABlocks, func(packed bool, workers int, in uint64) bool {
				return !(packed && in > 0 || !packed && (s.n == 256 && workers == 2 || onePanel) && in == 0)
			})
		}
	})
}

// TestFives: blocks of M ≢ 0 (mod 6) rows computed as whole tiles and
// tiles of 5 rows (kernel.micro5, micro5A) give the reference result and
// the bits of the edge tile, for every residue of M, A packed (as stored
// and transposed, with the column call microCol; panels read from lane 0
// and lane 1, fiveLane) and read in place (fc1's
// forward of W1, 64 rows times Wᵀ with bias and ReLU, on two workers),
// several KC slices and blocks, column edges, beta, alpha and padding,
// on one to three workers (on one and two, every shape takes the
// path); blocks too short for them (M = 4, 14) keep
// their edge tile.
func TestFives(t *testing.T) {
	noDot = true // W1's fc1 shape goes by dot products otherwise
	defer func() { getPool = parallel.Default; noFives = false; noDot = false }()
	forEachKernel(t, func(t *testing.T) {
		if active.Load().micro5 == nil {
			t.Skip("no 5-row kernel")
		}
		for _, s := range []shape{
			{m: 64, n: 256, k: 784, transB: true, colBias: true, act: ActReLU},
			{m: 256, n: 784, k: 64, transA: true},
			{m: 128, n: 256, k: 64, transA: true, beta: 1},
			{m: 64, n: 128, k: 256},
			{m: 65, n: 130, k: 300, padA: 3, padC: 2, beta: 0.5, rowBias: true},
			{m: 63, n: 40, k: 17, transB: true, padB: 1, colBias: true},
			{m: 61, n: 530, k: 9, transA: true, transB: true, act: ActReLU},
			{m: 35, n: 16, k: 600, alpha: 0.75},
			{m: 500, n: 70, k: 520, transA: true, beta: 1},
			{m: 5, n: 40, k: 33, transB: true},
			{m: 11, n: 48, k: 70, transA: true, beta: 1},
			{m: 14, n: 64, k: 32},
			{m: 4, n: 64, k: 32},
		} {
			if s.alpha == 0 {
				s.alpha = 1
			}
			pathSameBits(t, s, 23, "tiles of 5 rows", &noFives, &fiveBlocks, func(off bool, workers int, n uint64) bool {
				if off || s.m == 4 || s.m == 14 {
					return n == 0
				}
				// (Three workers may cut M into tasks of whole tiles.)
				return n > 0 || workers == 3
			})
		}
	})
}

// TestPrefetchB: products whose packed B slices are larger than
// prefetchBMin prefetch each next B micro-panel (past the last one, past
// the buffer: nothing is read there), with the same bits as without.
func TestPrefetchB(t *testing.T) {
	defer func() { getPool = parallel.Default; noPrefetchB = false }()
	forEachKernel(t, func(t *testing.T) {
		if active.Load().prefetch == nil {
			t.Skip("no prefetch")
		}
		for _, s := range []shape{
			{m: 100, n: 1100, k: 300, transB: true},
			{m: 150, n: 2100, k: 100, padB: 5, padC: 3, beta: 1, colBias: true, act: ActReLU},
			{m: 100, n: 800, k: 520, transA: true, alpha: 0.5},
			{m: 61, n: 2050, k: 90, rowBias: true},
		} {
			if s.alpha == 0 {
				s.alpha = 1
			}
			// One core's task reads all of B; split, a task may read
			// less than prefetchBMin of it.
			pathSameBits(t, s, 22, "B prefetched", &noPrefetchB, &prefetchBlocks, func(off bool, workers int, in uint64) bool {
				return !(off && in > 0 || !off && workers == 1 && in == 0)
			})
		}
	})
}

// TestBigSliceSplit: a product whose shared packed B slices are larger
// than L2 (2048×2048 times 2048×512… here K = 512: slices of 2 MiB) goes
// to 4 tasks per core of at most bigSliceMC rows, one block of A each,
// with the bits of one worker.
func TestBigSliceSplit(t *testing.T) {
	defer func() { getPool = parallel.Default }()
	if active.Load().name == "generic" {
		t.Skip("the generic kernel's blocking differs")
	}
	const m, n, k = 2048, 2048, 512
	r := rand.New(rand.NewSource(13))
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	var got [2][]float32
	for x, workers := range []int{1, 2} {
		pool := parallel.New(workers)
		getPool = func() *parallel.Pool { return pool }
		got[x] = make([]float32, m*n)
		StartTrace()
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, got[x], n)
		calls := StopTrace()
		if workers == 1 {
			continue
		}
		c := calls[0]
		if c.Split != "M" || !c.SharedB || c.Tasks != 8 {
			t.Fatalf("2 workers: split %s, shared B %v, %d tasks; want M, true, 8", c.Split, c.SharedB, c.Tasks)
		}
		for _, tk := range c.Task {
			if rows := (tk.Hi - tk.Lo) * c.Unit; rows > bigSliceMC {
				t.Fatalf("a task of %d rows (> %d)", rows, bigSliceMC)
			}
		}
	}
	for i := range got[0] {
		if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
			t.Fatalf("C[%d] = %v on 2 workers, %v on 1", i, got[1][i], got[0][i])
		}
	}
}

// TestMicroCol: columns of whole tiles on packed A go through
// kernel.microCol (one call per column of tiles), with the same bits as
// tile by tile; edge rows, in-place A and the last slice of a product
// with an epilogue keep the tile-by-tile path.
func TestMicroCol(t *testing.T) {
	defer func() { getPool = parallel.Default; noMicroCol = false }()
	forEachKernel(t, func(t *testing.T) {
		if active.Load().microCol == nil {
			t.Skip("no column kernel")
		}
		for _, s := range []shape{
			{m: 300, n: 200, k: 100},
			{m: 301, n: 37, k: 600, beta: 0.5, padA: 2, padC: 1},
			{m: 125, n: 160, k: 300, transA: true, colBias: true, act: ActReLU},
			{m: 262, n: 96, k: 270, transB: true, rowBias: true, beta: 1},
			{m: 130, n: 1100, k: 300, alpha: 2},
			{m: 64, n: 256, k: 784, transB: true, colBias: true},
		} {
			if s.alpha == 0 {
				s.alpha = 1
			}
			pathSameBits(t, s, 23, "the column kernel", &noMicroCol, &microColBlocks, func(off bool, workers int, in uint64) bool {
				return !(off && in > 0 || !off && workers == 1 && s.m >= 100 && in == 0)
			})
		}
	})
}

// TestPackATRows checks the row-by-row packing of A stored k×m
// (packATRows) against the panel-by-panel one (packAPanels), bit for bit:
// whole panels and an edge one, every register height the kernels use,
// an offset block of a wider A with padded rows, alpha, and a destination
// sized exactly (guarded past its end); with packAT6AVX2 and without.
func TestPackATRows(t *testing.T) {
	defer func(f func(int, *float32, int, int, *float32, int)) { packAT6 = f }(packAT6)
	for _, vec := range []bool{true, false} {
		if !vec {
			packAT6 = nil // the portable loops
		} else if packAT6 == nil {
			continue
		}
		testPackATRows(t)
	}
}

func testPackATRows(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, mr := range []int{4, 6, 12} {
		for _, mc := range []int{1, 2, 5, 6, 7, 12, 13, 25, 60, 128} {
			for _, kc := range []int{1, 3, 8, 17, 64} {
				for _, pad := range []int{0, 7} {
					for _, alpha := range []float32{1, -0.5} {
						pc, i0 := 3, 2
						lda := i0 + mc + pad
						p := Params{TransA: true, M: i0 + mc, K: pc + kc, LDA: lda, Alpha: alpha,
							A: randSlice(r, (pc+kc)*lda)}
						size := ceilDiv(mc, mr) * mr * kc
						want := make([]float32, size)
						packAPanels(want, &p, i0, mc, pc, kc, mr, nil)
						got := make([]float32, size+1)
						for i := range got {
							got[i] = float32(math.NaN())
						}
						guard := math.Float32bits(got[size])
						packA(got[:size], &p, i0, mc, pc, kc, mr, nil)
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("mr=%d mc=%d kc=%d pad=%d alpha=%g: packed[%d] = %g, want %g", mr, mc, kc, pad, alpha, i, got[i], want[i])
							}
						}
						if math.Float32bits(got[size]) != guard {
							t.Fatalf("mr=%d mc=%d kc=%d: written past the destination", mr, mc, kc)
						}
					}
				}
			}
		}
	}
}

// TestPackBDeep: a product op(A) = Aᵀ several KC slices deep (a weight
// gradient dYᵀ·X) whose tasks have at most directBRows rows packs B
// (shared by the tasks of a split over M) instead of reading it in
// place, with the reference result and the bits of reading it in place,
// on one to three workers; a product within one KC slice still reads it
// in place.
func TestPackBDeep(t *testing.T) {
	defer func() { getPool = parallel.Default; noPackBDeep = false }()
	forEachKernel(t, func(t *testing.T) {
		kc := active.Load().kc
		for _, s := range []shape{
			{m: 96, n: 128, k: 1100, transA: true},
			{m: 50, n: 70, k: 600, transA: true, padA: 3, padB: 5, padC: 1, beta: 1},
			{m: 13, n: 530, k: 2 * kc, transA: true, alpha: 0.5, colBias: true, act: ActReLU},
			{m: 40, n: 33, k: kc, transA: true},
		} {
			if s.alpha == 0 {
				s.alpha = 1
			}
			deep := s.k > kc
			pathSameBits(t, s, 24, "B packed", &noPackBDeep, &packedDeepB, func(off bool, workers int, n uint64) bool {
				return !(off && n > 0 || !off && (deep != (n > 0)))
			})
		}
	})
}

// TestPrefetchNext: a weight gradient (op(A) = Aᵀ, several KC slices)
// prefetches the rows its next slice packs, with the same bits as
// without, on one to three workers; padded operands, beta, an epilogue,
// tasks narrower than half a row (A's range left out), B stored n×k.
func TestPrefetchNext(t *testing.T) {
	defer func() { getPool = parallel.Default; noPrefetchNext = false }()
	forEachKernel(t, func(t *testing.T) {
		if active.Load().prefetch == nil {
			t.Skip("no prefetch")
		}
		kc := active.Load().kc
		for _, s := range []shape{
			{m: 128, n: 128, k: 2048, transA: true},
			{m: 70, n: 50, k: 3*kc + 5, transA: true, padA: 9, padB: 3, padC: 2, beta: 1},
			{m: 300, n: 40, k: 2*kc + 1, transA: true, alpha: 0.5, colBias: true, act: ActReLU},
			{m: 13, n: 300, k: 2 * kc, transA: true, padA: 100},
			{m: 64, n: 256, k: 2*kc + 44, transA: true, transB: true},
			{m: 90, n: 33, k: 3 * kc, transA: true, transB: true, padB: 7, beta: 1},
		} {
			if s.alpha == 0 {
				s.alpha = 1
			}
			pathSameBits(t, s, 25, "the next slice prefetched", &noPrefetchNext, &prefetchNextBlocks, func(off bool, workers int, n uint64) bool {
				return !(off && n > 0 || !off && n == 0)
			})
		}
	})
}

// TestNextSliceCovers: nextSlice hands out every line of its two ranges
// once, in order, and none past them, whatever the number of columns
// and tiles, B stored k×n or n×k.
func TestNextSliceCovers(t *testing.T) {
	r := rand.New(rand.NewSource(26))
	for range 500 {
		m, n, kcn := 1+r.Intn(300), 1+r.Intn(300), 1+r.Intn(300)
		p := Params{TransA: true, TransB: r.Intn(2) == 0, M: m, N: n, K: 2 * kcn, LDA: m + r.Intn(5), LDB: n + r.Intn(5)}
		p.A = make([]float32, p.K*p.LDA)
		p.B = make([]float32, p.K*p.LDB)
		if p.TransB {
			p.LDB = p.K + r.Intn(5)
			p.B = make([]float32, n*p.LDB)
		}
		i0 := r.Intn(m)
		i1 := i0 + 1 + r.Intn(m-i0)
		c0 := r.Intn(n)
		c1 := c0 + 1 + r.Intn(n-c0)
		cols, tiles := 1+r.Intn(40), 1+r.Intn(30)
		var nx nextSlice
		nx.plan(&p, kcn, kcn, i0, i1, c0, c1, cols, tiles)
		a0, b0, la, lb := nx.a, nx.b, nx.la, nx.lb
		gotA, gotB := 0, 0
		for c := 0; c < cols; c++ {
			at, k := nx.next(tiles)
			if k == 0 {
				continue
			}
			switch {
			case la > 0 && at == a0+uintptr(gotA*64):
				gotA += k * tiles
			case lb > 0 && at == b0+uintptr(gotB*64):
				gotB += k * tiles
			default:
				t.Fatalf("column %d prefetches from %#x: not where either range goes on", c, at)
			}
		}
		if la+lb == 0 {
			continue
		}
		// The last column of a range may round up by less than a line
		// per tile; every line must be covered.
		if gotA < la || gotB < lb || gotA >= la+tiles || gotB >= lb+tiles {
			t.Fatalf("m=%d n=%d kcn=%d cols=%d tiles=%d: lines %d of %d (A) and %d of %d (B)", m, n, kcn, cols, tiles, gotA, la, gotB, lb)
		}
	}
}

// TestPrefetchBDeep: a weight gradient whose tasks share a packed op(B)
// slice of a whole L2 (bigSliceBytes) prefetches its panels; on one
// worker, packing its own, it does not; the same bits either way.
func TestPrefetchBDeep(t *testing.T) {
	defer func() { getPool = parallel.Default; noPrefetchB = false }()
	forEachKernel(t, func(t *testing.T) {
		k := active.Load()
		if k.prefetch == nil {
			t.Skip("no prefetch")
		}
		s := shape{m: 128, n: bigSliceBytes / 4 / k.kc, k: 4 * k.kc, transA: true, alpha: 1}
		pathSameBits(t, s, 27, "B prefetched", &noPrefetchB, &prefetchBlocks, func(off bool, workers int, n uint64) bool {
			return !(off && n > 0 || !off && workers == 1 && n > 0 || !off && workers == 2 && n == 0)
		})
	})
}

// TestBInPlaceTA: weight gradients one KC slice deep (Aᵀ·B, K ≤ kc) whose
// tasks have more than directBRows rows read B in place where its rows
// are not a multiple of 512 bytes apart (bInPlaceTA: W1's dW1, X's rows
// 784 floats apart), with the reference result and the bits of B packed,
// on one to three workers; B's rows 256 floats apart (W1's dW2), deeper
// products and B transposed keep packing it.
func TestBInPlaceTA(t *testing.T) {
	defer func() { getPool = parallel.Default; noBInPlaceTA = false }()
	forEachKernel(t, func(t *testing.T) {
		kc := active.Load().kc
		for _, s := range []shape{
			{m: 256, n: 784, k: 64, transA: true},
			{m: 120, n: 400, k: 64, transA: true, beta: 1},
			{m: 200, n: 90, k: 33, transA: true, padB: 3, colBias: true, act: ActReLU},
			{m: 128, n: 256, k: 64, transA: true},
			{m: 300, n: 100, k: kc + 40, transA: true},
			{m: 256, n: 784, k: 64, transA: true, transB: true},
		} {
			s.alpha = 1
			ldb := s.n + s.padB
			want := s.transA && !s.transB && s.k <= kc && ldb*4%512 != 0
			pathSameBits(t, s, 41, "B read in place", &noBInPlaceTA, &bInPlaceTABlocks, func(off bool, workers int, n uint64) bool {
				if off || !want {
					return n == 0
				}
				// (More workers may cut M into tasks of at most
				// directBRows rows, which read B in place anyway; W1's
				// dW1 goes over N on two.)
				return n > 0 || workers == 3 || workers == 2 && s.n != 784
			})
		}
	})
}
