package compiler

import (
	"fmt"
	"math"

	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
)

// This file implements lowering: the checked program is evaluated again
// with concrete dimensions, and every tensor operation is emitted into an
// ir.Graph. A train becomes one training-step graph per phase: forward,
// loss, backward (only for the phase's trainable parameters) and the
// optimizer's in-place updates.

// A lowerer receives the tensor operations of an evaluation and builds
// the IR graph.
type lowerer struct {
	b        *ir.Builder
	params   map[string]*Param    // by dotted path
	inputs   map[string]*ir.Value // graph inputs by name
	training bool                 // dropout active
	salt     int64                // distinguishes dropout masks
	pred     *ir.Value            // first argument of the loss, for metrics
	calls    map[string]Value     // model calls already lowered (one forward per distinct call)
	err      error
}

// A LowerError is an error found while lowering a program that checked.
type LowerError struct{ Msg string }

func (e *LowerError) Error() string { return e.Msg }

func (l *lowerer) fail(n lang.Node, format string, args ...any) {
	if l.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if n != nil {
		msg = n.Pos().String() + ": " + msg
	}
	l.err = &LowerError{msg}
}

func irDType(dt string) ir.DType {
	d, _ := ir.ParseDType(dt)
	return d
}

func (l *lowerer) irType(n lang.Node, t TensorType) ir.Type {
	s, ok := t.ConstShape()
	if !ok {
		l.fail(n, "cannot lower %s: its dimensions must be known (bind them with --batch or the data)", t)
		return ir.Type{}
	}
	return ir.TensorOf(irDType(t.DType), s...)
}

// input declares (once) a graph input.
func (l *lowerer) input(name string, role ir.Role, t ir.Type) *ir.Value {
	if v, ok := l.inputs[name]; ok {
		return v
	}
	v, err := l.b.Input(name, role, t)
	if err != nil {
		l.fail(nil, "%v", err)
		return nil
	}
	l.inputs[name] = v
	return v
}

func (l *lowerer) param(path string) any {
	p, ok := l.params[path]
	if !ok {
		l.fail(nil, "internal: no parameter %s", path)
		return nil
	}
	role := ir.RoleParam
	if p.Buffer {
		role = ir.RoleConst
	}
	s, _ := p.Type.ConstShape()
	return l.input(path, role, ir.TensorOf(ir.F32, s...))
}

func (l *lowerer) paramV(path string) *ir.Value {
	v, _ := l.param(path).(*ir.Value)
	return v
}

// paramNode returns the IR value of a parameter while lowering.
func (c *checker) paramNode(path, name string) any {
	if c.lw == nil {
		return nil
	}
	return c.lw.param(joinPath(path, name))
}

// val returns the IR value of an operand, making constants of numbers.
func (l *lowerer) val(v Value, dt ir.DType) *ir.Value {
	switch v := v.(type) {
	case *TensorV:
		switch n := v.Node.(type) {
		case *ir.Value:
			return n
		case nil:
			l.fail(nil, "internal: tensor %s has no IR value", v.T)
			return nil
		case Value:
			return l.val(n, irDType(v.T.DType))
		}
	case IntV:
		return l.must(l.b.Const(dt, float64(v.V)))
	case FloatV:
		return l.must(l.b.Const(dt, v.V))
	case BoolV:
		f := 0.0
		if v.V {
			f = 1
		}
		return l.must(l.b.Const(ir.Bool, f))
	case DimV:
		l.fail(nil, "internal: symbolic dimension %s while lowering", v.D)
	}
	return nil
}

func (l *lowerer) must(v *ir.Value, err error) *ir.Value {
	if err != nil {
		l.fail(nil, "%v", err)
		return nil
	}
	return v
}

var binaryOps = map[string]func(b *ir.Builder, x, y *ir.Value) (*ir.Value, error){
	"add": (*ir.Builder).Add, "sub": (*ir.Builder).Sub, "mul": (*ir.Builder).Mul, "div": (*ir.Builder).Div,
	"pow": (*ir.Builder).Pow, "eq": (*ir.Builder).Eq, "ne": (*ir.Builder).Ne, "lt": (*ir.Builder).Lt,
	"le": (*ir.Builder).Le, "gt": (*ir.Builder).Gt, "ge": (*ir.Builder).Ge, "and": (*ir.Builder).Min, "or": (*ir.Builder).Max,
}

var unaryOps = map[string]func(b *ir.Builder, x *ir.Value) (*ir.Value, error){
	"neg": (*ir.Builder).Neg, "exp": (*ir.Builder).Exp, "log": (*ir.Builder).Log, "sqrt": (*ir.Builder).Sqrt,
	"tanh": (*ir.Builder).Tanh, "sigmoid": (*ir.Builder).Sigmoid, "relu": (*ir.Builder).Relu, "abs": (*ir.Builder).Abs,
}

// emit lowers one tensor operation of the checker to IR.
func (l *lowerer) emit(n lang.Node, op string, out TensorType, attrs map[string]any, ins []Value) any {
	if l.err != nil {
		return nil
	}
	if n != nil {
		l.b.Pos = n.Pos()
	}
	b := l.b
	t := l.irType(n, out)
	if l.err != nil {
		return nil
	}
	arg := func(i int) *ir.Value {
		dt := ir.F32
		for _, in := range ins {
			if tv, ok := in.(*TensorV); ok {
				if _, isIR := tv.Node.(*ir.Value); isIR {
					dt = irDType(tv.T.DType)
				}
			}
		}
		return l.val(ins[i], dt)
	}
	var r *ir.Value
	var err error
	switch op {
	case "input":
		return l.input(attrs["name"].(string), ir.RoleData, t)
	case "neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs":
		r, err = unaryOps[op](b, arg(0))
	case "not":
		r, err = b.Eq(arg(0), l.must(b.Const(ir.Bool, 0)))
	case "silu":
		x := arg(0)
		r, err = b.Mul(x, l.must(b.Sigmoid(x)))
	case "gelu":
		r, err = b.Gelu(arg(0), attrs["tanh"].(bool))
	case "leaky_relu":
		x := arg(0)
		s := attrs["slope"].(float64)
		r, err = b.Where(l.must(b.Gt(x, l.must(b.Const(t.DType, 0)))), x, l.must(b.Mul(x, l.must(b.Const(t.DType, s)))))
	case "add", "sub", "mul", "div", "pow", "eq", "ne", "lt", "le", "gt", "ge", "and", "or":
		r, err = binaryOps[op](b, arg(0), arg(1))
	case "matmul":
		r = l.matmul(arg(0), arg(1), t)
	case "permute":
		r, err = b.Permute(arg(0), attrs["perm"].([]int)...)
	case "reshape":
		r, err = b.Reshape(arg(0), t.Shape)
	case "slice":
		r = l.slice(n, arg(0), attrs, t)
	case "linear":
		r = l.linear(arg(0), attrs["path"].(string), attrs["bias"].(bool), t)
	case "conv2d":
		x := arg(0)
		path := attrs["path"].(string)
		st, pd, dl := int(attrs["stride"].(int64)), int(attrs["padding"].(int64)), int(attrs["dilation"].(int64))
		r = l.must(b.Conv2D(x, l.paramV(path+".weight"), ir.Conv2DAttr{Stride: [2]int{st, st}, Padding: [2]int{pd, pd}, Dilation: [2]int{dl, dl}}))
		if attrs["bias"].(bool) && r != nil {
			bias := l.must(b.Reshape(l.paramV(path+".bias"), ir.Shape{1, t.Shape[1], 1, 1}))
			r, err = b.Add(r, bias)
		}
	case "embedding":
		r, err = b.Gather(l.paramV(attrs["path"].(string)+".weight"), arg(0))
	case "layernorm":
		path := attrs["path"].(string)
		r, err = b.LayerNorm(arg(0), l.paramV(path+".weight"), l.paramV(path+".bias"), attrs["eps"].(float64))
	case "dropout":
		if !l.training {
			return arg(0)
		}
		r = l.dropout(arg(0), attrs["p"].(float64))
	case "softmax":
		r, err = b.Softmax(arg(0), attrs["axis"].(int))
	case "log_softmax":
		r, err = b.LogSoftmax(arg(0), attrs["axis"].(int))
	case "reduce_sum", "reduce_mean", "reduce_max":
		axes, keep := attrs["axes"].([]int), attrs["keepdims"].(bool)
		switch op {
		case "reduce_sum":
			r, err = b.Sum(arg(0), axes, keep)
		case "reduce_mean":
			r, err = b.Mean(arg(0), axes, keep)
		default:
			r, err = b.ReduceMax(arg(0), axes, keep)
		}
	case "argmax":
		r = l.must(b.ArgMax(arg(0), attrs["axis"].(int), false))
		if r != nil && r.Type.DType != ir.I32 {
			r, err = b.Cast(r, ir.I32)
		}
	case "maxpool2d", "avgpool2d":
		k, s, p := int(attrs["kernel"].(int64)), int(attrs["stride"].(int64)), int(attrs["padding"].(int64))
		a := ir.Pool2DAttr{Kernel: [2]int{k, k}, Stride: [2]int{s, s}, Padding: [2]int{p, p}}
		if op == "maxpool2d" {
			r, err = b.MaxPool2D(arg(0), a)
		} else {
			r, err = b.AvgPool2D(arg(0), a)
		}
	case "concat":
		xs := make([]*ir.Value, len(ins))
		for i := range ins {
			xs[i] = arg(i)
		}
		r, err = b.Concat(attrs["axis"].(int), xs...)
	case "where":
		r, err = b.Where(l.val(ins[0], ir.Bool), arg(1), arg(2))
	case "arange":
		r, err = b.Iota(t, 0)
	case "sinusoidal":
		r, err = b.Literal(t, sinusoidal(t.Shape[0], t.Shape[1]))
	case "one_hot":
		r, err = b.OneHot(arg(0), int(attrs["classes"].(int64)), ir.F32)
	case "cast":
		r, err = b.Cast(arg(0), t.DType)
	case "cross_entropy":
		logits, labels := arg(0), arg(1)
		l.notePred(logits)
		if c := logits.Type.Shape; len(c) > 2 {
			rows := logits.Type.NumElements() / c[len(c)-1]
			logits = l.must(b.Reshape(logits, ir.Shape{rows, c[len(c)-1]}))
			labels = l.must(b.Reshape(labels, ir.Shape{rows}))
		}
		ls, _ := attrs["label_smoothing"].(float64)
		r, err = b.SoftmaxCrossEntropy(logits, labels, ls)
	case "nll":
		logp, labels := arg(0), arg(1)
		l.notePred(logp)
		c := logp.Type.Shape[logp.Type.Rank()-1]
		oh := l.must(b.OneHot(labels, c, logp.Type.DType))
		s := l.must(b.Sum(l.must(b.Mul(oh, logp)), allAxes(logp.Type.Rank()), false))
		rows := float64(logp.Type.NumElements() / c)
		r, err = b.Div(l.must(b.Neg(s)), l.must(b.Const(logp.Type.DType, rows)))
	case "mse", "l1":
		x, y := arg(0), arg(1)
		l.notePred(x)
		d := l.must(b.Sub(x, y))
		if op == "mse" {
			d = l.must(b.Mul(d, d))
		} else {
			d = l.must(b.Abs(d))
		}
		r, err = b.Mean(d, allAxes(d.Type.Rank()), false)
	case "bce_with_logits":
		x, y := arg(0), arg(1)
		l.notePred(x)
		dt := x.Type.DType
		// max(x, 0) - x·y + log(1 + exp(-|x|))
		pos := l.must(b.Relu(x))
		soft := l.must(b.Log(l.must(b.Add(l.must(b.Const(dt, 1)), l.must(b.Exp(l.must(b.Neg(l.must(b.Abs(x))))))))))
		e := l.must(b.Add(l.must(b.Sub(pos, l.must(b.Mul(x, y)))), soft))
		r, err = b.Mean(e, allAxes(e.Type.Rank()), false)
	case "kl_div":
		lp, q := arg(0), arg(1)
		l.notePred(lp)
		dt := lp.Type.DType
		zero := l.must(b.Const(dt, 0))
		safe := l.must(b.Where(l.must(b.Gt(q, zero)), q, l.must(b.Const(dt, 1))))
		e := l.must(b.Mul(q, l.must(b.Sub(l.must(b.Log(safe)), lp))))
		s := l.must(b.Sum(e, allAxes(e.Type.Rank()), false))
		rows := 1
		if lp.Type.Rank() > 0 {
			rows = lp.Type.Shape[0]
		}
		r, err = b.Div(s, l.must(b.Const(dt, float64(rows))))
	case "attention":
		r = l.attention(ins, attrs, arg)
	case "mlm_select":
		r = l.mlmSelect(arg(0), l.val(ins[1], ir.Bool), attrs["p"].(float64))
	case "mlm_apply":
		r = l.mlmApply(arg(0), arg(1))
	case "mlm_loss":
		r = l.mlmLoss(arg(0), arg(1), arg(2))
	default:
		l.fail(n, "internal: no lowering for %s", op)
		return nil
	}
	if err != nil {
		l.fail(n, "%v", err)
		return nil
	}
	if r != nil && !r.Type.Equal(t) && l.err == nil {
		l.fail(n, "internal: %s lowered to %v, checker said %v", op, r.Type, t)
	}
	return r
}

func (l *lowerer) notePred(v *ir.Value) {
	if l.pred == nil {
		l.pred = v
	}
}

func allAxes(rank int) []int {
	axes := make([]int, rank)
	for i := range axes {
		axes[i] = i
	}
	return axes
}

// matmul lowers a @ b, promoting vectors to matrices as NumPy does.
func (l *lowerer) matmul(a, b *ir.Value, t ir.Type) *ir.Value {
	bd := l.b
	if a.Type.Rank() == 1 {
		a = l.must(bd.Reshape(a, ir.Shape{1, a.Type.Shape[0]}))
	}
	if b.Type.Rank() == 1 {
		b = l.must(bd.Reshape(b, ir.Shape{b.Type.Shape[0], 1}))
	}
	r := l.must(bd.MatMul(a, b, ir.MatMulAttr{}))
	if r != nil && !r.Type.Shape.Equal(t.Shape) {
		r = l.must(bd.Reshape(r, t.Shape))
	}
	return r
}

// linear lowers x @ weight^T + bias, flattening leading dimensions so the
// product is one 2-D GEMM.
func (l *lowerer) linear(x *ir.Value, path string, bias bool, t ir.Type) *ir.Value {
	b := l.b
	w := l.paramV(path + ".weight")
	if x == nil || w == nil {
		return nil
	}
	in := x.Type.Shape[x.Type.Rank()-1]
	flat := x
	if x.Type.Rank() != 2 {
		flat = l.must(b.Reshape(x, ir.Shape{x.Type.NumElements() / in, in}))
	}
	y := l.must(b.MatMul(flat, w, ir.MatMulAttr{TransposeB: true}))
	if bias {
		y = l.must(b.Add(y, l.paramV(path+".bias")))
	}
	if y != nil && !y.Type.Shape.Equal(t.Shape) {
		y = l.must(b.Reshape(y, t.Shape))
	}
	return y
}

func (l *lowerer) slice(n lang.Node, x *ir.Value, attrs map[string]any, t ir.Type) *ir.Value {
	starts, stops, keep := attrs["starts"].([]Dim), attrs["stops"].([]Dim), attrs["keep"].([]bool)
	a := ir.SliceAttr{}
	for i := range starts {
		s, ok1 := starts[i].Const()
		e, ok2 := stops[i].Const()
		if !ok1 || !ok2 {
			l.fail(n, "cannot lower a slice with symbolic bounds")
			return nil
		}
		a.Start, a.Stop, a.Step = append(a.Start, int(s)), append(a.Stop, int(e)), append(a.Step, 1)
	}
	r := l.must(l.b.Slice(x, a))
	dropped := false
	for _, k := range keep {
		dropped = dropped || !k
	}
	if dropped && r != nil {
		r = l.must(l.b.Reshape(r, t.Shape))
	}
	return r
}

func sinusoidal(n, d int) []float64 {
	out := make([]float64, n*d)
	for pos := 0; pos < n; pos++ {
		for i := 0; i < d; i++ {
			k := float64(i - i%2)
			angle := float64(pos) / math.Pow(10000, k/float64(d))
			if i%2 == 0 {
				out[pos*d+i] = math.Sin(angle)
			} else {
				out[pos*d+i] = math.Cos(angle)
			}
		}
	}
	return out
}

// ---------------------------------------------------------------------
// Entry points

// A StepGraph is the lowered training step of one phase of a train.
type StepGraph struct {
	Graph     *ir.Graph
	Train     *Train
	Phase     *Phase
	Batch     int
	Trainable []string      // paths of the parameters this graph updates
	State     []StateSpec   // optimizer state inputs, in graph order
	LRScales  []LRScaleSpec // lr_scale inputs and the value to feed
	Pred      bool          // the graph has a "pred" output (for metrics)
}

// A StateSpec is one optimizer-state input: a tensor shaped like its
// parameter, named param:kind (PyTorch's state names: exp_avg,
// exp_avg_sq, momentum_buffer, square_avg).
type StateSpec struct {
	Name  string
	Param string
	Kind  string
	Type  ir.Type // the parameter's type, or i64[] for its step count
}

// An LRScaleSpec is a scalar input multiplying one parameter's learning
// rate (lr_scale in a phase).
type LRScaleSpec struct {
	Name  string
	Scale float64
}

// LowerStep lowers phase ph (0-based) of train tr into a training-step
// graph for batches of size batch. Inputs: the data fields, every
// parameter, the optimizer state of the trainable ones, and the scalars
// lr (f32), step (i64, 1-based), the lr_scale of scaled parameters (f32)
// and, with dropout, seed (i64). Outputs:
// "loss", "pred", and one in-place update per trained parameter and
// state tensor.
func (p *Program) LowerStep(tr *Train, ph, batch int) (*StepGraph, error) {
	g, l, loss, err := p.lowerLoss(tr, batch, true)
	if err != nil {
		return nil, err
	}
	phase := tr.Phases[ph]
	sg := &StepGraph{Graph: g, Train: tr, Phase: phase, Batch: batch}
	var wrt []*ir.Value
	for _, prm := range tr.Params {
		if prm.Buffer || phase.Frozen[prm.Path] {
			continue
		}
		v := l.paramV(prm.Path)
		wrt = append(wrt, v)
		sg.Trainable = append(sg.Trainable, prm.Path)
	}
	lr := l.input("lr", ir.RoleScalar, ir.Scalar(ir.F32))
	step := l.input("step", ir.RoleScalar, ir.Scalar(ir.I64))
	scales := map[*ir.Value]*ir.Value{}
	for i, w := range wrt {
		if s, ok := phase.LRScale[sg.Trainable[i]]; ok && s != 1 {
			scales[w] = l.input(sg.Trainable[i]+":lr_scale", ir.RoleScalar, ir.Scalar(ir.F32))
			sg.LRScales = append(sg.LRScales, LRScaleSpec{Name: sg.Trainable[i] + ":lr_scale", Scale: s})
		}
	}
	opt, err := irOptimizer(tr)
	if err != nil {
		return nil, err
	}
	if err := ir.TrainStep(g, loss, wrt, opt, lr, step, scales); err != nil {
		return nil, fmt.Errorf("differentiating %s: %w", tr.Name, err)
	}
	for _, path := range sg.Trainable {
		for _, kind := range opt.State() {
			name := path + ":" + kind
			sg.State = append(sg.State, StateSpec{Name: name, Param: path, Kind: kind, Type: g.Input(name).Type})
		}
	}
	if l.err != nil {
		return nil, l.err
	}
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("internal: lowered graph of %s does not verify: %w", tr.Name, err)
	}
	sg.Pred = g.Output("pred") != nil
	return sg, nil
}

// LowerGrad lowers the loss of phase ph of tr and its gradients, without
// an optimizer step: outputs "loss", "pred" and "grad:<path>" for every
// trainable parameter. With training false, dropout is off, so the graph
// is a pure function of the weights and the batch (gradient checks).
func (p *Program) LowerGrad(tr *Train, ph, batch int, training bool) (*ir.Graph, error) {
	g, l, loss, err := p.lowerLoss(tr, batch, training)
	if err != nil {
		return nil, err
	}
	var wrt []*ir.Value
	var paths []string
	for _, prm := range tr.Params {
		if !prm.Buffer && !tr.Phases[ph].Frozen[prm.Path] {
			wrt = append(wrt, l.paramV(prm.Path))
			paths = append(paths, prm.Path)
		}
	}
	grads, err := ir.Grad(g, loss, wrt)
	if err != nil {
		return nil, fmt.Errorf("differentiating %s: %w", tr.Name, err)
	}
	for i, w := range wrt {
		g.AddOutput("grad:"+paths[i], grads[w])
	}
	if l.err != nil {
		return nil, l.err
	}
	return g, ir.Verify(g)
}

// LowerEval lowers the loss of a train without gradients or dropout: an
// evaluation graph with outputs "loss" and "pred".
func (p *Program) LowerEval(tr *Train, batch int) (*ir.Graph, error) {
	g, l, _, err := p.lowerLoss(tr, batch, false)
	if err != nil {
		return nil, err
	}
	if l.err != nil {
		return nil, l.err
	}
	return g, ir.Verify(g)
}

func (p *Program) newLowerer(params []*Param, training bool) (*lowerer, *ir.Graph) {
	g := ir.NewGraph()
	l := &lowerer{b: ir.NewBuilder(g), params: map[string]*Param{}, inputs: map[string]*ir.Value{},
		training: training, calls: map[string]Value{}}
	for _, prm := range params {
		l.params[prm.Path] = prm
	}
	// Declare every parameter up front, in tree order, so graphs list
	// them deterministically.
	for _, prm := range params {
		l.param(prm.Path)
	}
	return l, g
}

// lowerLoss evaluates the loss of tr with the lowerer attached.
func (p *Program) lowerLoss(tr *Train, batch int, training bool) (*ir.Graph, *lowerer, *ir.Value, error) {
	c := p.c
	l, g := p.newLowerer(tr.Params, training)
	g.Name = tr.Name
	c.lw = l
	defer func() { c.lw = nil }()
	en := &env{sc: tr.file.scope, hyper: true}
	le := c.trainEnv(tr, en, ConstDim(int64(batch)))
	before := len(c.diags)
	v := c.eval(tr.Loss, le)
	if len(c.diags) > before {
		d := c.diags[before]
		c.diags = c.diags[:before]
		return nil, nil, nil, fmt.Errorf("%s: %s", d.Pos, d.Msg)
	}
	if l.err != nil {
		return nil, nil, nil, l.err
	}
	t, ok := v.(*TensorV)
	if !ok {
		return nil, nil, nil, fmt.Errorf("%s: loss did not lower to a tensor", tr.Name)
	}
	loss := l.val(t, ir.F32)
	g.AddOutput("loss", loss)
	if l.pred != nil {
		g.AddOutput("pred", l.pred)
	}
	return g, l, loss, l.err
}

// LowerForward lowers the forward of a model instance for inputs whose
// symbolic dimensions are bound by dims (B and any other variable); the
// outputs are "out" or the named outputs.
func (p *Program) LowerForward(in *Instance, dims map[string]int) (*ir.Graph, error) {
	c := p.c
	l, g := p.newLowerer(in.Params(), false)
	g.Name = in.Model.name
	c.lw = l
	defer func() { c.lw = nil }()
	fw := in.forward
	if fw == nil {
		return nil, fmt.Errorf("%s has no forward", in.Model.name)
	}
	sub := map[string]Dim{}
	for k, v := range dims {
		sub[k] = ConstDim(int64(v))
	}
	fen := &env{sc: newScope(in.scope), hyper: true}
	var args []*argVal
	for _, prm := range fw.Params {
		t, ok := c.evalTensorType(prm.Type, fen, map[string]bool{})
		if !ok {
			return nil, fmt.Errorf("%s: bad input type", prm.Pos())
		}
		t = t.Subst(sub)
		if _, ok := t.ConstShape(); !ok {
			return nil, fmt.Errorf("input %s of %s has unbound dimensions %s: give them values (with encc compile, --dim NAME=N)", prm.Name.Name, in.Model.name, t)
		}
		args = append(args, &argVal{v: c.input(prm.Name.Name, t), pos: prm.Pos()})
	}
	before := len(c.diags)
	out := c.callInstance(in, args, in.Model.decl.Name, &env{sc: in.scope})
	if len(c.diags) > before {
		d := c.diags[before]
		c.diags = c.diags[:before]
		return nil, fmt.Errorf("%s: %s", d.Pos, d.Msg)
	}
	if l.err != nil {
		return nil, l.err
	}
	switch o := out.(type) {
	case *TensorV:
		g.AddOutput("out", l.val(o, ir.F32))
	case *RecordV:
		for _, n := range o.Names {
			g.AddOutput(n, l.val(o.Vals[n], ir.F32))
		}
	default:
		return nil, fmt.Errorf("forward of %s did not lower", in.Model.name)
	}
	if l.err != nil {
		return nil, l.err
	}
	return g, ir.Verify(g)
}

// irOptimizer translates the train's optimizer configuration.
func irOptimizer(tr *Train) (ir.Optimizer, error) {
	a := tr.Optimizer.Args
	f := func(name string) float64 { x, _ := floatOf(a[name]); return x }
	o := ir.Optimizer{WeightDecay: f("weight_decay"), ClipNorm: tr.ClipGradNorm}
	switch tr.Optimizer.E.Name {
	case "SGD":
		o.Kind, o.Momentum, o.Dampening = ir.SGD, f("momentum"), f("dampening")
		o.Nesterov = a["nesterov"].(BoolV).V
	case "Adam", "AdamW":
		o.Kind, o.Beta1, o.Beta2, o.Eps = ir.Adam, f("beta1"), f("beta2"), f("eps")
		if tr.Optimizer.E.Name == "AdamW" {
			o.Kind = ir.AdamW
		}
	case "RMSprop":
		o.Kind, o.Alpha, o.Eps, o.Momentum = ir.RMSprop, f("alpha"), f("eps"), f("momentum")
	default:
		return o, fmt.Errorf("internal: no lowering for optimizer %s", tr.Optimizer.E.Name)
	}
	return o, nil
}

// attention lowers softmax(q kᵀ scale + mask) v. Masked keys get a large
// negative score rather than -inf, so a row with every key masked stays
// finite.
func (l *lowerer) attention(ins []Value, attrs map[string]any, arg func(int) *ir.Value) *ir.Value {
	b := l.b
	q, k, v := arg(0), arg(1), arg(2)
	if q == nil || k == nil || v == nil {
		return nil
	}
	dt := q.Type.DType
	r := q.Type.Rank()
	dropout := attrs["dropout"].(float64) > 0 && l.training
	if !dropout && r >= 3 && q.Type.Shape[:r-2].Equal(k.Type.Shape[:r-2]) && q.Type.Shape[:r-2].Equal(v.Type.Shape[:r-2]) {
		// One fused kernel; its VJP recomputes the weights.
		var m *ir.Value
		if len(ins) == 4 {
			m = l.val(ins[3], ir.Bool)
		}
		return l.must(b.Attention(q, k, v, m, attrs["scale"].(float64)))
	}
	// Broadcast batch dimensions or dropout on the weights: the ops it
	// is made of.
	s := l.must(b.MatMul(q, k, ir.MatMulAttr{TransposeB: true}))
	s = l.must(b.Mul(s, l.must(b.Const(dt, attrs["scale"].(float64)))))
	if len(ins) == 4 && s != nil {
		m := l.val(ins[3], ir.Bool)
		shape := make(ir.Shape, s.Type.Rank())
		for i := range shape {
			shape[i] = 1
		}
		shape[0], shape[len(shape)-1] = m.Type.Shape[0], m.Type.Shape[1]
		m = l.must(b.Reshape(m, shape))
		s = l.must(b.Where(m, s, l.must(b.Const(dt, -1e9))))
	}
	a := l.must(b.Softmax(s, s.Type.Rank()-1))
	if p := attrs["dropout"].(float64); p > 0 && l.training {
		a = l.dropout(a, p)
	}
	return l.must(b.MatMul(a, v, ir.MatMulAttr{}))
}

// dropout applies dropout with a fresh salt.
func (l *lowerer) dropout(x *ir.Value, p float64) *ir.Value {
	l.salt++
	seed := l.input("seed", ir.RoleScalar, ir.Scalar(ir.I64))
	salted := l.must(l.b.Add(seed, l.must(l.b.Const(ir.I64, float64(l.salt*1000003)))))
	return l.must(l.b.Dropout(x, salted, l.input("step", ir.RoleScalar, ir.Scalar(ir.I64)), p))
}

// draw returns 1 where a seeded per-step draw falls below p, else 0:
// dropout of ones zeroes each element with probability p.
func (l *lowerer) draw(shape ir.Shape, p float64) *ir.Value {
	b := l.b
	ones := l.must(b.Fill(ir.TensorOf(ir.F32, shape...), 1))
	kept := l.dropoutAlways(ones, p)
	return l.must(b.Cast(l.must(b.Eq(kept, l.must(b.Const(ir.F32, 0)))), ir.F32))
}

// dropoutAlways is dropout that stays in evaluation graphs too.
func (l *lowerer) dropoutAlways(x *ir.Value, p float64) *ir.Value {
	training := l.training
	l.training = true
	defer func() { l.training = training }()
	return l.dropout(x, p)
}

// mlmSelect draws the positions to predict: real tokens (mask true, not
// a special id) with probability p.
func (l *lowerer) mlmSelect(ids, mask *ir.Value, p float64) *ir.Value {
	b := l.b
	if ids == nil || mask == nil {
		return nil
	}
	f := func(x *ir.Value) *ir.Value { return l.must(b.Cast(x, ir.F32)) }
	notSpecial := f(l.must(b.Gt(ids, l.must(b.Const(ids.Type.DType, TokenMASK)))))
	valid := l.must(b.Mul(f(mask), notSpecial))
	return l.must(b.Mul(valid, l.draw(ids.Type.Shape, p)))
}

// mlmApply replaces 80% of the selected ids by [MASK].
func (l *lowerer) mlmApply(ids, sel *ir.Value) *ir.Value {
	b := l.b
	if ids == nil || sel == nil {
		return nil
	}
	keep := l.draw(ids.Type.Shape, 0.2)
	replace := l.must(b.Mul(sel, l.must(b.Sub(l.must(b.Const(ir.F32, 1)), keep))))
	cond := l.must(b.Gt(replace, l.must(b.Const(ir.F32, 0.5))))
	return l.must(b.Where(cond, l.must(b.Const(ids.Type.DType, TokenMASK)), ids))
}

// mlmLoss is the mean negative log-likelihood of the original ids at the
// selected positions: log_softmax, then one gather of the target column
// of every row.
func (l *lowerer) mlmLoss(logits, ids, sel *ir.Value) *ir.Value {
	b := l.b
	if logits == nil || ids == nil || sel == nil {
		return nil
	}
	bs, t, v := logits.Type.Shape[0], logits.Type.Shape[1], logits.Type.Shape[2]
	logp := l.must(b.LogSoftmax(logits, 2))
	table := l.must(b.Reshape(logp, ir.Shape{bs * t * v, 1}))
	row := l.must(b.Iota(ir.TensorOf(ids.Type.DType, bs*t), 0))
	idx := l.must(b.Add(l.must(b.Mul(row, l.must(b.Const(ids.Type.DType, float64(v))))), l.must(b.Reshape(ids, ir.Shape{bs * t}))))
	picked := l.must(b.Reshape(l.must(b.Gather(table, idx)), ir.Shape{bs, t}))
	num := l.must(b.Sum(l.must(b.Mul(picked, sel)), []int{0, 1}, false))
	den := l.must(b.Max(l.must(b.Sum(sel, []int{0, 1}, false)), l.must(b.Const(ir.F32, 1))))
	return l.must(b.Neg(l.must(b.Div(num, den))))
}
