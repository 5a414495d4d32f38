// This file implements Op and the op table: for every op its name,
// arity, flags, attribute type, type rule, VJP rule and doc, and for an
// elementwise op its arithmetic on one element, in Go and in C (see
// arith.go), from which constant folding, the reference evaluator and
// both backends compute it.

package ir

import (
	"math"
	"reflect"
	"strconv"
)

// Op is an IR operation. Its semantics are in the op table (opInfo): ask
// questions of its flags (op.IsElementwise()), never of lists of ops.
type Op uint16

// The ops. "Broadcasting" means NumPy broadcasting of all operands;
// "type-carrying" ops take part of their meaning from the result type
// (reshape's target shape, cast's dtype), which the builder is given.
const (
	OpInvalid Op = iota

	// Leaves.
	OpInput   // graph input; Aux InputAttr
	OpFill    // every element Aux.(FillAttr).Value; type-carrying
	OpIota    // element = its index along Aux.(IotaAttr).Axis; type-carrying
	OpLiteral // elements Aux.(LiteralAttr).Data; type-carrying

	// Elementwise unary.
	OpNeg      // -x
	OpExp      // e^x
	OpLog      // ln x
	OpSqrt     // √x
	OpRsqrt    // 1/√x
	OpTanh     // tanh x
	OpSigmoid  // 1/(1+e^-x)
	OpRelu     // max(x, 0)
	OpGelu     // x·Φ(x), or its tanh approximation
	OpSoftplus // log(1+e^(βx))/β, x above a threshold
	OpElu      // x > 0 ? x : α(e^x-1)
	OpErf      // erf x
	OpAbs      // |x|
	OpSign     // -1, 0 or 1
	OpCast     // x converted to the result dtype; type-carrying

	// Elementwise binary and ternary, broadcasting.
	OpAdd   // x + y
	OpSub   // x - y
	OpMul   // x · y
	OpDiv   // x / y
	OpMax   // max(x, y)
	OpMin   // min(x, y)
	OpPow   // x^y
	OpEq    // x == y → bool
	OpNe    // x != y → bool
	OpLt    // x < y → bool
	OpLe    // x <= y → bool
	OpGt    // x > y → bool
	OpGe    // x >= y → bool
	OpWhere // cond ? x : y

	// Quantization-aware training (fakequant.go).
	OpFakeQuant     // x, lo, hi → x quantized to int8 with the range [lo, hi] and back; straight-through gradient
	OpFakeQuantMask // x, lo, hi → 1 where x's quantized value is inside the int8 range, else 0

	// Elementwise gradients, written by VJPs.
	OpReluBackward // x, dy → x > 0 ? dy : 0
	OpGeluBackward // x, dy → dy·gelu'(x)

	// Reductions.
	OpSum       // Σ over Aux.(ReduceAttr).Axes
	OpMean      // mean over axes
	OpReduceMax // max over axes
	OpLogSumExp // log Σ exp over axes
	OpArgMax    // index of the max along one axis → i64

	// Linear algebra and convolution.
	OpMatMul               // [..,m,k]×[..,k,n] → [..,m,n], batch dims broadcast
	OpConv2D               // x[N,C,H,W] ⋆ w[O,C/G,KH,KW] → [N,O,H',W'] in G groups
	OpConv2DBackwardInput  // dy, w → dx; type-carrying
	OpConv2DBackwardWeight // x, dy → dw; type-carrying
	OpMaxPool2D            // max over windows
	OpMaxPool2DBackward    // x, dy → dx
	OpAvgPool2D            // mean over windows
	OpAvgPool2DBackward    // dy → dx; type-carrying

	// Data movement.
	OpReshape       // same elements, new shape; type-carrying
	OpPermute       // axes reordered by Aux.(PermuteAttr).Perm
	OpBroadcastTo   // broadcast to the result shape; type-carrying
	OpReduceTo      // sum over broadcast dims down to the result shape; type-carrying
	OpSlice         // strided window per axis
	OpSliceBackward // dy placed back into zeros of the result shape; type-carrying
	OpConcat        // operands joined along an axis
	OpGather        // table[V,…], ids[…] → rows table[ids]
	OpScatterAdd    // ids, updates → zeros[V,…] with rows added; type-carrying
	OpOneHot        // ids → one-hot vectors of the result's last dim; type-carrying

	// Fused neural-network ops.
	OpSoftmax                     // softmax along an axis
	OpLogSoftmax                  // log softmax along an axis
	OpLayerNorm                   // x, w, b → layer norm over the last axis
	OpLayerNormBackwardInput      // x, w, dy → dx
	OpLayerNormBackwardWeight     // x, dy → dw
	OpSoftmaxCrossEntropy         // logits[N,C], labels[N] → mean loss
	OpSoftmaxCrossEntropyBackward // logits, labels, dloss → dlogits
	OpDropout                     // x, seed, step → x masked and scaled
	OpAttention                   // q, k, v[, mask] → softmax(q·kᵀ·scale) v, fused
	OpAttentionBackward           // q, k, v, dy[, mask] → weights and score gradients
	OpAttentionBackwardProduct    // those, k, q or dy → dq, dk or dv

	// Optimizer updates (in place on arg0).
	OpSGD         // p - lr·d
	OpSGDMomentum // momentum buffer update
	OpEMA         // decay·s + (1-decay)·x
	OpEMASq       // decay·s + (1-decay)·x²
	OpAdam        // Adam/AdamW parameter step
	OpRMSprop     // RMSprop parameter step

	// Fused kernels, made by the fuse pass after autodiff (no VJP).
	OpFused      // elementwise kernel: operands broadcast, body Aux.(FusedAttr); type-carrying
	OpMatMulBias // matmul, then + bias[n] per column, then an optional activation

	numOps
)

// opFlags are the properties of an op that passes and backends ask about.
type opFlags uint16

const (
	elementwise  opFlags = 1 << iota // result element i depends on element i of each (broadcast) operand
	commutative                      // op(x, y) == op(y, x)
	reduction                        // reduces axes listed in its attributes
	inplace                          // the result may overwrite arg0, which it replaces
	nondiff                          // the gradient is zero (almost) everywhere: autodiff stops here
	typeCarrying                     // the result type is given, not inferred; the rule checks it
	leaf                             // has no operands
	fused                            // made by fusion after autodiff: no VJP, never differentiated
	epilogue                         // a unary activation that matmul_bias may apply after its bias
)

// opData is one row of the op table.
type opData struct {
	name  string
	args  int              // number of operands; -1: one or more
	flags opFlags          // properties
	aux   reflect.Type     // attribute struct type, nil if none
	typ   typeRule         // type inference or check
	grad  gradRule         // VJP; nil: none (see nondiff)
	doc   string           // one or two sentences
	arith *elementwiseRule // the arithmetic of an elementwise op, nil for the others
}

// A typeRule returns the type of v from its args and Aux. For
// type-carrying ops v.Type is already set and the rule checks it.
type typeRule func(v *Value) (Type, error)

// A gradRule returns, for each argument of v whose need entry is true,
// the cotangent given the cotangent g of v, built with b. Entries for
// args with no gradient are nil.
type gradRule func(b *Builder, v, g *Value, need []bool) []*Value

var opInfo [numOps]opData

// aux returns the reflect type of an attribute struct.
func aux[T any]() reflect.Type { return reflect.TypeFor[T]() }

// Ops returns every op, in table order, OpInvalid excluded.
func Ops() []Op {
	ops := make([]Op, 0, numOps-1)
	for op := OpInvalid + 1; op < numOps; op++ {
		ops = append(ops, op)
	}
	return ops
}

// String returns the op's name as printed in the text form.
func (op Op) String() string {
	if op < numOps && opInfo[op].name != "" {
		return opInfo[op].name
	}
	return "op(" + strconv.Itoa(int(op)) + ")"
}

// LookupOp returns the op printed as name.
func LookupOp(name string) (Op, bool) {
	op, ok := opByName[name]
	return op, ok
}

var opByName = make(map[string]Op, numOps) // room for every op: no growth at start-up

// Doc describes the op's semantics.
func (op Op) Doc() string { return opInfo[op].doc }

// NumArgs is the number of operands; -1 means one or more.
func (op Op) NumArgs() int { return opInfo[op].args }

// AuxType is the type of the op's attribute struct, or nil.
func (op Op) AuxType() reflect.Type { return opInfo[op].aux }

// IsElementwise reports whether element i of the result depends only on
// element i of each broadcast operand.
func (op Op) IsElementwise() bool { return opInfo[op].flags&elementwise != 0 }

// IsCommutative reports whether the two operands can be swapped.
func (op Op) IsCommutative() bool { return opInfo[op].flags&commutative != 0 }

// IsReduction reports whether the op reduces the axes of its ReduceAttr
// or ArgMaxAttr.
func (op Op) IsReduction() bool { return opInfo[op].flags&reduction != 0 }

// IsInPlace reports whether the result replaces arg0 (optimizer updates):
// it has arg0's type and may share its buffer.
func (op Op) IsInPlace() bool { return opInfo[op].flags&inplace != 0 }

// IsPure reports whether the op computes its result from its operands
// alone, with no effect: everything but inputs and in-place updates.
func (op Op) IsPure() bool { return op != OpInput && !op.IsInPlace() }

// IsLeaf reports whether the op has no operands (inputs and constants).
func (op Op) IsLeaf() bool { return opInfo[op].flags&leaf != 0 }

// IsFused reports whether the op is a fused kernel made by the fuse pass
// after autodiff (OpFused, OpMatMulBias): it has no VJP.
func (op Op) IsFused() bool { return opInfo[op].flags&fused != 0 }

// IsConst reports whether the op is a constant known at compile time.
func (op Op) IsConst() bool { return op == OpFill || op == OpIota || op == OpLiteral }

// IsTypeCarrying reports whether the result type is part of the op's
// meaning (reshape's shape, cast's dtype) rather than inferred.
func (op Op) IsTypeCarrying() bool { return opInfo[op].flags&typeCarrying != 0 }

// IsDifferentiable reports whether autodiff can pass a gradient through
// the op: it has a VJP rule, or its gradient is zero (comparisons, argmax).
func (op Op) IsDifferentiable() bool { return opInfo[op].grad != nil || op.HasZeroGrad() }

// HasZeroGrad reports whether the op's gradient is zero almost everywhere,
// so autodiff treats its result as a constant.
func (op Op) HasZeroGrad() bool { return opInfo[op].flags&nondiff != 0 }

// IsEpilogue reports whether the op is a unary activation that
// matmul_bias can apply after adding its bias (MatMulBiasAttr.Act).
func (op Op) IsEpilogue() bool { return opInfo[op].flags&epilogue != 0 }

// HasVJP reports whether the op has a VJP rule.
func (op Op) HasVJP() bool { return opInfo[op].grad != nil }

func init() {
	const (
		ew  = elementwise
		tc  = typeCarrying
		red = reduction
	)
	opInfo = [numOps]opData{
		OpInvalid: {name: "invalid"},

		OpInput:   {"input", 0, leaf | nondiff, aux[InputAttr](), typeGiven, nil, "A graph input: data, a parameter, optimizer state, a per-step scalar or a constant fed at run time. It has the dotted Name it is fed by.", nil},
		OpFill:    {"fill", 0, leaf | nondiff | tc, aux[FillAttr](), typeGiven, nil, "A tensor of the result type whose every element is value.", nil},
		OpIota:    {"iota", 0, leaf | nondiff | tc, aux[IotaAttr](), typeIota, nil, "A tensor of the result type whose element is its index along axis (0, 1, 2, …).", nil},
		OpLiteral: {"literal", 0, leaf | nondiff | tc, aux[LiteralAttr](), typeLiteral, nil, "A tensor of the result type whose elements, in row-major order, are data.", nil},

		OpNeg:     {"neg", 1, ew, nil, typeUnaryNum, gradNeg, "Negation, -x.", arith(unaryF(func(x float64) float64 { return -x }), cTmpl("($t)(-$x)"))},
		OpExp:     {"exp", 1, ew, nil, typeUnaryFloat, gradExp, "Exponential, e^x.", arith(unaryF(math.Exp), cTmpl("expf($x)"))},
		OpLog:     {"log", 1, ew, nil, typeUnaryFloat, gradLog, "Natural logarithm, ln x.", arith(unaryF(math.Log), cTmpl("logf($x)"))},
		OpSqrt:    {"sqrt", 1, ew, nil, typeUnaryFloat, gradSqrt, "Square root, √x.", arith(unaryF(math.Sqrt), cTmpl("sqrtf($x)"))},
		OpRsqrt:   {"rsqrt", 1, ew, nil, typeUnaryFloat, gradRsqrt, "Reciprocal square root, 1/√x.", arith(unaryF(func(x float64) float64 { return 1 / math.Sqrt(x) }), cTmpl("(1.0f / sqrtf($x))"))},
		OpTanh:    {"tanh", 1, ew | epilogue, nil, typeUnaryFloat, gradTanh, "Hyperbolic tangent.", arith(unaryF(math.Tanh), cTmpl("tanhf($x)"))},
		OpSigmoid: {"sigmoid", 1, ew | epilogue, nil, typeUnaryFloat, gradSigmoid, "Logistic sigmoid, 1/(1+e^-x).", arith(unaryF(func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }), cTmpl("(1.0f / (1.0f + expf(-$x)))"))},
		OpRelu:    {"relu", 1, ew | epilogue, nil, typeUnaryNum, gradRelu, "Rectified linear unit, max(x, 0); its derivative at 0 is 0.", arith(unaryF(func(x float64) float64 { return max(x, 0) }), cTmpl("($x > 0 ? $x : ($t)0)"))},
		OpGelu: {"gelu", 1, ew | epilogue, aux[GeluAttr](), typeUnaryFloat, gradGelu, "Gaussian error linear unit x·Φ(x) = x·(1+erf(x/√2))/2; with tanh, PyTorch's approximation x·(1+tanh(√(2/π)·(x+0.044715x³)))/2.", &elementwiseRule{
			func(aux any, _ DType) ScalarFunc {
				if aux.(GeluAttr).Approximate {
					return unaryS(geluTanh)
				}
				return unaryS(geluErf)
			},
			func(e CExpr) string {
				if e.Aux.(GeluAttr).Approximate {
					return e.expand("(0.5f * $x * (1.0f + tanhf(0.7978845608028654f * ($x + 0.044715f * $x * $x * $x))))")
				}
				return e.expand("(0.5f * $x * (1.0f + erff($x * 0.7071067811865476f)))")
			}}},
		OpSoftplus: {"softplus", 1, ew | epilogue, aux[SoftplusAttr](), typeUnaryFloat, gradSoftplus, "Smooth relu log(1+e^(beta·x))/beta, and x itself where beta·x > threshold (PyTorch's Softplus; beta is not 0).", &elementwiseRule{
			func(aux any, _ DType) ScalarFunc {
				a := aux.(SoftplusAttr)
				return unaryS(func(x float64) float64 {
					if a.Beta*x > a.Threshold {
						return x
					}
					return math.Log1p(math.Exp(a.Beta*x)) / a.Beta
				})
			},
			func(e CExpr) string {
				a := e.Aux.(SoftplusAttr)
				b, t := e.Float(a.Beta), e.Float(a.Threshold)
				return e.expand("(" + b + " * $x > " + t + " ? $x : log1pf(expf(" + b + " * $x)) / " + b + ")")
			}}},
		OpElu: {"elu", 1, ew | epilogue, aux[EluAttr](), typeUnaryFloat, gradElu, "Exponential linear unit: x where x > 0, else alpha·(e^x-1) (PyTorch's ELU).", &elementwiseRule{
			func(aux any, _ DType) ScalarFunc {
				alpha := aux.(EluAttr).Alpha
				return unaryS(func(x float64) float64 {
					if x > 0 {
						return x
					}
					return alpha * math.Expm1(x)
				})
			},
			func(e CExpr) string {
				return e.expand("($x > 0 ? $x : " + e.Float(e.Aux.(EluAttr).Alpha) + " * expm1f($x))")
			}}},
		OpErf: {"erf", 1, ew, nil, typeUnaryFloat, gradErf, "Error function.", arith(unaryF(math.Erf), cTmpl("erff($x)"))},
		OpAbs: {"abs", 1, ew, nil, typeUnaryNum, gradAbs, "Absolute value |x|; its derivative at 0 is 0.", arith(unaryF(math.Abs), func(e CExpr) string {
			if e.DType == F32 {
				return e.expand("fabsf($x)")
			}
			return e.expand("($x < 0 ? ($t)(-$x) : $x)")
		})},
		OpSign: {"sign", 1, ew | nondiff, nil, typeUnaryNum, nil, "Sign of x: -1, 0 or 1, in x's dtype.", arith(unaryF(func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x // 0 or NaN
		}), cTmpl("($t)(($x > 0) - ($x < 0))"))},
		OpCast: {"cast", 1, ew | tc, nil, typeCast, gradCast, "x converted to the result dtype, same shape. Floats to ints truncate toward zero; to bool is x != 0.", &elementwiseRule{
			func(_ any, d DType) ScalarFunc {
				switch {
				case d == Bool:
					return compareS(func(x, _ float64) bool { return x != 0 })
				case d.IsInt():
					return unaryS(math.Trunc)
				}
				return unaryS(func(x float64) float64 { return x })
			},
			func(e CExpr) string {
				if e.DType == Bool {
					return e.expand("($x != 0)")
				}
				return e.expand("($t)($x)")
			}}},

		OpAdd: {"add", 2, ew | commutative, nil, typeBinaryNum, gradAdd, "Sum x + y, broadcasting.", arith(binaryF(func(x, y float64) float64 { return x + y }), cTmpl("($t)($x + $y)"))},
		OpSub: {"sub", 2, ew, nil, typeBinaryNum, gradSub, "Difference x - y, broadcasting.", arith(binaryF(func(x, y float64) float64 { return x - y }), cTmpl("($t)($x - $y)"))},
		OpMul: {"mul", 2, ew | commutative, nil, typeBinaryNum, gradMul, "Product x·y, broadcasting.", arith(binaryF(func(x, y float64) float64 { return x * y }), cTmpl("($t)($x * $y)"))},
		OpDiv: {"div", 2, ew, nil, typeBinaryNum, gradDiv, "Quotient x/y, broadcasting. Integer division truncates toward zero.", &elementwiseRule{
			func(_ any, d DType) ScalarFunc {
				if d.IsInt() {
					return func(x, y, _ float64) (float64, bool) {
						if y == 0 {
							return 0, false
						}
						return math.Trunc(x / y), true
					}
				}
				return binaryS(func(x, y float64) float64 { return x / y })
			},
			cTmpl("($t)($x / $y)")}},
		OpMax: {"max", 2, ew | commutative, nil, typeBinaryNum, gradMax, "Elementwise maximum, broadcasting; on ties the gradient goes to x.", arith(binaryF(math.Max), func(e CExpr) string {
			if e.DType == F32 {
				return e.expand("fmaxf($x, $y)")
			}
			return e.expand("($x > $y ? $x : $y)")
		})},
		OpMin: {"min", 2, ew | commutative, nil, typeBinaryNum, gradMin, "Elementwise minimum, broadcasting; on ties the gradient goes to x.", arith(binaryF(math.Min), func(e CExpr) string {
			if e.DType == F32 {
				return e.expand("fminf($x, $y)")
			}
			return e.expand("($x < $y ? $x : $y)")
		})},
		OpPow:   {"pow", 2, ew, nil, typeBinaryFloat, gradPow, "Power x^y, broadcasting. The gradient with respect to y needs x > 0.", arith(binaryF(math.Pow), cTmpl("powf($x, $y)"))},
		OpEq:    {"eq", 2, ew | commutative | nondiff, nil, typeCompare, nil, "x == y → bool, broadcasting.", arith(compareF(func(x, y float64) bool { return x == y }), cTmpl("($x == $y)"))},
		OpNe:    {"ne", 2, ew | commutative | nondiff, nil, typeCompare, nil, "x != y → bool, broadcasting.", arith(compareF(func(x, y float64) bool { return x != y }), cTmpl("($x != $y)"))},
		OpLt:    {"lt", 2, ew | nondiff, nil, typeCompare, nil, "x < y → bool, broadcasting.", arith(compareF(func(x, y float64) bool { return x < y }), cTmpl("($x < $y)"))},
		OpLe:    {"le", 2, ew | nondiff, nil, typeCompare, nil, "x <= y → bool, broadcasting.", arith(compareF(func(x, y float64) bool { return x <= y }), cTmpl("($x <= $y)"))},
		OpGt:    {"gt", 2, ew | nondiff, nil, typeCompare, nil, "x > y → bool, broadcasting.", arith(compareF(func(x, y float64) bool { return x > y }), cTmpl("($x > $y)"))},
		OpGe:    {"ge", 2, ew | nondiff, nil, typeCompare, nil, "x >= y → bool, broadcasting.", arith(compareF(func(x, y float64) bool { return x >= y }), cTmpl("($x >= $y)"))},
		OpWhere: {"where", 3, ew, nil, typeWhere, gradWhere, "cond ? x : y elementwise, broadcasting all three; cond is bool.", arith(func(any, DType) ScalarFunc { return where }, cTmpl("($x ? $y : $z)"))},

		OpFakeQuant:     {"fake_quant", 3, ew, aux[FakeQuantAttr](), typeFakeQuant, gradFakeQuant, "Fake int8 quantization (quantization-aware training): x quantized with the range [lo, hi] and dequantized, x itself inside that range up to one step; lo and hi broadcast (one range per tensor, or per output channel). signed: symmetric, scale = max(|lo|, |hi|)/127 (1 where 0), q in [-127, 127], zero 0 (weights); else 7-bit asymmetric as encc's int8 activations, scale = (hi' − lo')/127 over [lo', hi'] = [min(lo, 0), max(hi, 0)] (1 below 1e-8), zero = round(−lo'/scale) in [0, 127]. q = clamp(round_half_even(x·(1/scale)) + zero), the result (q − zero)·scale, in float32 as PyTorch's fake_quantize_per_tensor_affine / per_channel_affine compute it. The VJP is the straight-through estimator: dy where round(x/scale) + zero lies in the q range, else 0.", fakeQuantRule(false)},
		OpFakeQuantMask: {"fake_quant_mask", 3, ew | nondiff, aux[FakeQuantAttr](), typeFakeQuant, nil, "The straight-through estimator's mask of fake_quant: 1 where round(x/scale) + zero lies in the q range, else 0 (same attributes and range arguments).", fakeQuantRule(true)},

		OpReluBackward: {"relu_backward", 2, ew, nil, typeBinaryNum, nil, "Gradient of relu: x, dy → dy where x > 0, else 0.", arith(binaryF(func(x, dy float64) float64 {
			if x > 0 {
				return dy
			}
			return 0
		}), cTmpl("($x > 0 ? $y : ($t)0)"))},
		OpGeluBackward: {"gelu_backward", 2, ew, aux[GeluAttr](), typeBinaryFloat, nil, "Gradient of gelu (with tanh, of its approximation): x, dy → dy·gelu'(x); gelu'(x) = Φ(x) + x·φ(x).", &elementwiseRule{
			func(aux any, _ DType) ScalarFunc {
				if aux.(GeluAttr).Approximate {
					return binaryS(func(x, dy float64) float64 { return dy * geluTanhGrad(x) })
				}
				return binaryS(func(x, dy float64) float64 { return dy * geluErfGrad(x) })
			},
			func(e CExpr) string {
				if e.Aux.(GeluAttr).Approximate {
					const (
						t = "tanhf(0.7978845608028654f * ($x + 0.044715f * $x * $x * $x))"
						d = "(0.5f * (1.0f + " + t + ") + 0.5f * $x * (1.0f - " + t + " * " + t + ") * 0.7978845608028654f * (1.0f + 0.134145f * $x * $x))"
					)
					return e.expand("($y * " + d + ")")
				}
				return e.expand("($y * (0.5f * (1.0f + erff($x * 0.7071067811865476f)) + $x * expf(-0.5f * $x * $x) * 0.3989422804014327f))")
			}}},

		OpSum:       {"sum", 1, red, aux[ReduceAttr](), typeReduce, gradSum, "Sum over axes; keepdims keeps them with size 1. No axes is the identity.", nil},
		OpMean:      {"mean", 1, red, aux[ReduceAttr](), typeReduceFloat, gradMean, "Mean over axes; keepdims keeps them with size 1.", nil},
		OpReduceMax: {"reduce_max", 1, red, aux[ReduceAttr](), typeReduce, gradReduceMax, "Maximum over axes; keepdims keeps them with size 1. The gradient is shared equally among tied maxima.", nil},
		OpLogSumExp: {"logsumexp", 1, red, aux[ReduceAttr](), typeReduceFloat, gradLogSumExp, "log Σ exp(x) over axes, computed stably; keepdims keeps them with size 1.", nil},
		OpArgMax:    {"argmax", 1, red | nondiff, aux[ArgMaxAttr](), typeArgMax, nil, "Index (i64) of the first maximum along axis; keepdims keeps it with size 1.", nil},

		OpMatMul:               {"matmul", 2, 0, aux[MatMulAttr](), typeMatMul, gradMatMul, "Matrix product over the last two dims, [..,m,k]×[..,k,n] → [..,m,n], after transposing the last two dims of x (transpose_a) or y (transpose_b). Batch dims broadcast; a rank-1 operand is not allowed.", nil},
		OpConv2D:               {"conv2d", 2, 0, aux[Conv2DAttr](), typeConv2D, gradConv2D, "2-D cross-correlation of x[N,C,H,W] with w[O,C/G,KH,KW] → [N,O,H',W'], H' = (H+2·pad-dil·(KH-1)-1)/stride+1, zero padding; in G groups, output channel o reads input channels (o / (O/G))·C/G onwards.", nil},
		OpConv2DBackwardInput:  {"conv2d_backward_input", 2, tc, aux[Conv2DAttr](), typeConv2DBackwardInput, gradConv2DBackwardInput, "Gradient of conv2d with respect to x: dy[N,O,H',W'], w → dx of the result type [N,C,H,W], in the same groups.", nil},
		OpConv2DBackwardWeight: {"conv2d_backward_weight", 2, tc, aux[Conv2DAttr](), typeConv2DBackwardWeight, gradConv2DBackwardWeight, "Gradient of conv2d with respect to w: x, dy → dw of the result type [O,C/G,KH,KW], in the same groups.", nil},
		OpMaxPool2D:            {"maxpool2d", 1, 0, aux[Pool2DAttr](), typePool2D, gradMaxPool2D, "Maximum over kernel windows of x[N,C,H,W], padding with -inf.", nil},
		OpMaxPool2DBackward:    {"maxpool2d_backward", 2, 0, aux[Pool2DAttr](), typeMaxPool2DBackward, nil, "Gradient of maxpool2d: x, dy → dx; each window's dy goes to the first maximum of the window.", nil},
		OpAvgPool2D:            {"avgpool2d", 1, 0, aux[Pool2DAttr](), typePool2D, gradAvgPool2D, "Mean over kernel windows of x[N,C,H,W]; zero padding counts in the divisor (count_include_pad).", nil},
		OpAvgPool2DBackward:    {"avgpool2d_backward", 1, tc, aux[Pool2DAttr](), typeAvgPool2DBackward, gradAvgPool2DBackward, "Gradient of avgpool2d: dy → dx of the result type.", nil},

		OpReshape:       {"reshape", 1, tc, nil, typeReshape, gradReshape, "The same elements in row-major order, with the result shape.", nil},
		OpPermute:       {"permute", 1, 0, aux[PermuteAttr](), typePermute, gradPermute, "Axes reordered: result axis i is x's axis perm[i].", nil},
		OpBroadcastTo:   {"broadcast_to", 1, tc, nil, typeBroadcastTo, gradBroadcastTo, "x broadcast (NumPy rules) to the result shape.", nil},
		OpReduceTo:      {"reduce_to", 1, tc, nil, typeReduceTo, gradReduceTo, "Sum of x over the dims that broadcasting the result shape to x's shape would add or stretch: the adjoint of broadcast_to.", nil},
		OpSlice:         {"slice", 1, 0, aux[SliceAttr](), typeSlice, gradSlice, "Per axis i, the elements start[i], start[i]+step[i], … below stop[i].", nil},
		OpSliceBackward: {"slice_backward", 1, tc, aux[SliceAttr](), typeSliceBackward, gradSliceBackward, "The adjoint of slice: zeros of the result type with dy written at the sliced positions.", nil},
		OpConcat:        {"concat", -1, 0, aux[AxisAttr](), typeConcat, gradConcat, "Operands joined along axis; other dims must agree.", nil},
		OpGather:        {"gather", 2, 0, nil, typeGather, gradGather, "Rows of table[V,…] picked by integer ids[…] → [ids…,…] (embedding lookup). Ids outside [0,V) are an error.", nil},
		OpScatterAdd:    {"scatter_add", 2, tc, nil, typeScatterAdd, gradScatterAdd, "ids[…], updates[ids…,…] → zeros of the result type [V,…] with updates added to rows ids: the adjoint of gather.", nil},
		OpOneHot:        {"one_hot", 1, tc | nondiff, nil, typeOneHot, nil, "Integer ids[…] → […,depth] with 1 at the id and 0 elsewhere, depth and dtype from the result type.", nil},

		OpSoftmax:                     {"softmax", 1, 0, aux[AxisAttr](), typeUnaryFloatAxis, gradSoftmax, "exp(x)/Σexp(x) along axis, computed stably.", nil},
		OpLogSoftmax:                  {"log_softmax", 1, 0, aux[AxisAttr](), typeUnaryFloatAxis, gradLogSoftmax, "x - logsumexp(x) along axis.", nil},
		OpAttention:                   {"attention", -1, 0, aux[AttentionAttr](), typeAttention, gradAttention, "Scaled dot-product attention softmax(q·kᵀ·scale) v over q [..., Tq, dh], k [..., Tk, dh], v [..., Tk, dv] with equal leading dims; an optional bool mask [B, Tk] gives masked keys the score -1e9. One kernel keeps each row's scores in cache; the VJP recomputes them. With bthd, q, k, v and the result are [B, T, H, d], heads read in place.", nil},
		OpAttentionBackward:           {"attention_backward", -1, 0, aux[AttentionBackwardAttr](), typeAttentionBackward, nil, "First half of attention's gradient: q, k, v, dy[, mask] → [..., Tq, 2·Tk] ([B, H, Tq, 2·Tk] with bthd), per query row the weights p, then the score gradients p ⊙ (dp − Σ dp ⊙ p)·scale, dp = dy·vᵀ, 0 at masked keys; one item's rows in cache at a time.", nil},
		OpAttentionBackwardProduct:    {"attention_backward_product", 2, 0, aux[AttentionProductAttr](), typeAttentionBackwardProduct, nil, "Second half of attention's gradient: attention_backward's w and x → dq = ds·k (wrt=0, x = k), dk = dsᵀ·q (wrt=1, x = q) or dv = pᵀ·dy (wrt=2, x = dy), per item, x read and the result written in the layout bthd names.", nil},
		OpLayerNorm:                   {"layernorm", 3, 0, aux[LayerNormAttr](), typeLayerNorm, gradLayerNorm, "Layer normalization over the last axis: (x-mean)/√(var+eps)·w + b, biased variance, w and b of shape [D].", nil},
		OpLayerNormBackwardInput:      {"layernorm_backward_input", 3, 0, aux[LayerNormAttr](), typeLayerNormBackwardInput, nil, "Gradient of layernorm with respect to x: x, w, dy → dx.", nil},
		OpLayerNormBackwardWeight:     {"layernorm_backward_weight", 2, 0, aux[LayerNormAttr](), typeLayerNormBackwardWeight, nil, "Gradient of layernorm with respect to w: x, dy → Σ dy·x̂ over all but the last axis, [D].", nil},
		OpSoftmaxCrossEntropy:         {"softmax_cross_entropy", 2, 0, aux[CrossEntropyAttr](), typeSoftmaxCrossEntropy, gradSoftmaxCrossEntropy, "Mean over N of the cross entropy of logits[N,C] against integer labels[N], with label smoothing ε: (1-ε)·nll + ε·mean over classes of -log p. A scalar.", nil},
		OpSoftmaxCrossEntropyBackward: {"softmax_cross_entropy_backward", 3, 0, aux[CrossEntropyAttr](), typeSoftmaxCrossEntropyBackward, nil, "Gradient of softmax_cross_entropy: logits, labels, dloss[] → (softmax(logits) - smoothed one-hot)·dloss/N.", nil},
		OpDropout:                     {"dropout", 3, 0, aux[DropoutAttr](), typeDropout, gradDropout, "x, seed[], step[] (integers) → x/(1-p) where DropoutKeep(seed, step, i, p), else 0. The mask is a pure function of seed, step and element index, so it differs per step and is reproducible; eval graphs omit the op.", nil},

		OpSGD:         {"sgd", 3, inplace, nil, typeSGD, nil, "Parameter step p - lr·d, in place on p; d is the (momentum, weight-decayed) direction and lr a scalar.", nil},
		OpSGDMomentum: {"sgd_momentum", 3, inplace, aux[MomentumAttr](), typeSGDMomentum, nil, "Momentum buffer update in place on buf: d at step 1, else momentum·buf + (1-dampening)·d (PyTorch SGD). Args buf, d, step[] (1-based).", nil},
		OpEMA:         {"ema", 2, inplace, aux[EMAAttr](), typeEMA, nil, "Exponential moving average in place on s: decay·s + (1-decay)·x (Adam's first moment).", nil},
		OpEMASq:       {"ema_sq", 2, inplace, aux[EMAAttr](), typeEMA, nil, "Exponential moving average of squares in place on s: decay·s + (1-decay)·x² (Adam's second moment, RMSprop's square average).", nil},
		OpAdam:        {"adam", 5, inplace, aux[AdamAttr](), typeAdam, nil, "Adam step in place on p, given the updated moments m and v, lr[] and the 1-based step[]: p·(1-lr·weight_decay) - lr/(1-β1^t) · m/(√v/√(1-β2^t) + eps) (PyTorch Adam/AdamW).", nil},
		OpRMSprop:     {"rmsprop", 4, inplace, aux[RMSpropAttr](), typeRMSprop, nil, "RMSprop step in place on p, given the gradient g, the updated square average v and lr[]: p - lr·g/(√v + eps).", nil},

		OpFused:      {"fused", -1, fused | tc, aux[FusedAttr](), typeFused, nil, "One elementwise kernel: the operands are broadcast to the result shape and, per element, the body's instructions run in order over registers holding the operands and then each instruction's result; the last register is the result (see FusedAttr).", nil},
		OpMatMulBias: {"matmul_bias", 3, fused, aux[MatMulBiasAttr](), typeMatMulBias, nil, "matmul(x, w) with transpose flags, plus bias[n] added to every row, then the activation named by the attributes (relu, gelu, gelu with tanh, tanh, sigmoid) or none: a GEMM with its epilogue.", nil},
	}
	for op := OpInvalid + 1; op < numOps; op++ {
		d := &opInfo[op]
		if d.name == "" || d.typ == nil || d.doc == "" {
			panic("ir: incomplete op table entry for op " + strconv.Itoa(int(op)))
		}
		opByName[d.name] = op
	}
}
