package cpu

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/ir"
)

// int8MLP is x[m, 30] |> fc (30→21) |> relu |> fc2 (21→5), optimized
// (the products become matmul_bias with the relu in the epilogue).
func int8MLP(t *testing.T, m int) *ir.Graph {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x := must(b.Input("x", ir.RoleData, f32(m, 30)))
	h, _ := linear(b, x, "fc", 30, 21)
	h = must(b.Relu(h))
	y, _ := linear(b, h, "fc2", 21, 5)
	g.AddOutput("out", y)
	if err := ir.Optimize(g, ir.PipelineOptions{}); err != nil {
		t.Fatal(err)
	}
	return g
}

func randF32(rng *rand.Rand, n int, s float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * s)
	}
	return v
}

// int8Of quantizes a [n, k] weight per row, as runtime/train does.
func int8Of(n, k int, w []float32, in gemm.QParams) *Int8Linear {
	q := make([]int8, n*k)
	scale := make([]float32, n)
	for r := 0; r < n; r++ {
		var amax float64
		for _, v := range w[r*k : (r+1)*k] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		scale[r] = float32(amax / 127)
		for j := 0; j < k; j++ {
			q[r*k+j] = int8(math.RoundToEven(float64(w[r*k+j] / scale[r])))
		}
	}
	return &Int8Linear{W: gemm.PackQWeights(k, n, q, k, true, scale), In: in}
}

// TestInt8Products: with Options.Int8, both products of an MLP run in
// int8 with the bias and relu in the epilogue, giving exactly what
// quantizing the input and calling Qgemm gives, without allocating;
// Observe sees each product's input.
func TestInt8Products(t *testing.T) {
	const m = 9
	rng := rand.New(rand.NewSource(1))
	x, w1, b1, w2, b2 := randF32(rng, m*30, 1), randF32(rng, 21*30, 0.3), randF32(rng, 21, 0.1), randF32(rng, 5*21, 0.3), randF32(rng, 5, 0.1)
	q1 := int8Of(21, 30, w1, gemm.QParamsFor(-3, 3))
	q2 := int8Of(5, 21, w2, gemm.QParamsFor(0, 4))

	g := int8MLP(t, m)
	p, err := Compile(g, Options{Int8: map[string]*Int8Linear{"fc.weight": q1, "fc2.weight": q2}})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string][]float32{"x": x, "fc.weight": w1, "fc.bias": b1, "fc2.weight": w2, "fc2.bias": b2} {
		if err := p.Bind(name, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	got := p.Float32("out")
	// Planned once: a run allocates nothing (fc writes fc2's uint8
	// input directly, an int8 region).
	if allocs := testing.AllocsPerRun(10, func() { p.Run() }); allocs != 0 {
		t.Errorf("an int8 run allocates %v times", allocs)
	}
	if k, ok := p.steps[0].k.(*matmulInt8); !ok || !k.toU8 || k.next == nil || !k.next.packedIn {
		t.Errorf("fc is %T, not an int8 product writing fc2's packed uint8 input", p.steps[0].k)
	}

	xq := make([]uint8, m*30)
	q1.In.QuantizeSlice(xq, x)
	h := make([]float32, m*21)
	gemm.Qgemm(m, xq, 30, q1.In, q1.W, &gemm.QEpilogue{Bias: b1, Act: gemm.ActReLU}, h, 21)
	hq := make([]uint8, m*21)
	q2.In.QuantizeSlice(hq, h)
	want := make([]float32, m*5)
	gemm.Qgemm(m, hq, 21, q2.In, q2.W, &gemm.QEpilogue{Bias: b2}, want, 5)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("out[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// The same bits when fc writes fc2's input row-major and fc2 packs it.
	int8PackedChainOn = false
	p, err = Compile(int8MLP(t, m), Options{Int8: map[string]*Int8Linear{"fc.weight": q1, "fc2.weight": q2}})
	int8PackedChainOn = true
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string][]float32{"x": x, "fc.weight": w1, "fc.bias": b1, "fc2.weight": w2, "fc2.bias": b2} {
		p.Bind(name, v)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if k := p.steps[0].k.(*matmulInt8); k.next != nil || !k.toU8 {
		t.Errorf("without the packed chain: fc next %v, uint8 out %v", k.next != nil, k.toU8)
	}
	for i, v := range p.Float32("out") {
		if math.Float32bits(v) != math.Float32bits(want[i]) {
			t.Fatalf("without the packed chain: out[%d] = %v, want %v", i, v, want[i])
		}
	}

	// Calibration: the observer sees x for fc.weight and the relu output
	// (non-negative) for fc2.weight.
	seen := map[string][]float32{}
	g = int8MLP(t, m)
	p, err = Compile(g, Options{Observe: func(name string, v []float32) { seen[name] = append([]float32(nil), v...) }})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string][]float32{"x": x, "fc.weight": w1, "fc.bias": b1, "fc2.weight": w2, "fc2.bias": b2} {
		p.Bind(name, v)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || len(seen["fc.weight"]) != m*30 || seen["fc.weight"][7] != x[7] || len(seen["fc2.weight"]) != m*21 {
		t.Fatalf("observed %d products: fc %d values, fc2 %d", len(seen), len(seen["fc.weight"]), len(seen["fc2.weight"]))
	}
	for _, v := range seen["fc2.weight"] {
		if v < 0 {
			t.Fatalf("fc2's input holds %v: not the relu output", v)
		}
	}

	// An int8 weight that does not fit the product is an error.
	_, err = Compile(int8MLP(t, m), Options{Int8: map[string]*Int8Linear{"fc.weight": q2}})
	if err == nil || !strings.Contains(err.Error(), "int8 weight fc.weight (5×21) does not fit") {
		t.Fatalf("mis-shaped int8 weight: %v", err)
	}
}
