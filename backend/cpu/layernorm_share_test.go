package cpu

import (
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// linkedLayerNorms counts the layernorm backward ops that read their
// forward's row statistics.
func linkedLayerNorms(p *Program) int {
	n := 0
	for _, s := range flatSteps(p) {
		if k, ok := s.k.(*layerNormKernel); ok && k.op != ir.OpLayerNorm && k.saved != nil {
			n++
		}
	}
	return n
}

// TestLayerNormSharedStatsBitIdentical: the backward ops that read the
// statistics their forward kept compute the same bits as those that
// compute them again (3 training steps of every stage case, W4 among
// them, on one core and on two).
func TestLayerNormSharedStatsBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { lnShareOn = on }, linkedLayerNorms, 0)
	}
}

// TestLayerNormSharedStatsW4: every layernorm backward of the W4 step
// (2 blocks × 2 norms × input and weight) and of W5's (block 1 only:
// block 0 is frozen) reads its forward's statistics.
func TestLayerNormSharedStatsW4(t *testing.T) {
	defer func(on bool) { lnBackOn = on }(lnBackOn)
	lnBackOn = false // the ops apart (TestLayerNormBackwardFusedW4: fused, linked)
	for tr, want := range []int{8, 4} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 2, true)
		p, err := Compile(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		backward := 0
		for _, s := range flatSteps(p) {
			if k, ok := s.k.(*layerNormKernel); ok && k.op != ir.OpLayerNorm {
				backward++
			}
		}
		if n := linkedLayerNorms(p); n != want || backward != want {
			t.Errorf("train %d: %d of %d layernorm backward ops linked to their forward, want %d of %d", tr, n, backward, want, want)
		}
	}
}

// TestLayerNormSharedStatsLinks: a backward is linked only to a forward
// on the same x and eps that its dy is computed from (so that the
// forward runs first in every schedule); linked or not, the results are
// the same bits.
func TestLayerNormSharedStatsLinks(t *testing.T) {
	defer func(on, back bool) { lnShareOn, lnBackOn = on, back }(lnShareOn, lnBackOn)
	lnBackOn = false // the ops apart
	r := rand.New(rand.NewSource(5))
	for _, c := range []struct {
		name       string
		dyOfY      bool    // dy computed from the forward's result
		bwdEps     float64 // the backward's eps (the forward's: 1e-5)
		wantLinked int
	}{
		{"linked", true, 1e-5, 2},
		{"independent dy", false, 1e-5, 0},
		{"other eps", true, 1e-3, 0},
	} {
		ins := []in{{t: f32(3, 5, 12)}, {t: f32(12)}, {t: f32(12)}, {t: f32(3, 5, 12)}}
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		var x []*ir.Value
		for i, s := range ins {
			v, err := b.Input(string(rune('a'+i)), ir.RoleData, s.t)
			if err != nil {
				t.Fatal(err)
			}
			x = append(x, v)
		}
		y := must(b.LayerNorm(x[0], x[1], x[2], 1e-5))
		g.AddOutput("y", y)
		dy := x[3]
		if c.dyOfY {
			dy = must(b.Mul(y, x[3]))
		}
		dx := must(b.LayerNormBackwardInput(x[0], x[1], dy, c.bwdEps))
		dw := must(b.LayerNormBackwardWeight(x[0], dy, c.bwdEps))
		g.AddOutput("dx", dx)
		g.AddOutput("dw", dw)
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		var progs [2]*Program
		for i, on := range []bool{true, false} {
			lnShareOn = on
			var err error
			if progs[i], err = Compile(g, Options{Threads: 2}); err != nil {
				t.Fatal(err)
			}
		}
		if n := linkedLayerNorms(progs[0]); n != c.wantLinked {
			t.Fatalf("%s: %d linked, want %d", c.name, n, c.wantLinked)
		}
		sameBitsLinked(t, c.name, r, g, progs, ins, []string{"y", "dx", "dw"})
	}
}
