// This file implements the attribute structs held in Value.Aux.
//
// Each op that has attributes names one struct type in the op table; a
// value of that op holds a value (not a pointer) of that struct. In the
// text form every non-zero field is written as name=value, and a true bool
// as its bare name: {axes=[1], keepdims}. Fields that are zero are left
// out, so a zero field must mean "absent" or a default.

package ir

import (
	"fmt"
	"math"
)

// InputAttr holds the role of a graph input.
type InputAttr struct {
	Role Role `ir:"role"`
}

// FillAttr is the value every element of a fill takes.
type FillAttr struct {
	Value float64 `ir:"value"`
}

// IotaAttr names the axis along which iota counts 0, 1, 2, ….
type IotaAttr struct {
	Axis int `ir:"axis"`
}

// LiteralAttr holds the elements of a literal tensor in row-major order.
type LiteralAttr struct {
	Data []float64 `ir:"data"`
}

// GeluAttr selects the tanh approximation of GELU instead of the erf form.
type GeluAttr struct {
	Approximate bool `ir:"tanh"`
}

// SoftplusAttr holds softplus's beta (not 0; PyTorch's default is 1) and
// the threshold (PyTorch's default 20) above which beta·x gives x.
type SoftplusAttr struct {
	Beta      float64 `ir:"beta"`
	Threshold float64 `ir:"threshold"`
}

func (a SoftplusAttr) check() error {
	if a.Beta == 0 || math.IsNaN(a.Beta) || math.IsInf(a.Beta, 0) {
		return fmt.Errorf("beta %g must be finite and not 0", a.Beta)
	}
	return nil
}

// EluAttr holds ELU's alpha (PyTorch's default is 1): as x → -∞, elu(x)
// tends to -alpha.
type EluAttr struct {
	Alpha float64 `ir:"alpha"`
}

// ReduceAttr lists the reduced axes (sorted, non-negative, unique) and
// whether they are kept with size 1.
type ReduceAttr struct {
	Axes     []int `ir:"axes"`
	KeepDims bool  `ir:"keepdims"`
}

// AxisAttr names one axis (non-negative): softmax, log_softmax, concat.
type AxisAttr struct {
	Axis int `ir:"axis"`
}

// ArgMaxAttr names the axis argmax searches and whether it is kept.
type ArgMaxAttr struct {
	Axis     int  `ir:"axis"`
	KeepDims bool `ir:"keepdims"`
}

// MatMulAttr says whether the last two dimensions of either operand are
// transposed before the product.
type MatMulAttr struct {
	TransposeA bool `ir:"transpose_a"`
	TransposeB bool `ir:"transpose_b"`
}

// Conv2DAttr holds the stride, zero padding and dilation (height, width)
// of a 2-D convolution. Every entry of Stride and Dilation is ≥ 1.
// Groups splits the channels into that many groups, each convolved
// with its own slice of the weight (PyTorch's groups; depthwise when it
// equals the input channels); 0 means 1, the one form the builder
// makes, so equal convolutions compare equal.
type Conv2DAttr struct {
	Stride   [2]int `ir:"stride"`
	Padding  [2]int `ir:"padding"`
	Dilation [2]int `ir:"dilation"`
	Groups   int    `ir:"groups"`
}

// G returns the number of groups (1 when Groups is 0).
func (a Conv2DAttr) G() int { return max(a.Groups, 1) }

func (a Conv2DAttr) check() error {
	if a.Groups < 0 {
		return fmt.Errorf("groups must not be negative, got %d", a.Groups)
	}
	return nil
}

// Pool2DAttr holds the window, stride and padding (height, width) of a
// 2-D pooling. Max pooling pads with -inf; average pooling counts the
// zero padding in its divisor (PyTorch's count_include_pad).
type Pool2DAttr struct {
	Kernel  [2]int `ir:"kernel"`
	Stride  [2]int `ir:"stride"`
	Padding [2]int `ir:"padding"`
}

// PermuteAttr is the permutation: output axis i is input axis Perm[i].
type PermuteAttr struct {
	Perm []int `ir:"perm"`
}

// SliceAttr selects, on every axis i, the elements Start[i],
// Start[i]+Step[i], … below Stop[i]. Starts and stops are within the
// axis and steps are ≥ 1.
type SliceAttr struct {
	Start []int `ir:"start"`
	Stop  []int `ir:"stop"`
	Step  []int `ir:"step"`
}

// LayerNormAttr holds the epsilon added to the variance.
type LayerNormAttr struct {
	Eps float64 `ir:"eps"`
}

// CrossEntropyAttr holds the label smoothing of softmax cross entropy.
type CrossEntropyAttr struct {
	LabelSmoothing float64 `ir:"label_smoothing"`
}

// DropoutAttr holds the probability of zeroing an element.
type DropoutAttr struct {
	P float64 `ir:"p"`
}

// MomentumAttr holds SGD's momentum and dampening.
type MomentumAttr struct {
	Momentum  float64 `ir:"momentum"`
	Dampening float64 `ir:"dampening"`
}

// EMAAttr holds the decay of an exponential moving average.
type EMAAttr struct {
	Decay float64 `ir:"decay"`
}

// AdamAttr holds Adam's hyper-parameters. WeightDecay is decoupled
// (AdamW); Adam's L2 weight decay is folded into the gradient instead.
type AdamAttr struct {
	Beta1       float64 `ir:"beta1"`
	Beta2       float64 `ir:"beta2"`
	Eps         float64 `ir:"eps"`
	WeightDecay float64 `ir:"weight_decay"`
}

// RMSpropAttr holds RMSprop's epsilon.
type RMSpropAttr struct {
	Eps float64 `ir:"eps"`
}

// MatMulBiasAttr holds the transpose flags of matmul_bias and its
// epilogue activation, none when Act is zero.
type MatMulBiasAttr struct {
	TransposeA bool       `ir:"transpose_a"`
	TransposeB bool       `ir:"transpose_b"`
	Act        Activation `ir:"act"`
}

// An Activation is a unary elementwise op, with its attributes, applied
// to every element of a kernel's result: a matmul_bias epilogue. Its op
// is flagged IsEpilogue; the zero Activation is none. In the text form
// it is the op's name and attributes: act=gelu {tanh}.
type Activation struct {
	Op  Op  // OpInvalid: none
	Aux any // the op's attributes, as a value of the op holds them
}

// IsNone reports whether a is no activation.
func (a Activation) IsNone() bool { return a.Op == OpInvalid }

// FakeQuantAttr says which int8 range fake_quant and fake_quant_mask
// quantize to: signed, symmetric [-127, 127] with zero point 0 (weights,
// per output channel), or (the zero value) encc's 7-bit activations,
// [0, 127] with a zero point.
type FakeQuantAttr struct {
	Signed bool `ir:"signed"`
}
