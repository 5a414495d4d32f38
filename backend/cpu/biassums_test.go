package cpu

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/encc-lang/encc/internal/cputime"
	"github.com/encc-lang/encc/ir"
)

// biasSumsFused counts the products that compute a bias gradient's
// column sums (fuseBiasSums).
func biasSumsFused(p *Program) int {
	n := 0
	for _, s := range flatSteps(p) {
		if k, ok := s.k.(*matmulF32); ok && k.sums != nil {
			n++
		}
		if g, ok := s.k.(*matmulGroup); ok { // (the q/k/v weight gradients: groupsRows)
			for _, k := range g.ks {
				if k.sums != nil {
					n++
				}
			}
		}
	}
	return n
}

// TestBiasSumsBitIdentical: the bias gradients summed by their weight
// gradients' products are the reduce_to's bits, and so is everything
// else (3 training steps of every stage case on one core and on two),
// with every dY taken whatever its size, and with the sizes taken: W1's
// dY of 64 rows stays with its reduce (biasSumsMinBytes).
func TestBiasSumsBitIdentical(t *testing.T) {
	defer func(b int) { biasSumsMinBytes = b }(biasSumsMinBytes)
	for _, min := range []int{0, biasSumsMinBytes} {
		biasSumsMinBytes = min
		w1 := 0
		if min == 0 {
			w1 = 2 // of its 3 layers' bias gradients
		}
		for _, threads := range []int{1, 2} {
			bitIdentical(t, threads, func(on bool) { biasSumsOn = on }, biasSumsFused, w1)
		}
	}
}

// TestBiasSumsW4: at batch 32 every trained projection's bias gradient
// is summed by its weight gradient (W4: q, k, v, o, ff1 and ff2 of 2
// blocks; W5: block 1's six; ff1's is a reduce_to of its own once
// foldGeluProducts takes the GELU backward into ff2's product), and 2 steps of W5 on two cores give the same bits
// fused and not.
func TestBiasSumsW4(t *testing.T) {
	defer func() { biasSumsOn = true }()
	for tr, want := range []int{12, 6} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 32, true)
		p, err := Compile(g, Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		if n := biasSumsFused(p); n != want {
			t.Errorf("train %d: %d bias sums in products, want %d", tr, n, want)
		}
	}
	g := stepGraph(t, "bench/w4_transformer.enc", 1, 0, 32, true)
	onOffSteps(t, g, "W5 at batch 32", func(on bool) { biasSumsOn = on })
}

// TestBiasSumsShapes: reduce_to(dY) and dYᵀ·X, fused and not, on one
// core and two, give the same bits (the sums and the product): the
// reduce before the product and after it, column counts with a
// remainder of 4, several KC slices, a 3-d dY reshaped for the product,
// and dY dying at the product or kept. A step between the two that
// reads the sums keeps them apart.
func TestBiasSumsShapes(t *testing.T) {
	defer func(b int) { biasSumsMinBytes = b }(biasSumsMinBytes)
	biasSumsMinBytes = 0
	r := rand.New(rand.NewSource(5))
	type tc struct {
		dy       []int // dY's shape; its last dim is n
		c        int   // X's columns
		after    bool  // the reduce after the product
		reader   bool  // a step reading the sums between the two
		keep     bool  // dY is an output too
		wantFuse int
	}
	for _, c := range []tc{
		{[]int{37, 45}, 24, false, false, true, 1},
		{[]int{700, 130}, 40, false, false, false, 1},
		{[]int{700, 130}, 40, true, false, false, 1},
		{[]int{4, 64, 128}, 200, false, false, false, 1},
		{[]int{4, 64, 128}, 200, true, false, true, 1},
		{[]int{300, 16}, 9, false, true, false, 0},
		{[]int{300, 16}, 9, true, true, false, 0},
	} {
		n := c.dy[len(c.dy)-1]
		rows := 1
		for _, d := range c.dy[:len(c.dy)-1] {
			rows *= d
		}
		ins := []in{{t: f32(c.dy...)}, {t: f32(c.dy...)}, {t: f32(rows, c.c)}}
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		a := must(b.Input("a", ir.RoleData, ins[0].t))
		d := must(b.Input("d", ir.RoleData, ins[1].t))
		x := must(b.Input("x", ir.RoleData, ins[2].t))
		dy := must(b.Mul(a, d))
		if c.keep {
			g.AddOutput("dy", dy)
		}
		flat := dy
		if len(c.dy) > 2 {
			flat = must(b.Reshape(dy, ir.Shape{rows, n}))
		}
		var bias, prod *ir.Value
		sum := func() {
			bias = must(b.ReduceTo(dy, ir.Shape{n}))
			if c.reader {
				g.AddOutput("sq", must(b.Mul(bias, bias)))
			}
		}
		if !c.after {
			sum()
		}
		prod = must(b.MatMul(flat, x, ir.MatMulAttr{TransposeA: true}))
		if c.after {
			sum()
		}
		g.AddOutput("prod", prod)
		g.AddOutput("bias", bias)
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		vals := [3][]float64{draw(r, ins[0]), draw(r, ins[1]), draw(r, ins[2])}
		for _, threads := range []int{1, 2} {
			var res [2]map[string][]float64
			for i, on := range []bool{false, true} {
				biasSumsOn = on
				p, err := Compile(g, Options{Threads: threads})
				biasSumsOn = true
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				if on {
					want = c.wantFuse
				}
				if f := biasSumsFused(p); f != want {
					t.Fatalf("%+v: %d fused, want %d", c, f, want)
				}
				for k, name := range []string{"a", "d", "x"} {
					bind(t, p, name, ins[k].t, vals[k])
				}
				for range 2 { // the sums are set, not added to
					if err := p.Run(); err != nil {
						t.Fatal(err)
					}
				}
				res[i] = map[string][]float64{}
				for _, o := range g.Outputs {
					res[i][o.Name] = values(p.outputs[o.Name])
				}
			}
			sameBits(t, fmt.Sprintf("%+v threads=%d, fused", c, threads), res[0], res[1])
		}
	}
}

// BenchmarkBiasSumsW5 times a W5 projection's bias and weight gradients,
// reduce_to(dY) and dYᵀ·X of dY [2048, 128] (−a, computed first) and X
// [2048, 128], with dY
// and X pushed out of L2 and in part of L3 by 16 MiB of other writes
// before each run (they come from memory in the step), in process CPU
// per run (cpu-µs/run, both threads and the pool's spinning), fused
// (fuseBiasSums) and not; sub-benchmarks alternate within each -count
// round.
func BenchmarkBiasSumsW5(b *testing.B) {
	g := ir.NewGraph()
	bl := ir.NewBuilder(g)
	a := must(bl.Input("a", ir.RoleData, f32(2048, 128)))
	x := must(bl.Input("x", ir.RoleData, f32(2048, 128)))
	dy := must(bl.Neg(a)) // in the arena, as a gradient is
	g.AddOutput("bias", must(bl.ReduceTo(dy, ir.Shape{128})))
	g.AddOutput("w", must(bl.MatMul(dy, x, ir.MatMulAttr{TransposeA: true})))
	junk := make([]float32, 4<<20)
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			biasSumsOn = on
			p, err := Compile(g, Options{})
			biasSumsOn = true
			if err != nil {
				b.Fatal(err)
			}
			if f := biasSumsFused(p); f != map[bool]int{false: 0, true: 1}[on] {
				b.Fatalf("%d fused", f)
			}
			r := rand.New(rand.NewSource(1))
			for _, n := range []string{"a", "x"} {
				v := p.Float32(n)
				for i := range v {
					v[i] = float32(r.NormFloat64())
				}
			}
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				for i := 0; i < len(junk); i += 16 {
					junk[i]++
				}
				b.StartTimer()
				c0 := cputime.Process()
				if err := p.Run(); err != nil {
					b.Fatal(err)
				}
				cpu += cputime.Process() - c0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/run")
		})
	}
}
