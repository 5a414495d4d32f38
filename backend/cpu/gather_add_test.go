package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// gatherAdds counts the adds that compute their gather (fuseGatherAdd).
func gatherAdds(p *Program) int {
	n := 0
	for _, s := range flatSteps(p) {
		if _, ok := s.k.(*gatherAdd); ok {
			n++
		}
	}
	return n
}

// TestGatherAddBitIdentical: the token embeddings' gather computed by
// the add of the position embeddings gives the same bits (3 training
// steps of every stage case, W4 among them, on one core and on two).
func TestGatherAddBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { gatherAddOn = on }, gatherAdds, 0)
	}
}

// TestGatherAddW4: W4 and W5 add the position embeddings to the gathered
// token embeddings in one step.
func TestGatherAddW4(t *testing.T) {
	for tr := range 2 {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 32, true)
		p, err := Compile(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n := gatherAdds(p); n != 1 {
			t.Errorf("train %d: %d gathers fused into their add, want 1", tr, n)
		}
	}
}

// TestGatherAdd: gather then add, fused and not, on one core and two:
// the same bits, with y the result's shape, its last two dims (the
// position embeddings), one row, y first or second, rows that are and
// are not multiples of 8; not fused where the gather has another reader,
// where y would broadcast within a row, or for an int gather; an id out
// of range is the gather's error either way.
func TestGatherAdd(t *testing.T) {
	defer func() { gatherAddOn = true }()
	r := rand.New(rand.NewSource(7))
	for _, c := range []struct {
		b, tt, d  int
		y         []int // y's shape
		yFirst    bool
		reuse     bool // the gather is also an output
		wantFused int
	}{
		{4, 6, 8, []int{6, 8}, false, false, 1},
		{4, 6, 13, []int{6, 13}, true, false, 1},
		{3, 5, 16, []int{3, 5, 16}, false, false, 1},
		{2, 64, 128, []int{128}, false, false, 1},
		{4, 6, 8, []int{6, 8}, false, true, 0},
		{4, 6, 8, []int{6, 1}, false, false, 0},
	} {
		name := fmt.Sprintf("%dx%dx%d y%v first=%v reuse=%v", c.b, c.tt, c.d, c.y, c.yFirst, c.reuse)
		const vocab = 11
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		table := must(b.Input("table", ir.RoleData, f32(vocab, c.d)))
		ids := must(b.Input("ids", ir.RoleData, ir.Type{DType: ir.I32, Shape: ir.Shape{c.b, c.tt}}))
		y := must(b.Input("y", ir.RoleData, f32(c.y...)))
		e := must(b.Gather(table, ids))
		var s *ir.Value
		if c.yFirst {
			s = must(b.Add(y, e))
		} else {
			s = must(b.Add(e, y))
		}
		g.AddOutput("s", s)
		if c.reuse {
			g.AddOutput("e", e)
		}
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		tv, yv := make([]float32, vocab*c.d), make([]float32, c.b*c.tt*c.d)
		for i := range tv {
			tv[i] = float32(r.NormFloat64())
		}
		for i := range yv {
			yv[i] = float32(r.NormFloat64())
		}
		iv := make([]int32, c.b*c.tt)
		for i := range iv {
			iv[i] = int32(r.Intn(vocab))
		}
		for _, threads := range []int{1, 2} {
			var outs [2][]float32
			for i, on := range []bool{false, true} {
				gatherAddOn = on
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				if n := gatherAdds(p); on && n != c.wantFused {
					t.Fatalf("%s: %d fused, want %d", name, n, c.wantFused)
				}
				copy(p.Float32("table"), tv)
				copy(p.Float32("y"), yv)
				copy(p.Int32("ids"), iv)
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				outs[i] = append([]float32(nil), p.Float32("s")...)
				p.Int32("ids")[len(iv)-1] = vocab
				if err := p.Run(); err == nil || !strings.Contains(err.Error(), "out of range") {
					t.Fatalf("%s: id %d: %v, want an out-of-range error", name, vocab, err)
				}
			}
			for j, e := range outs[0] {
				if math.Float32bits(outs[1][j]) != math.Float32bits(e) {
					t.Fatalf("%s threads=%d: s[%d] = %v fused, %v not", name, threads, j, outs[1][j], e)
				}
			}
		}
	}
}
