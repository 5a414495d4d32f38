// This file implements the elementwise kernels: fused bodies and single
// elementwise ops (one thread per element, the operands broadcast by
// index arithmetic), constants, dropout and the optimizer updates.

package cuda

import (
	"fmt"
	"strings"

	"github.com/encc-lang/encc/ir"
)

func init() {
	var ew []ir.Op
	for _, op := range ir.Ops() {
		if op.IsElementwise() && !op.IsFused() {
			ew = append(ew, op)
		}
	}
	register(genElementwise, ew...)
	register(genElementwise, ir.OpFused)
	register(genFill, ir.OpFill)
	register(genIota, ir.OpIota)
	register(genLiteral, ir.OpLiteral)
	register(genDropout, ir.OpDropout)
	register(genOptim, ir.OpSGD, ir.OpSGDMomentum, ir.OpEMA, ir.OpEMASq, ir.OpAdam, ir.OpRMSprop)
}

// bodyOf is the fused body of v: its own, or one instruction applying a
// primitive elementwise op to all its operands.
func bodyOf(v *ir.Value) ir.FusedAttr {
	if v.Op == ir.OpFused {
		return v.Aux.(ir.FusedAttr)
	}
	regs := make([]int, len(v.Args))
	for i := range regs {
		regs[i] = i
	}
	return ir.FusedAttr{Operands: len(v.Args), Body: []ir.FusedInstr{{Op: v.Op, DType: v.Type.DType, Args: regs, Aux: v.Aux}}}
}

// fusedSuffix names a fused kernel after its body's ops: fused_gt_where.
func fusedSuffix(v *ir.Value) string {
	if v.Op != ir.OpFused {
		return v.Op.String()
	}
	seen := map[ir.Op]bool{}
	parts := []string{"fused"}
	for _, in := range v.Aux.(ir.FusedAttr).Body {
		if in.Op == ir.OpFill || seen[in.Op] {
			continue
		}
		seen[in.Op] = true
		if len(parts) == 4 {
			parts = append(parts, "etc")
			break
		}
		parts = append(parts, in.Op.String())
	}
	return strings.Join(parts, "_")
}

// genElementwise renders a fused body (or one elementwise op) as
// straight-line code per element.
func genElementwise(e *emitter, v *ir.Value) error {
	body := bodyOf(v)
	n := v.Type.NumElements()
	shape := v.Type.Shape
	params := []param{out(v.Type.DType, "out")}
	var shapes []ir.Shape
	for i, a := range v.Args {
		params = append(params, in(a.Type.DType, fmt.Sprintf("a%d", i)))
		shapes = append(shapes, a.Type.Shape)
	}
	var c code
	c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
	c.line("if (i >= %d) return;", n)
	if needsUnravel(shape, shapes...) {
		c.unravel("i", "d", shape)
	}
	types := make([]ir.DType, 0, len(v.Args)+len(body.Body))
	for i, a := range v.Args {
		c.line("const %s r%d = %s;", regType(a.Type.DType), i, load(a.Type.DType, fmt.Sprintf("a%d", i), bcastOffset(shape, a.Type.Shape, "i", "d")))
		types = append(types, a.Type.DType)
	}
	for j, instr := range body.Body {
		r := len(v.Args) + j
		args := make([]string, len(instr.Args))
		for k, a := range instr.Args {
			args[k] = fmt.Sprintf("r%d", a)
		}
		x, err := scalarExpr(instr.Op, instr.DType, instr.Aux, args)
		if err != nil {
			return fmt.Errorf("$%d: %v", r, err)
		}
		c.line("const %s r%d = %s;", regType(instr.DType), r, x)
		types = append(types, instr.DType)
	}
	c.line("out[i] = %s;", store(v.Type.DType, fmt.Sprintf("r%d", len(types)-1)))
	k := e.kernel(v, fusedSuffix(v), params, c.String())
	e.launchThreads(v, k, n, v.Args...)
	return nil
}

// scalarExpr is the C expression of one elementwise op of result dtype d
// over register expressions x: the op table's (ir.Op.C), a fill's
// literal.
func scalarExpr(op ir.Op, d ir.DType, aux any, x []string) (string, error) {
	if op == ir.OpFill {
		return lit(d, aux.(ir.FillAttr).Value), nil
	}
	if c, ok := op.C(ir.CExpr{Aux: aux, DType: d, Type: regType(d), Args: x, Float: flit}); ok {
		return c, nil
	}
	return "", fmt.Errorf("no scalar form for %s", op)
}

func genFill(e *emitter, v *ir.Value) error {
	n := v.Type.NumElements()
	var c code
	c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
	c.line("if (i >= %d) return;", n)
	c.line("out[i] = %s;", store(v.Type.DType, lit(v.Type.DType, v.Aux.(ir.FillAttr).Value)))
	k := e.kernel(v, "fill", []param{out(v.Type.DType, "out")}, c.String())
	e.launchThreads(v, k, n)
	return nil
}

func genIota(e *emitter, v *ir.Value) error {
	n := v.Type.NumElements()
	axis := v.Aux.(ir.IotaAttr).Axis
	var c code
	c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
	c.line("if (i >= %d) return;", n)
	c.unravel("i", "d", v.Type.Shape)
	c.line("out[i] = (%s)d%d;", ctype(v.Type.DType), axis)
	k := e.kernel(v, "iota", []param{out(v.Type.DType, "out")}, c.String())
	e.launchThreads(v, k, n)
	return nil
}

// genLiteral copies a constant table, emitted as a __device__ array.
func genLiteral(e *emitter, v *ir.Value) error {
	n := v.Type.NumElements()
	data := v.Aux.(ir.LiteralAttr).Data
	table := fmt.Sprintf("k%d_data", v.ID)
	fmt.Fprintf(&e.src, "\n__device__ const %s %s[%d] = {", regType(v.Type.DType), table, n)
	for i := range n {
		if i > 0 {
			e.src.WriteString(", ")
		}
		if i%8 == 0 {
			e.src.WriteString("\n  ")
		}
		x := 0.0
		if i < len(data) {
			x = data[i]
		}
		e.src.WriteString(lit(v.Type.DType, x))
	}
	e.src.WriteString("\n};\n")
	var c code
	c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
	c.line("if (i >= %d) return;", n)
	c.line("out[i] = %s;", store(v.Type.DType, table+"[i]"))
	k := e.kernel(v, "literal", []param{out(v.Type.DType, "out")}, c.String())
	e.launchThreads(v, k, n)
	return nil
}

// genDropout reproduces ir.DropoutKeep bit for bit: the mask depends on
// seed, step and the row-major index only.
func genDropout(e *emitter, v *ir.Value) error {
	p := v.Aux.(ir.DropoutAttr).P
	x, seed, step := v.Args[0], v.Args[1], v.Args[2]
	n := v.Type.NumElements()
	var c code
	c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
	c.line("if (i >= %d) return;", n)
	c.line("const bool keep = encc_dropout_keep((long long)seed[0], (long long)step[0], i, %s);", dlit(p))
	c.line("out[i] = keep ? x[i] / %s : 0.0f;", flit(1-p))
	k := e.kernel(v, "dropout", []param{out(v.Type.DType, "out"), in(x.Type.DType, "x"), in(seed.Type.DType, "seed"), in(step.Type.DType, "step")}, c.String())
	e.launchThreads(v, k, n, x, seed, step)
	return nil
}

// genOptim renders an optimizer update, computed in double as the CPU
// backend does; in place, out and arg 0 are the same storage.
func genOptim(e *emitter, v *ir.Value) error {
	n := v.Type.NumElements()
	var c code
	params := []param{out(v.Type.DType, "out")}
	names := []string{"p", "d", "lr"}
	switch v.Op {
	case ir.OpSGDMomentum:
		names = []string{"buf", "d", "step"}
	case ir.OpEMA, ir.OpEMASq:
		names = []string{"s", "x"}
	case ir.OpAdam:
		names = []string{"p", "m", "v", "lr", "step"}
	case ir.OpRMSprop:
		names = []string{"p", "g", "v", "lr"}
	}
	for i, a := range v.Args {
		params = append(params, in(a.Type.DType, names[i]))
	}
	c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
	c.line("if (i >= %d) return;", n)
	switch v.Op {
	case ir.OpSGD:
		c.line("out[i] = (float)((double)p[i] - (double)lr[0] * (double)d[i]);")
	case ir.OpSGDMomentum:
		a := v.Aux.(ir.MomentumAttr)
		c.line("if ((long long)step[0] <= 1) { out[i] = d[i]; return; }")
		c.line("out[i] = (float)(%s * (double)buf[i] + %s * (double)d[i]);", dlit(a.Momentum), dlit(1-a.Dampening))
	case ir.OpEMA:
		a := v.Aux.(ir.EMAAttr)
		c.line("out[i] = (float)(%s * (double)s[i] + %s * (double)x[i]);", dlit(a.Decay), dlit(1-a.Decay))
	case ir.OpEMASq:
		a := v.Aux.(ir.EMAAttr)
		c.line("const double xi = (double)x[i];")
		c.line("out[i] = (float)(%s * (double)s[i] + %s * xi * xi);", dlit(a.Decay), dlit(1-a.Decay))
	case ir.OpAdam:
		a := v.Aux.(ir.AdamAttr)
		c.line("const long long t = (long long)step[0];")
		c.line("const double rate = (double)lr[0];")
		c.line("const double bc1 = 1.0 - encc_ipow(%s, t);", dlit(a.Beta1))
		c.line("const double bc2 = sqrt(1.0 - encc_ipow(%s, t));", dlit(a.Beta2))
		c.line("const double shrink = 1.0 - rate * %s;", dlit(a.WeightDecay))
		c.line("out[i] = (float)((double)p[i] * shrink - rate / bc1 * (double)m[i] / (sqrt((double)v[i]) / bc2 + %s));", dlit(a.Eps))
	case ir.OpRMSprop:
		a := v.Aux.(ir.RMSpropAttr)
		c.line("out[i] = (float)((double)p[i] - (double)lr[0] * (double)g[i] / (sqrt((double)v[i]) + %s));", dlit(a.Eps))
	}
	k := e.kernel(v, v.Op.String(), params, c.String())
	e.launchThreads(v, k, n, v.Args...)
	return nil
}
