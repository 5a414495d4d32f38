package compiler

import (
	"errors"
	"fmt"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
)

// This file implements lowering: the checked program is evaluated again
// with concrete dimensions, and every tensor operation is emitted into an
// ir.Graph. A train becomes one training-step graph per phase: forward,
// loss, backward (only for the phase's trainable parameters) and the
// optimizer's in-place updates.

// A lowerer receives the tensor operations of an evaluation and builds
// the IR graph. It knows no built-in by name: every operation comes with
// its own lowering (a lowerFunc, written next to its shape rule), and the
// lowerer supplies what they share: graph inputs, parameters, dropout
// salts, the prediction a loss is computed on, and positioned errors.
type lowerer struct {
	b        *ir.Builder
	params   map[string]*Param    // by dotted path
	inputs   map[string]*ir.Value // graph inputs by name
	training bool                 // dropout active
	salt     int64                // distinguishes dropout masks
	pred     *ir.Value            // first argument of the loss, for metrics
	calls    map[string]Value     // model calls already lowered (one forward per distinct call)
	err      *diag.Diagnostic     // the first failure
	lora     *LoRA                // the train's adapters, or nil
	qat      *QAT                 // the phase's quantization-aware training, or nil
	// qatUpdates are the moving ranges of qat: state input, its value
	// after the step.
	qatUpdates [][2]*ir.Value
	// running holds the buffers a training step updates (BatchNorm's
	// running statistics): input → its value after the uses so far, in
	// the order of first update (runningOrder).
	running      map[*ir.Value]*ir.Value
	runningOrder []*ir.Value
}

// current returns the value of buffer input in at this point of a
// training step: in itself, or what earlier uses made it.
func (l *lowerer) current(in *ir.Value) *ir.Value {
	if v, ok := l.running[in]; ok {
		return v
	}
	return in
}

// setRunning records that buffer input in takes the value v after the
// step (only training-step graphs apply it: see LowerStep).
func (l *lowerer) setRunning(in, v *ir.Value) {
	if in == nil || v == nil {
		return
	}
	if l.running == nil {
		l.running = map[*ir.Value]*ir.Value{}
	}
	if _, ok := l.running[in]; !ok {
		l.runningOrder = append(l.runningOrder, in)
	}
	l.running[in] = v
}

// A lowerFunc emits the IR of one tensor operation: in are its lowered
// inputs, in the order the shape rule passed them to emit, and t the
// type the checker gave its result (which the lowering must produce).
// It builds with l.b; an error it returns is reported at the operation.
type lowerFunc func(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error)

// lowerOp is the lowering to one IR op with attributes aux (nil for
// none) on the operation's inputs.
func lowerOp(op ir.Op, aux any) lowerFunc {
	return func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		return l.b.Op(op, ir.Type{}, aux, in...)
	}
}

// lower emits one tensor operation of the checker at node n (nil keeps
// the builder's position) and checks its type against out.
func (l *lowerer) lower(n lang.Node, out TensorType, f lowerFunc, ins []*TensorV) *ir.Value {
	if l.err != nil {
		return nil
	}
	if n != nil {
		l.b.Pos = n.Pos()
	}
	t := l.irType(out)
	in := make([]*ir.Value, len(ins))
	for i, x := range ins {
		in[i] = l.operand(x)
	}
	if l.err != nil {
		return nil
	}
	r, err := f(l, t, in)
	if err != nil {
		l.fail(err)
	}
	if l.err != nil {
		return nil
	}
	switch {
	case r == nil:
		l.failf("internal: the lowering of a %v gave no value", t)
	case !r.Type.Equal(t):
		l.failf("internal: lowered to %v, checker said %v", r.Type, t)
	default:
		return r
	}
	return nil
}

// fail records err as the lowering's error: a diagnostic keeps its
// position, any other error takes the position of the operation being
// lowered.
func (l *lowerer) fail(err error) {
	if l.err != nil {
		return
	}
	if d, ok := err.(*diag.Diagnostic); ok {
		l.err = d
		return
	}
	l.err = diag.Errorf(l.b.Pos, "%v", err)
}

// failf records an error at the operation being lowered.
func (l *lowerer) failf(format string, args ...any) {
	l.fail(fmt.Errorf(format, args...))
}

// error returns the lowering's error, or nil.
func (l *lowerer) error() error {
	if l.err == nil {
		return nil
	}
	return l.err
}

func irDType(dt string) ir.DType {
	d, _ := ir.ParseDType(dt)
	return d
}

func (l *lowerer) irType(t TensorType) ir.Type {
	s, ok := t.ConstShape()
	if !ok {
		l.failf("cannot lower %s: its dimensions must be known (bind them with --batch or the data)", t)
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
		l.fail(err)
		return nil
	}
	l.inputs[name] = v
	return v
}

// param returns the graph input of the parameter at path.
func (l *lowerer) param(path string) *ir.Value {
	p, ok := l.params[path]
	if !ok {
		l.failf("internal: no parameter %s", path)
		return nil
	}
	role := ir.RoleParam
	if p.Buffer {
		role = ir.RoleConst
	}
	s, _ := p.Type.ConstShape()
	return l.input(path, role, ir.TensorOf(ir.F32, s...))
}

// paramNode returns the IR value of a parameter while lowering.
func (c *checker) paramNode(path, name string) *ir.Value {
	if c.lw == nil {
		return nil
	}
	return c.lw.param(joinPath(path, name))
}

// operand returns the IR value of a tensor operand, making a constant of
// a number.
func (l *lowerer) operand(x *TensorV) *ir.Value {
	if x.Node != nil {
		return x.Node
	}
	dt := irDType(x.T.DType)
	switch v := x.Num.(type) {
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
	case nil:
		l.failf("internal: tensor %s has no IR value", x.T)
	default:
		l.failf("internal: %s %s while lowering", v.Kind(), valueString(v))
	}
	return nil
}

func (l *lowerer) must(v *ir.Value, err error) *ir.Value {
	if err != nil {
		l.fail(err)
		return nil
	}
	return v
}

// notePred makes v the graph's "pred" output (for metrics), unless a
// prediction was noted already: losses note their first input.
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
	g, l, loss, err := p.lowerLoss(tr, batch, true, tr.Phases[ph].QAT)
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
		v := l.param(prm.Path)
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
		return nil, differentiating(tr, err)
	}
	// Buffers the forward updates in training (running statistics) are
	// inputs the step updates, so they take the param role: fed from the
	// weights and saved with them, never differentiated.
	for _, in := range l.runningOrder {
		in.Aux = ir.InputAttr{Role: ir.RoleParam}
		g.AddUpdate(in, l.running[in])
	}
	for _, u := range l.qatUpdates { // qat's moving ranges (qat.go)
		g.AddUpdate(u[0], u[1])
	}
	for _, path := range sg.Trainable {
		for _, kind := range opt.State() {
			name := path + ":" + kind
			sg.State = append(sg.State, StateSpec{Name: name, Param: path, Kind: kind, Type: g.Input(name).Type})
		}
	}
	if err := l.error(); err != nil {
		return nil, err
	}
	if err := ir.Verify(g); err != nil {
		return nil, diag.Errorf(tr.Decl.Pos(), "internal: lowered graph of %s does not verify: %v", tr.Name, err)
	}
	sg.Pred = g.Output("pred") != nil
	return sg, nil
}

// differentiating reports a failure of automatic differentiation of the
// loss of tr: where the IR says it failed, or else at the train.
func differentiating(tr *Train, err error) *diag.Diagnostic {
	var d *diag.Diagnostic
	if errors.As(err, &d) && d.Pos.IsValid() {
		return &diag.Diagnostic{Pos: d.Pos, End: d.End, Msg: "differentiating " + tr.Name + ": " + d.Msg, Notes: d.Notes}
	}
	return diag.Errorf(tr.Decl.Pos(), "differentiating %s: %v", tr.Name, err)
}

// LowerGrad lowers the loss of phase ph of tr and its gradients, without
// an optimizer step: outputs "loss", "pred" and "grad:<path>" for every
// trainable parameter. With training false, dropout is off, so the graph
// is a pure function of the weights and the batch (gradient checks).
func (p *Program) LowerGrad(tr *Train, ph, batch int, training bool) (*ir.Graph, error) {
	g, l, loss, err := p.lowerLoss(tr, batch, training, tr.Phases[ph].QAT)
	if err != nil {
		return nil, err
	}
	var wrt []*ir.Value
	var paths []string
	for _, prm := range tr.Params {
		if !prm.Buffer && !tr.Phases[ph].Frozen[prm.Path] {
			wrt = append(wrt, l.param(prm.Path))
			paths = append(paths, prm.Path)
		}
	}
	grads, err := ir.Grad(g, loss, wrt)
	if err != nil {
		return nil, differentiating(tr, err)
	}
	for i, w := range wrt {
		g.AddOutput("grad:"+paths[i], grads[w])
	}
	if err := l.error(); err != nil {
		return nil, err
	}
	return g, ir.Verify(g)
}

// LowerEval lowers the loss of a train without gradients or dropout: an
// evaluation graph with outputs "loss" and "pred".
func (p *Program) LowerEval(tr *Train, batch int) (*ir.Graph, error) {
	g, l, _, err := p.lowerLoss(tr, batch, false, nil)
	if err != nil {
		return nil, err
	}
	if err := l.error(); err != nil {
		return nil, err
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
func (p *Program) lowerLoss(tr *Train, batch int, training bool, qat *QAT) (*ir.Graph, *lowerer, *ir.Value, error) {
	c := p.c
	params := tr.Params
	if tr.Teacher != nil { // constants: no gradient, no optimizer state
		params = append(append([]*Param(nil), params...), tr.Teacher.Params...)
	}
	l, g := p.newLowerer(params, training)
	l.lora = tr.LoRA
	l.qat = qat
	g.Name = tr.Name
	c.lw = l
	defer func() { c.lw = nil }()
	en := &env{sc: tr.file.scope, hyper: true}
	le := c.trainEnv(tr, en, ConstDim(int64(batch)))
	before := len(c.diags)
	v := c.eval(tr.Loss, le)
	if d := c.takeDiags(before); d != nil {
		return nil, nil, nil, d
	}
	if err := l.error(); err != nil {
		return nil, nil, nil, err
	}
	t, ok := v.(*TensorV)
	if !ok {
		return nil, nil, nil, diag.Errorf(tr.Loss.Pos(), "the loss of %s did not lower to a tensor", tr.Name)
	}
	loss := l.operand(t)
	g.AddOutput("loss", loss)
	if l.pred != nil {
		g.AddOutput("pred", l.pred)
	}
	return g, l, loss, l.error()
}

// takeDiags removes the diagnostics reported since the first before of
// them (a program that checked can still fail when evaluated again with
// concrete dimensions) and returns the first, or nil.
func (c *checker) takeDiags(before int) *diag.Diagnostic {
	if len(c.diags) <= before {
		return nil
	}
	d := c.diags[before]
	c.diags = c.diags[:before]
	return d
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
	if in.forward == nil {
		return nil, diag.Errorf(in.Model.decl.Pos(), "%s has no forward", in.Model.name)
	}
	sub := map[string]Dim{}
	for k, v := range dims {
		sub[k] = ConstDim(int64(v))
	}
	before := len(c.diags)
	inputs, err := p.ForwardInputs(in)
	if err != nil {
		return nil, err
	}
	var args []*argVal
	for _, fi := range inputs {
		t := fi.Type.Subst(sub)
		if _, ok := t.ConstShape(); !ok {
			return nil, diag.Errorf(fi.Pos, "input %s of %s has unbound dimensions %s: give them values (with encc compile, --dim NAME=N)", fi.Name, in.Model.name, t)
		}
		args = append(args, &argVal{v: c.input(fi.Name, t), pos: fi.Pos})
	}
	out := c.callInstance(in, args, in.Model.decl.Name, &env{sc: in.scope})
	if d := c.takeDiags(before); d != nil {
		return nil, d
	}
	if err := l.error(); err != nil {
		return nil, err
	}
	switch o := out.(type) {
	case *TensorV:
		g.AddOutput("out", l.operand(o))
	case *RecordV:
		for _, n := range o.Names {
			t, _ := o.Vals[n].(*TensorV)
			if t == nil {
				return nil, diag.Errorf(in.forward.Pos(), "output %s of %s did not lower to a tensor", n, in.Model.name)
			}
			g.AddOutput(n, l.operand(t))
		}
	default:
		return nil, diag.Errorf(in.forward.Pos(), "the forward of %s did not lower to a tensor", in.Model.name)
	}
	if err := l.error(); err != nil {
		return nil, err
	}
	return g, ir.Verify(g)
}

// irOptimizer translates the train's optimizer configuration: its
// catalog entry gives the kind and its own arguments.
func irOptimizer(tr *Train) (ir.Optimizer, error) {
	e, a := tr.Optimizer.E, tr.Optimizer.Args
	if e.optimizer == nil {
		return ir.Optimizer{}, diag.Errorf(tr.Optimizer.Pos, "internal: %s is not an optimizer", e.Name)
	}
	o := e.optimizer(a)
	o.WeightDecay, o.ClipNorm = argFloat(a, "weight_decay"), tr.ClipGradNorm
	return o, nil
}
