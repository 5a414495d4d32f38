package eval

import (
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// The references below transcribe torch.optim's update rules (SGD, Adam,
// AdamW, RMSprop with default flags) and clip_grad_norm_ in float64.

type refState struct{ buf, m, v []float64 }

func refStep(o ir.Optimizer, t int, lr float64, p, g []float64, s *refState) {
	if s.buf == nil {
		s.buf, s.m, s.v = make([]float64, len(p)), make([]float64, len(p)), make([]float64, len(p))
	}
	for i := range p {
		gi := g[i]
		if o.Kind != ir.AdamW {
			gi += o.WeightDecay * p[i]
		}
		switch o.Kind {
		case ir.SGD:
			d := gi
			if o.Momentum != 0 {
				if t == 1 {
					s.buf[i] = d
				} else {
					s.buf[i] = o.Momentum*s.buf[i] + (1-o.Dampening)*d
				}
				if o.Nesterov {
					d += o.Momentum * s.buf[i]
				} else {
					d = s.buf[i]
				}
			}
			p[i] -= lr * d
		case ir.Adam, ir.AdamW:
			if o.Kind == ir.AdamW {
				p[i] *= 1 - lr*o.WeightDecay
			}
			s.m[i] = o.Beta1*s.m[i] + (1-o.Beta1)*gi
			s.v[i] = o.Beta2*s.v[i] + (1-o.Beta2)*gi*gi
			bc1 := 1 - math.Pow(o.Beta1, float64(t))
			bc2 := 1 - math.Pow(o.Beta2, float64(t))
			denom := math.Sqrt(s.v[i])/math.Sqrt(bc2) + o.Eps
			p[i] -= lr / bc1 * s.m[i] / denom
		case ir.RMSprop:
			s.v[i] = o.Alpha*s.v[i] + (1-o.Alpha)*gi*gi
			if o.Momentum == 0 {
				p[i] -= lr * gi / (math.Sqrt(s.v[i]) + o.Eps)
				break
			}
			s.buf[i] = o.Momentum*s.buf[i] + gi/(math.Sqrt(s.v[i])+o.Eps)
			p[i] -= lr * s.buf[i]
		}
	}
}

func refClip(grads [][]float64, maxNorm float64) {
	total := 0.0
	for _, g := range grads {
		for _, x := range g {
			total += x * x
		}
	}
	coef := min(1, maxNorm/(math.Sqrt(total)+1e-6))
	for _, g := range grads {
		for i := range g {
			g[i] *= coef
		}
	}
}

func TestOptimizers(t *testing.T) {
	opts := map[string]ir.Optimizer{
		"sgd":          {Kind: ir.SGD},
		"sgd-momentum": {Kind: ir.SGD, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01},
		"sgd-nesterov": {Kind: ir.SGD, Momentum: 0.8, Nesterov: true, ClipNorm: 0.5},
		"adam":         {Kind: ir.Adam, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01},
		"adamw":        {Kind: ir.AdamW, Beta1: 0.8, Beta2: 0.95, Eps: 1e-6, WeightDecay: 0.1, ClipNorm: 1},
		"rmsprop":      {Kind: ir.RMSprop, Alpha: 0.99, Eps: 1e-8, WeightDecay: 0.001},
		"rmsprop-mom":  {Kind: ir.RMSprop, Alpha: 0.9, Eps: 1e-8, Momentum: 0.9, WeightDecay: 0.01},
	}
	for name, o := range opts {
		t.Run(name, func(t *testing.T) { checkOptimizer(t, o) })
	}
}

// checkOptimizer trains loss = Σ ½k(p-c)² over two parameters (one with
// lr scale ½, one frozen) for three steps and compares with refStep.
func checkOptimizer(t *testing.T, o ir.Optimizer) {
	r := rand.New(rand.NewSource(1))
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	m := func(v *ir.Value, err error) *ir.Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	types := []ir.Type{f32(2, 3), f32(4), f32(3)}
	names := []string{"a.weight", "a.bias", "frozen"}
	var params []*ir.Value
	var loss *ir.Value
	k := []float64{1.5, 3, 2}
	c := []float64{0.25, -0.5, 1}
	for i, ty := range types {
		p := m(b.Input(names[i], ir.RoleParam, ty))
		params = append(params, p)
		d := m(b.Sub(p, m(b.Const(ir.F32, c[i]))))
		l := m(b.Sum(m(b.Mul(m(b.Mul(d, d)), m(b.Const(ir.F32, k[i]/2)))), nil, false))
		if loss != nil {
			l = m(b.Add(loss, l))
		}
		loss = l
	}
	lr := m(b.Input("lr", ir.RoleScalar, ir.Scalar(ir.F32)))
	step := m(b.Input("step", ir.RoleScalar, ir.Scalar(ir.I64)))
	scale := m(b.Input("lr_scale.bias", ir.RoleScalar, ir.Scalar(ir.F32)))
	g.AddOutput("loss", loss)
	trained := params[:2]
	if err := ir.TrainStep(g, loss, trained, o, lr, step, map[*ir.Value]*ir.Value{params[1]: scale}); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(g); err != nil {
		t.Fatalf("%v\n%s", err, g)
	}
	for _, out := range g.Outputs {
		if out.Updates == params[2] {
			t.Fatal("frozen parameter updated")
		}
	}
	if g2, err := ir.Parse("opt.ir", []byte(g.String())); err != nil || g2.String() != g.String() {
		t.Fatalf("round trip: %v", err)
	}

	feed := map[string]*Tensor{"lr": New(ir.Scalar(ir.F32), []float64{0.05}), "lr_scale.bias": New(ir.Scalar(ir.F32), []float64{0.5})}
	ref := make([][]float64, 3)
	for i, ty := range types {
		feed[names[i]] = draw(r, in{t: ty})
		ref[i] = append([]float64(nil), feed[names[i]].F...)
	}
	for _, in := range g.Inputs {
		if in.Role() == ir.RoleState {
			feed[in.Name] = Zeros(in.Type)
		}
	}
	states := make([]refState, 2)
	for step := 1; step <= 3; step++ {
		feed["step"] = New(ir.Scalar(ir.I64), []float64{float64(step)})
		res, err := Run(g, feed)
		if err != nil {
			t.Fatal(err)
		}
		grads := make([][]float64, 2)
		for i := range grads {
			grads[i] = make([]float64, len(ref[i]))
			for j, p := range ref[i] {
				grads[i][j] = k[i] * (p - c[i])
			}
		}
		if o.ClipNorm > 0 {
			refClip(grads, o.ClipNorm)
		}
		for i := range grads {
			refStep(o, step, 0.05*[]float64{1, 0.5}[i], ref[i], grads[i], &states[i])
		}
		for name, u := range res.Updates {
			feed[name] = u
		}
		for i := range 2 {
			got := feed[names[i]].F
			for j := range got {
				if d := math.Abs(got[j] - ref[i][j]); d > 1e-12*(1+math.Abs(ref[i][j])) {
					t.Fatalf("step %d: %s[%d] = %.15g, torch's formula gives %.15g", step, names[i], j, got[j], ref[i][j])
				}
			}
		}
		if want := len(o.State())*2 + 2; len(res.Updates) != want {
			t.Fatalf("%d updates, want %d", len(res.Updates), want)
		}
	}
}
