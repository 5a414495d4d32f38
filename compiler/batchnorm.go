package compiler

import (
	"fmt"

	"github.com/encc-lang/encc/ir"
)

// This file holds BatchNorm1d and BatchNorm2d. In training they
// normalize with the batch's statistics and update the running ones
// (buffers running_mean, running_var and num_batches_tracked, saved in
// checkpoints under PyTorch's names); in evaluation (eval, predict,
// export, a model's forward) they normalize with the running ones. The
// lowering is made of ordinary IR ops (mean, sub, mul, rsqrt), so the
// gradient comes from their VJPs.

func init() {
	register(batchNormEntry(1), batchNormEntry(2))
}

// batchNormEntry is BatchNorm1d (rank 1: [N, C] or [N, C, L]) or
// BatchNorm2d (rank 2: [N, C, H, W]).
func batchNormEntry(rank int) *Entry {
	name := fmt.Sprintf("BatchNorm%dd", rank)
	doc := "BatchNorm2d normalizes each channel of [N, C, H, W] over the batch and positions (PyTorch nn.BatchNorm2d): batch statistics in training, which update the running_mean and running_var buffers (running = (1 - momentum)·running + momentum·batch, the variance unbiased), the running statistics in evaluation; then weight and bias per channel."
	sig := "f32[N, C, H, W] -> f32[N, C, H, W]"
	if rank == 1 {
		doc = "BatchNorm1d normalizes each feature of [N, C] (or each channel of [N, C, L]) over the batch (and positions) (PyTorch nn.BatchNorm1d): batch statistics in training, which update the running_mean and running_var buffers (running = (1 - momentum)·running + momentum·batch, the variance unbiased), the running statistics in evaluation; then weight and bias per feature."
		sig = "f32[N, C] -> f32[N, C], f32[N, C, L] -> f32[N, C, L]"
	}
	return &Entry{
		Name: name, Kind: KLayer,
		Params: []ParamSpec{req("features", "int", "channels (C)"), p("eps", "float", FloatV{1e-5}, "added to the variance"),
			p("momentum", "float", FloatV{0.1}, "weight of the batch in the running statistics"),
			p("affine", "bool", true_, "learn weight and bias per channel")},
		In:  xIn,
		Doc: doc,
		Sig: sig,
		validate: func(k *callCtx) bool {
			if m := k.float("momentum"); m < 0 || m > 1 {
				k.errorf("momentum", "%s: momentum must be in [0, 1], got %g", name, m)
				return false
			}
			if e := k.float("eps"); e <= 0 {
				k.errorf("eps", "%s: eps must be positive, got %g", name, e)
				return false
			}
			return true
		},
		params: func(a map[string]Value) []LayerParam {
			c := a["features"].(IntV).V
			ct := tensorOf("f32", ConstDim(c))
			var ps []LayerParam
			if a["affine"].(BoolV).V {
				ps = append(ps, LayerParam{Name: "weight", Type: ct, FanIn: int(c), Init: initCfg("ones")},
					LayerParam{Name: "bias", Type: ct, FanIn: int(c), Init: initCfg("zeros")})
			}
			return append(ps,
				LayerParam{Name: "running_mean", Type: ct, Buffer: true, FanIn: int(c), Init: initCfg("zeros")},
				LayerParam{Name: "running_var", Type: ct, Buffer: true, FanIn: int(c), Init: initCfg("ones")},
				LayerParam{Name: "num_batches_tracked", Type: tensorOf("f32"), Buffer: true, FanIn: 1, Init: initCfg("zeros")})
		},
		fn: func(k *callCtx) Value {
			x := k.tensor("x")
			c := k.int("features")
			r := x.T.Rank()
			okRank := r == 4
			if rank == 1 {
				okRank = r == 2 || r == 3
			}
			if !okRank || !x.T.Dims[1].Equal(ConstDim(c)) || !isFloat(x.T.DType) {
				want := tensorOf("f32", VarDim("N"), ConstDim(c), VarDim("H"), VarDim("W"))
				if rank == 1 {
					want = tensorOf("f32", VarDim("N"), ConstDim(c))
					if r == 3 {
						want = tensorOf("f32", x.T.Dims[0], ConstDim(c), x.T.Dims[2])
					}
				} else if r == 4 {
					want.Dims[0], want.Dims[2], want.Dims[3] = x.T.Dims[0], x.T.Dims[2], x.T.Dims[3]
				}
				hint := ""
				if rank == 2 && (r == 2 || r == 3) {
					hint = " (BatchNorm1d normalizes [N, C] and [N, C, L])"
				} else if rank == 1 && r == 4 {
					hint = " (BatchNorm2d normalizes [N, C, H, W])"
				}
				return k.errorf("", "%q expects %s, got %s%s", k.name, want, x.T, hint)
			}
			eps, mom, affine := k.float("eps"), k.float("momentum"), k.bool("affine")
			k.c.countFlops(ConstDim(4).Mul(x.T.NumElements())) // subtract, scale, weight, bias
			ins := []*TensorV{x, k.param("running_mean"), k.param("running_var"), k.param("num_batches_tracked")}
			if affine {
				ins = append(ins, k.param("weight"), k.param("bias"))
			}
			return k.emit(x.T, func(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
				return lowerBatchNorm(l, t, in, eps, mom)
			}, ins...)
		},
	}
}

// lowerBatchNorm lowers batch normalization of in[0] over every axis but
// 1; in: x, running_mean, running_var, num_batches_tracked and maybe
// weight and bias.
func lowerBatchNorm(l *lowerer, t ir.Type, in []*ir.Value, eps, mom float64) (*ir.Value, error) {
	b, x := l.b, in[0]
	rm, rv, nbt := in[1], in[2], in[3]
	c := t.Shape[1]
	bshape := make(ir.Shape, t.Rank()) // [1, C, 1, ...]: per channel, broadcast
	for i := range bshape {
		bshape[i] = 1
	}
	bshape[1] = c
	axes := []int{0}
	for i := 2; i < t.Rank(); i++ {
		axes = append(axes, i)
	}
	perChannel := func(v *ir.Value) *ir.Value { return l.must(b.Reshape(v, bshape)) }
	num := func(f float64) *ir.Value { return l.must(b.Const(t.DType, f)) }
	var mean, variance *ir.Value
	if l.training {
		mean = l.must(b.Mean(x, axes, true))
		d := l.must(b.Sub(x, mean))
		variance = l.must(b.Mean(l.must(b.Mul(d, d)), axes, true))
		// The running statistics: the variance unbiased, as PyTorch's.
		n := t.NumElements() / c
		unbias := 1.0
		if n > 1 {
			unbias = float64(n) / float64(n-1)
		}
		flat := func(v *ir.Value) *ir.Value { return l.must(b.Reshape(v, ir.Shape{c})) }
		blend := func(run, batch *ir.Value, scale float64) *ir.Value {
			return l.must(b.Add(l.must(b.Mul(l.current(run), num(1-mom))), l.must(b.Mul(flat(batch), num(mom*scale)))))
		}
		l.setRunning(rm, blend(rm, mean, 1))
		l.setRunning(rv, blend(rv, variance, unbias))
		l.setRunning(nbt, l.must(b.Add(l.current(nbt), num(1))))
	} else {
		mean, variance = perChannel(rm), perChannel(rv)
	}
	y := l.must(b.Mul(l.must(b.Sub(x, mean)), l.must(b.Rsqrt(l.must(b.Add(variance, num(eps)))))))
	if len(in) == 6 {
		y = l.must(b.Add(l.must(b.Mul(y, perChannel(in[4]))), perChannel(in[5])))
	}
	return y, nil
}
