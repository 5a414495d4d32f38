package cpu

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// groupSteps counts p's groups of products of one x and the products in
// them.
func groupSteps(p *Program) (groups, products int) {
	return countGroups(p, false)
}

// countGroups counts p's groups stacked by rows (rows) or by columns and
// the products in them.
func countGroups(p *Program, rows bool) (groups, products int) {
	for _, s := range flatSteps(p) {
		if g, ok := s.k.(*matmulGroup); ok && g.rows == rows {
			groups++
			products += len(g.ks)
		}
	}
	return
}

// TestGroupRowsBitIdentical: grouping the products of several x by one y
// (groupsRows) changes no bit of a training step, on one core and two;
// W1, whose products all read different operands, groups none.
func TestGroupRowsBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { groupRowsOn = on }, func(p *Program) int {
			n, _ := countGroups(p, true)
			return n
		}, 0)
	}
}

// TestGroupRowsW4W5: the weight gradients of q, k and v (dqᵀ·x, dkᵀ·x,
// dvᵀ·x, each with its bias gradient summed as it packs dq, dk or dv:
// fuseBiasSums) of every trained layer run as one group of three stacked
// by rows (W4: both layers; W5: block 1), with the bits of the products
// one by one.
func TestGroupRowsW4W5(t *testing.T) {
	defer func(b int) { groupRowsOn, biasSumsMinBytes = true, b }(biasSumsMinBytes)
	biasSumsMinBytes = 0 // (4 sequences: dq of 128 KiB)
	for tr, c := range []struct {
		name   string
		groups int
	}{{"w4", 2}, {"w5", 1}} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 4, true)
		p := onOffSteps(t, g, c.name, func(on bool) { groupRowsOn = on })
		groups, products := countGroups(p, true)
		if groups != c.groups || products != 3*c.groups {
			t.Errorf("%s: %d groups of %d products stacked by rows, want %d of %d", c.name, groups, products, c.groups, 3*c.groups)
		}
		sums := 0
		for _, s := range flatSteps(p) {
			if g, ok := s.k.(*matmulGroup); ok && g.rows {
				for _, k := range g.ks {
					if k.sums != nil {
						sums++
					}
				}
			}
		}
		if sums != products {
			t.Errorf("%s: %d of the %d products stacked by rows sum their bias gradient", c.name, sums, products)
		}
	}
}

// TestGroupProductsBitIdentical: grouping the products of one input
// (groupProducts) changes no bit of a training step, on one core and
// two; W4's layers each group their q, k and v projections, and W1,
// whose products all read different inputs, groups none.
func TestGroupProductsBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { groupProductsOn = on }, func(p *Program) int {
			n, _ := groupSteps(p)
			return n
		}, 0)
	}
}

// TestGroupProductsW4W5: the forward's q, k and v projections of every
// layer run as one group of three (W5: the frozen layer's too), with the
// bits of the products one by one.
func TestGroupProductsW4W5(t *testing.T) {
	defer func() { groupProductsOn = true }()
	for tr, name := range []string{"w4", "w5"} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 4, true)
		p := onOffSteps(t, g, name, func(on bool) { groupProductsOn = on })
		if groups, products := groupSteps(p); groups != 2 || products != 6 {
			t.Errorf("%s: %d groups of %d products, want 2 of 6", name, groups, products)
		}
	}
}

// siblingsGraph is x [n, 40] times four weights: a plain product by W1ᵀ
// (17 columns), two with a bias (50 columns, none; 9 columns, ReLU), a
// fourth by W4 as stored (not transposed: not a sibling of the others),
// and the second product doubled before the third (a step in between,
// whose storage stageable knows). With keep, the second product is an
// output too; without, the memory plan gives its storage to the third
// once the doubling has read it.
func siblingsGraph(n int, keep bool) *ir.Graph {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x := must(b.Input("x", ir.RoleData, f32(n, 40)))
	in := func(name string, s ...int) *ir.Value { return must(b.Input(name, ir.RoleParam, f32(s...))) }
	a := must(b.MatMul(x, in("w1", 17, 40), ir.MatMulAttr{TransposeB: true}))
	c := must(b.MatMulBias(x, in("w2", 50, 40), in("b2", 50), ir.MatMulBiasAttr{TransposeB: true}))
	th := must(b.Add(c, c))
	d := must(b.MatMulBias(x, in("w3", 9, 40), in("b3", 9), ir.MatMulBiasAttr{TransposeB: true, Act: ir.Activation{Op: ir.OpRelu}}))
	e := must(b.MatMul(x, in("w4", 40, 8), ir.MatMulAttr{}))
	outs := []*ir.Value{a, th, d, e}
	if keep {
		outs = append(outs, c)
	}
	for i, v := range outs {
		g.AddOutput(fmt.Sprint("y", i), v)
	}
	return g
}

// TestGroupProductsSiblings: products of one x with and without a bias
// or an activation, of widths that are not whole micro-panels, group
// (the one as stored stays alone), across a step between them, with the
// bits of the products one by one on one core and two; where the third
// product's storage is the second's, read by the step between, the third
// stays in its place.
func TestGroupProductsSiblings(t *testing.T) {
	defer func() { groupProductsOn = true }()
	for _, c := range []struct {
		n    int
		keep bool
	}{{300, true}, {2, true}, {300, false}} {
		n := c.n
		for _, threads := range []int{1, 2} {
			g := siblingsGraph(n, c.keep)
			var outs [2]map[string][]float64
			var progs [2]*Program
			for i, on := range []bool{false, true} {
				groupProductsOn = on
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				bindAll(t, p, g, initInputs(g, rand.New(rand.NewSource(5))))
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				outs[i], progs[i] = map[string][]float64{}, p
				for _, o := range g.Outputs {
					outs[i][o.Name] = values(p.outputs[o.Name])
				}
			}
			want := 3
			if !c.keep {
				want = 2
			}
			if groups, products := groupSteps(progs[1]); groups != 1 || products != want {
				t.Errorf("n=%d keep=%v: %d groups of %d products, want 1 of %d", n, c.keep, groups, products, want)
			}
			sameBits(t, fmt.Sprintf("n=%d, %d threads, grouped", n, threads), outs[0], outs[1])
		}
	}
}
