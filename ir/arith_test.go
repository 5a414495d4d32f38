package ir

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestElementwiseArithmetic fails when an elementwise op of the table
// lacks its Go arithmetic or its C expression, or when an op that is not
// elementwise has them.
func TestElementwiseArithmetic(t *testing.T) {
	for _, op := range Ops() {
		var aux any
		if at := op.AuxType(); at != nil {
			aux = reflect.Zero(at).Interface()
		}
		args := []string{"a", "b", "c"}
		if n := op.NumArgs(); n >= 0 && n < 3 {
			args = args[:n]
		}
		e := CExpr{Aux: aux, DType: F32, Type: "float", Args: args, Float: func(x float64) string { return "1.0f" }}
		c, hasC := op.C(e)
		f := op.Scalar(aux, F32)
		if want := op.IsElementwise() && !op.IsFused(); (f != nil) != want || hasC != want {
			t.Errorf("%v: elementwise %v, but has Go arithmetic %v and C expression %v", op, want, f != nil, hasC)
			continue
		}
		if !hasC {
			continue
		}
		if strings.Contains(c, "$") || !strings.Contains(c, "a") {
			t.Errorf("%v: C expression %q does not use its operand or keeps a placeholder", op, c)
		}
	}
}

// TestScalarArithmetic spot-checks the arithmetic of the table against
// independent formulas, PyTorch's where it defines the op.
func TestScalarArithmetic(t *testing.T) {
	cases := []struct {
		op      Op
		aux     any
		d       DType
		x, y, z float64
		want    float64
		ok      bool
	}{
		{OpSoftplus, SoftplusAttr{Beta: 1, Threshold: 20}, F32, 0, 0, 0, math.Log(2), true},
		{OpSoftplus, SoftplusAttr{Beta: 2, Threshold: 20}, F32, 1, 0, 0, math.Log(1+math.Exp(2)) / 2, true},
		{OpSoftplus, SoftplusAttr{Beta: 2, Threshold: 1}, F32, 0.75, 0, 0, 0.75, true}, // 2·0.75 > 1: x
		{OpSoftplus, SoftplusAttr{Beta: 2, Threshold: 1}, F32, 0.25, 0, 0, math.Log(1+math.Exp(0.5)) / 2, true},
		{OpSoftplus, SoftplusAttr{Beta: 1, Threshold: 20}, F32, -800, 0, 0, 0, true},
		{OpElu, EluAttr{Alpha: 1}, F32, 2, 0, 0, 2, true},
		{OpElu, EluAttr{Alpha: 0.5}, F32, -1, 0, 0, 0.5 * (math.Exp(-1) - 1), true},
		{OpElu, EluAttr{Alpha: 0.5}, F32, 0, 0, 0, 0, true},
		{OpReluBackward, nil, F32, 0.5, 3, 0, 3, true},
		{OpReluBackward, nil, F32, 0, 3, 0, 0, true},
		{OpGeluBackward, GeluAttr{}, F32, 0, 2, 0, 1, true}, // gelu'(0) = ½
		{OpDiv, nil, I32, 7, -2, 0, -3, true},
		{OpDiv, nil, I64, 7, 0, 0, 0, false},
		{OpCast, nil, Bool, -0.5, 0, 0, 1, true},
		{OpCast, nil, I32, -2.7, 0, 0, -2, true},
		{OpWhere, nil, F32, 0, 1, 2, 2, true},
		{OpLe, nil, Bool, 1, 1, 0, 1, true},
	}
	for _, c := range cases {
		got, ok := EvalScalar(c.op, c.aux, c.d, []float64{c.x, c.y, c.z})
		if ok != c.ok || (ok && math.Abs(got-c.want) > 1e-12*max(1, math.Abs(c.want))) {
			t.Errorf("%v %v on %v(%g, %g, %g) = %g, %v; want %g, %v", c.op, FormatAux(c.aux), c.d, c.x, c.y, c.z, got, ok, c.want, c.ok)
		}
	}
	// gelu_backward is the derivative of gelu, by central differences.
	for _, tanh := range []bool{false, true} {
		a := GeluAttr{Approximate: tanh}
		for _, x := range []float64{-3, -0.7, 0.2, 1.9} {
			h := 1e-6
			hi, _ := EvalScalar(OpGelu, a, F32, []float64{x + h})
			lo, _ := EvalScalar(OpGelu, a, F32, []float64{x - h})
			got, _ := EvalScalar(OpGeluBackward, a, F32, []float64{x, 1})
			if want := (hi - lo) / (2 * h); math.Abs(got-want) > 1e-7 {
				t.Errorf("gelu_backward {%s} at %g = %g, finite differences %g", FormatAux(a), x, got, want)
			}
		}
	}
}
