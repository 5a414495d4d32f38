// This file implements the reductions: sum, mean, reduce_max,
// logsumexp, reduce_to (a sum over broadcast dims) and argmax.

package cpu

import (
	"math"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildReduce, ir.OpSum, ir.OpMean, ir.OpReduceMax, ir.OpLogSumExp, ir.OpReduceTo)
	register(buildArgMax, ir.OpArgMax)
}

// reduceKernel combines, for each result element j, the elements of x at
// base[j] + red[r] for r in [0, len(red)), in that order, so the result
// does not depend on how outputs are split over cores. Sums accumulate in
// float64.
type reduceKernel[T numeric] struct {
	op     ir.Op
	base   []int // per result element, its first x offset
	red    []int // offsets of the reduced elements relative to base
	dense  bool  // red is 0, 1, …: a contiguous run
	x, out *buffer
	pool   *parallel.Pool
}

func (k *reduceKernel[T]) run() error {
	parFor(k.pool, len(k.base), len(k.red), k)
	return nil
}

func (k *reduceKernel[T]) Range(lo, hi int) {
	x, o := view[T](k.x), view[T](k.out)
	R := len(k.red)
	for j := lo; j < hi; j++ {
		b := k.base[j]
		switch k.op {
		case ir.OpSum, ir.OpMean, ir.OpReduceTo:
			s := 0.0
			if k.dense {
				for _, e := range x[b : b+R] {
					s += float64(e)
				}
			} else {
				for _, r := range k.red {
					s += float64(x[b+r])
				}
			}
			if k.op == ir.OpMean {
				s /= float64(R)
			}
			o[j] = T(s)
		case ir.OpReduceMax:
			o[j] = k.max(x, b)
		case ir.OpLogSumExp:
			m := float64(k.max(x, b))
			s := 0.0
			for _, r := range k.red {
				s += math.Exp(float64(x[b+r]) - m)
			}
			o[j] = T(m + math.Log(s))
		}
	}
}

// max returns the largest reduced element at base b (NaN if any is NaN),
// or the lowest value of T when nothing is reduced.
func (k *reduceKernel[T]) max(x []T, b int) T {
	if len(k.red) == 0 {
		return lowest[T]()
	}
	m := x[b+k.red[0]]
	for _, r := range k.red[1:] {
		m = max(m, x[b+r])
	}
	return m
}

// lowest returns -Inf for floats and the minimum of integer types.
func lowest[T numeric]() T {
	var z T
	switch any(z).(type) {
	case float32:
		return T(math.Inf(-1))
	case int32:
		v := int64(math.MinInt32)
		return T(v)
	}
	v := int64(math.MinInt64)
	return T(v)
}

// reduceOffsets returns, for x of shape s reduced over the axes marked in
// reduced, the base offset of every result element (in row-major order
// of the kept axes) and the offsets of the reduced elements.
func reduceOffsets(s ir.Shape, reduced []bool) (base, red []int) {
	st := s.Strides()
	kept, redShape := s.Clone(), s.Clone()
	for i, r := range reduced {
		if r {
			kept[i] = 1
		} else {
			redShape[i] = 1
		}
	}
	return offsetsOf(kept, st), offsetsOf(redShape, st)
}

// offsetsOf lists Σ idx[i]·st[i] for every index of shape s in row-major
// order.
func offsetsOf(s ir.Shape, st []int) []int {
	n := s.NumElements()
	offs := make([]int, n)
	idx := make([]int, len(s))
	for k := range n {
		o := 0
		for i, j := range idx {
			o += j * st[i]
		}
		offs[k] = o
		for i := len(s) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < s[i] {
				break
			}
			idx[i] = 0
		}
	}
	return offs
}

func buildReduce(c *compileCtx, v *ir.Value) (kernel, error) {
	xs := v.Args[0].Type.Shape
	reduced := make([]bool, len(xs))
	if v.Op == ir.OpReduceTo {
		off := len(xs) - v.Type.Rank()
		for i, d := range xs {
			reduced[i] = i < off || (v.Type.Shape[i-off] == 1 && d != 1)
		}
	} else {
		for _, a := range v.Aux.(ir.ReduceAttr).Axes {
			reduced[a] = true
		}
	}
	base, red := reduceOffsets(xs, reduced)
	dense := true
	for i, r := range red {
		dense = dense && r == i
	}
	x, out := c.buf(v.Args[0]), c.buf(v)
	switch v.Type.DType {
	case ir.F32:
		return &reduceKernel[float32]{v.Op, base, red, dense, x, out, c.pool}, nil
	case ir.I32:
		return &reduceKernel[int32]{v.Op, base, red, dense, x, out, c.pool}, nil
	case ir.I64:
		return &reduceKernel[int64]{v.Op, base, red, dense, x, out, c.pool}, nil
	}
	return nil, unsupported(v, v.Type)
}

// argMaxKernel finds the first maximum along an axis of x viewed as
// [outer, A, inner].
type argMaxKernel[T numeric] struct {
	outer, A, inner int
	x, out          *buffer
	pool            *parallel.Pool
}

func (k *argMaxKernel[T]) run() error { parFor(k.pool, k.outer*k.inner, k.A, k); return nil }

func (k *argMaxKernel[T]) Range(lo, hi int) {
	x, o := view[T](k.x), view[int64](k.out)
	for j := lo; j < hi; j++ {
		b := j/k.inner*k.A*k.inner + j%k.inner
		best := 0
		for a := 1; a < k.A; a++ {
			if x[b+a*k.inner] > x[b+best*k.inner] {
				best = a
			}
		}
		o[j] = int64(best)
	}
}

func buildArgMax(c *compileCtx, v *ir.Value) (kernel, error) {
	s := v.Args[0].Type.Shape
	axis := v.Aux.(ir.ArgMaxAttr).Axis
	outer, inner := s[:axis].NumElements(), s[axis+1:].NumElements()
	x, out := c.buf(v.Args[0]), c.buf(v)
	switch x.dt {
	case ir.F32:
		return &argMaxKernel[float32]{outer, s[axis], inner, x, out, c.pool}, nil
	case ir.I32:
		return &argMaxKernel[int32]{outer, s[axis], inner, x, out, c.pool}, nil
	case ir.I64:
		return &argMaxKernel[int64]{outer, s[axis], inner, x, out, c.pool}, nil
	}
	return nil, unsupported(v, v.Type)
}
