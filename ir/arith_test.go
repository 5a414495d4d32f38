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

// TestArithText checks the text form of the ops and attributes that the
// arithmetic of the table brought: it round-trips, and bad attributes are
// errors at their position.
func TestArithText(t *testing.T) {
	const src = `graph g {
  input %x : f32[4,3] data
  input %dy : f32[4,3] data
  input %w : f32[5,3] param
  input %b : f32[5] param
  %4 = softplus(%x) {beta=2, threshold=1.5} : f32[4,3]
  %5 = elu(%4) {alpha=0.5} : f32[4,3]
  %6 = gelu_backward(%5, %dy) {tanh} : f32[4,3]
  %7 = relu_backward(%6, %dy) : f32[4,3]
  %8 = matmul_bias(%7, %w, %b) {transpose_b, act=softplus {beta=-1, threshold=20}} : f32[4,5]
  %9 = matmul_bias(%7, %w, %b) {transpose_b, act=relu} : f32[4,5]
  output y = %8
  output z = %9
}
`
	g, err := Parse("g.ir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := g.String(); got != src {
		t.Errorf("round trip:\n%s\nwant\n%s", got, src)
	}
	for _, c := range []struct{ line, err string }{
		{`%4 = softplus(%x) : f32[4,3]`, "g.ir:5:3: softplus: beta 0 must be finite and not 0"},
		{`%4 = matmul_bias(%x, %w, %b) {transpose_b, act=exp} : f32[4,5]`, "g.ir:5:50: expected an epilogue activation (tanh, sigmoid, relu, gelu, softplus, elu)"},
		{`%4 = matmul_bias(%x, %w, %b) {act=gelu {alpha=1}} : f32[4,5]`, `gelu has no attribute "alpha"`},
	} {
		bad := "graph g {\n  input %x : f32[4,3] data\n  input %w : f32[5,3] param\n  input %b : f32[5] param\n  " + c.line + "\n  output y = %4\n}\n"
		if _, err := Parse("g.ir", []byte(bad)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", c.line, err, c.err)
		}
	}
}
