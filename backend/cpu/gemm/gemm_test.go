package gemm

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// forEachKernel runs f with every kernel this machine has selected.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	defer SetKernel("auto")
	for _, name := range Kernels() {
		if err := SetKernel(name); err != nil {
			t.Fatal(err)
		}
		t.Run(name, f)
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func act64(act Activation, x float64) float64 {
	switch act {
	case ActReLU:
		return math.Max(x, 0)
	case ActGELU:
		return 0.5 * x * math.Erfc(-x/math.Sqrt2)
	case ActGELUTanh:
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	case ActTanh:
		return math.Tanh(x)
	case ActSigmoid:
		return 1 / (1 + math.Exp(-x))
	}
	return x
}

// reference computes p's result in float64 from the original C (c0),
// with a per-element error scale: the sum of the magnitudes of the terms
// (each in order along k). It reads its operands before the product
// runs, on the test's goroutine, and go test -race does not instrument
// it (norace, nocheckptr: math.Abs's conversion): its m·n·k terms were
// most of the gemm race run's time; the product itself still is.
//
//go:norace
//go:nocheckptr
func reference(p *Params, c0 []float32) (want, scale []float64) {
	want = make([]float64, p.M*p.N)
	scale = make([]float64, p.M*p.N)
	// op(A) m×k and op(B)ᵀ n×k, rows along k.
	a, b := make([]float64, p.M*p.K), make([]float64, p.N*p.K)
	for i := 0; i < p.M; i++ {
		for q := 0; q < p.K; q++ {
			if p.TransA {
				a[i*p.K+q] = float64(p.A[q*p.LDA+i])
			} else {
				a[i*p.K+q] = float64(p.A[i*p.LDA+q])
			}
		}
	}
	for j := 0; j < p.N; j++ {
		for q := 0; q < p.K; q++ {
			if p.TransB {
				b[j*p.K+q] = float64(p.B[j*p.LDB+q])
			} else {
				b[j*p.K+q] = float64(p.B[q*p.LDB+j])
			}
		}
	}
	for i := 0; i < p.M; i++ {
		ai := a[i*p.K:][:p.K]
		for j := 0; j < p.N; j++ {
			bj := b[j*p.K:][:p.K]
			var s, sa float64
			for q, av := range ai {
				x := av * bj[q]
				s += x
				sa += math.Abs(x)
			}
			v := float64(p.Alpha) * s
			sc := math.Abs(float64(p.Alpha)) * sa
			if p.Beta != 0 {
				old := float64(c0[i*p.LDC+j])
				v += float64(p.Beta) * old
				sc += math.Abs(float64(p.Beta) * old)
			}
			if p.ColBias != nil {
				v += float64(p.ColBias[j])
				sc += math.Abs(float64(p.ColBias[j]))
			}
			if p.RowBias != nil {
				v += float64(p.RowBias[i])
				sc += math.Abs(float64(p.RowBias[i]))
			}
			want[i*p.N+j] = act64(p.Act, v)
			scale[i*p.N+j] = sc + 1e-6
		}
	}
	return
}

type shape struct {
	transA, transB bool
	m, n, k        int
	padA, padB     int // extra leading dimension
	padC           int
	alpha, beta    float32
	colBias        bool
	rowBias        bool
	act            Activation
}

func (s shape) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d pad=%d,%d,%d alpha=%g beta=%g cb=%v rb=%v act=%v",
		s.transA, s.transB, s.m, s.n, s.k, s.padA, s.padB, s.padC, s.alpha, s.beta, s.colBias, s.rowBias, s.act)
}

// lastC is the C of the last shape.run.
var lastC []float32

// run executes s with random data and checks it against the reference.
// It also checks that C's padding columns are untouched.
func (s shape) run(t *testing.T, r *rand.Rand) {
	t.Helper()
	p := Params{TransA: s.transA, TransB: s.transB, M: s.m, N: s.n, K: s.k,
		Alpha: s.alpha, Beta: s.beta, Act: s.act}
	ar, ac := s.m, s.k
	if s.transA {
		ar, ac = s.k, s.m
	}
	p.LDA = ac + s.padA
	p.A = randSlice(r, max(ar*p.LDA, 1))
	br, bc := s.k, s.n
	if s.transB {
		br, bc = s.n, s.k
	}
	p.LDB = bc + s.padB
	p.B = randSlice(r, max(br*p.LDB, 1))
	p.LDC = s.n + s.padC
	p.C = randSlice(r, s.m*p.LDC)
	if s.beta == 0 {
		// beta == 0 must not read C: poison it.
		for i := range p.C {
			p.C[i] = float32(math.NaN())
		}
	}
	if s.colBias {
		p.ColBias = randSlice(r, s.n)
	}
	if s.rowBias {
		p.RowBias = randSlice(r, s.m)
	}
	c0 := append([]float32(nil), p.C...)
	want, scale := reference(&p, c0)
	SgemmEx(&p)
	lastC = p.C
	tol := 1e-5*math.Sqrt(float64(s.k)+1) + 2e-6
	for i := 0; i < s.m; i++ {
		for j := 0; j < p.LDC; j++ {
			got := p.C[i*p.LDC+j]
			if j >= s.n {
				if math.Float32bits(got) != math.Float32bits(c0[i*p.LDC+j]) {
					t.Fatalf("%v: padding C[%d,%d] changed", s, i, j)
				}
				continue
			}
			w, sc := want[i*s.n+j], scale[i*s.n+j]
			if d := math.Abs(float64(got) - w); !(d <= tol*sc) {
				t.Fatalf("%v [kernel %s]: C[%d,%d] = %g, want %g (err %.3g, allowed %.3g)",
					s, Kernel(), i, j, got, w, d, tol*sc)
			}
		}
	}
}

var sizes = []int{1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 17, 23, 31, 32, 33, 47, 63, 64, 65, 97, 127, 130}

func TestShapes(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(1))
		for it := 0; it < 400; it++ {
			s := shape{
				transA: it&1 != 0, transB: it&2 != 0,
				m: sizes[r.Intn(len(sizes))], n: sizes[r.Intn(len(sizes))], k: sizes[r.Intn(len(sizes))],
				alpha: 1, beta: 0,
			}
			if r.Intn(3) == 0 {
				s.padA, s.padB, s.padC = r.Intn(5), r.Intn(5), r.Intn(3)
			}
			switch r.Intn(4) {
			case 1:
				s.alpha = -0.5
			case 2:
				s.beta = 1
			case 3:
				s.alpha, s.beta = 1.5, -0.75
			}
			s.run(t, r)
		}
	})
}

func TestEdgesAndBlocking(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(2))
		k := active.Load()
		cases := []shape{
			// Every remainder of the register tile, on both sides of it.
			{m: k.mr - 1, n: k.nr - 1, k: 9}, {m: k.mr, n: k.nr, k: 9}, {m: k.mr + 1, n: k.nr + 1, k: 9},
			{m: 2*k.mr + 1, n: 3*k.nr - 1, k: 1},
			// More than one KC slice, MC block and (for m == 13) NC block.
			{m: k.mc + k.mr + 1, n: 2*k.nr + 3, k: 2*k.kc + 5, beta: 1},
			{m: 13, n: k.nc + k.nr + 7, k: k.kc + 1, transA: true, transB: true},
			{m: k.mc + 3, n: 70, k: k.kc + 3, transA: true, beta: -2, colBias: true, rowBias: true, act: ActGELU},
			// GEMV (m == 1), both layouts of B, serial and parallel.
			{m: 1, n: 130, k: 129}, {m: 1, n: 130, k: 129, transB: true},
			{m: 1, n: 256, k: 784, beta: 1}, {m: 1, n: 256 + 9, k: 784, transB: true, beta: 0.5},
			{m: 1, n: 10, k: 128, transA: true, padA: 3, alpha: 2, colBias: true, act: ActReLU},
			{m: 1, n: 61, k: 700, transB: true, padB: 1, rowBias: true, act: ActSigmoid},
			// The workloads' shapes.
			{m: 64, n: 256, k: 784, colBias: true, act: ActReLU},
			{m: 784, n: 256, k: 64, transA: true, beta: 1},
			{m: 64, n: 784, k: 256, transB: true},
			{m: 64, n: 10, k: 128, transB: true, colBias: true},
		}
		for _, s := range cases {
			if s.alpha == 0 {
				s.alpha = 1
			}
			s.run(t, r)
		}
	})
}

func TestEpilogues(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(3))
		for act := ActNone; act < numActivations; act++ {
			for _, mk := range [][3]int{{3, 5, 7}, {37, 45, 29}, {64, 70, 33}, {1, 90, 50}} {
				for _, beta := range []float32{0, 1} {
					s := shape{m: mk[0], n: mk[1], k: mk[2], alpha: 0.7, beta: beta,
						colBias: r.Intn(2) == 0, rowBias: r.Intn(2) == 0, act: act,
						transA: r.Intn(2) == 0, transB: r.Intn(2) == 0}
					s.run(t, r)
				}
			}
		}
	})
}

func TestDegenerate(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	// k == 0 and alpha == 0: C = act(beta·C + bias), A and B unread.
	for _, s := range []shape{
		{m: 5, n: 6, k: 0, alpha: 1, beta: 0.5, colBias: true, act: ActTanh},
		{m: 5, n: 6, k: 0, alpha: 1, beta: 0},
		{m: 30, n: 40, k: 50, alpha: 0, beta: 2, rowBias: true},
	} {
		s.run(t, r)
	}
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 3, 0, nil, 3, nil, 2, 3, c, 2)
	if c[0] != 3 || c[3] != 12 {
		t.Fatalf("alpha == 0: got %v", c)
	}
	Sgemm(false, false, 0, 2, 3, 1, nil, 3, nil, 2, 0, nil, 2) // m == 0: nothing to do
}

func TestPanicsOnBadShapes(t *testing.T) {
	a := make([]float32, 6)
	for _, f := range []func(){
		func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) },     // lda < k
		func() { Sgemm(false, false, 2, 3, 3, 1, a, 3, a[:5], 3, 0, a, 3) }, // B short
		func() { Sgemm(false, false, 3, 2, 2, 1, a, 2, a, 2, 0, a[:5], 2) }, // C short
		func() { Sgemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2) },    // negative
		func() {
			SgemmEx(&Params{M: 2, N: 2, K: 1, Alpha: 1, A: a, LDA: 1, B: a, LDB: 2, C: a, LDC: 2, ColBias: a[:1]})
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("bad shape did not panic")
				}
			}()
			f()
		}()
	}
}

// TestDeterministic: parallel calls give bit-identical results run to run.
func TestDeterministic(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(5))
		for _, mnk := range [][3]int{{200, 190, 300}, {64, 256, 784}, {1, 256, 784}} {
			m, n, k := mnk[0], mnk[1], mnk[2]
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			first := make([]float32, m*n)
			Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, first, n)
			for rep := 0; rep < 20; rep++ {
				c := make([]float32, m*n)
				Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
						t.Fatalf("%v: run %d differs at %d", mnk, rep, i)
					}
				}
			}
		}
	})
}

// TestThreadCountIndependent: one participant or several, serial or split
// along M or N, every element is computed by the same operations.
func TestThreadCountIndependent(t *testing.T) {
	defer func() { getPool = parallel.Default }()
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(7))
		for _, s := range []shape{
			{m: 64, n: 256, k: 784, colBias: true, act: ActGELU},
			{m: 700, n: 90, k: 300, transA: true, beta: 1},
			{m: 1100, n: 40, k: 20, transB: true},
			{m: 1, n: 300, k: 400, transB: true},
		} {
			a, b, c0 := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
			bias := randSlice(r, s.n)
			var results [][]float32
			for _, workers := range []int{1, 2, 3} {
				pool := parallel.New(workers)
				getPool = func() *parallel.Pool { return pool }
				p := Params{TransA: s.transA, TransB: s.transB, M: s.m, N: s.n, K: s.k, Alpha: 1, Beta: s.beta,
					A: a, LDA: s.k, B: b, LDB: s.n, C: append([]float32(nil), c0...), LDC: s.n, Act: s.act}
				if s.transA {
					p.LDA = s.m
				}
				if s.transB {
					p.LDB = s.k
				}
				if s.colBias {
					p.ColBias = bias
				}
				SgemmEx(&p)
				results = append(results, p.C)
			}
			for w := 1; w < len(results); w++ {
				for i := range results[0] {
					if math.Float32bits(results[w][i]) != math.Float32bits(results[0][i]) {
						t.Fatalf("%v: %d workers differ from 1 at %d", s, w+1, i)
					}
				}
			}
		}
	})
}

// TestConcurrentAndNested: calls from several goroutines at once, and
// from inside a pool body (where the busy pool runs them inline), share
// the free lists safely and give the serial answer.
func TestConcurrentAndNested(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	const m, n, k = 100, 70, 90
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := make([]float32, m*n)
	Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, want, n)
	check := func(c []float32) error {
		for i := range c {
			if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
				return fmt.Errorf("element %d: %g, want %g", i, c[i], want[i])
			}
		}
		return nil
	}
	errs := make(chan error, 64)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			for rep := 0; rep < 20; rep++ {
				c := make([]float32, m*n)
				Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
				if err := check(c); err != nil {
					errs <- err
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	outs := make([][]float32, 6)
	parallel.For(len(outs), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			outs[i] = make([]float32, m*n)
			Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, outs[i], n)
		}
	})
	for _, c := range outs {
		if err := check(c); err != nil {
			errs <- err
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestZeroAllocs(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(6))
		for _, s := range []shape{
			{m: 64, n: 256, k: 784, colBias: true, act: ActReLU}, // parallel
			{m: 20, n: 20, k: 20},                                // serial
			{m: 1, n: 256, k: 784, transB: true},                 // GEMV
			{m: 3, n: 4, k: 5},                                   // straight loops
			{m: 300, n: 40, k: 300, transA: true, beta: 0.5},     // blocked over M
		} {
			p := Params{TransA: s.transA, TransB: s.transB, M: s.m, N: s.n, K: s.k, Alpha: 1, Beta: s.beta, Act: s.act}
			p.A, p.B, p.C = randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
			p.LDA, p.LDB, p.LDC = s.k, s.n, s.n
			if s.transA {
				p.LDA = s.m
			}
			if s.transB {
				p.LDB = s.k
			}
			if s.colBias {
				p.ColBias = randSlice(r, s.n)
			}
			SgemmEx(&p)
			if allocs := testing.AllocsPerRun(20, func() { SgemmEx(&p) }); allocs != 0 {
				t.Errorf("%v: %.1f allocations per call", s, allocs)
			}
		}
	})
}

func TestActivationAccuracy(t *testing.T) {
	for act := ActNone; act < numActivations; act++ {
		for i := -4000; i <= 4000; i++ {
			x := float32(i) * 0.005
			if i%7 == 0 {
				x = float32(i) * 0.0001
			}
			got := float64(Activate(act, x))
			want := act64(act, float64(x))
			if d := math.Abs(got - want); d > 2e-6*math.Abs(want)+1e-7 && d > 2e-7 {
				t.Fatalf("%v(%g) = %g, want %g", act, x, got, want)
			}
		}
	}
	if v := exp32(-200); v != 0 {
		t.Errorf("exp32(-200) = %g", v)
	}
	if v := exp32(100); !math.IsInf(float64(v), 1) {
		t.Errorf("exp32(100) = %g", v)
	}
	if v := Activate(ActSigmoid, -100); v < 0 || v > 1e-40 {
		t.Errorf("sigmoid(-100) = %g", v)
	}
}

func TestSetKernel(t *testing.T) {
	defer SetKernel("auto")
	if err := SetKernel("no-such-kernel"); err == nil {
		t.Fatal("SetKernel accepted an unknown name")
	}
	if err := SetKernel("generic"); err != nil || Kernel() != "generic" {
		t.Fatalf("SetKernel(generic): %v, Kernel() = %s", err, Kernel())
	}
}

// TestEnvSelectsKernel re-runs the test binary with ENCC_GEMM set.
func TestEnvSelectsKernel(t *testing.T) {
	if name := os.Getenv("ENCC_GEMM_CHILD"); name != "" {
		if Kernel() != name {
			t.Fatalf("ENCC_GEMM=%s: kernel %s", name, Kernel())
		}
		return
	}
	for _, name := range Kernels() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnvSelectsKernel$")
		cmd.Env = append(os.Environ(), "ENCC_GEMM="+name, "ENCC_GEMM_CHILD="+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ENCC_GEMM=%s: %v\n%s", name, err, out)
		}
	}
}

// TestEdgeKernel4 checks that edge panels of 4 rows (tiles of 5 rows
// off) computed in place by micro4 give the bits of the 6-row kernel on a scratch tile (micro4
// cleared), for both values of acc (one and several KC slices, beta 0
// and 1), alpha, the epilogue and every layout.
func TestEdgeKernel4(t *testing.T) {
	for _, name := range Kernels() {
		if err := SetKernel(name); err != nil {
			t.Fatal(err)
		}
		k := active.Load()
		m4 := k.micro4
		if m4 == nil {
			continue
		}
		noFives = true // blocks of 6n+4 rows would end in 5-row tiles
		defer func() { noFives = false }()
		r := rand.New(rand.NewSource(11))
		for _, s := range [][3]int{{64, 256, 784}, {4, 16, 9}, {10, 48, 300}, {64, 37, 128}, {16, 16, 1}, {250, 130, 513}} {
			m, n, kk := s[0], s[1], s[2]
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				for _, beta := range []float32{0, 1} {
					p := Params{TransA: tr[0], TransB: tr[1], M: m, N: n, K: kk, Alpha: 0.75, Beta: beta,
						A: randSlice(r, m*kk), B: randSlice(r, kk*n), LDA: kk, LDB: n, LDC: n,
						ColBias: randSlice(r, n), Act: ActReLU}
					if tr[0] {
						p.LDA = m
					}
					if tr[1] {
						p.LDB = kk
					}
					c0 := randSlice(r, m*n)
					var got [2][]float32
					for i, f := range []func(int, *float32, *float32, int, *float32, int, int){m4, nil} {
						k.micro4 = f
						p.C = slices.Clone(c0)
						SgemmEx(&p)
						got[i] = p.C
					}
					k.micro4 = m4
					for i := range got[0] {
						if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
							t.Fatalf("%s %dx%dx%d trans %v beta %g: C[%d] = %v in place, %v on the scratch tile",
								name, m, n, kk, tr, beta, i, got[0][i], got[1][i])
						}
					}
				}
			}
		}
	}
	if err := SetKernel(envOrAuto()); err != nil {
		t.Fatal(err)
	}
}

// TestWorkspaceHighWater checks that a call allocates nothing once a
// product of its shape has run, whichever free workspace it gets: here
// one that has only served a small call (as a pool task's nested
// SgemmExSerial gets whichever is free, depending on timing). Growing
// each workspace to its own largest request failed this: the workspace
// grew inside the second big call.
func TestWorkspaceHighWater(t *testing.T) {
	noDot = true // the panels' workspace (the dot products use none)
	defer func() { noDot = false }()
	r := rand.New(rand.NewSource(8))
	mk := func(m, n, k int) *Params {
		p := &Params{TransB: true, M: m, N: n, K: k, Alpha: 1, LDA: k, LDB: k, LDC: n}
		p.A, p.B, p.C = randSlice(r, m*k), randSlice(r, n*k), randSlice(r, m*n)
		return p
	}
	big, small := mk(64, 256, 784), mk(12, 32, 64)
	// One P while counting, as testing.AllocsPerRun does: no other
	// goroutine's allocation falls between the two counts.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	SgemmExSerial(big) // the big shape has run
	// Every free workspace out (as if other tasks held them), a small
	// call, then those back.
	wsMu.Lock()
	held := wsFree
	wsFree = nil
	wsMu.Unlock()
	SgemmExSerial(small)
	// The big call on the workspace the small call used.
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	SgemmExSerial(big)
	runtime.ReadMemStats(&m1)
	for _, w := range held {
		putWorkspace(w)
	}
	if n := m1.Mallocs - m0.Mallocs; n != 0 {
		t.Errorf("the big call allocated %d times on a workspace that had served a small call", n)
	}
}
