package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/ir"
)

// int8ConvNetAttrs are the two convolutions of int8ConvNet with a ks×ks
// first kernel: the first with padding and unit stride (kernel rows as
// whole k groups: one 4-byte group for ks = 3, two for ks = 5), the
// second with stride 2, padding and dilation 2 (taps gathered one by
// one).
func int8ConvNetAttrs(ks int) [2]ir.Conv2DAttr {
	return [2]ir.Conv2DAttr{
		{Stride: [2]int{1, 1}, Padding: [2]int{ks / 2, ks / 2}, Dilation: [2]int{1, 1}},
		{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, Dilation: [2]int{2, 2}},
	}
}

// int8ConvNet is x[n, 3, 11, 10] |> conv1 (3→5, ks×ks) + bias |> relu |>
// maxpool 2×2 |> conv2 (5→4, 3×3) + bias |> relu |> flatten |> fc
// (→ 7), optimized as the compiler does (the bias and relu become a
// fused op, the Linear a matmul_bias).
func int8ConvNet(t *testing.T, n, ks int) *ir.Graph {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x := must(b.Input("x", ir.RoleData, f32(n, 3, 11, 10)))
	conv := func(x *ir.Value, name string, in, out, ks int, at ir.Conv2DAttr) *ir.Value {
		w := must(b.Input(name+".weight", ir.RoleParam, f32(out, in, ks, ks)))
		bias := must(b.Input(name+".bias", ir.RoleParam, f32(out)))
		y := must(b.Conv2D(x, w, at))
		return must(b.Relu(must(b.Add(y, must(b.Reshape(bias, ir.Shape{1, out, 1, 1}))))))
	}
	h := conv(x, "conv1", 3, 5, ks, int8ConvNetAttrs(ks)[0])
	h = must(b.MaxPool2D(h, ir.Pool2DAttr{Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}}))
	h = conv(h, "conv2", 5, 4, 3, int8ConvNetAttrs(ks)[1])
	s := h.Type.Shape
	h = must(b.Reshape(h, ir.Shape{n, s[1] * s[2] * s[3]}))
	y, _ := linear(b, h, "fc", s[1]*s[2]*s[3], 7)
	g.AddOutput("out", y)
	if err := ir.Optimize(g, ir.PipelineOptions{}); err != nil {
		t.Fatal(err)
	}
	return g
}

// refConvInt8 is the reference integer convolution: int32 sums of
// xq·w over every tap, taps outside x reading the zero point.
func refConvInt8(xq []uint8, zero uint8, xs [4]int, w []int8, o, kh, kw int, at ir.Conv2DAttr) ([]int32, int, int) {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	oh := (h+2*at.Padding[0]-at.Dilation[0]*(kh-1)-1)/at.Stride[0] + 1
	ow := (wd+2*at.Padding[1]-at.Dilation[1]*(kw-1)-1)/at.Stride[1] + 1
	acc := make([]int32, n*o*oh*ow)
	for s := range n {
		for oc := range o {
			for y := range oh {
				for x := range ow {
					var sum int32
					for ic := range c {
						for i := range kh {
							for j := range kw {
								ih, iw := y*at.Stride[0]-at.Padding[0]+i*at.Dilation[0], x*at.Stride[1]-at.Padding[1]+j*at.Dilation[1]
								v := int32(zero)
								if ih >= 0 && ih < h && iw >= 0 && iw < wd {
									v = int32(xq[((s*c+ic)*h+ih)*wd+iw])
								}
								sum += v * int32(w[((oc*c+ic)*kh+i)*kw+j])
							}
						}
					}
					acc[((s*o+oc)*oh+y)*ow+x] = sum
				}
			}
		}
	}
	return acc, oh, ow
}

// quantRows quantizes w [rows, k] per row, as runtime/train does, and
// returns the int8 values with the int8 form.
func quantRows(rows, k int, w []float32, in gemm.QParams) ([]int8, *Int8Linear) {
	l := int8Of(rows, k, w, in)
	q := make([]int8, rows*k)
	for r := range rows {
		for j := range k {
			q[r*k+j] = int8(math.RoundToEven(float64(w[r*k+j] / l.W.Scale[r])))
		}
	}
	return q, l
}

// TestInt8Conv: with Options.Int8, both convolutions of int8ConvNet and
// its Linear run in int8, with the bias and relu in the convolutions'
// epilogues and the activations kept in uint8 from conv1 through the
// maxpool to conv2 and from conv2 to fc; the output equals, bit for bit,
// the reference integer implementation (direct convolution loops,
// int32 sums, the float epilogue, maxpool and requantization written
// out), with and without the int8 regions; it is close to the f32
// output; and a run allocates nothing.
func TestInt8Conv(t *testing.T) {
	for _, ks := range []int{3, 5} {
		t.Run(fmt.Sprintf("conv1_%dx%d", ks, ks), func(t *testing.T) { testInt8Conv(t, ks) })
	}
}

func testInt8Conv(t *testing.T, ks int) {
	const n = 6
	K1 := 3 * ks * ks
	rng := rand.New(rand.NewSource(3))
	x := randF32(rng, n*3*11*10, 1)
	w1, b1 := randF32(rng, 5*K1, 0.3), randF32(rng, 5, 0.1)
	w2, b2 := randF32(rng, 4*5*9, 0.3), randF32(rng, 4, 0.1)
	// conv2 gives [n, 4, 2, 2] (stride 2, dilation 2 on 5×5).
	wf, bf := randF32(rng, 7*16, 0.3), randF32(rng, 7, 0.1)
	params := map[string][]float32{"x": x, "conv1.weight": w1, "conv1.bias": b1, "conv2.weight": w2, "conv2.bias": b2, "fc.weight": wf, "fc.bias": bf}

	run := func(opts Options) (*Program, []float32) {
		p, err := Compile(int8ConvNet(t, n, ks), opts)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range params {
			if err := p.Bind(name, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		return p, append([]float32(nil), p.Float32("out")...)
	}

	// Calibration (min/max) on the f32 program: Observe sees the input
	// of both convolutions and of the Linear.
	lo, hi := map[string]float32{}, map[string]float32{}
	run(Options{Observe: func(name string, v []float32) {
		lo[name], hi[name] = slices.Min(v), slices.Max(v)
	}})
	if len(lo) != 3 || lo["conv2.weight"] < 0 {
		t.Fatalf("observed %v … %v", lo, hi)
	}
	in1, in2, in3 := gemm.QParamsFor(lo["conv1.weight"], hi["conv1.weight"]), gemm.QParamsFor(lo["conv2.weight"], hi["conv2.weight"]), gemm.QParamsFor(lo["fc.weight"], hi["fc.weight"])
	q1, l1 := quantRows(5, K1, w1, in1)
	q2, l2 := quantRows(4, 45, w2, in2)
	_, l3 := quantRows(7, 16, wf, in3)
	tab := map[string]*Int8Linear{"conv1.weight": l1, "conv2.weight": l2, "fc.weight": l3}

	// The reference.
	epi := func(acc []int32, o, spatial int, aq gemm.QParams, l *Int8Linear, w []int8, k int, bias []float32) []float32 {
		y := make([]float32, len(acc))
		for i, a := range acc {
			oc := i / spatial % o
			var cs int32
			for j := range k {
				cs += int32(w[oc*k+j])
			}
			v := float32(float32(a-aq.Zero*cs)*(aq.Scale*l.W.Scale[oc])) + bias[oc]
			y[i] = max(v, 0)
		}
		return y
	}
	xq := make([]uint8, len(x))
	in1.QuantizeSlice(xq, x)
	acc, oh, ow := refConvInt8(xq, uint8(in1.Zero), [4]int{n, 3, 11, 10}, q1, 5, ks, ks, int8ConvNetAttrs(ks)[0])
	h1 := epi(acc, 5, oh*ow, in1, l1, q1, K1, b1)
	ph, pw := oh/2, ow/2
	pool := make([]float32, n*5*ph*pw)
	for pl := range n * 5 {
		for y := range ph {
			for xx := range pw {
				r := h1[pl*oh*ow:]
				pool[(pl*ph+y)*pw+xx] = max(r[2*y*ow+2*xx], r[2*y*ow+2*xx+1], r[(2*y+1)*ow+2*xx], r[(2*y+1)*ow+2*xx+1])
			}
		}
	}
	pq := make([]uint8, len(pool))
	in2.QuantizeSlice(pq, pool)
	acc, oh2, ow2 := refConvInt8(pq, uint8(in2.Zero), [4]int{n, 5, ph, pw}, q2, 4, 3, 3, int8ConvNetAttrs(ks)[1])
	if 4*oh2*ow2 != 16 {
		t.Fatalf("conv2 gives %d×%d", oh2, ow2)
	}
	h2 := epi(acc, 4, oh2*ow2, in2, l2, q2, 45, b2)
	h2q := make([]uint8, len(h2))
	in3.QuantizeSlice(h2q, h2)
	want := make([]float32, n*7)
	gemm.Qgemm(n, h2q, 16, in3, l3.W, &gemm.QEpilogue{Bias: bf}, want, 7)

	for _, regions := range []bool{true, false} {
		int8RegionsOn = regions
		p, got := run(Options{Int8: tab})
		int8RegionsOn = true
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("regions %v: out[%d] = %v, want %v", regions, i, got[i], want[i])
			}
		}
		var convs, pools, fused int
		for _, s := range p.steps {
			switch k := s.k.(type) {
			case *convInt8:
				convs++
				if k.bias == nil || k.act != gemm.ActReLU || k.toU8 != regions {
					t.Errorf("regions %v: %s: bias %v, act %v, uint8 out %v", regions, s.v.Ref(), k.bias != nil, k.act, k.toU8)
				}
			case *poolU8:
				pools++
			case *fusedKernel:
				fused++
			}
		}
		if convs != 2 || fused != 0 || (pools == 1) != regions {
			t.Errorf("regions %v: %d int8 convolutions, %d uint8 maxpools, %d fused steps left", regions, convs, pools, fused)
		}
		if regions {
			if allocs := testing.AllocsPerRun(10, func() { p.Run() }); allocs != 0 {
				t.Errorf("an int8 run allocates %v times", allocs)
			}
		}
	}

	// Close to f32: within a few quantization steps of the output range.
	_, f := run(Options{})
	_, got := run(Options{Int8: tab})
	var worst, span float64
	for i := range f {
		worst = math.Max(worst, math.Abs(float64(got[i]-f[i])))
		span = math.Max(span, math.Abs(float64(f[i])))
	}
	if worst > 0.03*span {
		t.Errorf("int8 differs from f32 by %.4g (outputs up to %.4g)", worst, span)
	}
	t.Logf("int8 vs f32: max abs difference %.4g, outputs up to %.4g", worst, span)
}

// TestInt8ConvMisfit: an int8 form that does not fit a convolution is
// an error naming the weight.
func TestInt8ConvMisfit(t *testing.T) {
	_, l := quantRows(4, 27, make([]float32, 4*27), gemm.QParamsFor(-1, 1))
	_, err := Compile(int8ConvNet(t, 2, 3), Options{Int8: map[string]*Int8Linear{"conv1.weight": l}})
	if err == nil || !strings.Contains(err.Error(), "int8 weight conv1.weight (4×27) does not fit conv2d") {
		t.Fatalf("mis-shaped int8 conv weight: %v", err)
	}
}

// TestMax7x8: the bytewise maximum of 7-bit bytes, every pair of byte
// values in every lane.
func TestMax7x8(t *testing.T) {
	for a := range uint64(128) {
		for b := range uint64(128) {
			for lane := range 8 {
				x, y := a<<(8*lane)|0x7f<<(8*((lane+1)%8)), b<<(8*lane)
				want := max(a, b)<<(8*lane) | 0x7f<<(8*((lane+1)%8))
				if got := max7x8(x, y); got != want {
					t.Fatalf("max7x8(%#x, %#x) = %#x, want %#x", x, y, got, want)
				}
			}
		}
	}
}

// TestInt8ConvChannelMajor: the channel-major int8 convolution gives the
// bits of the row-major QJob path (the one before it, itself checked
// against the reference integer convolution by TestInt8Conv), with
// every int8 kernel, the assembly and the Go im2col, float32 and
// requantized uint8 outputs (two
// convolutions in an int8 region), bias and relu or neither, for
// shapes that cover one input channel (contiguous kernel rows), kernel
// widths below, at and above 4 (words, gathered taps, both), stride,
// padding, dilation (all taps gathered), output channels 1, 6, 7 and 16
// (panels of 6 and a tail) and pixel counts not a multiple of 16.
func TestInt8ConvChannelMajor(t *testing.T) {
	type shape struct{ n, c, h, w, o1, o2, k1, k2, s, p, d int }
	shapes := []shape{
		{3, 1, 28, 28, 6, 16, 5, 5, 1, 0, 1}, // LeNet's convolutions
		{2, 1, 13, 11, 7, 1, 4, 3, 1, 2, 1},  // KW = 4: words only
		{2, 3, 9, 17, 16, 6, 8, 2, 2, 1, 1},  // two words per kernel row, stride
		{1, 2, 12, 12, 1, 7, 3, 5, 1, 1, 2},  // dilation: gathered
		{4, 5, 7, 6, 13, 11, 1, 3, 1, 0, 1},  // 1×1
		{2, 1, 30, 30, 12, 6, 7, 6, 3, 3, 1}, // KW = 7, 6
	}
	defer gemm.SetQKernel(gemm.QKernel())
	for si, sh := range shapes {
		for _, withBias := range []bool{true, false} {
			g := ir.NewGraph()
			b := ir.NewBuilder(g)
			at := ir.Conv2DAttr{Stride: [2]int{sh.s, sh.s}, Padding: [2]int{sh.p, sh.p}, Dilation: [2]int{sh.d, sh.d}}
			x := must(b.Input("x", ir.RoleData, f32(sh.n, sh.c, sh.h, sh.w)))
			conv := func(x *ir.Value, name string, in, out, ks int) *ir.Value {
				w := must(b.Input(name+".weight", ir.RoleParam, f32(out, in, ks, ks)))
				y := must(b.Conv2D(x, w, at))
				if !withBias {
					return y
				}
				bias := must(b.Input(name+".bias", ir.RoleParam, f32(out)))
				return must(b.Relu(must(b.Add(y, must(b.Reshape(bias, ir.Shape{1, out, 1, 1}))))))
			}
			h := conv(x, "conv1", sh.c, sh.o1, sh.k1)
			y := conv(h, "conv2", sh.o1, sh.o2, sh.k2)
			g.AddOutput("out", y)
			if err := ir.Optimize(g, ir.PipelineOptions{}); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewSource(int64(si)))
			K1, K2 := sh.c*sh.k1*sh.k1, sh.o1*sh.k2*sh.k2
			params := map[string][]float32{"x": randF32(rng, sh.n*sh.c*sh.h*sh.w, 1),
				"conv1.weight": randF32(rng, sh.o1*K1, 0.3), "conv2.weight": randF32(rng, sh.o2*K2, 0.3)}
			if withBias {
				params["conv1.bias"], params["conv2.bias"] = randF32(rng, sh.o1, 0.1), randF32(rng, sh.o2, 0.1)
			}
			tab := map[string]*Int8Linear{
				"conv1.weight": int8Of(sh.o1, K1, params["conv1.weight"], gemm.QParamsFor(-2.5, 2.5)),
				"conv2.weight": int8Of(sh.o2, K2, params["conv2.weight"], gemm.QParamsFor(-1, 3)),
			}
			run := func(channelMajor, vectorIm2col bool) []float32 {
				int8ConvChannelMajor, int8Im2colVector = channelMajor, vectorIm2col
				defer func() { int8ConvChannelMajor, int8Im2colVector = true, true }()
				p, err := Compile(g, Options{Int8: tab})
				if err != nil {
					t.Fatal(err)
				}
				for name, v := range params {
					if err := p.Bind(name, v); err != nil {
						t.Fatal(err)
					}
				}
				var cm int
				for _, s := range p.steps {
					if k, ok := s.k.(*convInt8); ok && k.qc != nil {
						cm++
					}
				}
				if want := map[bool]int{true: 2, false: 0}[channelMajor]; cm != want {
					t.Fatalf("shape %v: %d channel-major convolutions, want %d", sh, cm, want)
				}
				for range 2 {
					if err := p.Run(); err != nil {
						t.Fatal(err)
					}
				}
				if allocs := testing.AllocsPerRun(3, func() { p.Run() }); allocs != 0 {
					t.Errorf("shape %v: an int8 run allocates %v times", sh, allocs)
				}
				return slices.Clone(p.Float32("out"))
			}
			for _, kern := range gemm.QKernels() {
				gemm.SetQKernel(kern)
				want := run(false, true)
				for _, vec := range []bool{true, false} {
					got := run(true, vec)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s, shape %v, bias %v, vector im2col %v: out[%d] = %v, want %v", kern, sh, withBias, vec, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestMaxpool2x2U8: the vector 2×2 uint8 max pooling equals the
// window maxima for row widths at, past and between blocks of 8, odd
// input widths (the last column unused) and every byte value.
func TestMaxpool2x2U8(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, ow := range []int{8, 9, 14, 15, 16, 23, 40} {
		for _, w := range []int{2 * ow, 2*ow + 1} {
			oh := 1 + rng.Intn(5)
			x := make([]uint8, 2*oh*w)
			for i := range x {
				x[i] = uint8(rng.Intn(256))
			}
			y := make([]uint8, oh*ow)
			if !maxpool2x2U8(y, x, oh, ow, w) {
				if hasIm2colHalf {
					t.Fatalf("ow %d w %d: no vector pooling", ow, w)
				}
				return
			}
			for r := range oh {
				for c := range ow {
					want := max(x[2*r*w+2*c], x[2*r*w+2*c+1], x[(2*r+1)*w+2*c], x[(2*r+1)*w+2*c+1])
					if y[r*ow+c] != want {
						t.Fatalf("ow %d w %d: y[%d][%d] = %d, want %d", ow, w, r, c, y[r*ow+c], want)
					}
				}
			}
		}
	}
}
