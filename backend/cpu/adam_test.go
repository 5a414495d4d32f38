package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestFusedAdam runs three Adam(W) steps of the W1 MLP with the fused
// update off, on with the portable kernel (bit-identical to the three
// separate kernels) and on with the vector kernel (float32 arithmetic,
// within the 1e-4 of the tests against ir/eval), and checks that every update was fused.
func TestFusedAdam(t *testing.T) {
	defer func(f, v bool) { fuseAdamOn, adamVector = f, v }(fuseAdamOn, adamVector)
	for _, wd := range []float64{0, 0.01} {
		run := func(fuse, vector bool) map[string][]float64 {
			fuseAdamOn, adamVector = fuse, vector
			g := mlpGraphOpt(8, ir.Optimizer{Kind: ir.Adam, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: wd})
			p, err := Compile(g, Options{})
			if err != nil {
				t.Fatal(err)
			}
			fused := 0
			for _, s := range flatSteps(p) {
				if _, ok := s.k.(*adamKernel); ok {
					fused++
				}
			}
			if want := 6; fuse && fused != want {
				t.Fatalf("%d fused updates, want %d", fused, want)
			}
			r := rand.New(rand.NewSource(5))
			vals := initInputs(g, r)
			bindAll(t, p, g, vals)
			p.SetScalar("lr", 1e-2)
			for step := 1; step <= 3; step++ {
				p.SetScalar("step", float64(step))
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
			}
			out := map[string][]float64{}
			for _, v := range g.Inputs {
				if v.Type.DType == ir.F32 && (v.Role() == ir.RoleParam || v.Role() == ir.RoleState) {
					out[v.Name] = values(p.inputs[v.Name])
				}
			}
			return out
		}
		ref, port := run(false, false), run(true, false)
		for name, w := range ref {
			for i := range w {
				if math.Float32bits(float32(w[i])) != math.Float32bits(float32(port[name][i])) {
					t.Fatalf("wd=%g portable: %s[%d] = %v, unfused %v", wd, name, i, port[name][i], w[i])
				}
			}
		}
		if !hasAVX2FMA {
			continue
		}
		vec := run(true, true)
		for name, w := range ref {
			if err := compareTensor(fmt.Sprintf("wd=%g vector %s", wd, name), ir.F32, vec[name], w, 1e-4); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestPortable runs the per-op and training-step comparisons with
// ir/eval again with the vector kernels of simd_amd64.s turned off, so
// that the portable loops stay tested on machines that have AVX2.
func TestPortable(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("the portable loops are the only ones here")
	}
	defer func(s, a bool) { simdOn, adamVector = s, a }(simdOn, adamVector)
	simdOn, adamVector = false, false
	t.Run("ops", TestOps)
	t.Run("steps", TestTrainSteps)
}

// TestAdamThreadIndependent: the fused update gives the same bits on 1,
// 2 and 3 cores for a parameter whose even split does not fall on a
// multiple of 8 elements (513×4 = 2052: halves of 1026). The vector
// kernel and the portable tail differ in the last bit, so which elements
// take the tail must not depend on the split.
func TestAdamThreadIndependent(t *testing.T) {
	if !adamVector {
		t.Skip("the portable update alone is elementwise")
	}
	build := func() *ir.Graph {
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		x := must(b.Input("image", ir.RoleData, f32(8, 513)))
		y := must(b.Input("label", ir.RoleData, i32(8)))
		h, ps := linear(b, x, "fc", 513, 4)
		return trainStep(g, b, h, y, ps)
	}
	var ref map[string][]float64
	for _, threads := range []int{1, 2, 3} {
		got, _ := runStepsOn(t, build(), 3, threads)
		if ref == nil {
			ref = got
			continue
		}
		for name, w := range ref {
			for i := range w {
				if math.Float64bits(w[i]) != math.Float64bits(got[name][i]) {
					t.Fatalf("%d threads: %s[%d] = %v, %v on 1", threads, name, i, got[name][i], w[i])
				}
			}
		}
	}
}
