package compiler

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/ir"
)

// lowerTemplate is the program TestCatalogLowers lowers a use of each
// built-in in: MEMBERS are extra members of M, EXPR an expression over
// h (f32[B, 4, 6]), ids (i32[B, 4]), mask (bool[B, 4]) and label
// (i32[B]). Adding mean(h) keeps every parameter-free use differentiable.
const lowerTemplate = `
dataset d {
    source = synthetic(shape: [4], classes: 3, n: 8, vocab: 12)
}
model Tok {
    emb = Embedding(12, 12)
    forward(ids: i32[B, T], mask: bool[B, T]) -> f32[B, T, 12] { return emb(ids) }
}
model M {
    emb = Embedding(12, 6)
    MEMBERS
    forward(ids: i32[B, 4], mask: bool[B, 4], label: i32[B]) -> f32[] {
        h = emb(ids)
        return sum(float(EXPR)) + mean(h)
    }
}
train t {
    model     = M()
    data      = d
    loss      = model(ids, mask, label)
    optimizer = SGD()
    batch     = 2
    epochs    = 1
}
`

// A lowerCase is a use of a built-in in lowerTemplate.
type lowerCase struct{ members, expr string }

// lowerCases are the uses of the built-ins that make tensors and are not
// plain functions of one tensor x (those are written name(h) by
// TestCatalogLowers itself).
var lowerCases = map[string]lowerCase{
	"Linear":          {"f = Linear(6, 3)", "f(h)"},
	"Conv2d":          {"c = Conv2d(4, 2, 3, padding: 1)", "c(reshape(h, B, 4, 2, 3))"},
	"Conv1d":          {"c = Conv1d(4, 2, 3, padding: 1, groups: 2)", "c(h)"},
	"BatchNorm1d":     {"n = BatchNorm1d(4)", "n(h)"},
	"BatchNorm2d":     {"n = BatchNorm2d(1, affine: false)", "n(reshape(h, B, 1, 4, 6))"},
	"Embedding":       {"e = Embedding(12, 5)", "e(ids)"},
	"LayerNorm":       {"n = LayerNorm(6)", "n(h)"},
	"RNN":             {`r = RNN(6, 4, nonlinearity: "relu")`, "r(h).h_n"},
	"GRU":             {"r = GRU(6, 4, layers: 2, dropout: 0.5)", "r(h, mask: mask).last"},
	"LSTM":            {"r = LSTM(6, 4, bidirectional: true)", "r(h, mask: mask).c_n"},
	"Dropout":         {"d = Dropout(0.5)", "d(h)"},
	"dropout":         {"", "dropout(h, 0.25)"},
	"permute":         {"", "permute(h, 2, 0, 1)"},
	"reshape":         {"", "reshape(h, B, -1)"},
	"maxpool2d":       {"", "maxpool2d(reshape(h, B, 1, 4, 6), kernel: 2)"},
	"avgpool2d":       {"", "avgpool2d(reshape(h, B, 1, 4, 6), kernel: 2)"},
	"maxpool1d":       {"", "maxpool1d(h, kernel: 2)"},
	"avgpool1d":       {"", "avgpool1d(h, kernel: 3, stride: 1, padding: 1)"},
	"concat":          {"", "concat(h, h * 2, axis: 1)"},
	"where":           {"", "where(mask, float(ids), 0.5)"},
	"arange":          {"", "arange(4)"},
	"sinusoidal":      {"", "sinusoidal(4, 6)"},
	"one_hot":         {"", "one_hot(ids, classes: 12)"},
	"matmul":          {"", "matmul(h, transpose(h))"},
	"attention":       {"", "attention(h, h, h, mask: mask, dropout: 0.1)"},
	"cross_entropy":   {"", "cross_entropy(h[:, 0, 0:3], label, label_smoothing: 0.1)"},
	"nll":             {"", "nll(log_softmax(h), ids)"},
	"mse":             {"", "mse(h, h * 0.5)"},
	"l1":              {"", "l1(h, h * 0.5)"},
	"bce_with_logits": {"", "bce_with_logits(h, sigmoid(h))"},
	"kl_div":          {"", "kl_div(log_softmax(h), softmax(h * 2))"},
	"distill":         {"", "distill(h, h * 2, T: 3)"},
	"mlm":             {"tok = Tok()", "mlm(tok, ids, mask, p: 0.5)"},
}

// onlyX reports whether x is e's only argument without a default: a
// use of it is name(h).
func onlyX(e *Entry) bool {
	if e.Rest != nil || len(e.In) != 1 || e.In[0].Name != "x" {
		return false
	}
	for _, p := range e.Params {
		if p.Default == nil && !p.Optional {
			return false
		}
	}
	return true
}

// TestCatalogLowers lowers a use of every built-in that makes tensors
// (layers, functions, losses) into a training step, its gradients and
// an evaluation graph: a built-in that cannot lower fails here, and one
// without a use fails until it gets one in lowerCases. Each plain
// elementwise function must lower to its IR op.
func TestCatalogLowers(t *testing.T) {
	ops := map[string]ir.Op{}
	for _, u := range elementwiseFuncs {
		ops[u.name] = u.op
	}
	for name := range lowerCases {
		if _, ok := Lookup(name); !ok {
			t.Errorf("lowerCases has %s, which is not a built-in", name)
		}
	}
	for _, e := range Entries() {
		if e.Kind != KLayer && e.Kind != KFunc && e.Kind != KLoss {
			continue
		}
		c, ok := lowerCases[e.Name]
		if !ok && onlyX(e) {
			c, ok = lowerCase{"", e.Name + "(h)"}, true
		}
		if !ok {
			t.Errorf("%s: no use of it in lowerCases", e.Name)
			continue
		}
		t.Run(e.Name, func(t *testing.T) {
			src := strings.NewReplacer("MEMBERS", c.members, "EXPR", c.expr).Replace(lowerTemplate)
			p, errs := Check("in.enc", []byte(src), nil)
			if len(errs) > 0 {
				t.Fatalf("%s:\n%v", c.expr, errs)
			}
			tr := p.Trains[0]
			sg, err := p.LowerStep(tr, 0, 2)
			if err != nil {
				t.Fatalf("LowerStep: %v", err)
			}
			if _, err := p.LowerGrad(tr, 0, 2, false); err != nil {
				t.Fatalf("LowerGrad: %v", err)
			}
			if _, err := p.LowerEval(tr, 3); err != nil {
				t.Fatalf("LowerEval: %v", err)
			}
			if op, ok := ops[e.Name]; ok && !hasOp(sg.Graph, op) {
				t.Errorf("%s did not lower to %s:\n%s", e.Name, op, sg.Graph)
			}
		})
	}
}

// TestOptimizersLower lowers a training step with every optimizer of the
// catalog, its arguments given, and checks they reach the IR.
func TestOptimizersLower(t *testing.T) {
	args := map[string]string{
		"SGD":     "SGD(lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: false, weight_decay: 0.01)",
		"Adam":    "Adam(beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: 0.01)",
		"AdamW":   "AdamW(beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: 0.02)",
		"RMSprop": "RMSprop(alpha: 0.9, eps: 1e-6, momentum: 0.5, weight_decay: 0.01)",
	}
	want := map[string]ir.Optimizer{
		"SGD":     {Kind: ir.SGD, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01},
		"Adam":    {Kind: ir.Adam, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.01},
		"AdamW":   {Kind: ir.AdamW, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.02},
		"RMSprop": {Kind: ir.RMSprop, Alpha: 0.9, Eps: 1e-6, Momentum: 0.5, WeightDecay: 0.01},
	}
	for _, e := range Entries() {
		if e.Kind != KOptimizer {
			continue
		}
		call, ok := args[e.Name]
		if !ok {
			t.Errorf("%s: no case in TestOptimizersLower", e.Name)
			continue
		}
		src := strings.NewReplacer("MEMBERS", "", "EXPR", "h", "SGD()", call).Replace(lowerTemplate)
		p, errs := Check("in.enc", []byte(src), nil)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", e.Name, errs)
		}
		o, err := irOptimizer(p.Trains[0])
		if err != nil || o != want[e.Name] {
			t.Errorf("%s: got %+v, %v; want %+v", e.Name, o, err, want[e.Name])
		}
		if _, err := p.LowerStep(p.Trains[0], 0, 2); err != nil {
			t.Errorf("%s: %v", e.Name, err)
		}
	}
}

func hasOp(g *ir.Graph, op ir.Op) bool {
	for _, v := range g.Values {
		if v.Op == op {
			return true
		}
	}
	return false
}

// TestElementwiseNumbers checks that a plain elementwise function of a
// number is computed at compile time, and that a result that is not a
// finite number is an error at the argument.
func TestElementwiseNumbers(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want float64
	}{
		{"sqrt(16)", 4},
		{"relu(-2.5)", 0},
		{"abs(-3)", 3},
		{"exp(0)", 1},
		{"tanh(0.5)", math.Tanh(0.5)},
		{"log(2.0)", math.Log(2)},
		{"sigmoid(0.5)", 1 / (1 + math.Exp(-0.5))},
		{"gelu(1.0)", 0.5 * (1 + math.Erf(1/math.Sqrt2))},
		{`gelu(1.0, approximate: "tanh")`, 0.5 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(1+0.044715)))},
	} {
		src := fmt.Sprintf("const C = %s\nmodel M {\n    forward(x: f32[B, 2]) -> f32[B, 2] { return x * C }\n}\n", tc.expr)
		p, errs := Check("in.enc", []byte(src), nil)
		if len(errs) > 0 {
			t.Errorf("%s: %v", tc.expr, errs)
			continue
		}
		b := p.c.root.scope.lookup("C")
		v := p.c.value(b, diag.Pos{})
		if f, ok := floatOf(v); !ok || math.Abs(f-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %g", tc.expr, v, tc.want)
		}
	}
	_, errs := Check("in.enc", []byte("const C = log(-1.0)\n"), nil)
	if len(errs) != 1 || errs[0].Msg != "log(-1) is not a finite number" || errs[0].Pos.Col != 15 {
		t.Errorf("log(-1.0): got %v", errs)
	}
}

// TestLowerErrorPositioned checks that a program that checks but fails
// when lowered with concrete dimensions gives a diagnostic at the
// offending expression, and that a failing lowering is reported at its
// operation.
func TestLowerErrorPositioned(t *testing.T) {
	src := "model M {\n    forward(x: f32[B, T]) -> f32[B, 3] {\n        return x[:, 0:3]\n    }\n}\n"
	p, errs := Check("in.enc", []byte(src), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	_, err := p.LowerForward(p.Models[0].Default, map[string]int{"B": 2, "T": 2})
	var d *diag.Diagnostic
	if !errors.As(err, &d) || d.Pos.Line != 3 || d.Pos.Col != 21 || !strings.Contains(d.Msg, "out of range") {
		t.Errorf("got %v (%T), want a diagnostic at in.enc:3:21", err, err)
	}
	if _, err := p.LowerForward(p.Models[0].Default, map[string]int{"B": 2, "T": 5}); err != nil {
		t.Errorf("T = 5: %v", err)
	}

	// A lowering that fails reports at the operation being lowered.
	l, g := p.newLowerer(nil, false)
	pos := diag.Pos{File: "in.enc", Line: 3, Col: 16}
	l.b.Pos = pos
	x := l.input("x", ir.RoleData, ir.TensorOf(ir.F32, 2))
	l.lower(nil, tensorOf("f32", ConstDim(2)), func(*lowerer, ir.Type, []*ir.Value) (*ir.Value, error) {
		return nil, fmt.Errorf("boom")
	}, []*TensorV{{T: tensorOf("f32", ConstDim(2)), Node: x}})
	if err := l.error(); err == nil || err.Error() != "in.enc:3:16: boom" {
		t.Errorf("got %v, want in.enc:3:16: boom", err)
	}
	// A lowering that gives another type than the checker's is an
	// internal error.
	l, _ = p.newLowerer(nil, false)
	l.b = ir.NewBuilder(g)
	l.lower(nil, tensorOf("f32", ConstDim(3)), lowerOp(ir.OpRelu, nil), []*TensorV{{T: tensorOf("f32", ConstDim(2)), Node: x}})
	if err := l.error(); err == nil || !strings.Contains(err.Error(), "internal: lowered to f32[2], checker said f32[3]") {
		t.Errorf("got %v", err)
	}
}

// TestForwardInputs checks the inputs the compiler answers for a forward:
// names, checked types with hyper-parameters bound, and optional ones.
func TestForwardInputs(t *testing.T) {
	src := `model Enc(d: int = 16) {
    forward(ids: i32[B, T], mask: bool[B, T] = none, x: f32[B, d * 2]) -> f32[B, d * 2] { return x }
}
`
	p, errs := Check("in.enc", []byte(src), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	in, err := p.ForwardInputs(p.Models[0].Default)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fi := range in {
		got = append(got, fmt.Sprintf("%s %s %v %d:%d", fi.Name, fi.Type, fi.Optional, fi.Pos.Line, fi.Pos.Col))
	}
	want := "ids i32[B, T] false 2:13|mask bool[B, T] true 2:29|x f32[B, 32] false 2:54"
	if strings.Join(got, "|") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
}
