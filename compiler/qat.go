package compiler

// This file checks a phase's qat field, qat = fake_int8(...):
// quantization-aware fine-tuning. In the phase's training steps every
// product x·Wᵀ that the train's quantize = int8(...) will quantize runs
// on fake-quantized operands (lowerQATLinear), and the train's int8
// checkpoint then takes its activation ranges from the phase's moving
// min/max instead of a calibration (runtime/train/quant.go).

import (
	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
)

// A QAT is a checked qat = fake_int8(...) of a phase.
type QAT struct {
	Pos      diag.Pos
	Momentum float64         // weight of each batch in the moving min/max
	Params   map[string]bool // the weights whose products are fake-quantized
}

var qatEntry = cfg("fake_int8", KQAT, "fake_int8 fine-tunes for int8 in a phase (qat = fake_int8(...), quantization-aware training): in the phase's steps, each product x·Wᵀ that the train's quantize = int8(...) quantizes runs on fake-quantized operands — W per output channel, symmetric (max|W[n, :]|/127); x per tensor, 7-bit asymmetric as encc's int8 activations, over a moving min/max of x (PyTorch's MovingAverageMinMaxObserver: the first batch's range, then range += momentum·(batch range − range)) — with the straight-through estimator as gradient (dy where the quantized value lies inside the range, 0 outside). The int8 checkpoint written after the run takes those ranges instead of a calibration. Evaluation between epochs runs in f32.",
	p("momentum", "float", FloatV{0.01}, "weight of each batch in the moving min/max of a product's input, in (0, 1]"))

// phaseQAT checks qat = fake_int8(...).
func (c *checker) phaseQAT(tr *Train, f *lang.Field, en *env) *QAT {
	v := c.eval(f.Value, en)
	cv, good := configOf(v, KQAT)
	if !good {
		if _, bad := v.(InvalidV); !bad {
			c.errorAt(f.Value, "qat must be fake_int8(momentum: 0.01), got %s", describe(v))
		}
		return nil
	}
	q := &QAT{Pos: cv.Pos, Params: map[string]bool{}}
	q.Momentum, _ = floatOf(cv.Args["momentum"])
	ok := true
	if !(q.Momentum > 0 && q.Momentum <= 1) {
		c.errorf(argPos(cv, "momentum"), "fake_int8: momentum must be in (0, 1], got %g", q.Momentum)
		ok = false
	}
	if tr.Quantize == nil {
		c.errorf(cv.Pos, "fake_int8: quantization-aware training needs the train's quantize = int8(save: ...), which writes the int8 model it trains for")
		ok = false
	} else {
		for _, p := range tr.Params {
			if p.Layer == "Linear" && p.Type.Rank() == 2 && !p.Buffer && !tr.Quantize.Exclude[p.Path] && len(p.Path) > 7 && p.Path[len(p.Path)-7:] == ".weight" {
				q.Params[p.Path] = true
			}
		}
		if len(q.Params) == 0 && ok {
			c.errorf(cv.Pos, "fake_int8: %s has no Linear weight that quantize = int8(...) quantizes", tr.Model.Name())
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return q
}

// lowerQATLinear fake-quantizes the operands of x·Wᵀ for the phase's
// qat: W per output channel, x over its moving range, kept as optimizer
// state W:qat_lo, W:qat_hi and W:qat_steps (f32 [1] each) that the step
// updates (PyTorch's order: the observer sees the batch first, then the
// batch is quantized with the updated range).
func (l *lowerer) lowerQATLinear(x, w *ir.Value) (*ir.Value, *ir.Value) {
	b := l.b
	one := ir.TensorOf(ir.F32, 1)
	lo := l.input(w.Name+":qat_lo", ir.RoleState, one)
	hi := l.input(w.Name+":qat_hi", ir.RoleState, one)
	n := l.input(w.Name+":qat_steps", ir.RoleState, one)
	all := make([]int, x.Type.Rank())
	for i := range all {
		all[i] = i
	}
	bmax := l.must(b.Reshape(l.must(b.ReduceMax(x, all, false)), ir.Shape{1}))
	bmin := l.must(b.Neg(l.must(b.Reshape(l.must(b.ReduceMax(l.must(b.Neg(x)), all, false)), ir.Shape{1}))))
	zero := l.must(b.Const(ir.F32, 0))
	c := l.must(b.Const(ir.F32, l.qat.Momentum))
	seen := l.must(b.Gt(n, zero))
	move := func(r, batch *ir.Value) *ir.Value {
		return l.must(b.Where(seen, l.must(b.Add(r, l.must(b.Mul(c, l.must(b.Sub(batch, r)))))), batch))
	}
	newLo, newHi := move(lo, bmin), move(hi, bmax)
	l.qatUpdates = append(l.qatUpdates, [2]*ir.Value{lo, newLo}, [2]*ir.Value{hi, newHi},
		[2]*ir.Value{n, l.must(b.Add(n, l.must(b.Const(ir.F32, 1))))})
	xq := l.must(b.Op(ir.OpFakeQuant, ir.Type{}, ir.FakeQuantAttr{}, x, newLo, newHi))
	amax := l.must(b.ReduceMax(l.must(b.Abs(w)), []int{1}, true))
	wq := l.must(b.Op(ir.OpFakeQuant, ir.Type{}, ir.FakeQuantAttr{Signed: true}, w, amax, amax))
	return xq, wq
}
