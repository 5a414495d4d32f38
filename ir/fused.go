// This file implements the fused kernels that the fuse pass makes:
// FusedAttr, the expression body of an OpFused value, with its text form
// and type rule, and the type rule of OpMatMulBias.
//
// A fused value %v = fused(%a0, …, %a(n-1)) computes, for every element
// index i of its result shape S:
//
//	r[k]   = operand k at index i, broadcast (NumPy rules) to S, for k < n
//	r[n+j] = Body[j].Op(r[Body[j].Args[0]], …) in dtype Body[j].DType
//	result = r[n+len(Body)-1]
//
// Each instruction is a primitive elementwise op of the op table (with its
// attributes in Aux, as a value of that op would hold them, and its usual
// scalar semantics) or OpFill, a constant (Aux FillAttr). In the text form
// the body is the attribute list:
//
//	%9 = fused(%6, %fc1.bias) {$2 = add($0, $1) : f32, $3 = relu($2) : f32} : f32[32,128]
//
// where $k is register k.

package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// A FusedAttr is the body of a fused elementwise kernel: instructions over
// registers, the first of which hold the operands (see the file comment).
type FusedAttr struct {
	Operands int          // the number of operands, len(Args) of the value
	Body     []FusedInstr // the instructions, at least one
}

// A FusedInstr is one instruction of a fused body. With n operands, the
// j-th instruction defines register n+j.
type FusedInstr struct {
	Op    Op    // a primitive elementwise op, or OpFill for a constant
	DType DType // the dtype of its result
	Args  []int // registers read: 0…n-1 the operands, n+k instruction k's result (k < j)
	Aux   any   // the op's attributes (GeluAttr for gelu, FillAttr for fill), or nil
}

// String formats the body as in the text form, without braces:
// "$2 = add($0, $1) : f32, $3 = relu($2) : f32".
func (a FusedAttr) String() string {
	var b strings.Builder
	for j, in := range a.Body {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d = %s(", a.Operands+j, in.Op)
		for i, r := range in.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", r)
		}
		b.WriteString(")")
		if s := FormatAux(in.Aux); s != "" {
			b.WriteString(" {" + s + "}")
		}
		b.WriteString(" : " + in.DType.String())
	}
	return b.String()
}

// fusedBody parses the attribute list of a fused value, after its '{'.
func (p *parser) fusedBody(operands int) (FusedAttr, error) {
	a := FusedAttr{Operands: operands}
	p.skip()
	if p.eol() || p.line[p.pos] != '{' {
		return a, nil
	}
	p.pos++
	for !p.accept('}') {
		if len(a.Body) > 0 {
			if err := p.expect(','); err != nil {
				return a, err
			}
		}
		start := p.pos
		reg := p.word()
		if reg != "$"+strconv.Itoa(operands+len(a.Body)) {
			p.pos = start
			return a, p.errorf("expected register $%d, found %q", operands+len(a.Body), reg)
		}
		if err := p.expect('='); err != nil {
			return a, err
		}
		start = p.pos
		name := p.word()
		op, ok := LookupOp(name)
		if !ok || !(op.IsElementwise() || op == OpFill) || op.IsFused() {
			p.pos = start
			return a, p.errorf("%q is not an elementwise op", name)
		}
		if err := p.expect('('); err != nil {
			return a, err
		}
		var args []int
		for !p.accept(')') {
			if len(args) > 0 {
				if err := p.expect(','); err != nil {
					return a, err
				}
			}
			start := p.pos
			w := p.word()
			r, err := strconv.Atoi(strings.TrimPrefix(w, "$"))
			if err != nil || !strings.HasPrefix(w, "$") {
				p.pos = start
				return a, p.errorf("expected a register, found %q", w)
			}
			args = append(args, r)
		}
		aux, err := p.aux(op)
		if err != nil {
			return a, err
		}
		if err := p.expect(':'); err != nil {
			return a, err
		}
		start = p.pos
		d, ok := ParseDType(p.word())
		if !ok {
			p.pos = start
			return a, p.errorf("expected a dtype")
		}
		a.Body = append(a.Body, FusedInstr{Op: op, DType: d, Args: args, Aux: aux})
	}
	return a, nil
}

// typeFused checks a fused value: operands broadcast to the result shape,
// and every instruction is well typed over scalars of its registers'
// dtypes, the last one of the result dtype.
func typeFused(v *Value) (Type, error) {
	t, err := typeGiven(v)
	if err != nil {
		return t, err
	}
	body := v.Aux.(FusedAttr).Body
	if len(body) == 0 {
		return Type{}, errf(v, "empty body")
	}
	if n := v.Aux.(FusedAttr).Operands; n != len(v.Args) {
		return Type{}, errf(v, "body for %d operands, given %d", n, len(v.Args))
	}
	regs := make([]DType, 0, len(v.Args)+len(body))
	for _, a := range v.Args {
		if !a.Type.Shape.BroadcastsTo(t.Shape) {
			return Type{}, errf(v, "operand %v does not broadcast to %v", a.Type, t)
		}
		regs = append(regs, a.Type.DType)
	}
	for j, in := range body {
		n := len(v.Args) + j
		if in.Op != OpFill && (!in.Op.IsElementwise() || in.Op.IsFused()) {
			return Type{}, errf(v, "$%d: %s is not a primitive elementwise op", n, in.Op)
		}
		if err := checkArity(in.Op, len(in.Args)); err != nil {
			return Type{}, errf(v, "$%d: %v", n, err)
		}
		if err := checkAux(in.Op, in.Aux); err != nil {
			return Type{}, errf(v, "$%d: %v", n, err)
		}
		w := &Value{Op: in.Op, Aux: in.Aux}
		if in.Op.IsTypeCarrying() {
			w.Type = Scalar(in.DType)
		}
		for _, r := range in.Args {
			if r < 0 || r >= n {
				return Type{}, errf(v, "$%d reads $%d, which is not defined before it", n, r)
			}
			w.Args = append(w.Args, &Value{Op: OpInput, Type: Scalar(regs[r])})
		}
		got, err := opInfo[in.Op].typ(w)
		if err != nil {
			return Type{}, errf(v, "$%d: %v", n, err)
		}
		if got.DType != in.DType || got.Rank() != 0 {
			return Type{}, errf(v, "$%d = %s is %v, not %v", n, in.Op, got.DType, in.DType)
		}
		regs = append(regs, in.DType)
	}
	if last := body[len(body)-1].DType; last != t.DType {
		return Type{}, errf(v, "body gives %v, result is %v", last, t.DType)
	}
	return t, nil
}

// MatMul returns the attributes of the product alone.
func (a MatMulBiasAttr) MatMul() MatMulAttr {
	return MatMulAttr{TransposeA: a.TransposeA, TransposeB: a.TransposeB}
}

func typeMatMulBias(v *Value) (Type, error) {
	a := v.Aux.(MatMulBiasAttr)
	if act := a.Act; !act.IsNone() {
		if act.Op >= numOps || !act.Op.IsEpilogue() {
			return Type{}, errf(v, "%s is not an epilogue activation", act.Op)
		}
		if err := checkAux(act.Op, act.Aux); err != nil {
			return Type{}, errf(v, "%v", err)
		}
	}
	t, err := typeMatMul(&Value{Op: OpMatMul, Aux: a.MatMul(), Args: v.Args[:2]})
	if err != nil {
		return Type{}, errf(v, "%v", err)
	}
	bias := v.Args[2]
	if err := sameDType(v, v.Args[0], bias); err != nil {
		return Type{}, err
	}
	if bias.Type.Rank() != 1 || bias.Type.Shape[0] != t.Shape[t.Rank()-1] {
		return Type{}, errf(v, "bias %v is not [%d], one per column of %v", bias.Type, t.Shape[t.Rank()-1], t)
	}
	if !a.Act.IsNone() && !t.DType.IsFloat() {
		return Type{}, errf(v, "activation of %v", t)
	}
	return t, nil
}

// Fused appends a fused elementwise value of type t over args, with body
// a (whose Operands is set to len(args)).
func (b *Builder) Fused(t Type, a FusedAttr, args ...*Value) (*Value, error) {
	a.Operands = len(args)
	return b.Op(OpFused, t, a, args...)
}

// MatMulBias appends matmul(x, w) + bias with an epilogue activation.
func (b *Builder) MatMulBias(x, w, bias *Value, a MatMulBiasAttr) (*Value, error) {
	return b.Op(OpMatMulBias, Type{}, a, x, w, bias)
}
