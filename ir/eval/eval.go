// Package eval is the reference evaluator of the IR: it runs any graph on
// the CPU with plain loops, holding every element in a float64 whatever
// its dtype and accumulating in float64. It is slow and simple on
// purpose; passes and backends are tested against it.
//
// Run takes input tensors by name and returns the named outputs and the
// new values of updated inputs (optimizer updates). One kernel per op
// lives in kernels, and a test fails when an op of the table has none; the
// elementwise ops all run the op table's arithmetic (ir.Op.Scalar).
package eval

import (
	"fmt"
	"slices"
	"strings"

	"github.com/encc-lang/encc/ir"
)

// A Tensor is a dense row-major tensor. Integers and booleans (0 or 1)
// are held in F too.
type Tensor struct {
	Type ir.Type
	F    []float64
}

// New returns a tensor of type t holding data, which must have
// t.NumElements() elements.
func New(t ir.Type, data []float64) *Tensor {
	if len(data) != t.NumElements() {
		panic(fmt.Sprintf("eval.New: %d elements for %v", len(data), t))
	}
	return &Tensor{t, data}
}

// Zeros returns a tensor of type t filled with zeros.
func Zeros(t ir.Type) *Tensor { return &Tensor{t, make([]float64, t.NumElements())} }

// Clone returns a deep copy of x.
func (x *Tensor) Clone() *Tensor {
	return &Tensor{ir.Type{DType: x.Type.DType, Shape: x.Type.Shape.Clone()}, slices.Clone(x.F)}
}

// String prints the type and, for small tensors, the elements.
func (x *Tensor) String() string {
	if len(x.F) > 16 {
		return fmt.Sprintf("%v{%g … %g}", x.Type, x.F[0], x.F[len(x.F)-1])
	}
	s := make([]string, len(x.F))
	for i, f := range x.F {
		s[i] = fmt.Sprint(f)
	}
	return fmt.Sprintf("%v{%s}", x.Type, strings.Join(s, ", "))
}

// A Result holds what a run produced.
type Result struct {
	Outputs map[string]*Tensor    // named outputs
	Updates map[string]*Tensor    // new values of updated inputs, by input name
	Values  map[*ir.Value]*Tensor // every value computed, for debugging and tests
}

// Run evaluates g on inputs, which must hold a tensor of the declared type
// for every input of g. Inputs are not modified.
func Run(g *ir.Graph, inputs map[string]*Tensor) (*Result, error) {
	vals := make(map[*ir.Value]*Tensor, len(g.Values))
	for _, in := range g.Inputs {
		t, ok := inputs[in.Name]
		if !ok {
			return nil, fmt.Errorf("eval: no tensor for input %s", in.Name)
		}
		if !t.Type.Equal(in.Type) || len(t.F) != in.Type.NumElements() {
			return nil, fmt.Errorf("eval: input %s is %v, want %v", in.Name, t.Type, in.Type)
		}
		vals[in] = t
	}
	for _, v := range g.Values {
		if v.Op == ir.OpInput {
			continue
		}
		k := kernels[v.Op]
		if k == nil {
			return nil, fmt.Errorf("eval: no kernel for %s", v.Op)
		}
		args := make([]*Tensor, len(v.Args))
		for i, a := range v.Args {
			if args[i] = vals[a]; args[i] == nil {
				return nil, fmt.Errorf("eval: %s uses %s before it is computed", v.Ref(), a.Ref())
			}
		}
		out := Zeros(v.Type)
		if err := k(v, out, args); err != nil {
			return nil, fmt.Errorf("eval: %s = %s: %v", v.Ref(), v.Op, err)
		}
		vals[v] = out
	}
	r := &Result{Outputs: map[string]*Tensor{}, Updates: map[string]*Tensor{}, Values: vals}
	for _, o := range g.Outputs {
		if o.Updates != nil {
			r.Updates[o.Updates.Name] = vals[o.Value]
		} else {
			r.Outputs[o.Name] = vals[o.Value]
		}
	}
	return r, nil
}

// A kernel computes v into out (zeroed, of v's type) from its operands.
type kernel func(v *ir.Value, out *Tensor, args []*Tensor) error

// HasKernel reports whether the evaluator can run op.
func HasKernel(op ir.Op) bool { return kernels[op] != nil }

var kernels map[ir.Op]kernel

func init() {
	kernels = map[ir.Op]kernel{}
	for _, op := range ir.Ops() {
		if op.IsElementwise() && !op.IsFused() {
			kernels[op] = kElementwise
		}
	}
	for op, k := range map[ir.Op]kernel{
		ir.OpFill:    kFill,
		ir.OpIota:    kIota,
		ir.OpLiteral: kLiteral,

		ir.OpSum:       kSum,
		ir.OpMean:      kMean,
		ir.OpReduceMax: kReduceMax,
		ir.OpLogSumExp: kLogSumExp,
		ir.OpArgMax:    kArgMax,

		ir.OpMatMul:               kMatMul,
		ir.OpConv2D:               kConv2D,
		ir.OpConv2DBackwardInput:  kConv2DBackwardInput,
		ir.OpConv2DBackwardWeight: kConv2DBackwardWeight,
		ir.OpMaxPool2D:            kMaxPool2D,
		ir.OpMaxPool2DBackward:    kMaxPool2DBackward,
		ir.OpAvgPool2D:            kAvgPool2D,
		ir.OpAvgPool2DBackward:    kAvgPool2DBackward,

		ir.OpReshape:       kReshape,
		ir.OpPermute:       kPermute,
		ir.OpBroadcastTo:   kBroadcastTo,
		ir.OpReduceTo:      kReduceTo,
		ir.OpSlice:         kSlice,
		ir.OpSliceBackward: kSliceBackward,
		ir.OpConcat:        kConcat,
		ir.OpGather:        kGather,
		ir.OpScatterAdd:    kScatterAdd,
		ir.OpOneHot:        kOneHot,

		ir.OpSoftmax:                     kSoftmax,
		ir.OpAttention:                   kAttention,
		ir.OpAttentionBackward:           kAttentionBackward,
		ir.OpAttentionBackwardProduct:    kAttentionBackwardProduct,
		ir.OpLogSoftmax:                  kLogSoftmax,
		ir.OpLayerNorm:                   kLayerNorm,
		ir.OpLayerNormBackwardInput:      kLayerNormBackwardInput,
		ir.OpLayerNormBackwardWeight:     kLayerNormBackwardWeight,
		ir.OpSoftmaxCrossEntropy:         kSoftmaxCrossEntropy,
		ir.OpSoftmaxCrossEntropyBackward: kSoftmaxCrossEntropyBackward,
		ir.OpDropout:                     kDropout,

		ir.OpSGD:         kSGD,
		ir.OpSGDMomentum: kSGDMomentum,
		ir.OpEMA:         kEMA,
		ir.OpEMASq:       kEMASq,
		ir.OpAdam:        kAdam,
		ir.OpRMSprop:     kRMSprop,

		ir.OpFused:      kFused,
		ir.OpMatMulBias: kMatMulBias,
	} {
		kernels[op] = k
	}
}
