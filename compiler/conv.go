package compiler

import (
	"fmt"
	"math"

	"github.com/encc-lang/encc/ir"
)

// This file holds the convolution family: Conv1d and Conv2d (with
// groups: depthwise when groups equals the input channels) and the 1-D
// poolings. A 1-D convolution or pooling is lowered as the 2-D one over
// [N, C, 1, L], so the IR, the kernels and the exports have one form.

func init() {
	register(convEntry(1), convEntry(2),
		pool1dEntry("maxpool1d", "maxpool1d takes the maximum over windows of kernel steps of [N, C, L] sequences.", (*ir.Builder).MaxPool2D),
		pool1dEntry("avgpool1d", "avgpool1d averages over windows of kernel steps of [N, C, L] sequences (padding counts in the divisor).", (*ir.Builder).AvgPool2D))
}

// convEntry is Conv1d (rank 1) or Conv2d (rank 2).
func convEntry(rank int) *Entry {
	name := fmt.Sprintf("Conv%dd", rank)
	doc := "Conv2d is a 2-D convolution over NCHW images (PyTorch nn.Conv2d; weight is [out, in/groups, kernel, kernel])."
	sig := "f32[N, in, H, W] -> f32[N, out, (H + 2*padding - dilation*(kernel-1) - 1)/stride + 1, ...]"
	if rank == 1 {
		doc = "Conv1d is a 1-D convolution over [N, C, L] sequences (PyTorch nn.Conv1d; weight is [out, in/groups, kernel])."
		sig = "f32[N, in, L] -> f32[N, out, (L + 2*padding - dilation*(kernel-1) - 1)/stride + 1]"
	}
	kernelDoc := "kernel size"
	if rank == 2 {
		kernelDoc = "kernel size (square)"
	}
	return &Entry{
		Name: name, Kind: KLayer,
		Params: []ParamSpec{req("in", "int", "input channels"), req("out", "int", "output channels"), req("kernel", "int", kernelDoc),
			p("stride", "int", IntV{1}, "stride"), p("padding", "int", IntV{0}, "zero padding on each side"),
			p("dilation", "int", IntV{1}, "spacing between kernel elements"),
			p("groups", "int", IntV{1}, "channel groups: in and out split into groups convolved separately (depthwise when groups = in)"),
			p("bias", "bool", true_, "learn an additive bias")},
		In:  xIn,
		Doc: doc,
		Sig: sig,
		validate: func(k *callCtx) bool {
			g := k.int("groups")
			if k.int("in")%g != 0 || k.int("out")%g != 0 {
				k.errorf("groups", "%s: in (%d) and out (%d) must be divisible by groups (%d)", name, k.int("in"), k.int("out"), g)
				return false
			}
			return true
		},
		params: func(a map[string]Value) []LayerParam {
			in, out, kk, g := a["in"].(IntV).V, a["out"].(IntV).V, a["kernel"].(IntV).V, max(a["groups"].(IntV).V, 1)
			taps := kk
			dims := constDims(out, in/g, kk)
			if rank == 2 {
				taps = kk * kk
				dims = constDims(out, in/g, kk, kk)
			}
			fanIn := max(in/g*taps, 1)
			bound := 1 / math.Sqrt(float64(fanIn))
			ps := []LayerParam{{Name: "weight", Type: tensorOf("f32", dims...), FanIn: int(fanIn), FanOut: int(out / g * taps),
				Init: initCfg("kaiming_uniform", "a", FloatV{math.Sqrt(5)})}}
			if a["bias"].(BoolV).V {
				ps = append(ps, LayerParam{Name: "bias", Type: tensorOf("f32", ConstDim(out)), FanIn: int(fanIn),
					Init: initCfg("uniform", "low", FloatV{-bound}, "high", FloatV{bound})})
			}
			return ps
		},
		fn: func(k *callCtx) Value {
			x := k.tensor("x")
			in, out, kk, g := k.int("in"), k.int("out"), k.int("kernel"), k.int("groups")
			st, pd, dl := k.int("stride"), k.int("padding"), k.int("dilation")
			if x.T.Rank() != rank+2 || !x.T.Dims[1].Equal(ConstDim(in)) || !isFloat(x.T.DType) {
				want := tensorOf("f32", VarDim("N"), ConstDim(in), VarDim("L"))
				if rank == 2 {
					want = tensorOf("f32", VarDim("N"), ConstDim(in), VarDim("H"), VarDim("W"))
				}
				if x.T.Rank() == rank+2 {
					for i := range want.Dims {
						if i != 1 {
							want.Dims[i] = x.T.Dims[i]
						}
					}
				}
				return k.errorf("", "%q expects %s, got %s", k.name, want, x.T)
			}
			dims := []Dim{x.T.Dims[0], ConstDim(out)}
			taps := ConstDim(kk)
			for _, d := range x.T.Dims[2:] {
				o, ok := k.convOut(d, kk, st, pd, dl)
				if !ok {
					return InvalidV{}
				}
				dims = append(dims, o)
			}
			if rank == 2 {
				taps = ConstDim(kk * kk)
			}
			outT := TensorType{DType: x.T.DType, Dims: dims}
			k.c.countFlops(taps.Mul(ConstDim(2 * in / g * out)).Mul(TensorType{Dims: dims[2:]}.NumElements()).Mul(x.T.Dims[0]))
			a := ir.Conv2DAttr{Stride: [2]int{int(st), int(st)}, Padding: [2]int{int(pd), int(pd)}, Dilation: [2]int{int(dl), int(dl)}, Groups: int(g)}
			if rank == 1 { // over [N, C, 1, L]
				a.Stride[0], a.Padding[0], a.Dilation[0] = 1, 0, 1
			}
			ins := []*TensorV{x, k.param("weight")}
			if k.bool("bias") {
				ins = append(ins, k.param("bias"))
			}
			if lo := k.lora(); lo != nil && rank == 2 { // adapted by the train's lora (lora.go)
				ap, bp := LoRAPair(k.layer.Path)
				k.c.countFlops(taps.Mul(ConstDim(2 * in * int64(lo.R))).Add(ConstDim(2 * int64(lo.R) * out)).Mul(TensorType{Dims: dims[2:]}.NumElements()).Mul(x.T.Dims[0]))
				return k.emit(outT, lowerLoRAConv(lo, a), append(ins, k.c.paramTensor(ap), k.c.paramTensor(bp))...)
			}
			return k.emit(outT, func(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
				b, x, w := l.b, in[0], in[1]
				if rank == 1 {
					x = l.must(b.Reshape(x, ir.Shape{x.Type.Shape[0], x.Type.Shape[1], 1, x.Type.Shape[2]}))
					w = l.must(b.Reshape(w, ir.Shape{w.Type.Shape[0], w.Type.Shape[1], 1, w.Type.Shape[2]}))
				}
				if x == nil || w == nil {
					return nil, nil
				}
				y := l.must(b.Conv2D(x, w, a))
				if len(in) == 3 && y != nil {
					y = l.must(b.Add(y, l.must(b.Reshape(in[2], ir.Shape{1, t.Shape[1], 1, 1}))))
				}
				if rank == 1 && y != nil {
					y = l.must(b.Reshape(y, t.Shape))
				}
				return y, nil
			}, ins...)
		},
	}
}

// pool1dEntry is a 1-D pooling over [N, C, L], lowered as the 2-D one
// over [N, C, 1, L].
func pool1dEntry(name, doc string, op func(b *ir.Builder, x *ir.Value, a ir.Pool2DAttr) (*ir.Value, error)) *Entry {
	return &Entry{Name: name, Kind: KFunc, In: xIn,
		Params: []ParamSpec{req("kernel", "int", "window size"), p("stride", "int", IntV{0}, "step; 0 means the kernel size"), p("padding", "int", IntV{0}, "padding on each side")},
		Doc:    doc, Sig: "f32[N, C, L] -> f32[N, C, (L + 2*padding - kernel)/stride + 1]",
		fn: func(k *callCtx) Value {
			x := k.tensor("x")
			if x.T.Rank() != 3 || !isFloat(x.T.DType) {
				return k.errorf("", "%s expects f32[N, C, L], got %s", name, x.T)
			}
			kk, st, pad := k.int("kernel"), k.int("stride"), k.int("padding")
			if st == 0 {
				st = kk
			}
			if kk <= 0 || st <= 0 || pad < 0 || 2*pad > kk {
				return k.errorf("", "%s: bad kernel %d, stride %d, padding %d (padding must be at most half the kernel)", name, kk, st, pad)
			}
			n, ok := k.convOut(x.T.Dims[2], kk, st, pad, 1)
			if !ok {
				return InvalidV{}
			}
			a := ir.Pool2DAttr{Kernel: [2]int{1, int(kk)}, Stride: [2]int{1, int(st)}, Padding: [2]int{0, int(pad)}}
			return k.emit(tensorOf(x.T.DType, x.T.Dims[0], x.T.Dims[1], n), func(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
				s := in[0].Type.Shape
				x4 := l.must(l.b.Reshape(in[0], ir.Shape{s[0], s[1], 1, s[2]}))
				if x4 == nil {
					return nil, nil
				}
				y := l.must(op(l.b, x4, a))
				if y == nil {
					return nil, nil
				}
				return l.b.Reshape(y, t.Shape)
			}, x)
		}}
}
