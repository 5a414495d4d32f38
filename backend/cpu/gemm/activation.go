package gemm

import "math"

// Activation is the element-wise function applied to C in the epilogue.
type Activation uint8

const (
	ActNone        Activation = iota
	ActReLU                   // max(x, 0)
	ActGELU                   // x·Φ(x) with the exact erf: 0.5·x·(1+erf(x/√2))
	ActGELUTanh               // 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³)))
	ActTanh                   // tanh(x)
	ActSigmoid                // 1/(1+exp(-x))
	numActivations            // count; not an activation
)

func (a Activation) String() string {
	switch a {
	case ActNone:
		return "none"
	case ActReLU:
		return "relu"
	case ActGELU:
		return "gelu"
	case ActGELUTanh:
		return "gelu_tanh"
	case ActTanh:
		return "tanh"
	case ActSigmoid:
		return "sigmoid"
	}
	return "Activation(?)"
}

// Activate returns act(x) with the same float32 arithmetic the epilogue
// uses, so other kernels can match the GEMM epilogue bit for bit.
func Activate(act Activation, x float32) float32 {
	switch act {
	case ActReLU:
		return max(x, 0)
	case ActGELU:
		return geluErf32(x)
	case ActGELUTanh:
		return geluTanh32(x)
	case ActTanh:
		return tanh32(x)
	case ActSigmoid:
		return sigmoid32(x)
	}
	return x
}

// ActivateSlice applies act to every element of x in place.
func ActivateSlice(act Activation, x []float32) {
	switch act {
	case ActNone:
	case ActReLU:
		for i, v := range x {
			x[i] = max(v, 0)
		}
	case ActGELU:
		for i, v := range x {
			x[i] = geluErf32(v)
		}
	case ActGELUTanh:
		for i, v := range x {
			x[i] = geluTanh32(v)
		}
	case ActTanh:
		for i, v := range x {
			x[i] = tanh32(v)
		}
	case ActSigmoid:
		for i, v := range x {
			x[i] = sigmoid32(v)
		}
	}
}

// exp32 is exp(x) in float32 to within about 2 ulp: x = n·ln2 + r with
// |r| ≤ ln2/2 (ln2 split in two parts for an exact reduction), then a
// degree-6 polynomial for e^r and an exponent shift for 2^n. Results
// saturate to +Inf above 88.72 and to 0 below -103.
func exp32(x float32) float32 {
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	if x < -103.97 {
		return 0
	}
	if x != x {
		return x
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi
	r -= n * ln2lo
	p := float32(1.0 / 720)
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	ni := int32(n)
	if ni < -126 {
		// Subnormal result: scale in two steps.
		return p * math.Float32frombits(uint32(ni+126+127)<<23) * math.Float32frombits(1<<23)
	}
	if ni > 127 {
		return p * 2 * math.Float32frombits(uint32(ni-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(ni+127)<<23)
}

func sigmoid32(x float32) float32 { return 1 / (1 + exp32(-x)) }

// tanh32: an odd Taylor polynomial near 0 (where 1-2/(e^{2x}+1) would
// cancel), the exp form elsewhere.
func tanh32(x float32) float32 {
	ax := x
	if ax < 0 {
		ax = -ax
	}
	if ax < 0.125 {
		x2 := x * x
		return x * (1 + x2*(-1.0/3+x2*(2.0/15+x2*(-17.0/315))))
	}
	if ax > 9.1 {
		if x < 0 {
			return -1
		}
		return 1
	}
	t := 1 - 2/(exp32(2*ax)+1)
	if x < 0 {
		return -t
	}
	return t
}

// geluTanh32 uses 0.5·(1+tanh(u)) = sigmoid(2u), which keeps full
// relative accuracy for large negative x.
func geluTanh32(x float32) float32 {
	const c = 0.7978845608028654 // √(2/π)
	u := c * (x + 0.044715*x*x*x)
	return x / (1 + exp32(-2*u))
}

// erfc32 is erfc(z) for z ≥ 0 with relative error below about 1e-6
// (Numerical Recipes' Chebyshev fit, 1.2e-7 in exact arithmetic).
func erfc32(z float32) float32 {
	t := 1 / (1 + 0.5*z)
	p := float32(0.17087277)
	p = p*t - 0.82215223
	p = p*t + 1.48851587
	p = p*t - 1.13520398
	p = p*t + 0.27886807
	p = p*t - 0.18628806
	p = p*t + 0.09678418
	p = p*t + 0.37409196
	p = p*t + 1.00002368
	p = p*t - 1.26551223
	return t * exp32(p-z*z)
}

// geluErf32 is 0.5·x·(1+erf(x/√2)) written with erfc so that neither
// tail cancels: x·(1-erfc(z)/2) for x ≥ 0 and x·erfc(z)/2 for x < 0,
// z = |x|/√2.
func geluErf32(x float32) float32 {
	const invSqrt2 = 0.7071067811865476
	if x >= 0 {
		if x > 10 {
			return x
		}
		return x * (1 - 0.5*erfc32(x*invSqrt2))
	}
	if x < -14 {
		return 0 * x
	}
	return 0.5 * x * erfc32(-x*invSqrt2)
}
