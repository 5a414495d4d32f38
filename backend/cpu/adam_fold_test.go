package cpu

import (
	"math"
	"math/rand"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// adamFolds counts the Adam updates folded into their products.
func adamFolds(p *Program) int {
	n := 0
	for _, s := range flatSteps(p) {
		if mm, ok := s.k.(*matmulF32); ok && mm.adam != nil {
			n++
		}
	}
	return n
}

// TestAdamFoldBitIdentical: the update run by its weight gradient's
// epilogue gives the parameters and moments of the update run after the
// product (W1, its batch of 8, the LeNet, the MLP examples, W4), on one
// core and two. W1 folds fc1's update only: fc2's and fc3's weights are
// read by their input gradients, which the weight gradients run beside.
func TestAdamFoldBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { adamFoldOn = on }, adamFolds, 1)
	}
}

// TestAdamFoldCases: AdamW and a layer whose rows do
// not fall on multiples of 8 (513 wide, 2052 elements: the vector
// kernel's padded partial vectors and the portable tail in the product's
// blocks) fold with the same bits; W5 (the fine-tune), Adam with L2
// weight decay and clipped gradients do not fold (the update's gradient
// is not the product's), and give the same bits.
func TestAdamFoldCases(t *testing.T) {
	defer func() { adamFoldOn = true }()
	odd := func() *ir.Graph {
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		x := must(b.Input("image", ir.RoleData, f32(8, 513)))
		y := must(b.Input("label", ir.RoleData, i32(8)))
		h, ps := linear(b, x, "fc", 513, 4)
		return trainStep(g, b, h, y, ps)
	}
	adam := ir.Optimizer{Kind: ir.Adam, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	adamW := adam
	adamW.Kind, adamW.WeightDecay = ir.AdamW, 0.01
	l2 := adam
	l2.WeightDecay = 0.01
	clip := adam
	clip.ClipNorm = 1
	for _, c := range []struct {
		name string
		g    *ir.Graph
		want int // folded updates
	}{
		{"W1 AdamW", mlpGraphOpt(64, adamW), 1},
		{"odd rows", odd(), 1},
		// Every weight of W5 is read by its input gradient (none is a
		// first layer's: the embedding is a gather): nothing folds.
		{"W5 at batch 32", stepGraph(t, "bench/w4_transformer.enc", 1, 0, 32, true), 0},
		{"W1 Adam with L2 decay", mlpGraphOpt(64, l2), 0},
		{"W1 clipped", mlpGraphOpt(64, clip), 0},
	} {
		p := onOffSteps(t, c.g, c.name, func(on bool) { adamFoldOn = on })
		n := adamFolds(p)
		t.Logf("%s: %d folded", c.name, n)
		if n != c.want {
			t.Errorf("%s: %d updates folded, want %d", c.name, n, c.want)
		}
	}
}

// TestAdamFoldLaterReader: an update is not folded where a step after
// its product reads the parameter: W1's steps in program order (no
// stages) with fc2's input gradient, which reads fc2's weight, moved
// after fc2's weight gradient.
func TestAdamFoldLaterReader(t *testing.T) {
	defer func(s, a bool) { stagesOn, adamFoldOn = s, a }(stagesOn, adamFoldOn)
	stagesOn, adamFoldOn = false, false
	p, err := Compile(mlpGraph(64), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	var w2 *buffer
	for _, v := range p.g.Inputs {
		if v.Name == "fc2.weight" {
			w2 = p.bufs[v]
		}
	}
	dx, dw := -1, -1
	for i, s := range p.steps {
		if mm, ok := s.k.(*matmulF32); ok && mm.y == w2 && !mm.transB {
			dx = i
		}
		if a, ok := s.k.(*adamKernel); ok && a.p == w2 {
			for j, t := range p.steps[:i] {
				if mm, ok := t.k.(*matmulF32); ok && mm.out == a.g {
					dw = j
				}
			}
		}
	}
	if dx < 0 || dw < 0 || dx > dw {
		t.Fatalf("fc2's input gradient at %d, weight gradient at %d", dx, dw)
	}
	p.steps[dx], p.steps[dw] = p.steps[dw], p.steps[dx]
	adamFoldOn = true
	p.foldAdamProducts()
	for _, s := range p.steps {
		if mm, ok := s.k.(*matmulF32); ok && mm.adam != nil && mm.adam.k.p == w2 {
			t.Fatalf("fc2's update folded into %s, read after it by its input gradient", s.v.LongString())
		}
	}
	if n := adamFolds(p); n != 1 {
		t.Errorf("%d updates folded, want fc1's", n)
	}
}

// TestAdamSpan: the update of any block of rows and columns of a
// parameter (adamTile: partial vectors, rows not on multiples of 8, the
// last n%8 elements, a chunk's subnormal marks) has the bits of the
// update of the whole parameter at once, on the vector kernel and the
// portable path.
func TestAdamSpan(t *testing.T) {
	defer func(a bool, s float32) { adamVector, adamSmall = a, s }(adamVector, adamSmall)
	for _, vec := range []bool{false, true} {
		if vec && !hasAVX2FMA {
			continue
		}
		adamVector = vec
		for _, small := range []float32{0x1p-120, float32(math.Inf(1))} {
			adamSmall = small
			for _, sh := range [][2]int{{7, 13}, {64, 129}, {5, 1000}, {33, 784}} {
				rows, cols := sh[0], sh[1]
				n := rows * cols
				r := rand.New(rand.NewSource(int64(n)))
				buf := func(x []float32) *buffer { return &buffer{p: unsafe.Pointer(&x[0]), n: len(x), dt: ir.F32} }
				mk := func() (*adamKernel, []float32, []float32, []float32, []float32) {
					p, m, v, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
					for i := range p {
						p[i], g[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
						m[i], v[i] = float32(r.NormFloat64())*0.1, float32(r.Float64())*0.1
						if i%17 == 0 {
							m[i] = 0x1p-130 // subnormal
						}
					}
					lr, step := []float32{1e-3}, []int64{3}
					return &adamKernel{p: buf(p), m: buf(m), v: buf(v), g: buf(g), pool: parallel.New(2),
						lr: &buffer{p: unsafe.Pointer(&lr[0]), n: 1, dt: ir.F32}, step: &buffer{p: unsafe.Pointer(&step[0]), n: 1, dt: ir.I64},
						at: ir.AdamAttr{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}, b1: 0.9, b2: 0.999,
						mark: make([]uint32, n/adamChunk+1)}, p, m, v, g
				}
				r = rand.New(rand.NewSource(int64(n)))
				want, wp, wm, wv, _ := mk()
				r = rand.New(rand.NewSource(int64(n)))
				got, gp, gm, gv, gg := mk()
				// Three steps, the second and third running the chunks
				// the first marked through the marking loops.
				tile := &adamTile{got, cols, make([]atomic.Int32, rows)}
				for step := range 3 {
					if err := want.run(); err != nil {
						t.Fatal(err)
					}
					if err := tile.setup(); err != nil {
						t.Fatal(err)
					}
					if step == 2 { // whole rows, 5 at a time
						for i0 := 0; i0 < rows; i0 += 5 {
							tile.Tile(gg[i0*cols:], cols, i0, 0, min(5, rows-i0), cols)
						}
						continue
					}
					// Blocks of 3 rows by 11 columns, as a product's
					// epilogue would see them, in either order.
					for b := range rows * ((cols + 10) / 11) {
						if step == 1 {
							b = rows*((cols+10)/11) - 1 - b
						}
						i0, j0 := b%((rows+2)/3)*3, b/((rows+2)/3)*11
						if j0 >= cols {
							continue
						}
						m, nn := min(3, rows-i0), min(11, cols-j0)
						tile.Tile(gg[i0*cols+j0:], cols, i0, j0, m, nn)
					}
				}
				for i := range wp {
					if math.Float32bits(wp[i]) != math.Float32bits(gp[i]) || math.Float32bits(wm[i]) != math.Float32bits(gm[i]) ||
						math.Float32bits(wv[i]) != math.Float32bits(gv[i]) {
						t.Fatalf("vector %v, adamSmall %g, %d×%d: element %d: p, m, v = %v %v %v by blocks, %v %v %v at once",
							vec, small, rows, cols, i, gp[i], gm[i], gv[i], wp[i], wm[i], wv[i])
					}
				}
			}
		}
	}
}
