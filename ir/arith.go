// This file implements the arithmetic of the elementwise ops: the
// elementwiseRule of each op table row, with its Go form (ScalarFunc,
// read by constant folding, the reference evaluator and the CPU backend)
// and its C form (CExpr, read by the CUDA emitter).

package ir

import (
	"math"
	"strings"
)

// A ScalarFunc is an elementwise op's arithmetic on one element: its
// result for operands x, y, z (those past the op's arity are 0), with the
// reference evaluator's semantics: every dtype is held in a float64,
// integer division and casts to integers truncate, comparisons give 0 or
// 1. ok is false where the result is undefined (integer division by
// zero).
type ScalarFunc func(x, y, z float64) (r float64, ok bool)

// A CExpr is what the C expression of one elementwise op is written from.
type CExpr struct {
	Aux   any                  // the op's attributes
	DType DType                // the result dtype
	Type  string               // the C type of the result register
	Args  []string             // the operand expressions
	Float func(float64) string // writes a float constant as a C literal
}

// expand replaces $x, $y, $z by the operands and $t by the result type.
func (e CExpr) expand(tmpl string) string {
	r := []string{"$t", e.Type}
	for i, a := range e.Args {
		r = append(r, "$"+string("xyz"[i]), a)
	}
	return strings.NewReplacer(r...).Replace(tmpl)
}

// An elementwiseRule is the arithmetic of an elementwise op: scalar
// gives the ScalarFunc for the op's attributes and result dtype, c its C
// expression in single precision (float registers), with the semantics
// of scalar in the result dtype.
type elementwiseRule struct {
	scalar func(aux any, d DType) ScalarFunc
	c      func(e CExpr) string
}

// Scalar returns the arithmetic of the elementwise op with attributes aux
// and result dtype d, or nil when op is not elementwise.
func (op Op) Scalar(aux any, d DType) ScalarFunc {
	if r := opInfo[op].arith; r != nil && r.scalar != nil {
		return r.scalar(aux, d)
	}
	return nil
}

// C returns the C expression of the elementwise op over e, and false
// when op is not elementwise.
func (op Op) C(e CExpr) (string, bool) {
	if r := opInfo[op].arith; r != nil && r.c != nil {
		return r.c(e), true
	}
	return "", false
}

// EvalScalar applies the elementwise op with attributes aux to scalar
// operands, giving a result of dtype d, with the reference evaluator's
// semantics (ScalarFunc).
func EvalScalar(op Op, aux any, d DType, xs []float64) (float64, bool) {
	f := op.Scalar(aux, d)
	if f == nil {
		return 0, false
	}
	var x [3]float64
	copy(x[:], xs)
	return f(x[0], x[1], x[2])
}

// arith is the rule of scalar and c.
func arith(scalar func(any, DType) ScalarFunc, c func(CExpr) string) *elementwiseRule {
	return &elementwiseRule{scalar, c}
}

// cTmpl is the C expression tmpl, with $x, $y, $z the operands and $t
// the result type.
func cTmpl(tmpl string) func(CExpr) string { return func(e CExpr) string { return e.expand(tmpl) } }

// unaryS is the ScalarFunc of a function of x.
func unaryS(f func(x float64) float64) ScalarFunc {
	return func(x, _, _ float64) (float64, bool) { return f(x), true }
}

// binaryS is the ScalarFunc of a function of x and y.
func binaryS(f func(x, y float64) float64) ScalarFunc {
	return func(x, y, _ float64) (float64, bool) { return f(x, y), true }
}

// compareS is the ScalarFunc of a predicate of x and y: 1 where it holds.
func compareS(f func(x, y float64) bool) ScalarFunc {
	return func(x, y, _ float64) (float64, bool) {
		if f(x, y) {
			return 1, true
		}
		return 0, true
	}
}

// unaryF, binaryF and compareF are the scalar rules of ops without
// attributes whose arithmetic does not depend on the dtype.
func unaryF(f func(x float64) float64) func(any, DType) ScalarFunc {
	s := unaryS(f)
	return func(any, DType) ScalarFunc { return s }
}

func binaryF(f func(x, y float64) float64) func(any, DType) ScalarFunc {
	s := binaryS(f)
	return func(any, DType) ScalarFunc { return s }
}

func compareF(f func(x, y float64) bool) func(any, DType) ScalarFunc {
	s := compareS(f)
	return func(any, DType) ScalarFunc { return s }
}

// where is cond ? x : y.
func where(c, x, y float64) (float64, bool) {
	if c != 0 {
		return x, true
	}
	return y, true
}

// geluK is √(2/π), of GELU's tanh approximation.
var geluK = math.Sqrt(2 / math.Pi)

// geluErf is x·Φ(x) = ½x(1+erf(x/√2)).
func geluErf(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

// geluTanh is ½x(1+tanh(√(2/π)(x+0.044715x³))).
func geluTanh(x float64) float64 { return 0.5 * x * (1 + math.Tanh(geluK*(x+0.044715*x*x*x))) }

// geluErfGrad is the derivative of geluErf, Φ(x) + x·φ(x).
func geluErfGrad(x float64) float64 {
	return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}

// geluTanhGrad is the derivative of geluTanh: with t = tanh(k(x+ax³)),
// ½(1+t) + ½x(1-t²)·k(1+3ax²).
func geluTanhGrad(x float64) float64 {
	const a = 0.044715
	t := math.Tanh(geluK * (x + a*x*x*x))
	return 0.5*(1+t) + 0.5*x*(1-t*t)*geluK*(1+3*a*x*x)
}
