package compiler

import (
	"fmt"
	"math"

	"github.com/encc-lang/encc/ir"
)

// This file holds the recurrent layers RNN, GRU and LSTM: their catalog
// entries, shape rule and lowering.
//
// The lowering unrolls the recurrence over the time steps, which are
// concrete when lowering, into ordinary IR ops (matmul, slice, sigmoid,
// tanh, where, concat) rather than adding a loop or scan op to the IR.
// With no new op, every pass (autodiff, cse, fuse, the memory plan),
// every backend (CPU, CUDA) and every export target handle recurrent
// layers as they are, and backpropagation through time is the autodiff
// of the unrolled graph. The input projection x @ W_ihᵀ + b_ih of every
// step is one matmul over [B·T, in] before the loop; each step adds one
// [B, H] × [H, G·H] matmul and a few elementwise ops, so the graph grows
// linearly in T · layers · directions (measured at T = 128, 2 layers in
// recurrent_test.go's TestRecurrentGraphSize).
//
// A padding mask bool[B, T] (true at real steps, a prefix of each row)
// gives PyTorch's packed-sequence result: at a padded step the state is
// carried unchanged (where(mask, new, old)) and the output is zero, so the
// final state is the one at each sequence's last real step, and the
// reverse direction, which starts from a zero state at T-1, starts at the
// last real step.

// An rnnKind is one recurrent cell: its name, the number of gate blocks
// stacked in its weights (PyTorch's order) and whether it has a cell state.
type rnnKind struct {
	name  string
	gates int
	cell  bool // LSTM: a cell state c besides h
	gate  string
}

var (
	rnnCell  = rnnKind{name: "RNN", gates: 1}
	gruCell  = rnnKind{name: "GRU", gates: 3, gate: "r, z, n (reset, update, new)"}
	lstmCell = rnnKind{name: "LSTM", gates: 4, cell: true, gate: "i, f, g, o (input, forget, cell, output)"}
)

func init() {
	register(rnnEntry(rnnCell), rnnEntry(gruCell), rnnEntry(lstmCell))
}

func rnnEntry(kind rnnKind) *Entry {
	params := []ParamSpec{
		req("in", "int", "input features (PyTorch input_size)"),
		req("hidden", "int", "features of the hidden state (PyTorch hidden_size)"),
		p("layers", "int", IntV{1}, "stacked recurrent layers, each reading the previous one's outputs (PyTorch num_layers)"),
		p("bidirectional", "bool", BoolV{false}, "add a reverse direction; outputs concatenate both"),
		p("bias", "bool", true_, "learn the biases bias_ih and bias_hh"),
		p("dropout", "float", zero, "dropout on the outputs of every layer but the last, while training"),
	}
	doc := ""
	switch kind.name {
	case "RNN":
		params = append(params, p("nonlinearity", "string", StrV{"tanh"}, `"tanh" or "relu"`))
		doc = "RNN is an Elman recurrent layer, h_t = act(x_t @ W_ihᵀ + b_ih + h_{t-1} @ W_hhᵀ + b_hh) (PyTorch nn.RNN with batch_first=True)."
	case "GRU":
		doc = "GRU is a gated recurrent unit layer (Cho et al. 2014; PyTorch nn.GRU with batch_first=True, gates r, z, n stacked in that order)."
	case "LSTM":
		doc = "LSTM is a long short-term memory layer (Hochreiter & Schmidhuber 1997; PyTorch nn.LSTM with batch_first=True, gates i, f, g, o stacked in that order)."
	}
	doc += " Its tensors are PyTorch's: weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, with _reverse for the reverse direction, so nn." + kind.name + " weights load by name." +
		" It returns named outputs: output f32[B, T, D·hidden] (every step of the last layer), h_n f32[layers·D, B, hidden] (final states, PyTorch's order)" +
		map[bool]string{true: ", c_n (final cell states, like h_n)", false: ""}[kind.cell] +
		" and last f32[B, D·hidden] (the last layer's final states, directions concatenated), where D is 2 when bidirectional." +
		" A padding mask bool[B, T] (true at real steps, which come first) gives PyTorch's packed-sequence result: outputs are zero at padded steps, h_n is taken at each sequence's last real step, and the reverse direction starts there." +
		" The time loop is unrolled when lowering."
	sig := "f32[B, T, in], mask: bool[B, T] = none -> { output: f32[B, T, D*hidden], h_n: f32[layers*D, B, hidden]"
	if kind.cell {
		sig += ", c_n: f32[layers*D, B, hidden]"
	}
	sig += ", last: f32[B, D*hidden] }"
	return &Entry{
		Name: kind.name, Kind: KLayer,
		Params: params,
		In:     []ParamSpec{req("x", "tensor", "inputs f32[B, T, in], batch first"), opt("mask", "tensor", "bool[B, T]: true at real steps, padding after them")},
		Doc:    doc,
		Sig:    sig,
		params: func(a map[string]Value) []LayerParam { return rnnParams(kind, a) },
		validate: func(k *callCtx) bool {
			if d := k.float("dropout"); d < 0 || d >= 1 {
				k.errorf("dropout", "%s: dropout must be in [0, 1), got %g", kind.name, d)
				return false
			}
			if kind.name == "RNN" {
				if s := k.str("nonlinearity"); s != "tanh" && s != "relu" {
					k.errorf("nonlinearity", `RNN: nonlinearity must be "tanh" or "relu", got %q`, s)
					return false
				}
			}
			return true
		},
		fn: func(k *callCtx) Value { return rnnRule(kind, k) },
	}
}

// rnnDirections gives the parameter-name suffixes of the directions.
func rnnDirections(bidirectional bool) []string {
	if bidirectional {
		return []string{"", "_reverse"}
	}
	return []string{""}
}

// rnnParams lists the tensors of a recurrent layer in PyTorch's
// state_dict order, all initialized uniform in ±1/sqrt(hidden) as
// PyTorch does.
func rnnParams(kind rnnKind, a map[string]Value) []LayerParam {
	in, h := a["in"].(IntV).V, a["hidden"].(IntV).V
	layers := a["layers"].(IntV).V
	dirs := rnnDirections(a["bidirectional"].(BoolV).V)
	bias := a["bias"].(BoolV).V
	g := int64(kind.gates) * h
	bound := 1 / math.Sqrt(float64(h))
	init := initCfg("uniform", "low", FloatV{-bound}, "high", FloatV{bound})
	var ps []LayerParam
	for l := int64(0); l < layers; l++ {
		lin := in
		if l > 0 {
			lin = int64(len(dirs)) * h
		}
		for _, d := range dirs {
			sfx := fmt.Sprintf("_l%d%s", l, d)
			ps = append(ps,
				LayerParam{Name: "weight_ih" + sfx, Type: tensorOf("f32", constDims(g, lin)...), FanIn: int(lin), FanOut: int(g), Init: init},
				LayerParam{Name: "weight_hh" + sfx, Type: tensorOf("f32", constDims(g, h)...), FanIn: int(h), FanOut: int(g), Init: init})
			if bias {
				ps = append(ps,
					LayerParam{Name: "bias_ih" + sfx, Type: tensorOf("f32", ConstDim(g)), FanIn: int(h), FanOut: int(g), Init: init},
					LayerParam{Name: "bias_hh" + sfx, Type: tensorOf("f32", ConstDim(g)), FanIn: int(h), FanOut: int(g), Init: init})
			}
		}
	}
	return ps
}

// rnnRule is the shape rule of RNN, GRU and LSTM.
func rnnRule(kind rnnKind, k *callCtx) Value {
	x := k.tensor("x")
	in, h, layers := k.int("in"), k.int("hidden"), k.int("layers")
	dirs := rnnDirections(k.bool("bidirectional"))
	nd := int64(len(dirs))
	if x.T.Rank() != 3 || !isFloat(x.T.DType) || !x.T.Dims[2].Equal(ConstDim(in)) {
		return k.errorf("", "%q expects f32[B, T, %d] (batch first), got %s", k.name, in, x.T)
	}
	bd, td := x.T.Dims[0], x.T.Dims[1]
	if n, ok := td.Const(); ok && n == 0 {
		return k.errorf("", "%q: the sequence has no steps (%s)", k.name, x.T)
	}
	mask, hasMask := k.args["mask"].(*TensorV)
	if hasMask && (mask.T.DType != "bool" || mask.T.Rank() != 2 || !mask.T.Dims[0].Equal(bd) || !mask.T.Dims[1].Equal(td)) {
		return k.errorf("mask", "%q: mask must be %s, got %s", k.name, tensorOf("bool", bd, td), mask.T)
	}
	// Flops: per step and direction, two products with the gate weights.
	g := int64(kind.gates) * h
	per := int64(0)
	for l := int64(0); l < layers; l++ {
		lin := in
		if l > 0 {
			lin = nd * h
		}
		per += nd * 2 * g * (lin + h)
	}
	k.c.countFlops(ConstDim(per).Mul(bd).Mul(td))

	ins := []*TensorV{x}
	if hasMask {
		ins = append(ins, mask)
	}
	var names []string
	for l := int64(0); l < layers; l++ {
		for _, d := range dirs {
			sfx := fmt.Sprintf("_l%d%s", l, d)
			names = append(names, "weight_ih"+sfx, "weight_hh"+sfx)
			if k.bool("bias") {
				names = append(names, "bias_ih"+sfx, "bias_hh"+sfx)
			}
		}
	}
	for _, n := range names {
		ins = append(ins, k.param(n))
	}
	spec := rnnSpec{kind: kind, hidden: int(h), layers: int(layers), dirs: int(nd), bias: k.bool("bias"), mask: hasMask,
		relu: k.str("nonlinearity") == "relu", dropout: k.float("dropout")}
	res := &rnnResult{}
	outT := tensorOf(x.T.DType, bd, td, ConstDim(nd*h))
	out := k.emit(outT, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		return spec.lower(l, in, res), nil
	}, ins...)
	stateT := tensorOf(x.T.DType, ConstDim(layers*nd), bd, ConstDim(h))
	rec := &RecordV{Vals: map[string]Value{}}
	add := func(name string, t TensorType, v func() *ir.Value) {
		rec.Names = append(rec.Names, name)
		rec.Vals[name] = k.emit(t, func(*lowerer, ir.Type, []*ir.Value) (*ir.Value, error) { return v(), nil }, out)
	}
	rec.Names = append(rec.Names, "output")
	rec.Vals["output"] = out
	add("h_n", stateT, func() *ir.Value { return res.hn })
	if kind.cell {
		add("c_n", stateT, func() *ir.Value { return res.cn })
	}
	add("last", tensorOf(x.T.DType, bd, ConstDim(nd*h)), func() *ir.Value { return res.last })
	return rec
}

// An rnnSpec is what the lowering of one recurrent layer call needs.
type rnnSpec struct {
	kind                 rnnKind
	hidden, layers, dirs int
	bias, mask, relu     bool
	dropout              float64
}

// rnnResult receives the final states while the output is lowered; the
// other named outputs read them.
type rnnResult struct{ hn, cn, last *ir.Value }

// lower unrolls the layer: in holds x, the mask if any, then the
// tensors in rnnParams' order.
func (s rnnSpec) lower(l *lowerer, in []*ir.Value, res *rnnResult) *ir.Value {
	b := l.b
	x := in[0]
	in = in[1:]
	dt := x.Type.DType
	B, T := x.Type.Shape[0], x.Type.Shape[1]
	H, G := s.hidden, s.kind.gates*s.hidden
	var mask *ir.Value // bool[B, T]
	if s.mask {
		mask, in = in[0], in[1:]
	}
	per := 2
	if s.bias {
		per = 4
	}
	zero := l.must(b.Fill(ir.Type{DType: dt, Shape: ir.Shape{B, H}}, 0))
	col := func(v *ir.Value, lo, hi int) *ir.Value { // v[:, lo:hi] of a [B, n] value
		return l.must(b.Slice(v, ir.SliceAttr{Start: []int{0, lo}, Stop: []int{B, hi}}))
	}
	var hn, cn []*ir.Value
	layerIn := x
	for layer := 0; layer < s.layers; layer++ {
		var outs []*ir.Value
		for d := 0; d < s.dirs; d++ {
			w := in[(layer*s.dirs+d)*per:]
			wih, whh := w[0], w[1]
			var bih, bhh *ir.Value
			if s.bias {
				bih, bhh = w[2], w[3]
			}
			// The input projection of every step at once: [B·T, in] @ W_ihᵀ,
			// plus both biases for RNN and LSTM.
			k := layerIn.Type.Shape[2]
			xw := l.must(b.MatMul(l.must(b.Reshape(layerIn, ir.Shape{B * T, k})), wih, ir.MatMulAttr{TransposeB: true}))
			if bih != nil {
				xw = l.must(b.Add(xw, bih))
				if s.kind.name != "GRU" { // GRU keeps b_hn inside r·(h W_hnᵀ + b_hn)
					xw, bhh = l.must(b.Add(xw, bhh)), nil
				}
			}
			xw = l.must(b.Reshape(xw, ir.Shape{B, T, G}))
			if l.err != nil {
				return nil
			}
			h, c := zero, zero
			steps := make([]*ir.Value, T)
			for i := 0; i < T; i++ {
				t := i
				if d == 1 {
					t = T - 1 - i
				}
				xt := l.must(b.Reshape(l.must(b.Slice(xw, ir.SliceAttr{Start: []int{0, t, 0}, Stop: []int{B, t + 1, G}})), ir.Shape{B, G}))
				// hw = h @ W_hhᵀ + b_hh; h is zero at the first step.
				var hw *ir.Value
				if i > 0 {
					hw = l.must(b.MatMul(h, whh, ir.MatMulAttr{TransposeB: true}))
					if bhh != nil {
						hw = l.must(b.Add(hw, bhh))
					}
				} else if bhh != nil {
					hw = bhh
				}
				cin := c
				if i == 0 {
					cin = nil
				}
				nh, nc := s.cell(l, xt, hw, h, cin, col)
				if mask != nil {
					mt := l.must(b.Slice(mask, ir.SliceAttr{Start: []int{0, t}, Stop: []int{B, t + 1}}))
					nh = l.must(b.Where(mt, nh, h))
					if nc != nil {
						nc = l.must(b.Where(mt, nc, c))
					}
					steps[t] = l.must(b.Where(mt, nh, zero))
				} else {
					steps[t] = nh
				}
				h, c = nh, nc
				if l.err != nil {
					return nil
				}
			}
			for t := range steps {
				steps[t] = l.must(b.Reshape(steps[t], ir.Shape{B, 1, H}))
			}
			outs = append(outs, l.must(b.Concat(1, steps...)))
			hn = append(hn, l.must(b.Reshape(h, ir.Shape{1, B, H})))
			if s.kind.cell {
				cn = append(cn, l.must(b.Reshape(c, ir.Shape{1, B, H})))
			}
			if layer == s.layers-1 {
				res.last = concat1(l, 1, append(lastOf(res.last), h)...)
			}
		}
		layerIn = concat1(l, 2, outs...)
		if layer < s.layers-1 && s.dropout > 0 && l.training {
			layerIn = l.dropout(layerIn, s.dropout)
		}
		if l.err != nil {
			return nil
		}
	}
	res.hn = concat1(l, 0, hn...)
	if s.kind.cell {
		res.cn = concat1(l, 0, cn...)
	}
	return layerIn
}

func lastOf(v *ir.Value) []*ir.Value {
	if v == nil {
		return nil
	}
	return []*ir.Value{v}
}

// concat1 concatenates vs along axis, or returns the only one.
func concat1(l *lowerer, axis int, vs ...*ir.Value) *ir.Value {
	if len(vs) == 1 {
		return vs[0]
	}
	return l.must(l.b.Concat(axis, vs...))
}

// cell computes one step's new state from the step's input projection
// xt [B, G·H] and hw = h @ W_hhᵀ + b_hh (nil when both are zero).
func (s rnnSpec) cell(l *lowerer, xt, hw, h, c *ir.Value, col func(*ir.Value, int, int) *ir.Value) (*ir.Value, *ir.Value) {
	b := l.b
	H := s.hidden
	pre := xt
	if hw != nil && s.kind.name != "GRU" {
		pre = l.must(b.Add(xt, hw))
	}
	switch s.kind.name {
	case "RNN":
		if s.relu {
			return l.must(b.Relu(pre)), nil
		}
		return l.must(b.Tanh(pre)), nil
	case "LSTM":
		i := l.must(b.Sigmoid(col(pre, 0, H)))
		f := l.must(b.Sigmoid(col(pre, H, 2*H)))
		g := l.must(b.Tanh(col(pre, 2*H, 3*H)))
		o := l.must(b.Sigmoid(col(pre, 3*H, 4*H)))
		nc := l.must(b.Mul(i, g))
		if c != nil {
			nc = l.must(b.Add(l.must(b.Mul(f, c)), nc))
		}
		return l.must(b.Mul(o, l.must(b.Tanh(nc)))), nc
	}
	// GRU: r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r·h_n),
	// h' = (1 - z)·n + z·h = n + z·(h - n).
	xr, xz, xn := col(xt, 0, H), col(xt, H, 2*H), col(xt, 2*H, 3*H)
	if hw != nil {
		var hr, hz, hnn *ir.Value
		if hw.Type.Rank() == 1 { // only b_hh at the first step
			sl := func(lo, hi int) *ir.Value {
				return l.must(b.Slice(hw, ir.SliceAttr{Start: []int{lo}, Stop: []int{hi}}))
			}
			hr, hz, hnn = sl(0, H), sl(H, 2*H), sl(2*H, 3*H)
		} else {
			hr, hz, hnn = col(hw, 0, H), col(hw, H, 2*H), col(hw, 2*H, 3*H)
		}
		xr, xz = l.must(b.Add(xr, hr)), l.must(b.Add(xz, hz))
		r := l.must(b.Sigmoid(xr))
		xn = l.must(b.Add(xn, l.must(b.Mul(r, hnn))))
	}
	z := l.must(b.Sigmoid(xz))
	n := l.must(b.Tanh(xn))
	return l.must(b.Add(n, l.must(b.Mul(z, l.must(b.Sub(h, n)))))), nil
}
