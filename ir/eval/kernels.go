// This file implements the kernels of the evaluator, one per op.

package eval

import (
	"fmt"
	"math"

	"github.com/encc-lang/encc/ir"
)

func kFill(v *ir.Value, out *Tensor, _ []*Tensor) error {
	c := v.Aux.(ir.FillAttr).Value
	for i := range out.F {
		out.F[i] = c
	}
	return nil
}

func kIota(v *ir.Value, out *Tensor, _ []*Tensor) error {
	axis := v.Aux.(ir.IotaAttr).Axis
	forEach(out.Type.Shape, func(flat int, idx []int) { out.F[flat] = float64(idx[axis]) })
	return nil
}

func kLiteral(v *ir.Value, out *Tensor, _ []*Tensor) error {
	copy(out.F, v.Aux.(ir.LiteralAttr).Data)
	return nil
}

// broadcastN returns, for each operand, the map from output offsets to
// its offsets.
func broadcastN(out *Tensor, a []*Tensor) [][]int {
	m := make([][]int, len(a))
	for i, t := range a {
		m[i] = bcastIndex(out.Type.Shape, t.Type.Shape)
	}
	return m
}

// kElementwise runs an elementwise op with the op table's arithmetic,
// broadcasting its operands.
func kElementwise(v *ir.Value, out *Tensor, a []*Tensor) error {
	f := v.Op.Scalar(v.Aux, v.Type.DType)
	m := broadcastN(out, a)
	var x [3]float64
	for i := range out.F {
		for k, t := range a {
			x[k] = t.F[m[k][i]]
		}
		r, ok := f(x[0], x[1], x[2])
		if !ok {
			return fmt.Errorf("integer division by zero")
		}
		out.F[i] = r
	}
	return nil
}

// reduceIndex maps each offset of x to the offset of its reduction in
// the result (whose keepdims and non-keepdims layouts coincide).
func reduceIndex(x ir.Shape, axes []int) ([]int, int) {
	keep := x.Clone()
	for _, a := range axes {
		keep[a] = 1
	}
	st := keep.Strides()
	m := make([]int, x.NumElements())
	forEach(x, func(flat int, idx []int) {
		o := 0
		for i, j := range idx {
			if keep[i] != 1 {
				o += j * st[i]
			}
		}
		m[flat] = o
	})
	return m, x.NumElements() / max(1, keep.NumElements())
}

func kSum(v *ir.Value, out *Tensor, a []*Tensor) error {
	m, _ := reduceIndex(a[0].Type.Shape, v.Aux.(ir.ReduceAttr).Axes)
	for i, x := range a[0].F {
		out.F[m[i]] += x
	}
	return nil
}

func kMean(v *ir.Value, out *Tensor, a []*Tensor) error {
	m, n := reduceIndex(a[0].Type.Shape, v.Aux.(ir.ReduceAttr).Axes)
	for i, x := range a[0].F {
		out.F[m[i]] += x
	}
	for i := range out.F {
		out.F[i] /= float64(n)
	}
	return nil
}

func kReduceMax(v *ir.Value, out *Tensor, a []*Tensor) error {
	m, _ := reduceIndex(a[0].Type.Shape, v.Aux.(ir.ReduceAttr).Axes)
	for i := range out.F {
		out.F[i] = math.Inf(-1)
	}
	for i, x := range a[0].F {
		out.F[m[i]] = math.Max(out.F[m[i]], x)
	}
	return nil
}

func kLogSumExp(v *ir.Value, out *Tensor, a []*Tensor) error {
	m, _ := reduceIndex(a[0].Type.Shape, v.Aux.(ir.ReduceAttr).Axes)
	mx := make([]float64, len(out.F))
	for i := range mx {
		mx[i] = math.Inf(-1)
	}
	for i, x := range a[0].F {
		mx[m[i]] = math.Max(mx[m[i]], x)
	}
	for i, x := range a[0].F {
		out.F[m[i]] += math.Exp(x - mx[m[i]])
	}
	for i := range out.F {
		out.F[i] = mx[i] + math.Log(out.F[i])
	}
	return nil
}

func kArgMax(v *ir.Value, out *Tensor, a []*Tensor) error {
	axis := v.Aux.(ir.ArgMaxAttr).Axis
	k := 0
	lines(a[0].Type.Shape, axis, func(offs []int) {
		best := 0
		for j, o := range offs {
			if a[0].F[o] > a[0].F[offs[best]] {
				best = j
			}
		}
		out.F[k] = float64(best)
		k++
	})
	return nil
}

func kMatMul(v *ir.Value, out *Tensor, a []*Tensor) error {
	at := v.Aux.(ir.MatMulAttr)
	xs, ys, os := a[0].Type.Shape, a[1].Type.Shape, out.Type.Shape
	r := len(os)
	M, N := os[r-2], os[r-1]
	K := xs[len(xs)-1]
	if at.TransposeA {
		K = xs[len(xs)-2]
	}
	batch := os[:r-2]
	xb := bcastIndex(batch, xs[:len(xs)-2])
	yb := bcastIndex(batch, ys[:len(ys)-2])
	xmat, ymat := M*K, K*N
	for bi := range batch.NumElements() {
		x := a[0].F[xb[bi]*xmat : (xb[bi]+1)*xmat]
		y := a[1].F[yb[bi]*ymat : (yb[bi]+1)*ymat]
		o := out.F[bi*M*N : (bi+1)*M*N]
		for i := range M {
			for j := range N {
				s := 0.0
				for k := range K {
					xv := x[i*K+k]
					if at.TransposeA {
						xv = x[k*M+i]
					}
					yv := y[k*N+j]
					if at.TransposeB {
						yv = y[j*K+k]
					}
					s += xv * yv
				}
				o[i*N+j] = s
			}
		}
	}
	return nil
}

// convLoop calls f(xOff, wOff, yOff) for every term of conv2d(x, w) = y.
func convLoop(at ir.Conv2DAttr, x, w, y ir.Shape, f func(xo, wo, yo int)) {
	N, C, H, W := x[0], x[1], x[2], x[3]
	O, CG, KH, KW := w[0], w[1], w[2], w[3]
	OG := O / at.G() // output channels per group
	OH, OW := y[2], y[3]
	for n := range N {
		for o := range O {
			c0 := o / OG * CG // the group's first input channel
			for oh := range OH {
				for ow := range OW {
					yo := ((n*O+o)*OH+oh)*OW + ow
					for c := c0; c < c0+CG; c++ {
						for kh := range KH {
							ih := oh*at.Stride[0] - at.Padding[0] + kh*at.Dilation[0]
							if ih < 0 || ih >= H {
								continue
							}
							for kw := range KW {
								iw := ow*at.Stride[1] - at.Padding[1] + kw*at.Dilation[1]
								if iw < 0 || iw >= W {
									continue
								}
								f(((n*C+c)*H+ih)*W+iw, ((o*CG+c-c0)*KH+kh)*KW+kw, yo)
							}
						}
					}
				}
			}
		}
	}
}

func kConv2D(v *ir.Value, out *Tensor, a []*Tensor) error {
	x, w := a[0], a[1]
	convLoop(v.Aux.(ir.Conv2DAttr), x.Type.Shape, w.Type.Shape, out.Type.Shape, func(xo, wo, yo int) {
		out.F[yo] += x.F[xo] * w.F[wo]
	})
	return nil
}

func kConv2DBackwardInput(v *ir.Value, out *Tensor, a []*Tensor) error {
	dy, w := a[0], a[1]
	convLoop(v.Aux.(ir.Conv2DAttr), out.Type.Shape, w.Type.Shape, dy.Type.Shape, func(xo, wo, yo int) {
		out.F[xo] += dy.F[yo] * w.F[wo]
	})
	return nil
}

func kConv2DBackwardWeight(v *ir.Value, out *Tensor, a []*Tensor) error {
	x, dy := a[0], a[1]
	convLoop(v.Aux.(ir.Conv2DAttr), x.Type.Shape, out.Type.Shape, dy.Type.Shape, func(xo, wo, yo int) {
		out.F[wo] += x.F[xo] * dy.F[yo]
	})
	return nil
}

// poolLoop calls f(yOff, xOffs) for every window, with the offsets of the
// window's positions inside the input (padding left out).
func poolLoop(at ir.Pool2DAttr, x, y ir.Shape, f func(yo int, xos []int)) {
	H, W := x[2], x[3]
	OH, OW := y[2], y[3]
	var xos []int
	for nc := range x[0] * x[1] {
		for oh := range OH {
			for ow := range OW {
				xos = xos[:0]
				for kh := range at.Kernel[0] {
					ih := oh*at.Stride[0] - at.Padding[0] + kh
					if ih < 0 || ih >= H {
						continue
					}
					for kw := range at.Kernel[1] {
						iw := ow*at.Stride[1] - at.Padding[1] + kw
						if iw < 0 || iw >= W {
							continue
						}
						xos = append(xos, (nc*H+ih)*W+iw)
					}
				}
				f((nc*OH+oh)*OW+ow, xos)
			}
		}
	}
}

// argmaxOf returns the first offset in xos where x is largest.
func argmaxOf(x []float64, xos []int) int {
	best := xos[0]
	for _, o := range xos[1:] {
		if x[o] > x[best] {
			best = o
		}
	}
	return best
}

func kMaxPool2D(v *ir.Value, out *Tensor, a []*Tensor) error {
	x := a[0]
	poolLoop(v.Aux.(ir.Pool2DAttr), x.Type.Shape, out.Type.Shape, func(yo int, xos []int) {
		out.F[yo] = x.F[argmaxOf(x.F, xos)]
	})
	return nil
}

func kMaxPool2DBackward(v *ir.Value, out *Tensor, a []*Tensor) error {
	x, dy := a[0], a[1]
	poolLoop(v.Aux.(ir.Pool2DAttr), x.Type.Shape, dy.Type.Shape, func(yo int, xos []int) {
		out.F[argmaxOf(x.F, xos)] += dy.F[yo]
	})
	return nil
}

func kAvgPool2D(v *ir.Value, out *Tensor, a []*Tensor) error {
	at := v.Aux.(ir.Pool2DAttr)
	x := a[0]
	n := float64(at.Kernel[0] * at.Kernel[1])
	poolLoop(at, x.Type.Shape, out.Type.Shape, func(yo int, xos []int) {
		s := 0.0
		for _, o := range xos {
			s += x.F[o]
		}
		out.F[yo] = s / n
	})
	return nil
}

func kAvgPool2DBackward(v *ir.Value, out *Tensor, a []*Tensor) error {
	at := v.Aux.(ir.Pool2DAttr)
	dy := a[0]
	n := float64(at.Kernel[0] * at.Kernel[1])
	poolLoop(at, out.Type.Shape, dy.Type.Shape, func(yo int, xos []int) {
		for _, o := range xos {
			out.F[o] += dy.F[yo] / n
		}
	})
	return nil
}

func kReshape(_ *ir.Value, out *Tensor, a []*Tensor) error {
	copy(out.F, a[0].F)
	return nil
}

func kPermute(v *ir.Value, out *Tensor, a []*Tensor) error {
	perm := v.Aux.(ir.PermuteAttr).Perm
	st := a[0].Type.Shape.Strides()
	forEach(out.Type.Shape, func(flat int, idx []int) {
		o := 0
		for i, p := range perm {
			o += idx[i] * st[p]
		}
		out.F[flat] = a[0].F[o]
	})
	return nil
}

func kBroadcastTo(_ *ir.Value, out *Tensor, a []*Tensor) error {
	m := bcastIndex(out.Type.Shape, a[0].Type.Shape)
	for i := range out.F {
		out.F[i] = a[0].F[m[i]]
	}
	return nil
}

func kReduceTo(_ *ir.Value, out *Tensor, a []*Tensor) error {
	m := bcastIndex(a[0].Type.Shape, out.Type.Shape)
	for i, x := range a[0].F {
		out.F[m[i]] += x
	}
	return nil
}

// sliceIndex maps each offset of the slice of shape s to the offset it
// reads in s.
func sliceIndex(at ir.SliceAttr, s, sliced ir.Shape) []int {
	st := s.Strides()
	m := make([]int, sliced.NumElements())
	forEach(sliced, func(flat int, idx []int) {
		o := 0
		for i, j := range idx {
			o += (at.Start[i] + j*at.Step[i]) * st[i]
		}
		m[flat] = o
	})
	return m
}

func kSlice(v *ir.Value, out *Tensor, a []*Tensor) error {
	for i, o := range sliceIndex(v.Aux.(ir.SliceAttr), a[0].Type.Shape, out.Type.Shape) {
		out.F[i] = a[0].F[o]
	}
	return nil
}

func kSliceBackward(v *ir.Value, out *Tensor, a []*Tensor) error {
	for i, o := range sliceIndex(v.Aux.(ir.SliceAttr), out.Type.Shape, a[0].Type.Shape) {
		out.F[o] = a[0].F[i]
	}
	return nil
}

func kConcat(v *ir.Value, out *Tensor, a []*Tensor) error {
	axis := v.Aux.(ir.AxisAttr).Axis
	ost := out.Type.Shape.Strides()
	off := 0
	for _, t := range a {
		forEach(t.Type.Shape, func(flat int, idx []int) {
			o := 0
			for i, j := range idx {
				if i == axis {
					j += off
				}
				o += j * ost[i]
			}
			out.F[o] = t.F[flat]
		})
		off += t.Type.Shape[axis]
	}
	return nil
}

// rowID checks that id is a row of a table of rows rows.
func rowID(id float64, rows int) (int, error) {
	if id < 0 || id >= float64(rows) {
		return 0, fmt.Errorf("id %g out of range [0,%d)", id, rows)
	}
	return int(id), nil
}

func kGather(_ *ir.Value, out *Tensor, a []*Tensor) error {
	table, ids := a[0], a[1]
	row := table.Type.NumElements() / max(1, table.Type.Shape[0])
	for i, id := range ids.F {
		r, err := rowID(id, table.Type.Shape[0])
		if err != nil {
			return err
		}
		copy(out.F[i*row:(i+1)*row], table.F[r*row:(r+1)*row])
	}
	return nil
}

func kScatterAdd(_ *ir.Value, out *Tensor, a []*Tensor) error {
	ids, upd := a[0], a[1]
	row := out.Type.NumElements() / max(1, out.Type.Shape[0])
	for i, id := range ids.F {
		r, err := rowID(id, out.Type.Shape[0])
		if err != nil {
			return err
		}
		for j := range row {
			out.F[r*row+j] += upd.F[i*row+j]
		}
	}
	return nil
}

func kOneHot(_ *ir.Value, out *Tensor, a []*Tensor) error {
	depth := out.Type.Shape[out.Type.Rank()-1]
	for i, id := range a[0].F {
		r, err := rowID(id, depth)
		if err != nil {
			return err
		}
		out.F[i*depth+r] = 1
	}
	return nil
}

// lse returns log Σ exp over the offsets.
func lse(x []float64, offs []int) float64 {
	mx := math.Inf(-1)
	for _, o := range offs {
		mx = math.Max(mx, x[o])
	}
	s := 0.0
	for _, o := range offs {
		s += math.Exp(x[o] - mx)
	}
	return mx + math.Log(s)
}

func kSoftmax(v *ir.Value, out *Tensor, a []*Tensor) error {
	x := a[0].F
	lines(out.Type.Shape, v.Aux.(ir.AxisAttr).Axis, func(offs []int) {
		l := lse(x, offs)
		for _, o := range offs {
			out.F[o] = math.Exp(x[o] - l)
		}
	})
	return nil
}

func kLogSoftmax(v *ir.Value, out *Tensor, a []*Tensor) error {
	x := a[0].F
	lines(out.Type.Shape, v.Aux.(ir.AxisAttr).Axis, func(offs []int) {
		l := lse(x, offs)
		for _, o := range offs {
			out.F[o] = x[o] - l
		}
	})
	return nil
}

// normRows calls f for each row of the last axis of x with the row's
// offset, its normalized values x̂ and 1/√(var+eps).
func normRows(x *Tensor, eps float64, f func(base int, xhat []float64, rstd float64)) {
	D := x.Type.Shape[x.Type.Rank()-1]
	xhat := make([]float64, D)
	for base := 0; base < len(x.F); base += D {
		row := x.F[base : base+D]
		mean, vr := 0.0, 0.0
		for _, e := range row {
			mean += e
		}
		mean /= float64(D)
		for _, e := range row {
			vr += (e - mean) * (e - mean)
		}
		rstd := 1 / math.Sqrt(vr/float64(D)+eps)
		for j, e := range row {
			xhat[j] = (e - mean) * rstd
		}
		f(base, xhat, rstd)
	}
}

func kLayerNorm(v *ir.Value, out *Tensor, a []*Tensor) error {
	w, b := a[1].F, a[2].F
	normRows(a[0], v.Aux.(ir.LayerNormAttr).Eps, func(base int, xhat []float64, _ float64) {
		for j, h := range xhat {
			out.F[base+j] = h*w[j] + b[j]
		}
	})
	return nil
}

func kLayerNormBackwardInput(v *ir.Value, out *Tensor, a []*Tensor) error {
	w, dy := a[1].F, a[2].F
	normRows(a[0], v.Aux.(ir.LayerNormAttr).Eps, func(base int, xhat []float64, rstd float64) {
		// dx = rstd·(g - mean(g) - x̂·mean(g·x̂)), g = dy·w
		D := float64(len(xhat))
		mg, mgx := 0.0, 0.0
		for j, h := range xhat {
			g := dy[base+j] * w[j]
			mg += g
			mgx += g * h
		}
		mg, mgx = mg/D, mgx/D
		for j, h := range xhat {
			out.F[base+j] = rstd * (dy[base+j]*w[j] - mg - h*mgx)
		}
	})
	return nil
}

func kLayerNormBackwardWeight(v *ir.Value, out *Tensor, a []*Tensor) error {
	dy := a[1].F
	normRows(a[0], v.Aux.(ir.LayerNormAttr).Eps, func(base int, xhat []float64, _ float64) {
		for j, h := range xhat {
			out.F[j] += dy[base+j] * h
		}
	})
	return nil
}

// crossEntropyRows calls f for each row of logits with its offsets, the
// label and the row's log Σ exp.
func crossEntropyRows(logits, labels *Tensor, f func(offs []int, label int, l float64)) error {
	C := logits.Type.Shape[1]
	offs := make([]int, C)
	for n, id := range labels.F {
		label, err := rowID(id, C)
		if err != nil {
			return err
		}
		for c := range offs {
			offs[c] = n*C + c
		}
		f(offs, label, lse(logits.F, offs))
	}
	return nil
}

func kSoftmaxCrossEntropy(v *ir.Value, out *Tensor, a []*Tensor) error {
	eps := v.Aux.(ir.CrossEntropyAttr).LabelSmoothing
	x := a[0].F
	total := 0.0
	err := crossEntropyRows(a[0], a[1], func(offs []int, label int, l float64) {
		mean := 0.0
		for _, o := range offs {
			mean += x[o]
		}
		mean /= float64(len(offs))
		total += (1-eps)*(l-x[offs[label]]) + eps*(l-mean)
	})
	out.F[0] = total / float64(a[0].Type.Shape[0])
	return err
}

func kSoftmaxCrossEntropyBackward(v *ir.Value, out *Tensor, a []*Tensor) error {
	eps := v.Aux.(ir.CrossEntropyAttr).LabelSmoothing
	x := a[0].F
	N, C := float64(a[0].Type.Shape[0]), float64(a[0].Type.Shape[1])
	scale := a[2].F[0] / N
	return crossEntropyRows(a[0], a[1], func(offs []int, label int, l float64) {
		for c, o := range offs {
			t := eps / C
			if c == label {
				t += 1 - eps
			}
			out.F[o] = (math.Exp(x[o]-l) - t) * scale
		}
	})
}

func kDropout(v *ir.Value, out *Tensor, a []*Tensor) error {
	p := v.Aux.(ir.DropoutAttr).P
	seed, step := int64(a[1].F[0]), int64(a[2].F[0])
	for i, x := range a[0].F {
		if ir.DropoutKeep(seed, step, i, p) {
			out.F[i] = x / (1 - p)
		}
	}
	return nil
}

func kSGD(_ *ir.Value, out *Tensor, a []*Tensor) error {
	lr := a[2].F[0]
	for i, p := range a[0].F {
		out.F[i] = p - lr*a[1].F[i]
	}
	return nil
}

func kSGDMomentum(v *ir.Value, out *Tensor, a []*Tensor) error {
	at := v.Aux.(ir.MomentumAttr)
	if a[2].F[0] <= 1 {
		copy(out.F, a[1].F)
		return nil
	}
	for i, b := range a[0].F {
		out.F[i] = at.Momentum*b + (1-at.Dampening)*a[1].F[i]
	}
	return nil
}

func kEMA(v *ir.Value, out *Tensor, a []*Tensor) error {
	d := v.Aux.(ir.EMAAttr).Decay
	for i, s := range a[0].F {
		out.F[i] = d*s + (1-d)*a[1].F[i]
	}
	return nil
}

func kEMASq(v *ir.Value, out *Tensor, a []*Tensor) error {
	d := v.Aux.(ir.EMAAttr).Decay
	for i, s := range a[0].F {
		x := a[1].F[i]
		out.F[i] = d*s + (1-d)*x*x
	}
	return nil
}

func kAdam(v *ir.Value, out *Tensor, a []*Tensor) error {
	at := v.Aux.(ir.AdamAttr)
	lr, t := a[3].F[0], a[4].F[0]
	if t < 1 {
		return fmt.Errorf("step %g < 1", t)
	}
	bc1 := 1 - math.Pow(at.Beta1, t)
	bc2 := math.Sqrt(1 - math.Pow(at.Beta2, t))
	for i, p := range a[0].F {
		p *= 1 - lr*at.WeightDecay
		out.F[i] = p - lr/bc1*a[1].F[i]/(math.Sqrt(a[2].F[i])/bc2+at.Eps)
	}
	return nil
}

func kRMSprop(v *ir.Value, out *Tensor, a []*Tensor) error {
	eps := v.Aux.(ir.RMSpropAttr).Eps
	lr := a[3].F[0]
	for i, p := range a[0].F {
		out.F[i] = p - lr*a[1].F[i]/(math.Sqrt(a[2].F[i])+eps)
	}
	return nil
}
