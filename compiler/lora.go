package compiler

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
)

// This file implements LoRA (Hu et al. 2021) as a train declares it:
//
//	lora = lora(targets: ["encoder.blocks.*.attn.q", "encoder.blocks.*.attn.v"], r: 8, alpha: 16, train: "head")
//
// Every Linear whose path a target glob matches gets two parameters
// named as PEFT names them, <layer>.lora_A.weight [r, in] (Kaiming-uniform,
// a = √5) and <layer>.lora_B.weight [out, r] (zeros), and computes
// y = x Wᵀ + b + (alpha/r) · dropout(x) Aᵀ Bᵀ. A Conv2d (groups 1) gets
// lora_A.weight [r, in, k, k], a convolution with the layer's kernel,
// stride, padding and dilation, and lora_B.weight [out, r, 1, 1], a 1x1
// convolution: y = conv(x, W) + b + (alpha/r) · conv1x1(conv(dropout(x), A), B),
// as PEFT's Conv2d LoRA. Every other parameter is
// frozen except those under the train: globs (the head; PEFT's
// modules_to_save); freeze and unfreeze in phases apply on top.

// LoRALayer is the Layer of the adapter parameters LoRA adds.
const LoRALayer = "LoRA"

// A LoRA is the checked lora(...) of a train.
type LoRA struct {
	R       int
	Alpha   float64
	Dropout float64
	Layers  []string // paths of the adapted Linear and Conv2d layers, in tree order
	Train   []string // globs of base parameters still trained
	Pos     diag.Pos
	adapted map[string]bool
}

// Scale is alpha / r, the factor of the low-rank update.
func (lo *LoRA) Scale() float64 { return lo.Alpha / float64(lo.R) }

// Adapts reports whether the layer (Linear or Conv2d) at path is adapted.
func (lo *LoRA) Adapts(layer string) bool { return lo != nil && lo.adapted[layer] }

// IsAdapter reports whether p is a parameter added by LoRA.
func (p *Param) IsAdapter() bool { return p.Layer == LoRALayer }

// BaseParams lists the parameters of the train's model itself: Params
// without the LoRA adapters. A base checkpoint holds exactly these.
func (t *Train) BaseParams() []*Param {
	var out []*Param
	for _, p := range t.Params {
		if !p.IsAdapter() {
			out = append(out, p)
		}
	}
	return out
}

// Trained lists the paths of the parameters some phase trains, in tree
// order: what a LoRA train's checkpoint holds.
func (t *Train) Trained() []string {
	var out []string
	for _, p := range t.Params {
		if p.Buffer {
			continue
		}
		for _, ph := range t.Phases {
			if !ph.Frozen[p.Path] {
				out = append(out, p.Path)
				break
			}
		}
	}
	return out
}

// LoRAPair names the adapter tensors of the layer at path.
func LoRAPair(layer string) (a, b string) {
	return layer + ".lora_A.weight", layer + ".lora_B.weight"
}

// trainLoRA checks lora = lora(...) and adds the adapter parameters
// after the tensors of each adapted layer.
func (c *checker) trainLoRA(tr *Train, f *lang.Field, en *env) {
	v := c.eval(f.Value, en)
	cv, good := configOf(v, KAdapter)
	if !good || cv.E.Name != "lora" {
		if _, bad := v.(InvalidV); !bad {
			what := describe(v)
			if cv, isCfg := v.(*ConfigV); isCfg {
				what = fmt.Sprintf("the %s %s", cv.E.Kind, cv.E.Name)
			}
			c.errorAt(f.Value, "lora must be lora(targets: [\"blocks.*.attn.q\"], r: 8), got %s", what)
		}
		return
	}
	lo := &LoRA{R: int(cv.Args["r"].(IntV).V), Pos: cv.Pos, adapted: map[string]bool{}}
	lo.Alpha, _ = floatOf(cv.Args["alpha"])
	lo.Dropout, _ = floatOf(cv.Args["dropout"])
	ok := true
	switch {
	case lo.R <= 0:
		c.errorf(argPos(cv, "r"), "lora rank r must be positive, got %d", lo.R)
		ok = false
	case lo.Alpha <= 0:
		c.errorf(argPos(cv, "alpha"), "lora alpha must be positive, got %g", lo.Alpha)
		ok = false
	case lo.Dropout < 0 || lo.Dropout >= 1:
		c.errorf(argPos(cv, "dropout"), "lora dropout must be in [0, 1), got %g", lo.Dropout)
		ok = false
	}
	// The adaptable layers of the model: the owners of Linear weights and
	// of Conv2d weights of one group.
	type linear struct {
		path    string
		in, out int64   // in: the weight's fan-in (in·k·k for a Conv2d)
		conv    []int64 // Conv2d: [in, k, k]; nil for a Linear
		kind    string
	}
	var linears []linear
	kinds := map[string]string{} // layer path -> kind, for "not a Linear"
	var grouped []string         // Conv2d layers of several groups
	for _, p := range tr.Params {
		layer, name := splitLast(p.Path)
		if _, seen := kinds[layer]; !seen {
			kinds[layer] = p.Layer
		}
		if p.Layer == "Linear" && name == "weight" && p.Type.Rank() == 2 {
			out, _ := p.Type.Dims[0].Const()
			in, _ := p.Type.Dims[1].Const()
			linears = append(linears, linear{layer, in, out, nil, "Linear"})
		}
		if p.Layer == "Conv2d" && name == "weight" && p.Type.Rank() == 4 {
			if l := layerAt(&InstanceV{tr.Model}, layer); l == nil || l.Args["groups"].(IntV).V != 1 {
				grouped = append(grouped, layer)
				continue
			}
			d := make([]int64, 4)
			for i := range d {
				d[i], _ = p.Type.Dims[i].Const()
			}
			linears = append(linears, linear{layer, d[1] * d[2] * d[3], d[0], d[1:], "Conv2d"})
		}
	}
	targets := pathsOf(cv.Args["targets"])
	if len(targets) == 0 {
		c.errorf(argPos(cv, "targets"), "lora needs targets: the globs of the Linear or Conv2d layers to adapt, e.g. \"blocks.*.attn.q\"")
		return
	}
	var linNames []string
	for _, l := range linears {
		linNames = append(linNames, l.path)
	}
	for _, t := range targets {
		n := 0
		var others []string
		for _, l := range linears {
			if MatchPath(t, l.path) {
				n++
				lo.adapted[l.path] = true
				if int64(lo.R) > min(l.in, l.out) && ok {
					c.errorf(argPos(cv, "r"), "lora rank %d is larger than %s (%s %d -> %d): r must be at most %d", lo.R, l.path, l.kind, l.in, l.out, min(l.in, l.out))
					ok = false
				}
			}
		}
		if n > 0 {
			continue
		}
		for layer, kind := range kinds {
			if MatchPath(t, layer) && kind != "Linear" {
				what := fmt.Sprintf("%s is a %s", layer, kind)
				if slices.Contains(grouped, layer) {
					what += " of several groups"
				}
				others = append(others, what)
			}
		}
		if len(others) > 0 {
			sort.Strings(others)
			c.errorf(argPos(cv, "targets"), "lora target %q matches no Linear or Conv2d layer (%s): LoRA adapts Linear and Conv2d (groups 1) layers", t, strings.Join(others, ", "))
		} else {
			c.errorf(argPos(cv, "targets"), "lora target %q matches no Linear or Conv2d layer of %s (have: %s)", t, tr.Model.Name(), nameList(linNames))
		}
		ok = false
	}
	lo.Train = pathsOf(cv.Args["train"])
	for _, t := range lo.Train {
		if len(matchParams(tr.Params, t)) == 0 {
			c.errorf(argPos(cv, "train"), "lora train %q matches no parameter (have: %s)", t, paramList(tr.Params))
			ok = false
		}
	}
	if !ok {
		return
	}
	// Add the adapters after each adapted layer's own tensors.
	var ps []*Param
	for i, p := range tr.Params {
		ps = append(ps, p)
		layer, _ := splitLast(p.Path)
		next := ""
		if i+1 < len(tr.Params) {
			next, _ = splitLast(tr.Params[i+1].Path)
		}
		if !lo.adapted[layer] || next == layer {
			continue
		}
		for _, l := range linears {
			if l.path != layer {
				continue
			}
			a, b := LoRAPair(layer)
			r := ConstDim(int64(lo.R))
			at, bt := tensorOf("f32", r, ConstDim(l.in)), tensorOf("f32", ConstDim(l.out), r)
			if l.conv != nil {
				at = tensorOf("f32", r, ConstDim(l.conv[0]), ConstDim(l.conv[1]), ConstDim(l.conv[2]))
				bt = tensorOf("f32", ConstDim(l.out), r, ConstDim(1), ConstDim(1))
			}
			ps = append(ps,
				&Param{Path: a, Type: at, Layer: LoRALayer, Pos: cv.Pos, FanIn: int(l.in), FanOut: lo.R,
					Init: initCfg("kaiming_uniform", "a", FloatV{math.Sqrt(5)})},
				&Param{Path: b, Type: bt, Layer: LoRALayer, Pos: cv.Pos, FanIn: lo.R, FanOut: int(l.out),
					Init: initCfg("zeros")})
			lo.Layers = append(lo.Layers, layer)
		}
	}
	tr.Params = ps
	tr.LoRA = lo
}

// loraFrozen is the frozen set a LoRA train starts from: every base
// parameter not under lora's train: globs.
func (tr *Train) loraFrozen() map[string]bool {
	frozen := map[string]bool{}
	if tr.LoRA == nil {
		return frozen
	}
	for _, p := range tr.Params {
		if !p.Buffer && !p.IsAdapter() && !matchesAny(tr.LoRA.Train, p.Path) {
			frozen[p.Path] = true
		}
	}
	return frozen
}

func splitLast(path string) (string, string) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

func nameList(names []string) string {
	if len(names) > 12 {
		return strings.Join(names[:12], ", ") + fmt.Sprintf(", … %d more", len(names)-12)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// lowerLoRALinear lowers an adapted Linear: in is x, W, [b,] A, B.
func lowerLoRALinear(lo *LoRA) lowerFunc {
	return func(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
		n := len(in)
		base, err := lowerLinear(l, t, in[:n-2])
		if err != nil || base == nil {
			return base, err
		}
		b, x, a, bw := l.b, in[0], in[n-2], in[n-1]
		k := x.Type.Shape[x.Type.Rank()-1]
		if lo.Dropout > 0 && l.training {
			x = l.dropout(x, lo.Dropout)
		}
		flat := x
		if x.Type.Rank() != 2 {
			flat = l.must(b.Reshape(x, ir.Shape{x.Type.NumElements() / k, k}))
		}
		h := l.must(b.MatMul(flat, a, ir.MatMulAttr{TransposeB: true}))
		d := l.must(b.MatMul(h, bw, ir.MatMulAttr{TransposeB: true}))
		d = l.must(b.Mul(d, l.must(b.Const(ir.F32, lo.Scale()))))
		if d != nil && !d.Type.Shape.Equal(t.Shape) {
			d = l.must(b.Reshape(d, t.Shape))
		}
		if d == nil {
			return nil, nil
		}
		return b.Add(base, d)
	}
}

// lowerLoRAConv lowers an adapted Conv2d of the attributes at: in is x,
// W, [b,] A [r, in, k, k], B [out, r, 1, 1].
func lowerLoRAConv(lo *LoRA, at ir.Conv2DAttr) lowerFunc {
	return func(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
		n := len(in)
		b, x, w, a, bw := l.b, in[0], in[1], in[n-2], in[n-1]
		y := l.must(b.Conv2D(x, w, at))
		if n == 5 && y != nil {
			y = l.must(b.Add(y, l.must(b.Reshape(in[2], ir.Shape{1, t.Shape[1], 1, 1}))))
		}
		if lo.Dropout > 0 && l.training {
			x = l.dropout(x, lo.Dropout)
		}
		one := ir.Conv2DAttr{Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Groups: 1}
		h := l.must(b.Conv2D(x, a, at))
		d := l.must(b.Conv2D(h, bw, one))
		d = l.must(b.Mul(d, l.must(b.Const(ir.F32, lo.Scale()))))
		if y == nil || d == nil {
			return nil, nil
		}
		return b.Add(y, d)
	}
}

// layerAt finds the built-in layer at path under v, or nil.
func layerAt(v Value, path string) *LayerV {
	switch v := v.(type) {
	case *LayerV:
		if v.Path == path {
			return v
		}
	case *StackV:
		for _, l := range v.Layers {
			if f := layerAt(l, path); f != nil {
				return f
			}
		}
	case *InstanceV:
		for _, n := range v.I.memberOrder {
			if f := layerAt(v.I.members[n], path); f != nil {
				return f
			}
		}
	}
	return nil
}

// lora returns the train's LoRA when the layer being lowered is adapted.
func (k *callCtx) lora() *LoRA {
	if k.c.lw == nil || k.layer == nil || !k.c.lw.lora.Adapts(k.layer.Path) {
		return nil
	}
	return k.c.lw.lora
}

// paramTensor is the tensor of the parameter at path while lowering.
func (c *checker) paramTensor(path string) *TensorV {
	t := &TensorV{Node: c.lw.param(path)}
	if p, ok := c.lw.params[path]; ok {
		t.T = p.Type
	}
	return t
}
