package gemm

import (
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/internal/cputime"
)

// TestGemmAB (ENCC_GEMM_AB=1) compares, in alternated blocks of calls,
// W5's forward products with a column bias (2048 rows) added as the
// tiles are stored (microColBias) and after each tile, and the q/k/v
// projections as one group (SgemmGroup) and one by one, by the CPU
// time of a call on one core (a pool of one, thread CPU) and on the
// default pool (process CPU): the least disturbed figures on a loaded
// machine. ENCC_GEMM_AB=dw: the q/k/v weight gradients one by one and
// as one group stacked by rows (SgemmGroupRows).
func TestGemmAB(t *testing.T) {
	if os.Getenv("ENCC_GEMM_AB") == "" {
		t.Skip("set ENCC_GEMM_AB=1")
	}
	defer func() { getPool = parallel.Default; noMicroColBias, noPrefetchA = false, false }()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := rand.New(rand.NewSource(1))
	mk := func(m, n, k int, a []float32) Params {
		return Params{TransB: true, M: m, N: n, K: k, Alpha: 1, A: a, LDA: k, B: randSlice(r, n*k), LDB: k,
			C: make([]float32, m*n), LDC: n, ColBias: randSlice(r, n)}
	}
	x := randSlice(r, 2048*512)
	type variant struct {
		name string
		f    func()
	}
	cases := [][2]variant{}
	for _, s := range [][3]int{{2048, 512, 128}, {2048, 128, 512}, {2048, 128, 128}} {
		p := mk(s[0], s[1], s[2], x)
		cases = append(cases, [2]variant{
			{fmt.Sprintf("%dx%dx%d bias after", s[0], s[1], s[2]), func() { noMicroColBias = true; SgemmEx(&p) }},
			{"bias stored", func() { noMicroColBias = false; SgemmEx(&p) }},
		})
	}
	for _, s := range [][3]int{{2048, 512, 128}, {2048, 128, 128}, {2048, 128, 512}} {
		p := mk(s[0], s[1], s[2], x)
		cases = append(cases, [2]variant{
			{fmt.Sprintf("%dx%dx%d no A prefetch", s[0], s[1], s[2]), func() { noPrefetchA = true; SgemmEx(&p) }},
			{"A prefetch", func() { noPrefetchA = false; SgemmEx(&p) }},
		})
	}
	if os.Getenv("ENCC_GEMM_AB") == "pfa" {
		cases = cases[len(cases)-3:]
	}
	if os.Getenv("ENCC_GEMM_AB") == "sq" {
		// W6's squares (C = A·B) with the prefetch of the next A block
		// off and on.
		cases = cases[:0]
		for _, n := range []int{256, 512, 1024} {
			p := Params{M: n, N: n, K: n, Alpha: 1, A: randSlice(r, n*n), LDA: n, B: randSlice(r, n*n), LDB: n, C: make([]float32, n*n), LDC: n}
			cases = append(cases, [2]variant{
				{fmt.Sprintf("%d² no A prefetch", n), func() { noPrefetchA = true; SgemmEx(&p) }},
				{"A prefetch", func() { noPrefetchA = false; SgemmEx(&p) }},
			})
		}
	}
	qkv := []Params{mk(2048, 128, 128, x), mk(2048, 128, 128, x), mk(2048, 128, 128, x)}
	if os.Getenv("ENCC_GEMM_AB") == "1" {
		cases = append(cases, [2]variant{
			{"qkv one by one", func() {
				for i := range qkv {
					SgemmEx(&qkv[i])
				}
			}},
			{"qkv group", func() { SgemmGroup(qkv) }},
		})
	}
	if os.Getenv("ENCC_GEMM_AB") == "dw" {
		// W4/W5's q/k/v weight gradients dYᵀ·X (128×128, 2048 deep,
		// one X, each with its bias gradient: ASums) one by one and as
		// one group stacked by rows (SgemmGroupRows).
		xb := randSlice(r, 2048*128)
		dw := make([]Params, 3)
		for i := range dw {
			dw[i] = Params{TransA: true, M: 128, N: 128, K: 2048, Alpha: 1, A: randSlice(r, 2048*128), LDA: 128,
				B: xb, LDB: 128, C: make([]float32, 128*128), LDC: 128, ASums: make([]float64, 128)}
		}
		cases = [][2]variant{{
			{"dW qkv one by one", func() {
				for i := range dw {
					SgemmEx(&dw[i])
				}
			}},
			{"dW qkv group rows", func() { SgemmGroupRows(dw) }},
		}}
	}
	for _, workers := range []int{1, 0} {
		pool := parallel.Default()
		clock := cputime.Process
		if workers == 1 {
			pool, clock = parallel.New(1), cputime.Thread
		}
		getPool = func() *parallel.Pool { return pool }
		for _, c := range cases {
			var ts [2][]float64
			var walls [2][]float64
			for b := range 30 {
				for v := range 2 {
					i := v ^ b&1
					c[i].f()
					t0, w0 := clock(), time.Now()
					for range 4 {
						c[i].f()
					}
					ts[i] = append(ts[i], float64(clock()-t0)/4e3)
					walls[i] = append(walls[i], float64(time.Since(w0))/4e3)
				}
			}
			for i := range 2 {
				slices.Sort(ts[i])
				slices.Sort(walls[i])
			}
			fmt.Printf("pool %d: %-28s CPU µs/call median %7.1f p25 %7.1f | %-16s median %7.1f p25 %7.1f (wall medians %.1f / %.1f)\n",
				pool.Size(), c[0].name, ts[0][15], ts[0][7], c[1].name, ts[1][15], ts[1][7], walls[0][15], walls[1][15])
		}
	}
	noMicroColBias = false
}
