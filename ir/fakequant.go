package ir

// This file holds the arithmetic of fake_quant and fake_quant_mask, the
// ops of quantization-aware training, and fake_quant's VJP, the
// straight-through estimator (Bengio et al. 2013; PyTorch's
// FakeQuantize): the gradient passes where the value's quantized integer
// lies inside the clip range and is zero outside.
//
// The arithmetic follows PyTorch's CPU kernels of
// fake_quantize_per_tensor_affine and fake_quantize_per_channel_affine
// in float32: inv = 1/scale, q = round_half_even(x·inv) + zero, the
// result (clamp(q, qmin, qmax) − zero)·scale. The scale and zero point
// are those the int8 checkpoint gets (runtime/train/quant.go): weights
// per output channel max|W[n, :]|/127, activations gemm.QParamsFor's
// 7-bit asymmetric quantization of their range.

import "math"

// fakeQuantParams returns the float32 scale, zero point and integer range
// of the quantization of [lo, hi].
func fakeQuantParams(signed bool, lo, hi float32) (scale, zero, qmin, qmax float32) {
	if signed {
		amax := max(float32(math.Abs(float64(lo))), float32(math.Abs(float64(hi))))
		scale = amax / 127
		if scale == 0 {
			scale = 1
		}
		return scale, 0, -127, 127
	}
	lo, hi = min(lo, 0), max(hi, 0)
	if hi-lo < 1e-8 {
		return 1, 0, 0, 127
	}
	scale = (hi - lo) / 127
	zero = float32(math.RoundToEven(float64(-lo / scale)))
	return scale, max(0, min(127, zero)), 0, 127
}

// fakeQuant returns x fake-quantized (mask false) or the STE mask.
func fakeQuant(signed, mask bool, x, lo, hi float32) float32 {
	scale, zero, qmin, qmax := fakeQuantParams(signed, lo, hi)
	inv := 1 / scale
	q := float32(math.RoundToEven(float64(x*inv))) + zero
	if mask {
		if q >= qmin && q <= qmax {
			return 1
		}
		return 0
	}
	return (max(qmin, min(qmax, q)) - zero) * scale
}

// fakeQuantRule is the elementwise rule of fake_quant (mask false) or
// fake_quant_mask (mask true).
func fakeQuantRule(mask bool) *elementwiseRule {
	return &elementwiseRule{
		func(aux any, _ DType) ScalarFunc {
			signed := aux.(FakeQuantAttr).Signed
			return func(x, lo, hi float64) (float64, bool) {
				return float64(fakeQuant(signed, mask, float32(x), float32(lo), float32(hi))), true
			}
		},
		func(e CExpr) string {
			// The parameters, then q, as one GNU statement expression
			// (nvcc and clang accept it).
			var params string
			if e.Aux.(FakeQuantAttr).Signed {
				params = "float s_ = fmaxf(fabsf((float)$y), fabsf((float)$z)) / 127.0f; if (s_ == 0.0f) s_ = 1.0f; " +
					"float z_ = 0.0f, qn_ = -127.0f, qx_ = 127.0f; "
			} else {
				params = "float l_ = fminf((float)$y, 0.0f), h_ = fmaxf((float)$z, 0.0f); float s_ = 1.0f, z_ = 0.0f; " +
					"if (h_ - l_ >= 1e-8f) { s_ = (h_ - l_) / 127.0f; z_ = fminf(127.0f, fmaxf(0.0f, rintf(-l_ / s_))); } " +
					"float qn_ = 0.0f, qx_ = 127.0f; "
			}
			q := "float q_ = rintf((float)$x * (1.0f / s_)) + z_; "
			if mask {
				return e.expand("(($t)({ " + params + q + "(q_ >= qn_ && q_ <= qx_) ? 1.0f : 0.0f; }))")
			}
			return e.expand("(($t)({ " + params + q + "(fminf(qx_, fmaxf(qn_, q_)) - z_) * s_; }))")
		}}
}

// typeFakeQuant: three f32 operands that broadcast; the result is x's
// dtype at the broadcast shape.
func typeFakeQuant(v *Value) (Type, error) {
	for _, a := range v.Args {
		if a.Type.DType != F32 {
			return Type{}, errf(v, "operand %v is not f32", a.Type)
		}
	}
	s, err := broadcastArgs(v, v.Args)
	return Type{F32, s}, err
}

// gradFakeQuant is the straight-through estimator: dx = dy·mask; the
// range operands get no gradient (PyTorch's observers hold them apart
// from the graph).
func gradFakeQuant(b *Builder, v, g *Value, need []bool) []*Value {
	out := make([]*Value, 3)
	if need[0] {
		m := must(b.Op(OpFakeQuantMask, Type{}, v.Aux, v.Args...))
		out[0] = unbroadcast(b, must(b.Mul(g, m)), v.Args[0])
	}
	return out
}

// FakeQuantSlice writes fake_quant (mask false) or fake_quant_mask (mask
// true) of x with the one range [lo, hi] into out: the arithmetic of the
// op's table row with the range's parameters computed once, for the
// backends' loops.
func FakeQuantSlice(signed, mask bool, lo, hi float32, x, out []float32) {
	scale, zero, qmin, qmax := fakeQuantParams(signed, lo, hi)
	inv := 1 / scale
	out = out[:len(x)]
	for i, v := range x {
		q := float32(math.RoundToEven(float64(v*inv))) + zero
		switch {
		case mask && q >= qmin && q <= qmax:
			out[i] = 1
		case mask:
			out[i] = 0
		default:
			out[i] = (max(qmin, min(qmax, q)) - zero) * scale
		}
	}
}
