package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/ir/eval"
)

// A kind says how the values of a test input are drawn.
type kind int

const (
	normal   kind = iota // uniform in [-2, 2)
	positive             // uniform in [0.5, 2)
	ids                  // integers in [0, hi)
	nonzero              // integers in [-5, 5] without 0, or floats away from 0
	scalarOf             // the scalar hi
)

// An in declares one input of an op case.
type in struct {
	t    ir.Type
	kind kind
	hi   int
	role ir.Role // default data
}

// dataInputs adds a data input x0, x1, … to b for each of ins.
func dataInputs(t *testing.T, b *ir.Builder, ins []in) []*ir.Value {
	t.Helper()
	var x []*ir.Value
	for i, s := range ins {
		v, err := b.Input(fmt.Sprintf("x%d", i), ir.RoleData, s.t)
		if err != nil {
			t.Fatal(err)
		}
		x = append(x, v)
	}
	return x
}

func f32(dims ...int) ir.Type   { return ir.TensorOf(ir.F32, dims...) }
func i32(dims ...int) ir.Type   { return ir.TensorOf(ir.I32, dims...) }
func i64(dims ...int) ir.Type   { return ir.TensorOf(ir.I64, dims...) }
func boolT(dims ...int) ir.Type { return ir.TensorOf(ir.Bool, dims...) }

// An opCase builds a graph over its inputs whose output "y" (or, for
// in-place ops, the update of input 0) is compared with ir/eval.
type opCase struct {
	op     ir.Op
	name   string
	ins    []in
	build  func(b *ir.Builder, x []*ir.Value) (*ir.Value, error)
	update bool // y updates input 0 (optimizer ops)
}

// draw returns random values for an input.
func draw(r *rand.Rand, x in) []float64 {
	v := make([]float64, x.t.NumElements())
	for i := range v {
		switch {
		case x.kind == scalarOf:
			v[i] = float64(x.hi)
		case x.kind == ids:
			v[i] = float64(r.Intn(x.hi))
		case x.t.DType == ir.Bool:
			v[i] = float64(r.Intn(2))
		case x.t.DType.IsInt() && x.kind == nonzero:
			v[i] = float64(r.Intn(5) + 1)
			if r.Intn(2) == 0 {
				v[i] = -v[i]
			}
		case x.t.DType.IsInt():
			v[i] = float64(r.Intn(11) - 5)
		case x.kind == positive:
			v[i] = float64(float32(0.5 + 1.5*r.Float64()))
		case x.kind == nonzero:
			v[i] = float64(float32((0.3 + r.Float64()) * float64(1-2*r.Intn(2))))
		default:
			v[i] = float64(float32(4*r.Float64() - 2))
		}
	}
	return v
}

// bind gives program input name the values v.
func bind(t testing.TB, p *Program, name string, typ ir.Type, v []float64) {
	t.Helper()
	var err error
	switch typ.DType {
	case ir.F32:
		d := make([]float32, len(v))
		for i, e := range v {
			d[i] = float32(e)
		}
		err = p.Bind(name, d)
	case ir.I32:
		d := make([]int32, len(v))
		for i, e := range v {
			d[i] = int32(e)
		}
		err = p.Bind(name, d)
	case ir.I64:
		d := make([]int64, len(v))
		for i, e := range v {
			d[i] = int64(e)
		}
		err = p.Bind(name, d)
	case ir.Bool:
		d := make([]bool, len(v))
		for i, e := range v {
			d[i] = e != 0
		}
		err = p.Bind(name, d)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// values returns the storage of b as float64.
func values(b *buffer) []float64 {
	out := make([]float64, b.n)
	for i := range out {
		switch b.dt {
		case ir.F32:
			out[i] = float64(view[float32](b)[i])
		case ir.I32:
			out[i] = float64(view[int32](b)[i])
		case ir.I64:
			out[i] = float64(view[int64](b)[i])
		case ir.Bool:
			out[i] = float64(view[uint8](b)[i])
		}
	}
	return out
}

// compareTensor checks got against want: exactly for integers and
// bools, within rtol relative (plus rtol/10 of the largest magnitude,
// for values that cancel) for floats.
func compareTensor(what string, dt ir.DType, got, want []float64, rtol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: %d elements, want %d", what, len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		if !math.IsInf(w, 0) {
			scale = max(scale, math.Abs(w))
		}
	}
	for i := range got {
		g, w := got[i], want[i]
		if dt != ir.F32 {
			if g != w {
				return fmt.Errorf("%s[%d] = %v, want %v", what, i, g, w)
			}
			continue
		}
		if math.IsNaN(w) && math.IsNaN(g) || g == w {
			continue
		}
		if math.IsNaN(g) || math.IsNaN(w) || math.Abs(g-w) > rtol*math.Abs(w)+rtol/10*max(scale, 1) {
			return fmt.Errorf("%s[%d] = %v, want %v (rel err %.2g)", what, i, g, w, math.Abs(g-w)/math.Abs(w))
		}
	}
	return nil
}

func (c opCase) graph() (*ir.Graph, error) {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	var xs []*ir.Value
	for i, x := range c.ins {
		role := x.role
		if role == ir.RoleNone {
			role = ir.RoleData
		}
		v, err := b.Input(fmt.Sprintf("x%d", i), role, x.t)
		if err != nil {
			return nil, err
		}
		xs = append(xs, v)
	}
	y, err := c.build(b, xs)
	if err != nil {
		return nil, err
	}
	if c.update {
		g.AddUpdate(xs[0], y)
	} else {
		g.AddOutput("y", y)
	}
	return g, ir.Verify(g)
}

// check runs the case on random inputs under every planner option and
// compares with ir/eval.
func (c opCase) check(t *testing.T, r *rand.Rand) {
	g, err := c.graph()
	if err != nil {
		t.Fatal(err)
	}
	feed := map[string]*eval.Tensor{}
	vals := make([][]float64, len(c.ins))
	for i, x := range c.ins {
		vals[i] = draw(r, x)
		feed[g.Inputs[i].Name] = eval.New(x.t, append([]float64(nil), vals[i]...))
	}
	ref, err := eval.Run(g, feed)
	if err != nil {
		t.Fatal(err)
	}
	for _, popts := range []ir.PlanOptions{{}, {NoReuse: true, NoAlias: true}} {
		for _, threads := range []int{1, 2} {
			p, err := compile(g, Options{Threads: threads}, popts)
			if err != nil {
				t.Fatal(err)
			}
			for i, x := range c.ins {
				bind(t, p, g.Inputs[i].Name, x.t, vals[i])
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("%v threads=%d", popts, threads)
			var got []float64
			var want *eval.Tensor
			if c.update {
				got, want = values(p.inputs[g.Inputs[0].Name]), ref.Updates[g.Inputs[0].Name]
			} else {
				got, want = values(p.outputs["y"]), ref.Outputs["y"]
			}
			if err := compareTensor(what, want.Type.DType, got, want.F, 1e-4); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func un(f func(b *ir.Builder, x *ir.Value) (*ir.Value, error)) func(*ir.Builder, []*ir.Value) (*ir.Value, error) {
	return func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return f(b, x[0]) }
}

func bin(f func(b *ir.Builder, x, y *ir.Value) (*ir.Value, error)) func(*ir.Builder, []*ir.Value) (*ir.Value, error) {
	return func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return f(b, x[0], x[1]) }
}

// binaryShapes are the operand shapes of broadcasting cases: equal,
// broadcast on both sides, a scalar, and a long contiguous row.
var binaryShapes = []struct {
	name string
	x, y ir.Shape
}{
	{"same", ir.Shape{3, 5}, ir.Shape{3, 5}},
	{"broadcast", ir.Shape{4, 1, 6}, ir.Shape{3, 1}},
	{"scalar", ir.Shape{}, ir.Shape{2, 7}},
	{"row", ir.Shape{40, 700}, ir.Shape{700}},
	{"col", ir.Shape{300, 1}, ir.Shape{300, 90}},
}

var (
	convAttr  = ir.Conv2DAttr{Stride: [2]int{2, 1}, Padding: [2]int{1, 2}, Dilation: [2]int{1, 2}}
	conv1     = ir.Conv2DAttr{Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}}
	conv3     = ir.Conv2DAttr{Stride: [2]int{1, 1}, Padding: [2]int{1, 1}, Dilation: [2]int{1, 1}}
	poolAttrs = []ir.Pool2DAttr{
		{Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}},
		{Kernel: [2]int{3, 2}, Stride: [2]int{1, 2}, Padding: [2]int{1, 1}},
	}
)

func opCases() []opCase {
	var cs []opCase
	add := func(c ...opCase) { cs = append(cs, c...) }
	u := func(op ir.Op, t ir.Type, k kind, f func(b *ir.Builder, x *ir.Value) (*ir.Value, error)) {
		add(opCase{op: op, name: t.String(), ins: []in{{t: t, kind: k}}, build: un(f)})
	}
	leaf := func(op ir.Op, name string, f func(b *ir.Builder) (*ir.Value, error)) {
		add(opCase{op: op, name: name, ins: []in{{t: f32(1)}}, build: func(b *ir.Builder, _ []*ir.Value) (*ir.Value, error) { return f(b) }})
	}
	leaf(ir.OpFill, "f32", func(b *ir.Builder) (*ir.Value, error) { return b.Fill(f32(2, 3), 1.5) })
	leaf(ir.OpFill, "i64", func(b *ir.Builder) (*ir.Value, error) { return b.Fill(i64(4), 1000003) })
	leaf(ir.OpFill, "bool", func(b *ir.Builder) (*ir.Value, error) { return b.Fill(boolT(3), 1) })
	leaf(ir.OpIota, "i32", func(b *ir.Builder) (*ir.Value, error) { return b.Iota(i32(3, 4, 2), 1) })
	leaf(ir.OpIota, "f32", func(b *ir.Builder) (*ir.Value, error) { return b.Iota(f32(5), 0) })
	leaf(ir.OpLiteral, "f32", func(b *ir.Builder) (*ir.Value, error) { return b.Literal(f32(2, 2), []float64{1, -2, 0.5, 3e-7}) })
	leaf(ir.OpLiteral, "i64", func(b *ir.Builder) (*ir.Value, error) { return b.Literal(i64(3), []float64{7, -1, 0}) })

	for _, t := range []ir.Type{f32(3, 4), i32(5), i64(2, 3)} {
		u(ir.OpNeg, t, normal, (*ir.Builder).Neg)
		u(ir.OpRelu, t, normal, (*ir.Builder).Relu)
		u(ir.OpAbs, t, normal, (*ir.Builder).Abs)
		u(ir.OpSign, t, normal, (*ir.Builder).Sign)
	}
	big := f32(50, 700) // split over cores
	for _, t := range []ir.Type{f32(3, 4), big} {
		u(ir.OpExp, t, normal, (*ir.Builder).Exp)
		u(ir.OpLog, t, positive, (*ir.Builder).Log)
		u(ir.OpSqrt, t, positive, (*ir.Builder).Sqrt)
		u(ir.OpRsqrt, t, positive, (*ir.Builder).Rsqrt)
		u(ir.OpTanh, t, normal, (*ir.Builder).Tanh)
		u(ir.OpSigmoid, t, normal, (*ir.Builder).Sigmoid)
		u(ir.OpGelu, t, normal, func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Gelu(x, false) })
		u(ir.OpGelu, t, normal, func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Gelu(x, true) })
		u(ir.OpErf, t, normal, (*ir.Builder).Erf)
		u(ir.OpSoftplus, t, normal, func(b *ir.Builder, x *ir.Value) (*ir.Value, error) {
			return b.Op(ir.OpSoftplus, ir.Type{}, ir.SoftplusAttr{Beta: 1, Threshold: 20}, x)
		})
		u(ir.OpSoftplus, t, normal, func(b *ir.Builder, x *ir.Value) (*ir.Value, error) {
			return b.Op(ir.OpSoftplus, ir.Type{}, ir.SoftplusAttr{Beta: 3, Threshold: 0.5}, x)
		})
		u(ir.OpElu, t, normal, func(b *ir.Builder, x *ir.Value) (*ir.Value, error) {
			return b.Op(ir.OpElu, ir.Type{}, ir.EluAttr{Alpha: 1}, x)
		})
		u(ir.OpElu, t, normal, func(b *ir.Builder, x *ir.Value) (*ir.Value, error) {
			return b.Op(ir.OpElu, ir.Type{}, ir.EluAttr{Alpha: 0.4}, x)
		})
	}
	grads := []struct {
		op ir.Op
		f  func(b *ir.Builder, x, dy *ir.Value) (*ir.Value, error)
	}{
		{ir.OpReluBackward, (*ir.Builder).ReluBackward},
		{ir.OpGeluBackward, func(b *ir.Builder, x, dy *ir.Value) (*ir.Value, error) { return b.GeluBackward(x, dy, false) }},
		{ir.OpGeluBackward, func(b *ir.Builder, x, dy *ir.Value) (*ir.Value, error) { return b.GeluBackward(x, dy, true) }},
	}
	for _, g := range grads {
		for _, s := range []struct {
			name string
			x, y ir.Shape
		}{{"small", ir.Shape{3, 5}, ir.Shape{3, 5}}, {"big", ir.Shape{50, 701}, ir.Shape{50, 701}}, {"broadcast", ir.Shape{4, 1}, ir.Shape{3}}} {
			add(opCase{op: g.op, name: s.name, ins: []in{{t: ir.Type{DType: ir.F32, Shape: s.x}}, {t: ir.Type{DType: ir.F32, Shape: s.y}}}, build: bin(g.f)})
		}
	}
	add(opCase{op: ir.OpReluBackward, name: "i32", ins: []in{{t: i32(3, 4)}, {t: i32(4)}}, build: bin((*ir.Builder).ReluBackward)})
	for _, from := range []ir.DType{ir.F32, ir.I32, ir.I64, ir.Bool} {
		for _, to := range []ir.DType{ir.F32, ir.I32, ir.I64, ir.Bool} {
			u(ir.OpCast, ir.TensorOf(from, 3, 5), normal, func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Cast(x, to) })
		}
	}

	binops := []struct {
		op     ir.Op
		f      func(b *ir.Builder, x, y *ir.Value) (*ir.Value, error)
		kx, ky kind
		ints   bool
	}{
		{ir.OpAdd, (*ir.Builder).Add, normal, normal, true},
		{ir.OpSub, (*ir.Builder).Sub, normal, normal, true},
		{ir.OpMul, (*ir.Builder).Mul, normal, normal, true},
		{ir.OpDiv, (*ir.Builder).Div, normal, nonzero, true},
		{ir.OpMax, (*ir.Builder).Max, normal, normal, true},
		{ir.OpMin, (*ir.Builder).Min, normal, normal, true},
		{ir.OpPow, (*ir.Builder).Pow, positive, normal, false},
		{ir.OpEq, (*ir.Builder).Eq, ids, ids, true},
		{ir.OpNe, (*ir.Builder).Ne, ids, ids, true},
		{ir.OpLt, (*ir.Builder).Lt, normal, normal, true},
		{ir.OpLe, (*ir.Builder).Le, ids, ids, true},
		{ir.OpGt, (*ir.Builder).Gt, normal, normal, true},
		{ir.OpGe, (*ir.Builder).Ge, ids, ids, true},
	}
	for _, o := range binops {
		for _, s := range binaryShapes {
			add(opCase{op: o.op, name: s.name, ins: []in{{t: ir.Type{DType: ir.F32, Shape: s.x}, kind: o.kx, hi: 3}, {t: ir.Type{DType: ir.F32, Shape: s.y}, kind: o.ky, hi: 3}}, build: bin(o.f)})
		}
		if o.ints {
			for _, d := range []ir.DType{ir.I32, ir.I64} {
				add(opCase{op: o.op, name: d.String(), ins: []in{{t: ir.TensorOf(d, 4, 1, 3), kind: o.kx, hi: 3}, {t: ir.TensorOf(d, 2, 1), kind: nonzero, hi: 3}}, build: bin(o.f)})
			}
		}
	}
	add(opCase{op: ir.OpEq, name: "bool", ins: []in{{t: boolT(3, 4)}, {t: boolT(4)}}, build: bin((*ir.Builder).Eq)})
	add(opCase{op: ir.OpWhere, name: "broadcast", ins: []in{{t: boolT(4, 1, 3)}, {t: f32(2, 3)}, {t: f32(1)}},
		build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Where(x[0], x[1], x[2]) }})
	add(opCase{op: ir.OpWhere, name: "big", ins: []in{{t: boolT(60, 600)}, {t: f32(60, 600)}, {t: f32()}},
		build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Where(x[0], x[1], x[2]) }})
	add(opCase{op: ir.OpWhere, name: "i64", ins: []in{{t: boolT(5)}, {t: i64(5)}, {t: i64(5)}},
		build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Where(x[0], x[1], x[2]) }})
	add(opCase{op: ir.OpWhere, name: "bool", ins: []in{{t: boolT(5)}, {t: boolT(5)}, {t: boolT(1)}},
		build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Where(x[0], x[1], x[2]) }})
	for _, op := range []ir.Op{ir.OpFakeQuant, ir.OpFakeQuantMask} {
		op := op
		add(opCase{op: op, name: "per-tensor", ins: []in{{t: f32(4, 30)}, {t: f32(1)}, {t: f32(1)}},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
				return b.Op(op, ir.Type{}, ir.FakeQuantAttr{}, x[0], x[1], x[2])
			}})
		add(opCase{op: op, name: "per-channel", ins: []in{{t: f32(5, 20)}, {t: f32(5, 1)}, {t: f32(5, 1)}},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
				return b.Op(op, ir.Type{}, ir.FakeQuantAttr{Signed: true}, x[0], x[1], x[2])
			}})
	}

	reds := []struct {
		op   ir.Op
		f    func(b *ir.Builder, x *ir.Value, axes []int, keep bool) (*ir.Value, error)
		ints bool
	}{
		{ir.OpSum, (*ir.Builder).Sum, true},
		{ir.OpMean, (*ir.Builder).Mean, false},
		{ir.OpReduceMax, (*ir.Builder).ReduceMax, true},
		{ir.OpLogSumExp, (*ir.Builder).LogSumExp, false},
	}
	for _, o := range reds {
		for _, ax := range []struct {
			name string
			axes []int
			keep bool
			t    ir.Type
		}{
			{"axis1keep", []int{1}, true, f32(3, 4, 5)},
			{"axes02", []int{0, 2}, false, f32(3, 4, 5)},
			{"last", []int{1}, false, f32(6, 7)},
			{"all", []int{0, 1}, false, f32(6, 7)},
			{"none", nil, false, f32(2, 3)},
			{"bigrows", []int{0}, false, f32(600, 70)},
		} {
			add(opCase{op: o.op, name: ax.name, ins: []in{{t: ax.t}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return o.f(b, x, ax.axes, ax.keep) })})
		}
		if o.ints {
			add(opCase{op: o.op, name: "i32", ins: []in{{t: i32(3, 4)}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return o.f(b, x, []int{0}, false) })})
		}
	}
	for _, s := range []struct{ x, to ir.Shape }{{ir.Shape{3, 4, 5}, ir.Shape{4, 1}}, {ir.Shape{32, 10}, ir.Shape{10}}, {ir.Shape{300, 50}, ir.Shape{50}}, {ir.Shape{2, 3, 4, 4}, ir.Shape{1, 3, 1, 1}}} {
		add(opCase{op: ir.OpReduceTo, name: s.to.String(), ins: []in{{t: ir.Type{DType: ir.F32, Shape: s.x}}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.ReduceTo(x, s.to) })})
	}
	for _, d := range []ir.DType{ir.F32, ir.I32} {
		add(opCase{op: ir.OpArgMax, name: d.String(), ins: []in{{t: ir.TensorOf(d, 3, 4, 5)}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.ArgMax(x, 1, false) })})
	}
	add(opCase{op: ir.OpArgMax, name: "keep", ins: []in{{t: f32(6, 10)}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.ArgMax(x, 1, true) })})

	for _, m := range []struct {
		name   string
		x, y   ir.Shape
		ta, tb bool
		d      ir.DType
	}{
		{"plain", ir.Shape{3, 4}, ir.Shape{4, 5}, false, false, ir.F32},
		{"ta", ir.Shape{4, 3}, ir.Shape{4, 5}, true, false, ir.F32},
		{"tb", ir.Shape{3, 4}, ir.Shape{5, 4}, false, true, ir.F32},
		{"tatb", ir.Shape{4, 3}, ir.Shape{5, 4}, true, true, ir.F32},
		{"batched", ir.Shape{2, 1, 3, 4}, ir.Shape{3, 4, 5}, false, false, ir.F32},
		{"big", ir.Shape{64, 96}, ir.Shape{80, 96}, false, true, ir.F32},
		{"bigbatch", ir.Shape{3, 40, 50}, ir.Shape{3, 40, 60}, true, false, ir.F32},
		{"gemv", ir.Shape{1, 300}, ir.Shape{300, 200}, false, false, ir.F32},
		{"i32", ir.Shape{2, 3, 4}, ir.Shape{4, 2}, false, false, ir.I32},
		{"i64tb", ir.Shape{3, 4}, ir.Shape{2, 4}, false, true, ir.I64},
	} {
		add(opCase{op: ir.OpMatMul, name: m.name, ins: []in{{t: ir.Type{DType: m.d, Shape: m.x}}, {t: ir.Type{DType: m.d, Shape: m.y}}},
			build: bin(func(b *ir.Builder, x, y *ir.Value) (*ir.Value, error) {
				return b.MatMul(x, y, ir.MatMulAttr{TransposeA: m.ta, TransposeB: m.tb})
			})})
	}

	for _, cv := range []struct {
		name string
		at   ir.Conv2DAttr
		x, w ir.Shape
	}{
		{"strided", convAttr, ir.Shape{3, 2, 7, 6}, ir.Shape{4, 2, 3, 2}},
		{"1x1", conv1, ir.Shape{3, 4, 5, 5}, ir.Shape{6, 4, 1, 1}},
		{"same", conv3, ir.Shape{5, 3, 8, 8}, ir.Shape{8, 3, 3, 3}},
		// blocks and segments of 8 samples (convKernel.S, segS), the last of 5
		{"blocks", conv3, ir.Shape{13, 3, 8, 8}, ir.Shape{4, 3, 3, 3}},
		// the tap kernels (convtaps.go): 7 output channels (a group of 6
		// and one of 1), 70 pixels (a last block of 16 that overlaps),
		// dilation and padding different along the axes
		{"taps", ir.Conv2DAttr{Stride: [2]int{1, 1}, Padding: [2]int{1, 2}, Dilation: [2]int{2, 1}}, ir.Shape{3, 2, 9, 7}, ir.Shape{7, 2, 3, 2}},
		{"lenet1", ir.Conv2DAttr{Stride: [2]int{1, 1}, Padding: [2]int{2, 2}, Dilation: [2]int{1, 1}}, ir.Shape{2, 1, 28, 28}, ir.Shape{6, 1, 5, 5}},
		{"grouped", ir.Conv2DAttr{Stride: [2]int{2, 1}, Padding: [2]int{1, 2}, Dilation: [2]int{1, 2}, Groups: 2}, ir.Shape{3, 4, 7, 6}, ir.Shape{6, 2, 3, 2}},
		{"depthwise", ir.Conv2DAttr{Padding: [2]int{1, 1}, Groups: 4}, ir.Shape{5, 4, 9, 10}, ir.Shape{4, 1, 3, 3}},
		{"grouped1x1", ir.Conv2DAttr{Groups: 2}, ir.Shape{3, 4, 5, 5}, ir.Shape{6, 2, 1, 1}},
		// dy (a position per sample) is smaller than the weight
		{"wide", ir.Conv2DAttr{Groups: 2}, ir.Shape{2, 8, 1, 5}, ir.Shape{4, 4, 1, 5}},
		{"conv1d", ir.Conv2DAttr{Stride: [2]int{1, 2}, Padding: [2]int{0, 1}, Dilation: [2]int{1, 2}, Groups: 3}, ir.Shape{4, 6, 1, 17}, ir.Shape{3, 2, 1, 3}},
	} {
		at := cv.at
		add(opCase{op: ir.OpConv2D, name: cv.name, ins: []in{{t: ir.Type{DType: ir.F32, Shape: cv.x}}, {t: ir.Type{DType: ir.F32, Shape: cv.w}}},
			build: bin(func(b *ir.Builder, x, w *ir.Value) (*ir.Value, error) { return b.Conv2D(x, w, at) })})
		// The gradients take dy of the conv's output shape: build the
		// conv on the same shapes to learn it.
		g := ir.NewGraph()
		bb := ir.NewBuilder(g)
		xv, _ := bb.Input("x", ir.RoleData, ir.Type{DType: ir.F32, Shape: cv.x})
		wv, _ := bb.Input("w", ir.RoleData, ir.Type{DType: ir.F32, Shape: cv.w})
		y, err := bb.Conv2D(xv, wv, at)
		if err != nil {
			panic(err)
		}
		ys := y.Type.Shape
		xs, ws := cv.x, cv.w
		add(opCase{op: ir.OpConv2DBackwardInput, name: cv.name, ins: []in{{t: ir.Type{DType: ir.F32, Shape: ys}}, {t: ir.Type{DType: ir.F32, Shape: ws}}},
			build: bin(func(b *ir.Builder, dy, w *ir.Value) (*ir.Value, error) { return b.Conv2DBackwardInput(dy, w, xs, at) })})
		add(opCase{op: ir.OpConv2DBackwardWeight, name: cv.name, ins: []in{{t: ir.Type{DType: ir.F32, Shape: xs}}, {t: ir.Type{DType: ir.F32, Shape: ys}}},
			build: bin(func(b *ir.Builder, x, dy *ir.Value) (*ir.Value, error) { return b.Conv2DBackwardWeight(x, dy, ws, at) })})
	}

	for i, pa := range poolAttrs {
		xs := ir.Shape{2, 3, 6, 5}
		name := fmt.Sprint(i)
		add(opCase{op: ir.OpMaxPool2D, name: name, ins: []in{{t: ir.Type{DType: ir.F32, Shape: xs}}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.MaxPool2D(x, pa) })})
		add(opCase{op: ir.OpAvgPool2D, name: name, ins: []in{{t: ir.Type{DType: ir.F32, Shape: xs}}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.AvgPool2D(x, pa) })})
		add(opCase{op: ir.OpMaxPool2DBackward, name: name, ins: []in{{t: ir.Type{DType: ir.F32, Shape: xs}}, {t: f32(1)}},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
				y, err := b.MaxPool2D(x[0], pa)
				if err != nil {
					return nil, err
				}
				dy, err := b.Mul(y, x[1]) // a dy of y's shape
				if err != nil {
					return nil, err
				}
				return b.MaxPool2DBackward(x[0], dy, pa)
			}})
		add(opCase{op: ir.OpAvgPool2DBackward, name: name, ins: []in{{t: ir.Type{DType: ir.F32, Shape: xs}}},
			build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) {
				dy, err := b.AvgPool2D(x, pa)
				if err != nil {
					return nil, err
				}
				return b.AvgPool2DBackward(dy, xs, pa)
			})})
	}

	add(opCase{op: ir.OpReshape, name: "f32", ins: []in{{t: f32(3, 4)}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) {
		r, err := b.Reshape(x, ir.Shape{2, 6})
		if err != nil {
			return nil, err
		}
		return b.Neg(r)
	})})
	add(opCase{op: ir.OpReshape, name: "output", ins: []in{{t: i64(3, 4)}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Reshape(x, ir.Shape{12}) })})
	for _, s := range []struct {
		x    ir.Type
		perm []int
	}{{f32(2, 3, 4), []int{2, 0, 1}}, {f32(70, 300), []int{1, 0}}, {boolT(2, 3), []int{1, 0}}, {i64(2, 3, 2), []int{0, 2, 1}}} {
		add(opCase{op: ir.OpPermute, name: s.x.String(), ins: []in{{t: s.x}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Permute(x, s.perm...) })})
	}
	for _, s := range []struct{ x, to ir.Type }{{f32(3, 1), f32(2, 3, 4)}, {f32(), f32(5)}, {i32(4), i32(3, 4)}} {
		add(opCase{op: ir.OpBroadcastTo, name: s.to.String(), ins: []in{{t: s.x}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.BroadcastTo(x, s.to.Shape) })})
	}
	sl := ir.SliceAttr{Start: []int{1, 0, 2}, Stop: []int{4, 3, 7}, Step: []int{2, 1, 3}}
	add(opCase{op: ir.OpSlice, name: "strided", ins: []in{{t: f32(5, 3, 8)}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Slice(x, sl) })})
	add(opCase{op: ir.OpSliceBackward, name: "strided", ins: []in{{t: f32(2, 3, 2)}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.SliceBackward(x, ir.Shape{5, 3, 8}, sl) })})
	add(opCase{op: ir.OpConcat, name: "axis1", ins: []in{{t: f32(2, 3, 2)}, {t: f32(2, 1, 2)}, {t: f32(2, 4, 2)}},
		build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Concat(1, x...) }})
	add(opCase{op: ir.OpConcat, name: "i32axis0", ins: []in{{t: i32(2, 3)}, {t: i32(1, 3)}},
		build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Concat(0, x...) }})
	for _, d := range []ir.DType{ir.I32, ir.I64} {
		add(opCase{op: ir.OpGather, name: d.String(), ins: []in{{t: f32(7, 3)}, {t: ir.TensorOf(d, 2, 4), kind: ids, hi: 7}}, build: bin((*ir.Builder).Gather)})
		add(opCase{op: ir.OpScatterAdd, name: d.String(), ins: []in{{t: ir.TensorOf(d, 2, 4), kind: ids, hi: 5}, {t: f32(2, 4, 3)}},
			build: bin(func(b *ir.Builder, ids, upd *ir.Value) (*ir.Value, error) {
				return b.ScatterAdd(ids, upd, ir.Shape{5, 3})
			})})
	}
	for _, d := range []ir.DType{ir.F32, ir.I64, ir.Bool} {
		add(opCase{op: ir.OpOneHot, name: d.String(), ins: []in{{t: i32(3, 2), kind: ids, hi: 4}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.OneHot(x, 4, d) })})
	}

	for _, s := range []struct {
		t    ir.Type
		axis int
	}{{f32(3, 4, 5), 1}, {f32(6, 10), 1}, {f32(4, 3), 0}} {
		add(opCase{op: ir.OpSoftmax, name: fmt.Sprint(s.axis), ins: []in{{t: s.t}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Softmax(x, s.axis) })})
		add(opCase{op: ir.OpLogSoftmax, name: fmt.Sprint(s.axis), ins: []in{{t: s.t}}, build: un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.LogSoftmax(x, s.axis) })})
	}
	for _, bthd := range []bool{false, true} {
		for _, masked := range []bool{false, true} {
			ins := []in{{t: f32(2, 3, 5, 4)}, {t: f32(2, 3, 7, 4)}, {t: f32(2, 3, 7, 6)}}
			if bthd { // [B, T, H, d]
				ins = []in{{t: f32(2, 5, 3, 4)}, {t: f32(2, 7, 3, 4)}, {t: f32(2, 7, 3, 6)}}
			}
			dy := in{t: f32(2, 3, 5, 6)}
			if bthd {
				dy = in{t: f32(2, 5, 3, 6)}
			}
			if masked {
				ins = append(ins, in{t: boolT(2, 7), kind: ids, hi: 2})
			}
			name := fmt.Sprint("bthd=", bthd, ",masked=", masked)
			add(opCase{op: ir.OpAttention, name: name, ins: ins,
				build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
					var m *ir.Value
					if len(x) == 4 {
						m = x[3]
					}
					if bthd {
						return b.AttentionBTHD(x[0], x[1], x[2], m, 0.5)
					}
					return b.Attention(x[0], x[1], x[2], m, 0.5)
				}})
			bins := append(append(append([]in{}, ins[:3]...), dy), ins[3:]...)
			add(opCase{op: ir.OpAttentionBackward, name: name, ins: bins,
				build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
					var m *ir.Value
					if len(x) == 5 {
						m = x[4]
					}
					return b.AttentionBackward(x[0], x[1], x[2], x[3], m, ir.AttentionBackwardAttr{Scale: 0.5, BTHD: bthd})
				}})
			if masked {
				continue
			}
			for wrt, xin := range []in{ins[1], ins[0], dy} { // k, q, dy
				add(opCase{op: ir.OpAttentionBackwardProduct, name: fmt.Sprint(name, ",wrt=", wrt), ins: []in{{t: f32(2, 3, 5, 14)}, xin},
					build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
						return b.AttentionBackwardProduct(x[0], x[1], ir.AttentionProductAttr{BTHD: bthd, Wrt: wrt})
					}})
			}
		}
	}
	add(opCase{op: ir.OpLayerNorm, ins: []in{{t: f32(2, 3, 8)}, {t: f32(8)}, {t: f32(8)}},
		build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.LayerNorm(x[0], x[1], x[2], 1e-5) }})
	add(opCase{op: ir.OpLayerNormBackwardInput, ins: []in{{t: f32(5, 8)}, {t: f32(8)}, {t: f32(5, 8)}},
		build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
			return b.LayerNormBackwardInput(x[0], x[1], x[2], 1e-5)
		}})
	add(opCase{op: ir.OpLayerNormBackwardWeight, ins: []in{{t: f32(5, 8)}, {t: f32(5, 8)}},
		build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
			return b.LayerNormBackwardWeight(x[0], x[1], 1e-5)
		}})
	for _, ls := range []float64{0, 0.1} {
		for _, d := range []ir.DType{ir.I32, ir.I64} {
			name := fmt.Sprintf("%v,%g", d, ls)
			add(opCase{op: ir.OpSoftmaxCrossEntropy, name: name, ins: []in{{t: f32(6, 5)}, {t: ir.TensorOf(d, 6), kind: ids, hi: 5}},
				build: bin(func(b *ir.Builder, x, y *ir.Value) (*ir.Value, error) { return b.SoftmaxCrossEntropy(x, y, ls) })})
			// 5 classes take the gradient's small-row path (exps kept on
			// the stack), 70 the general one.
			for _, c := range []int{5, 70} {
				add(opCase{op: ir.OpSoftmaxCrossEntropyBackward, name: fmt.Sprintf("%s,C=%d", name, c), ins: []in{{t: f32(6, c)}, {t: ir.TensorOf(d, 6), kind: ids, hi: c}, {t: f32()}},
					build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
						return b.SoftmaxCrossEntropyBackward(x[0], x[1], x[2], ls)
					}})
			}
		}
	}
	for _, t := range []ir.Type{f32(4, 5), f32(80, 500)} {
		add(opCase{op: ir.OpDropout, name: t.String(), ins: []in{{t: t}, {t: i64(), kind: scalarOf, hi: 11}, {t: i32(), kind: scalarOf, hi: 3}},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Dropout(x[0], x[1], x[2], 0.3) }})
	}

	p := func(t ir.Type) in { return in{t: t, role: ir.RoleParam} }
	s := func(t ir.Type) in { return in{t: t, role: ir.RoleState} }
	lr := in{t: f32(), kind: scalarOf, hi: 1, role: ir.RoleScalar}
	for _, t := range []ir.Type{f32(3, 4), f32(100, 300)} {
		add(opCase{op: ir.OpSGD, name: t.String(), update: true, ins: []in{p(t), {t: t}, lr},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.SGD(x[0], x[1], x[2]) }})
		for _, step := range []int{1, 2} {
			add(opCase{op: ir.OpSGDMomentum, name: fmt.Sprintf("%v step %d", t, step), update: true, ins: []in{s(t), {t: t}, {t: i64(), kind: scalarOf, hi: step, role: ir.RoleScalar}},
				build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
					return b.SGDMomentum(x[0], x[1], x[2], ir.MomentumAttr{Momentum: 0.9, Dampening: 0.1})
				}})
		}
		add(opCase{op: ir.OpEMA, name: t.String(), update: true, ins: []in{s(t), {t: t}},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.EMA(x[0], x[1], 0.9) }})
		add(opCase{op: ir.OpEMASq, name: t.String(), update: true, ins: []in{s(t), {t: t}},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.EMASq(x[0], x[1], 0.999) }})
		add(opCase{op: ir.OpAdam, name: t.String(), update: true,
			ins: []in{p(t), {t: t}, {t: t, kind: positive}, lr, {t: i64(), kind: scalarOf, hi: 3, role: ir.RoleScalar}},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
				return b.Adam(x[0], x[1], x[2], x[3], x[4], ir.AdamAttr{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
			}})
		add(opCase{op: ir.OpRMSprop, name: t.String(), update: true, ins: []in{p(t), {t: t}, {t: t, kind: positive}, lr},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.RMSprop(x[0], x[1], x[2], x[3], 1e-8) }})
	}
	// An update read after it is computed cannot be in place: the planner
	// gives it a slot and the executor copies it into the input.
	add(opCase{op: ir.OpSGD, name: "read after", update: true, ins: []in{p(f32(3, 4)), {t: f32(3, 4)}, lr},
		build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
			u, err := b.SGD(x[0], x[1], x[2])
			if err != nil {
				return nil, err
			}
			if _, err := b.Add(x[0], u); err != nil {
				return nil, err
			}
			return u, nil
		}})
	addFusedCases(add)
	return cs
}

// instr is shorthand for a fused body instruction.
func instr(op ir.Op, d ir.DType, aux any, args ...int) ir.FusedInstr {
	return ir.FusedInstr{Op: op, DType: d, Args: args, Aux: aux}
}

func addFusedCases(add func(...opCase)) {
	fused := func(name string, out ir.Type, ins []in, body ...ir.FusedInstr) {
		add(opCase{op: ir.OpFused, name: name, ins: ins, build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
			return b.Fused(out, ir.FusedAttr{Body: body}, x...)
		}})
	}
	F, B := ir.F32, ir.Bool
	fused("bias_relu", f32(32, 128), []in{{t: f32(32, 128)}, {t: f32(128)}},
		instr(ir.OpAdd, F, nil, 0, 1), instr(ir.OpRelu, F, nil, 2))
	fused("relu_grad", f32(32, 64), []in{{t: f32(32, 64)}, {t: f32(32, 64)}},
		instr(ir.OpFill, F, ir.FillAttr{}), instr(ir.OpGt, B, nil, 0, 2), instr(ir.OpWhere, F, nil, 3, 1, 2))
	fused("broadcast_big", f32(300, 90), []in{{t: f32(300, 1)}, {t: f32(300, 90)}, {t: f32()}},
		instr(ir.OpMul, F, nil, 0, 1), instr(ir.OpSub, F, nil, 3, 2), instr(ir.OpTanh, F, nil, 4),
		instr(ir.OpGelu, F, ir.GeluAttr{Approximate: true}, 5), instr(ir.OpSigmoid, F, nil, 6), instr(ir.OpExp, F, nil, 7))
	fused("math", f32(7, 9), []in{{t: f32(7, 9), kind: positive}, {t: f32(9)}},
		instr(ir.OpLog, F, nil, 0), instr(ir.OpSqrt, F, nil, 0), instr(ir.OpRsqrt, F, nil, 0),
		instr(ir.OpAdd, F, nil, 2, 3), instr(ir.OpAdd, F, nil, 5, 4), instr(ir.OpMax, F, nil, 6, 1),
		instr(ir.OpPow, F, nil, 0, 7), instr(ir.OpGelu, F, ir.GeluAttr{}, 8), instr(ir.OpErf, F, nil, 9),
		instr(ir.OpNeg, F, nil, 10), instr(ir.OpAbs, F, nil, 11), instr(ir.OpSign, F, nil, 1), instr(ir.OpMul, F, nil, 12, 13))
	fused("ints", f32(4, 6), []in{{t: i32(4, 6)}, {t: i32(6), kind: nonzero}, {t: f32(4, 1)}},
		instr(ir.OpDiv, ir.I32, nil, 0, 1), instr(ir.OpCast, ir.I64, nil, 3), instr(ir.OpFill, ir.I64, ir.FillAttr{Value: 2}),
		instr(ir.OpMin, ir.I64, nil, 4, 5), instr(ir.OpCast, F, nil, 6), instr(ir.OpLe, B, nil, 7, 2),
		instr(ir.OpCast, F, nil, 8), instr(ir.OpAdd, F, nil, 9, 7))
	fused("grads", f32(6, 37), []in{{t: f32(6, 37)}, {t: f32(6, 37)}, {t: f32(37)}},
		instr(ir.OpGeluBackward, F, ir.GeluAttr{}, 0, 1), instr(ir.OpReluBackward, F, nil, 3, 2),
		instr(ir.OpGeluBackward, F, ir.GeluAttr{Approximate: true}, 4, 0), instr(ir.OpSoftplus, F, ir.SoftplusAttr{Beta: 2, Threshold: 1}, 5),
		instr(ir.OpElu, F, ir.EluAttr{Alpha: 0.7}, 6), instr(ir.OpMul, F, nil, 1, 7))
	fused("only_fill", f32(3, 2), []in{{t: f32(3, 2)}}, instr(ir.OpFill, F, ir.FillAttr{Value: 4}))
	fused("bool_out", boolT(5, 3), []in{{t: f32(5, 3)}, {t: f32(3)}}, instr(ir.OpLt, B, nil, 0, 1), instr(ir.OpNe, B, nil, 2, 2))

	for _, m := range []struct {
		name string
		x, y ir.Shape
		a    ir.MatMulBiasAttr
		d    ir.DType
	}{
		{"plain", ir.Shape{5, 7}, ir.Shape{7, 6}, ir.MatMulBiasAttr{}, ir.F32},
		{"relu_tb", ir.Shape{32, 64}, ir.Shape{128, 64}, ir.MatMulBiasAttr{TransposeB: true, Act: ir.Activation{Op: ir.OpRelu}}, ir.F32},
		{"gelu_ta", ir.Shape{40, 30}, ir.Shape{40, 50}, ir.MatMulBiasAttr{TransposeA: true, Act: ir.Activation{Op: ir.OpGelu, Aux: ir.GeluAttr{}}}, ir.F32},
		{"gelu_tanh", ir.Shape{3, 8}, ir.Shape{8, 4}, ir.MatMulBiasAttr{Act: ir.Activation{Op: ir.OpGelu, Aux: ir.GeluAttr{Approximate: true}}}, ir.F32},
		{"tanh_batched", ir.Shape{2, 3, 8}, ir.Shape{8, 4}, ir.MatMulBiasAttr{Act: ir.Activation{Op: ir.OpTanh}}, ir.F32},
		{"sigmoid", ir.Shape{1, 300}, ir.Shape{300, 200}, ir.MatMulBiasAttr{Act: ir.Activation{Op: ir.OpSigmoid}}, ir.F32},
		{"softplus", ir.Shape{33, 20}, ir.Shape{20, 70}, ir.MatMulBiasAttr{Act: ir.Activation{Op: ir.OpSoftplus, Aux: ir.SoftplusAttr{Beta: 2, Threshold: 1}}}, ir.F32},
		{"elu_tb", ir.Shape{5, 6}, ir.Shape{7, 6}, ir.MatMulBiasAttr{TransposeB: true, Act: ir.Activation{Op: ir.OpElu, Aux: ir.EluAttr{Alpha: 0.5}}}, ir.F32},
		{"i32", ir.Shape{3, 4}, ir.Shape{4, 2}, ir.MatMulBiasAttr{}, ir.I32},
	} {
		n := m.y[len(m.y)-1]
		if m.a.TransposeB {
			n = m.y[len(m.y)-2]
		}
		add(opCase{op: ir.OpMatMulBias, name: m.name, ins: []in{{t: ir.Type{DType: m.d, Shape: m.x}}, {t: ir.Type{DType: m.d, Shape: m.y}}, {t: ir.TensorOf(m.d, n)}},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.MatMulBias(x[0], x[1], x[2], m.a) }})
	}
}

func TestOps(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, c := range opCases() {
		t.Run(c.op.String()+"/"+c.name, func(t *testing.T) { c.check(t, r) })
	}
}

// TestEveryOpHasKernel fails when an op of the IR has no CPU kernel or no
// case in TestOps.
func TestEveryOpHasKernel(t *testing.T) {
	tested := map[ir.Op]bool{}
	for _, c := range opCases() {
		tested[c.op] = true
	}
	for _, op := range ir.Ops() {
		if !HasKernel(op) {
			t.Errorf("no kernel for %s", op)
		}
		if op != ir.OpInput && !tested[op] {
			t.Errorf("no case in TestOps for %s", op)
		}
	}
}

func TestBadIDs(t *testing.T) {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	table, _ := b.Input("table", ir.RoleParam, f32(4, 2))
	idv, _ := b.Input("ids", ir.RoleData, i32(3))
	y, err := b.Gather(table, idv)
	if err != nil {
		t.Fatal(err)
	}
	g.AddOutput("y", y)
	p, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	copy(p.Int32("ids"), []int32{0, 3, 4})
	if err := p.Run(); err == nil {
		t.Fatal("gather of id 4 in a table of 4 rows: no error")
	}
}

// TestDropoutHash checks the kernel's hoisted hash against the
// definition of the mask, ir.DropoutKeep.
func TestDropoutHash(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	for range 20000 {
		seed, step, i, p := r.Int63()-r.Int63(), r.Int63n(1<<40), r.Intn(1<<30), r.Float64()
		if got, want := dropoutKeep(dropoutHash(seed, step), i, p), ir.DropoutKeep(seed, step, i, p); got != want {
			t.Fatalf("seed %d step %d i %d p %g: keep %v, want %v", seed, step, i, p, got, want)
		}
	}
}

func TestBindAndCompileErrors(t *testing.T) {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x, _ := b.Input("x", ir.RoleData, f32(2, 3))
	y, _ := b.Neg(x)
	g.AddOutput("y", y)
	p, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []any{make([]float32, 5), make([]int32, 6), []float64{1}} {
		if err := p.Bind("x", bad); err == nil {
			t.Errorf("Bind(x, %T of %d): no error", bad, 0)
		}
	}
	if err := p.Bind("nope", make([]float32, 6)); err == nil {
		t.Error("Bind of an unknown input: no error")
	}
	data := []float32{1, 2, 3, 4, 5, 6}
	if err := p.Bind("x", data); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if got := p.Float32("y"); got[5] != -6 {
		t.Fatalf("y = %v", got)
	}
	data[5] = 7 // bound storage is read at every Run
	if err := p.Run(); err != nil || p.Float32("y")[5] != -7 {
		t.Fatalf("after rebinding: y = %v, %v", p.Float32("y"), err)
	}

	g2 := ir.NewGraph()
	b2 := ir.NewBuilder(g2)
	x2, _ := b2.Input("x", ir.RoleData, ir.TensorOf(ir.F64, 2))
	y2, _ := b2.Neg(x2)
	g2.AddOutput("y", y2)
	if _, err := Compile(g2, Options{}); err == nil || !strings.Contains(err.Error(), "f64") {
		t.Fatalf("Compile of an f64 graph: err = %v", err)
	}
}
