// This file implements the data-movement kernels: reshape (a copy when
// the plan does not alias it), permute, broadcast_to, slice and its
// backward op, concat, gather, scatter_add and one_hot. Each runs one
// thread per element of its result, except scatter_add, which runs one
// per update and adds with atomicAdd into zeroed storage.

package cuda

import (
	"fmt"

	"github.com/encc-lang/encc/ir"
)

func init() {
	register(genReshape, ir.OpReshape)
	register(genPermute, ir.OpPermute)
	register(genBroadcastTo, ir.OpBroadcastTo)
	register(genSlice, ir.OpSlice)
	register(genSliceBackward, ir.OpSliceBackward)
	register(genConcat, ir.OpConcat)
	register(genGather, ir.OpGather)
	register(genScatterAdd, ir.OpScatterAdd)
	register(genOneHot, ir.OpOneHot)
}

// genReshape copies the bytes of a reshape the plan did not alias.
func genReshape(e *emitter, v *ir.Value) error {
	src := e.arg(v.Args[0])
	e.step(v, Step{Kind: "copy", Out: e.arg(v), Src: &src})
	return nil
}

// perElement writes a kernel of one thread per element of v whose body
// computes offsets from the multi-index d0… of i and assigns out[i].
func (e *emitter) perElement(v *ir.Value, suffix string, params []param, ins []*ir.Value, body func(c *code)) {
	n := v.Type.NumElements()
	var c code
	c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
	c.line("if (i >= %d) return;", n)
	body(&c)
	k := e.kernel(v, suffix, append([]param{out(v.Type.DType, "out")}, params...), c.String())
	e.launchThreads(v, k, n, ins...)
}

func genPermute(e *emitter, v *ir.Value) error {
	x := v.Args[0]
	perm := v.Aux.(ir.PermuteAttr).Perm
	st := x.Type.Shape.Strides()
	e.perElement(v, "permute", []param{in(x.Type.DType, "x")}, []*ir.Value{x}, func(c *code) {
		c.unravel("i", "d", v.Type.Shape)
		var terms []string
		for i, p := range perm {
			terms = append(terms, mulTerm(fmt.Sprintf("d%d", i), st[p]))
		}
		c.line("out[i] = x[%s];", sumTerms(terms))
	})
	return nil
}

func genBroadcastTo(e *emitter, v *ir.Value) error {
	x := v.Args[0]
	e.perElement(v, "broadcast_to", []param{in(x.Type.DType, "x")}, []*ir.Value{x}, func(c *code) {
		if needsUnravel(v.Type.Shape, x.Type.Shape) {
			c.unravel("i", "d", v.Type.Shape)
		}
		c.line("out[i] = x[%s];", bcastOffset(v.Type.Shape, x.Type.Shape, "i", "d"))
	})
	return nil
}

func genSlice(e *emitter, v *ir.Value) error {
	x := v.Args[0]
	a := v.Aux.(ir.SliceAttr)
	st := x.Type.Shape.Strides()
	e.perElement(v, "slice", []param{in(x.Type.DType, "x")}, []*ir.Value{x}, func(c *code) {
		c.unravel("i", "d", v.Type.Shape)
		var terms []string
		for i := range v.Type.Shape {
			idx := mulTerm(fmt.Sprintf("d%d", i), a.Step[i])
			if a.Start[i] != 0 {
				idx = fmt.Sprintf("(%d + %s)", a.Start[i], idx)
			}
			terms = append(terms, mulTerm(idx, st[i]))
		}
		c.line("out[i] = x[%s];", sumTerms(terms))
	})
	return nil
}

// genSliceBackward writes each element of the result: dy's element where
// the slice took it, else zero.
func genSliceBackward(e *emitter, v *ir.Value) error {
	dy := v.Args[0]
	a := v.Aux.(ir.SliceAttr)
	st := dy.Type.Shape.Strides()
	e.perElement(v, "slice_backward", []param{in(dy.Type.DType, "dy")}, []*ir.Value{dy}, func(c *code) {
		c.unravel("i", "d", v.Type.Shape)
		var terms []string
		for i := range v.Type.Shape {
			c.line("const int s%d = d%d - %d;", i, i, a.Start[i])
			c.line("if (s%d < 0 || s%d %% %d != 0 || s%d / %d >= %d) { out[i] = 0; return; }", i, i, a.Step[i], i, a.Step[i], dy.Type.Shape[i])
			terms = append(terms, mulTerm(fmt.Sprintf("(s%d / %d)", i, a.Step[i]), st[i]))
		}
		c.line("out[i] = dy[%s];", sumTerms(terms))
	})
	return nil
}

func genConcat(e *emitter, v *ir.Value) error {
	axis := v.Aux.(ir.AxisAttr).Axis
	var params []param
	for i, a := range v.Args {
		params = append(params, in(a.Type.DType, fmt.Sprintf("a%d", i)))
	}
	e.perElement(v, "concat", params, v.Args, func(c *code) {
		c.unravel("i", "d", v.Type.Shape)
		start := 0
		for i, a := range v.Args {
			size := a.Type.Shape[axis]
			st := a.Type.Shape.Strides()
			var terms []string
			for j := range v.Type.Shape {
				idx := fmt.Sprintf("d%d", j)
				if j == axis && start != 0 {
					idx = fmt.Sprintf("(d%d - %d)", j, start)
				}
				terms = append(terms, mulTerm(idx, st[j]))
			}
			c.line("if (d%d < %d) { out[i] = a%d[%s]; return; }", axis, start+size, i, sumTerms(terms))
			start += size
		}
	})
	return nil
}

// genGather copies rows table[ids[r]] (ids are not checked on the GPU:
// an id outside the table reads out of bounds, as the IR says it is an
// error).
func genGather(e *emitter, v *ir.Value) error {
	table, ids := v.Args[0], v.Args[1]
	row := table.Type.NumElements() / max(1, table.Type.Shape[0])
	e.perElement(v, "gather", []param{in(table.Type.DType, "table"), in(ids.Type.DType, "ids")}, []*ir.Value{table, ids}, func(c *code) {
		c.line("out[i] = table[(int)ids[i / %d] * %d + i %% %d];", row, row, row)
	})
	return nil
}

func genScatterAdd(e *emitter, v *ir.Value) error {
	ids, upd := v.Args[0], v.Args[1]
	if v.Type.DType != ir.F32 {
		return fmt.Errorf("scatter_add of %v: only f32 (atomicAdd)", v.Type)
	}
	row := v.Type.NumElements() / max(1, v.Type.Shape[0])
	n := upd.Type.NumElements()
	var c code
	c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
	c.line("if (i >= %d) return;", n)
	c.line("atomicAdd(&out[(int)ids[i / %d] * %d + i %% %d], upd[i]);", row, row, row)
	k := e.kernel(v, "scatter_add", []param{out(v.Type.DType, "out"), in(ids.Type.DType, "ids"), in(upd.Type.DType, "upd")}, c.String())
	e.memset(v)
	e.step(v, Step{Kind: "launch", Out: e.arg(v), Launch: e.threads(k, n, e.args(v, ids, upd))})
	return nil
}

func genOneHot(e *emitter, v *ir.Value) error {
	ids := v.Args[0]
	depth := v.Type.Shape[v.Type.Rank()-1]
	e.perElement(v, "one_hot", []param{in(ids.Type.DType, "ids")}, []*ir.Value{ids}, func(c *code) {
		c.line("out[i] = (%s)((int)ids[i / %d] == i %% %d);", ctype(v.Type.DType), depth, depth)
	})
	return nil
}
