// This file implements the optimizer step and gradient clipping as IR:
// the helpers that turn a loss into a training-step graph.

package ir

import (
	"fmt"
	"slices"
)

// An OptimizerKind names an optimization algorithm.
type OptimizerKind uint8

// The optimizers, each following its torch.optim counterpart.
const (
	SGD OptimizerKind = iota
	Adam
	AdamW
	RMSprop
)

func (k OptimizerKind) String() string {
	return [...]string{"sgd", "adam", "adamw", "rmsprop"}[k]
}

// An Optimizer holds an algorithm and its hyper-parameters. Fields that
// do not apply to Kind are ignored; the learning rate is a graph input.
type Optimizer struct {
	Kind        OptimizerKind
	Momentum    float64 // SGD, RMSprop
	Dampening   float64 // SGD
	Nesterov    bool    // SGD
	Beta1       float64 // Adam, AdamW
	Beta2       float64 // Adam, AdamW
	Eps         float64 // Adam, AdamW, RMSprop
	Alpha       float64 // RMSprop smoothing constant
	WeightDecay float64 // L2 (SGD, Adam, RMSprop) or decoupled (AdamW)
	ClipNorm    float64 // clip gradients to this global norm; 0: no clipping
}

// A ParamGrad is one parameter to update with its gradient and optional
// learning-rate scale (a scalar input, for per-group lr_scale).
type ParamGrad struct {
	Param   *Value // an input of role param
	Grad    *Value // its gradient, of the same type
	LRScale *Value // nil, or a scalar multiplying the learning rate
}

// State names the optimizer state inputs of a parameter, as suffixes of
// the parameter's name (fc1.weight:exp_avg), like torch.optim's state.
// "step" is the parameter's own 1-based step count (an i64 scalar,
// torch.optim's state["step"]): it advances only when the parameter is
// trained, so one unfrozen late starts Adam's bias correction and SGD's
// momentum afresh, as in PyTorch. StateType gives each state's type.
func (o Optimizer) State() []string {
	switch {
	case o.Kind == SGD && o.Momentum != 0:
		return []string{"momentum_buffer", "step"}
	case o.Kind == Adam || o.Kind == AdamW:
		return []string{"exp_avg", "exp_avg_sq", "step"}
	case o.Kind == RMSprop && o.Momentum != 0:
		return []string{"square_avg", "momentum_buffer", "step"}
	case o.Kind == RMSprop:
		return []string{"square_avg"}
	}
	return nil
}

// StateType is the type of the state named kind of a parameter of type p.
func StateType(kind string, p Type) Type {
	if kind == "step" {
		return Scalar(I64)
	}
	return p
}

// SumSquares returns Σ x² over all elements of x, a scalar.
func (b *Builder) SumSquares(x *Value) (*Value, error) {
	sq, err := b.Mul(x, x)
	if err != nil {
		return nil, err
	}
	return b.Sum(sq, nil, false)
}

// ClipByGlobalNorm scales xs so that their global L2 norm is at most
// maxNorm, as torch.nn.utils.clip_grad_norm_: every x is multiplied by
// min(1, maxNorm/(norm+1e-6)). It returns the scaled values and the norm.
func (b *Builder) ClipByGlobalNorm(xs []*Value, maxNorm float64) ([]*Value, *Value, error) {
	if len(xs) == 0 {
		return nil, nil, nil
	}
	return catch3(func() ([]*Value, *Value) {
		d := xs[0].Type.DType
		var total *Value
		for _, x := range xs {
			s := must(b.SumSquares(x))
			if total != nil {
				s = must(b.Add(total, s))
			}
			total = s
		}
		norm := must(b.Sqrt(total))
		coef := must(b.Div(must(b.Const(d, maxNorm)), must(b.Add(norm, must(b.Const(d, 1e-6))))))
		coef = must(b.Min(coef, must(b.Const(d, 1))))
		out := make([]*Value, len(xs))
		for i, x := range xs {
			out[i] = must(b.Mul(x, coef))
		}
		return out, norm
	})
}

// Optimize appends one optimizer step for every parameter: it declares
// the state inputs (role state, named by Optimizer.State), builds the
// updates from lr (a scalar input, times each LRScale) and the 1-based
// step (an integer scalar input), and adds an update output for each
// parameter and state tensor. With ClipNorm set, gradients are first
// clipped to that global norm.
func (b *Builder) Optimize(o Optimizer, params []ParamGrad, lr, step *Value) error {
	if o.ClipNorm > 0 {
		grads := make([]*Value, len(params))
		for i, p := range params {
			grads[i] = p.Grad
		}
		clipped, _, err := b.ClipByGlobalNorm(grads, o.ClipNorm)
		if err != nil {
			return err
		}
		params = slices.Clone(params)
		for i := range params {
			params[i].Grad = clipped[i]
		}
	}
	for _, p := range params {
		if p.Param.Op != OpInput || p.Param.Role() != RoleParam {
			return fmt.Errorf("optimize: %s is not a parameter input", p.Param.Ref())
		}
		if !p.Grad.Type.Equal(p.Param.Type) {
			return fmt.Errorf("optimize: gradient %v for parameter %v", p.Grad, p.Param)
		}
		if err := b.optimizeOne(o, p, lr, step); err != nil {
			return err
		}
	}
	return nil
}

func (b *Builder) optimizeOne(o Optimizer, pg ParamGrad, lr, step *Value) error {
	p, g := pg.Param, pg.Grad
	state := make([]*Value, 0, 3)
	var count *Value // the parameter's step count, when it has one
	for _, s := range o.State() {
		v, err := b.Input(p.Name+":"+s, RoleState, StateType(s, p.Type))
		if err != nil {
			return err
		}
		if s == "step" {
			count = v
			continue
		}
		state = append(state, v)
	}
	_, err := catch(func() *Value {
		d := p.Type.DType
		if pg.LRScale != nil {
			lr = must(b.Mul(lr, pg.LRScale))
		}
		if o.WeightDecay != 0 && o.Kind != AdamW {
			g = must(b.Add(g, must(b.Mul(p, must(b.Const(d, o.WeightDecay))))))
		}
		if count != nil {
			step = must(b.Add(count, must(b.Const(I64, 1))))
			b.G.AddUpdate(count, step)
		}
		var np *Value
		switch o.Kind {
		case SGD:
			dir := g
			if o.Momentum != 0 {
				buf := must(b.SGDMomentum(state[0], g, step, MomentumAttr{o.Momentum, o.Dampening}))
				b.G.AddUpdate(state[0], buf)
				dir = buf
				if o.Nesterov {
					dir = must(b.Add(g, must(b.Mul(buf, must(b.Const(d, o.Momentum))))))
				}
			}
			np = must(b.SGD(p, dir, lr))
		case Adam, AdamW:
			m := must(b.EMA(state[0], g, o.Beta1))
			v := must(b.EMASq(state[1], g, o.Beta2))
			b.G.AddUpdate(state[0], m)
			b.G.AddUpdate(state[1], v)
			wd := 0.0
			if o.Kind == AdamW {
				wd = o.WeightDecay
			}
			np = must(b.Adam(p, m, v, lr, step, AdamAttr{o.Beta1, o.Beta2, o.Eps, wd}))
		case RMSprop:
			v := must(b.EMASq(state[0], g, o.Alpha))
			b.G.AddUpdate(state[0], v)
			if o.Momentum == 0 {
				np = must(b.RMSprop(p, g, v, lr, o.Eps))
				break
			}
			// buf = momentum·buf + g/(√v + eps), from zeros (so g/(√v +
			// eps) at the first step); p -= lr·buf (torch.optim.RMSprop).
			dir := must(b.Div(g, must(b.Add(must(b.Sqrt(v)), must(b.Const(d, o.Eps))))))
			buf := must(b.SGDMomentum(state[1], dir, step, MomentumAttr{o.Momentum, 0}))
			b.G.AddUpdate(state[1], buf)
			np = must(b.SGD(p, buf, lr))
		default:
			panic(gradPanic{fmt.Errorf("unknown optimizer %d", o.Kind)})
		}
		b.G.AddUpdate(p, np)
		return np
	})
	return err
}

// TrainStep turns a graph computing a scalar loss into one training step:
// it appends the gradient of loss with respect to params (Grad) and the
// optimizer updates (Optimize). lrScale optionally maps parameters to
// scalar learning-rate scales. Parameters not listed are frozen: they get
// neither gradient nor update.
func TrainStep(g *Graph, loss *Value, params []*Value, o Optimizer, lr, step *Value, lrScale map[*Value]*Value) error {
	grads, err := Grad(g, loss, params)
	if err != nil {
		return err
	}
	pgs := make([]ParamGrad, len(params))
	for i, p := range params {
		pgs[i] = ParamGrad{Param: p, Grad: grads[p], LRScale: lrScale[p]}
	}
	return NewBuilder(g).Optimize(o, pgs, lr, step)
}

// catch runs f, turning a builder error raised by must into an error.
func catch(f func() *Value) (v *Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, ok := r.(gradPanic)
			if !ok {
				panic(r)
			}
			err = p.err
		}
	}()
	return f(), nil
}

func catch3(f func() ([]*Value, *Value)) (vs []*Value, v *Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, ok := r.(gradPanic)
			if !ok {
				panic(r)
			}
			err = p.err
		}
	}()
	vs, v = f()
	return vs, v, nil
}
