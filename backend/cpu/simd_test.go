package cpu

import (
	"math"
	"math/rand"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/internal/cputime"
	"github.com/encc-lang/encc/ir"
)

// TestExpSum checks the vector exp against math.Exp: within 4 ulp up to
// 88 (it saturates at 88.38, below float32 overflow) and over
// the range that does not underflow, 0 or tiny below it, NaN kept, and
// the sum.
func TestExpSum(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(1))
	x := make([]float32, 1003)
	for i := range x {
		x[i] = float32(r.Float64()*170 - 90) // softmax calls it with x - max ≤ 0; above 88.38 it saturates
	}
	x[0], x[1], x[2], x[3] = 0, -0.0, 88, -87
	o := make([]float32, len(x))
	s := expSum(o, x, 0)
	want := 0.0
	for i, e := range x {
		w := math.Exp(float64(e))
		want += float64(float32(w))
		if w < 1e-37 {
			if o[i] > 1e-37 {
				t.Errorf("exp(%v) = %v, want about %v", e, o[i], w)
			}
			continue
		}
		if d := math.Abs(float64(o[i])-w) / w; d > 4*0x1p-23 {
			t.Errorf("exp(%v) = %v, want %v (rel err %.2g)", e, o[i], w, d)
		}
	}
	if d := math.Abs(float64(s)-want) / want; d > 1e-5 {
		t.Errorf("sum %v, want %v", s, want)
	}
	x[5] = float32(math.NaN())
	expSum(o[:8], x[:8], 1)
	if !math.IsNaN(float64(o[5])) {
		t.Errorf("exp(NaN) = %v", o[5])
	}
}

// TestGelu checks the vector GELU and its backward against float64 math
// over [-20, 20]: the forward within 1e-6 of max(|value|, 1e-2), the
// backward within 1e-6 relative plus 3e-7·dy.
func TestGelu(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	n := 8001
	x, dy, o, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(-20 + 40*float64(i)/float64(n-1))
		dy[i] = float32(1 + float64(i%5)/4)
	}
	geluF32(o, x, nil)
	geluF32(g, x, dy)
	for i, e := range x {
		v := float64(e)
		phi := 0.5 * (1 + math.Erf(v/math.Sqrt2))
		wf := v * phi
		wg := float64(dy[i]) * (phi + v*math.Exp(-v*v/2)/math.Sqrt(2*math.Pi))
		if d := math.Abs(float64(o[i]) - wf); d > 1e-6*max(math.Abs(wf), 1e-2) {
			t.Errorf("gelu(%v) = %v, want %v", e, o[i], wf)
		}
		// Φ + xφ cancels near x = -0.75: an absolute float32 error of dy's size there.
		if d := math.Abs(float64(g[i]) - wg); d > 1e-6*math.Abs(wg)+3e-7*float64(dy[i]) {
			t.Errorf("gelu'(%v)·%v = %v, want %v", e, dy[i], g[i], wg)
		}
	}
}

// TestMaxPool2 compares the vector 2×2 max pooling and its backward with
// the portable loops, on widths that are and are not multiples of 8 and
// with ties (zeros from a relu).
func TestMaxPool2(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	defer func(s bool) { simdOn = s }(simdOn)
	r := rand.New(rand.NewSource(2))
	buf := func(x []float32) *buffer {
		return &buffer{p: unsafe.Pointer(&x[0]), n: len(x), dt: ir.F32}
	}
	for _, hw := range [][2]int{{28, 28}, {10, 10}, {8, 16}, {14, 12}} {
		H, W := hw[0], hw[1]
		planes := 5
		x := make([]float32, planes*H*W)
		for i := range x {
			if r.Intn(3) > 0 {
				x[i] = float32(r.NormFloat64())
			}
		}
		dy := make([]float32, planes*H*W/4)
		for i := range dy {
			dy[i] = float32(r.NormFloat64())
		}
		run := func(op ir.Op, vec bool) []float32 {
			simdOn = vec
			out := make([]float32, len(x))
			if op == ir.OpMaxPool2D {
				out = out[:len(dy)]
			}
			k := &poolKernel{op: op, planes: planes, H: H, W: W, OH: H / 2, OW: W / 2, kh: 2, kw: 2, sh: 2, sw: 2,
				a: buf(x), b: buf(dy), out: buf(out)}
			k.Range(0, 2)
			k.Range(2, planes)
			return out
		}
		for _, op := range []ir.Op{ir.OpMaxPool2D, ir.OpMaxPool2DBackward} {
			want, got := run(op, false), run(op, true)
			for i := range want {
				if math.Float32bits(want[i]) != math.Float32bits(got[i]) && want[i] != got[i] {
					t.Fatalf("%v %dx%d: element %d = %v, want %v", op, H, W, i, got[i], want[i])
				}
			}
		}
	}
}

// TestIm2colVector compares the vector im2col and col2im (stride 1 along
// rows) with the portable loops on geometries with padding, a vertical
// stride and dilation.
func TestIm2colVector(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	defer func(s bool) { simdOn = s }(simdOn)
	r := rand.New(rand.NewSource(3))
	for _, at := range []ir.Conv2DAttr{
		{Stride: [2]int{1, 1}, Padding: [2]int{2, 2}, Dilation: [2]int{1, 1}},
		{Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}},
		{Stride: [2]int{2, 1}, Padding: [2]int{1, 3}, Dilation: [2]int{2, 1}},
		{Stride: [2]int{1, 1}, Padding: [2]int{0, 1}, Dilation: [2]int{1, 2}},
	} {
		x := ir.Shape{1, 3, 17, 21}
		w := ir.Shape{4, 3, 5, 3}
		oh := (x[2]+2*at.Padding[0]-at.Dilation[0]*(w[2]-1)-1)/at.Stride[0] + 1
		ow := (x[3]+2*at.Padding[1]-at.Dilation[1]*(w[3]-1)-1)/at.Stride[1] + 1
		g := newConvGeom(at, x, w, ir.Shape{1, 4, oh, ow})
		if g.minPiece() < 8 {
			t.Fatalf("%+v: pieces of %d", at, g.minPiece())
		}
		xs := make([]float32, x.NumElements())
		for i := range xs {
			xs[i] = float32(r.NormFloat64())
		}
		want, got := make([]float32, g.ckk()*g.p()), make([]float32, g.ckk()*g.p())
		simdOn = false
		g.im2col(want, xs)
		simdOn = true
		g.im2col(got, xs)
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("%+v: im2col element %d = %v, want %v", at, i, got[i], want[i])
			}
		}
		dw, dg := make([]float32, len(xs)), make([]float32, len(xs))
		simdOn = false
		g.col2im(dw, want)
		simdOn = true
		g.col2im(dg, want)
		for i := range dw {
			if dw[i] != dg[i] {
				t.Fatalf("%+v: col2im element %d = %v, want %v", at, i, dg[i], dw[i])
			}
		}
	}
}

// TestAddDots checks addDots (gemm.Dot4x3AVX2 and its edge tiles) against
// float64 dot products.
func TestAddDots(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(4))
	for _, s := range [][3]int{{6, 25, 784}, {16, 150, 100}, {1, 1, 8}, {5, 7, 13}, {4, 3, 9}} {
		m, n, k := s[0], s[1], s[2]
		a, b := make([]float32, m*k), make([]float32, n*k)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		c := make([]float32, m*n)
		addDots(c, a, b, m, n, k, k, 1, 0, 0, true)
		addDots(c, a, b, m, n, k, k, 1, 0, 0, false)
		for i := range m {
			for j := range n {
				w := 0.0
				for q := range k {
					w += float64(a[i*k+q]) * float64(b[j*k+q])
				}
				if d := math.Abs(float64(c[i*n+j]) - 2*w); d > 1e-5*float64(k) {
					t.Fatalf("%v: c[%d,%d] = %v, want %v", s, i, j, c[i*n+j], 2*w)
				}
			}
		}
	}
}

// TestAddDotsSegments checks addDots over several segments (samples).
func TestAddDotsSegments(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(5))
	m, n, k, nseg, as, bs := 6, 25, 100, 5, 700, 2600
	a, b := make([]float32, nseg*as), make([]float32, nseg*bs)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	c := make([]float32, m*n)
	addDots(c, a, b, m, n, k, k, nseg, as, bs, true)
	for i := range m {
		for j := range n {
			w := 0.0
			for s := range nseg {
				for q := range k {
					w += float64(a[s*as+i*k+q]) * float64(b[s*bs+j*k+q])
				}
			}
			if d := math.Abs(float64(c[i*n+j]) - w); d > 1e-5*float64(k*nseg) {
				t.Fatalf("c[%d,%d] = %v, want %v", i, j, c[i*n+j], w)
			}
		}
	}
}

// TestSigTanh checks the vector sigmoid and tanh against float64 over
// [-100, 100] (both tails, the polynomial's range near 0 and its edge)
// and on ±0, ±Inf and NaN.
func TestSigTanh(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	n := 40003
	x := make([]float32, 0, n+16)
	for i := range n {
		v := -100 + 200*float64(i)/float64(n-1)
		if i%2 == 1 {
			v /= 500 // dense near 0
		}
		x = append(x, float32(v))
	}
	x = append(x, 0.125, -0.125, 0.12499999, float32(math.Copysign(0, -1)), 0, 1e-30, -1e-30, 9.5,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 88.5, -88.5, 200, -200, 3)
	o := make([]float32, len(x))
	for _, act := range []gemm.Activation{gemm.ActSigmoid, gemm.ActTanh} {
		sigTanhF32(o, x, act)
		for i, e := range x {
			v := float64(e)
			want := 1 / (1 + math.Exp(-v))
			if act == gemm.ActTanh {
				want = math.Tanh(v)
			}
			got := float64(o[i])
			switch {
			case math.IsNaN(want):
				if !math.IsNaN(got) {
					t.Errorf("%v(%v) = %v, want NaN", act, e, got)
				}
			case math.Abs(got-want) > 1e-6*math.Abs(want)+1e-37:
				t.Errorf("%v(%v) = %v, want %v", act, e, got, want)
			case want == 0 && math.Signbit(got) != math.Signbit(want):
				t.Errorf("%v(%v) = %v, want %v (sign)", act, e, got, want)
			}
		}
	}
}

// TestSumColsVector compares the vector column sums of reduce_to ([rows,
// n] → [n], the bias gradient) with the portable loop, bit for bit, on
// one and two cores (the split by columns leaves a remainder to the last
// chunk) and widths with and without a tail of fewer than 16 columns;
// the large ones take colSumBlocks' prefetching path (a row count that
// is not a whole number of blocks too).
func TestSumColsVector(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	defer func(s bool) { simdOn = s }(simdOn)
	r := rand.New(rand.NewSource(5))
	for _, s := range [][2]int{{64, 256}, {64, 128}, {1, 32}, {5, 47}, {3, 48}, {300, 50}, {7, 33}, {2048, 512}, {9, 80}, {2048, 128}, {1001, 70}} {
		rows, n := s[0], s[1]
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		x := must(b.Input("x", ir.RoleData, f32(rows, n)))
		g.AddOutput("y", must(b.ReduceTo(x, ir.Shape{n})))
		xs := make([]float32, rows*n)
		for i := range xs {
			// Magnitudes 2^±20 apart, so that float32 additions would round.
			xs[i] = float32(r.NormFloat64() * math.Exp2(float64(r.Intn(41)-20)))
		}
		for _, threads := range []int{1, 2} {
			var outs [2][]float32
			for vi, vec := range []bool{false, true} {
				simdOn = vec
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				copy(p.Float32("x"), xs)
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				outs[vi] = append([]float32(nil), p.Float32("y")...)
			}
			for i := range outs[0] {
				if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
					t.Fatalf("%dx%d, %d threads: column %d = %v, want %v", rows, n, threads, i, outs[1][i], outs[0][i])
				}
			}
		}
	}
}

// TestBinaryF32Vector checks the AVX2 add, sub and mul of unit-stride
// float32 operands against the scalar loop bit for bit (NaNs with their
// payloads, ±Inf, ±0, subnormals), on lengths around the vector widths
// of 8 and 32, at unaligned offsets, and in place (o is x).
func TestBinaryF32Vector(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	defer func(s bool) { simdOn = s }(simdOn)
	r := rand.New(rand.NewSource(5))
	special := []float32{float32(math.NaN()), math.Float32frombits(0x7fc12345), math.Float32frombits(0xffa00001),
		float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e-40, -3e-39, math.MaxFloat32}
	draw := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			if r.Intn(8) == 0 {
				x[i] = special[r.Intn(len(special))]
			} else {
				x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.Intn(9)-4)))
			}
		}
		return x
	}
	for _, op := range []ir.Op{ir.OpAdd, ir.OpSub, ir.OpMul} {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 517} {
			for _, off := range []int{0, 1, 3} {
				x, y := draw(n+off), draw(n+off)
				var want, got []float32
				for _, on := range []bool{false, true} {
					simdOn = on
					o := make([]float32, n+off)
					binaryInner(op, o[off:], x[off:], 1, y[off:], 1)
					if on {
						got = o
					} else {
						want = o
					}
				}
				inplace := append([]float32(nil), x...)
				simdOn = true
				binaryInner(op, inplace[off:], inplace[off:], 1, y[off:], 1)
				for i := off; i < n+off; i++ {
					w := math.Float32bits(want[i])
					same := func(g uint32) bool {
						if g == w {
							return true
						}
						// Of two NaN operands, x86 returns the first
						// one's (quieted); which one Go's compiled
						// scalar loop puts first is the compiler's
						// choice (it differs under -race): either is
						// right.
						xi, yi := x[i], y[i]
						q := uint32(0x00400000)
						return xi != xi && yi != yi && (g == math.Float32bits(xi)|q || g == math.Float32bits(yi)|q)
					}
					if g := math.Float32bits(got[i]); !same(g) {
						t.Fatalf("%v n=%d off=%d [%d]: %v %v %v: vector %#x, scalar %#x", op, n, off, i, x[i], op, y[i], g, w)
					}
					if g := math.Float32bits(inplace[i]); !same(g) {
						t.Fatalf("%v n=%d off=%d [%d] in place: vector %#x, scalar %#x", op, n, off, i, g, w)
					}
				}
			}
		}
	}
}

// TestExpSum2 checks the two-row exp (expSum2, attention's softmax)
// against expSum row by row, bit for bit: values and sums, in place and
// not, on lengths around the vector width, with different shifts, NaN
// and values past the clamp bounds.
func TestExpSum2(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(9))
	for _, n := range []int{8, 9, 15, 16, 17, 64, 67} {
		for _, inPlace := range []bool{false, true} {
			x0, x1 := make([]float32, n), make([]float32, n)
			for i := range n {
				x0[i], x1[i] = float32(r.NormFloat64()*8), float32(r.NormFloat64()*3-1)
			}
			x0[n/2], x1[n-1] = 100, float32(math.NaN())
			x1[0] = -200
			sh0, sh1 := maxF32(x0), float32(0.75)
			w0, w1 := make([]float32, n), make([]float32, n)
			ws0, ws1 := expSum(w0, x0, sh0), expSum(w1, x1, sh1)
			o0, o1 := make([]float32, n), make([]float32, n)
			if inPlace {
				o0, o1 = append([]float32(nil), x0...), append([]float32(nil), x1...)
				x0, x1 = o0, o1
			}
			s0, s1 := expSum2(o0, x0, o1, x1, sh0, sh1)
			if math.Float32bits(s0) != math.Float32bits(ws0) || math.Float32bits(s1) != math.Float32bits(ws1) {
				t.Fatalf("n=%d in place %v: sums %v %v, want %v %v", n, inPlace, s0, s1, ws0, ws1)
			}
			for i := range n {
				if math.Float32bits(o0[i]) != math.Float32bits(w0[i]) || math.Float32bits(o1[i]) != math.Float32bits(w1[i]) {
					t.Fatalf("n=%d in place %v [%d]: %v %v, want %v %v", n, inPlace, i, o0[i], o1[i], w0[i], w1[i])
				}
			}
		}
	}
}

// BenchmarkColSumCold times a bias gradient's column sums, [2048, 128] →
// [128], of x that 16 MiB of other writes have pushed out of L2 and in
// part of L3 (W4's q/k/v gradients, read after attention_backward), with
// and without colSumBlocks' prefetch.
func BenchmarkColSumCold(b *testing.B) {
	if !hasAVX2FMA {
		b.Skip("no AVX2")
	}
	rows, n := 2048, 128
	x := make([]float32, rows*n)
	for i := range x {
		x[i] = float32(i % 13)
	}
	acc := make([]float64, n)
	junk := make([]float32, 4<<20)
	for _, pf := range []bool{false, true} {
		name := "plain"
		if pf {
			name = "prefetch"
		}
		b.Run(name, func(b *testing.B) {
			defer func(o bool) { colSumPrefetch = o }(colSumPrefetch)
			colSumPrefetch = pf
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				for i := 0; i < len(junk); i += 16 {
					junk[i]++
				}
				b.StartTimer()
				c0 := cputime.Thread()
				clear(acc)
				colSumBlocks(acc, x, rows, n, n)
				cpu += cputime.Thread() - c0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
		})
	}
}
