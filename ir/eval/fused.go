// This file implements the kernels of the fused ops, by running the
// kernels of the ops they fuse, so that fusing never changes a result.

package eval

import (
	"fmt"

	"github.com/encc-lang/encc/ir"
)

// kFused broadcasts the operands to the result shape and runs the body's
// instructions one by one over whole tensors.
func kFused(v *ir.Value, out *Tensor, a []*Tensor) error {
	body := v.Aux.(ir.FusedAttr).Body
	shape := v.Type.Shape
	regs := make([]*Tensor, 0, len(a)+len(body))
	for _, t := range a {
		r := Zeros(ir.Type{DType: t.Type.DType, Shape: shape})
		if err := kBroadcastTo(nil, r, []*Tensor{t}); err != nil {
			return err
		}
		regs = append(regs, r)
	}
	for j, in := range body {
		w := &ir.Value{Op: in.Op, Aux: in.Aux, Type: ir.Type{DType: in.DType, Shape: shape}}
		args := make([]*Tensor, len(in.Args))
		for i, r := range in.Args {
			args[i] = regs[r]
			w.Args = append(w.Args, &ir.Value{Op: ir.OpInput, Type: regs[r].Type})
		}
		r := Zeros(w.Type)
		if err := kernels[in.Op](w, r, args); err != nil {
			return fmt.Errorf("$%d = %s: %v", len(a)+j, in.Op, err)
		}
		regs = append(regs, r)
	}
	copy(out.F, regs[len(regs)-1].F)
	return nil
}

// kMatMulBias is matmul, then add of the bias, then the activation.
func kMatMulBias(v *ir.Value, out *Tensor, a []*Tensor) error {
	attr := v.Aux.(ir.MatMulBiasAttr)
	mm := &ir.Value{Op: ir.OpMatMul, Aux: attr.MatMul(), Type: v.Type, Args: v.Args[:2]}
	prod := Zeros(v.Type)
	if err := kMatMul(mm, prod, a[:2]); err != nil {
		return err
	}
	add := &ir.Value{Op: ir.OpAdd, Type: v.Type, Args: []*ir.Value{mm, v.Args[2]}}
	if err := kernels[ir.OpAdd](add, out, []*Tensor{prod, a[2]}); err != nil {
		return err
	}
	if a := attr.Act; !a.IsNone() {
		act := &ir.Value{Op: a.Op, Aux: a.Aux, Type: v.Type, Args: []*ir.Value{add}}
		in := out.Clone()
		return kernels[a.Op](act, out, []*Tensor{in})
	}
	return nil
}
