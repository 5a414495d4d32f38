// This file implements the reductions and the row-wise kernels: sum,
// mean, max, logsumexp and reduce_to over any axes, argmax, softmax and
// log_softmax along an axis, layer norm and its backward ops, and softmax
// cross entropy and its backward op. A row is reduced by one block
// (encc_block_sum, encc_block_max over shared memory); a reduction of
// fewer than 32 elements per output runs one thread per output instead.

package cuda

import (
	"fmt"
	"slices"

	"github.com/encc-lang/encc/ir"
)

func init() {
	register(genReduce, ir.OpSum, ir.OpMean, ir.OpReduceMax, ir.OpLogSumExp, ir.OpReduceTo)
	register(genArgMax, ir.OpArgMax)
	register(genSoftmax, ir.OpSoftmax, ir.OpLogSoftmax)
	register(genLayerNorm, ir.OpLayerNorm, ir.OpLayerNormBackwardInput, ir.OpLayerNormBackwardWeight)
	register(genCrossEntropy, ir.OpSoftmaxCrossEntropy, ir.OpSoftmaxCrossEntropyBackward)
}

// reduceToAxes returns the axes of x that reduce_to sums to reach out:
// those broadcasting out to x would add or stretch.
func reduceToAxes(x, out ir.Shape) []int {
	var axes []int
	off := len(x) - len(out)
	for i, d := range x {
		if i < off || (out[i-off] == 1 && d != 1) {
			axes = append(axes, i)
		}
	}
	return axes
}

// split returns the kept and the reduced dims of x and their strides in x.
func split(x ir.Shape, axes []int) (kept, keptSt, red, redSt []int) {
	st := x.Strides()
	for i, d := range x {
		if slices.Contains(axes, i) {
			red, redSt = append(red, d), append(redSt, st[i])
		} else {
			kept, keptSt = append(kept, d), append(keptSt, st[i])
		}
	}
	return
}

// offsetCode declares int <name> = the offset in x of the multi-index
// flat has in dims (with strides st).
func (c *code) offsetCode(name, flat, prefix string, dims, st []int) {
	if len(dims) == 0 {
		c.line("const int %s = 0;", name)
		return
	}
	// Contiguous row-major dims: the offset is flat·(last stride).
	contiguous := true
	for i := range dims {
		if i+1 < len(dims) && st[i] != st[i+1]*dims[i+1] {
			contiguous = false
		}
	}
	if contiguous {
		c.line("const int %s = %s;", name, mulTerm(flat, st[len(st)-1]))
		return
	}
	c.unravel(flat, prefix, dims)
	var terms []string
	for i := range dims {
		terms = append(terms, mulTerm(fmt.Sprintf("%s%d", prefix, i), st[i]))
	}
	c.line("const int %s = %s;", name, sumTerms(terms))
}

// genReduce reduces x over axes: one block per output element, or one
// thread per output when each reduces fewer than 32 elements.
func genReduce(e *emitter, v *ir.Value) error {
	x := v.Args[0]
	var axes []int
	if v.Op == ir.OpReduceTo {
		axes = reduceToAxes(x.Type.Shape, v.Type.Shape)
	} else {
		axes = v.Aux.(ir.ReduceAttr).Axes
	}
	kept, keptSt, red, redSt := split(x.Type.Shape, axes)
	outN, redN := ir.Shape(kept).NumElements(), ir.Shape(red).NumElements()
	if outN != v.Type.NumElements() {
		return fmt.Errorf("reducing %v over %v gives %d elements, not %d", x.Type, axes, outN, v.Type.NumElements())
	}
	t := ctype(v.Type.DType)
	if v.Type.DType == ir.Bool || x.Type.DType != v.Type.DType {
		return fmt.Errorf("reduction of %v to %v", x.Type, v.Type)
	}
	isMax := v.Op == ir.OpReduceMax || v.Op == ir.OpLogSumExp
	init := "0"
	if isMax {
		init = "(-ENCC_INF)"
		if v.Type.DType != ir.F32 {
			init = "(" + t + ")(1ULL << (8 * sizeof(" + t + ") - 1))" // the most negative integer
		}
	}
	var c code
	perThread := redN < 32
	if perThread {
		c.line("const int o = blockIdx.x * blockDim.x + threadIdx.x;")
		c.line("if (o >= %d) return;", outN)
	} else {
		c.line("__shared__ %s sh[%d];", t, e.block)
		c.line("const int o = blockIdx.x;")
	}
	c.offsetCode("base", "o", "k", kept, keptSt)
	loop := func(acc, update string) {
		if perThread {
			c.line("for (int r = 0; r < %d; r++) {", redN)
		} else {
			c.line("for (int r = threadIdx.x; r < %d; r += blockDim.x) {", redN)
		}
		var inner code
		inner.offsetCode("roff", "r", "q", red, redSt)
		for _, l := range splitLines(inner.String()) {
			c.line("  %s", l)
		}
		c.line("  const %s xv = x[base + roff];", t)
		c.line("  %s", update)
		c.line("}")
	}
	c.line("%s acc = %s;", t, init)
	if isMax {
		loop("acc", "if (xv > acc) acc = xv;")
		if !perThread {
			c.line("acc = encc_block_max(acc, sh);")
		}
	} else {
		loop("acc", "acc += xv;")
		if !perThread {
			c.line("acc = encc_block_sum(acc, sh);")
		}
	}
	if v.Op == ir.OpLogSumExp {
		c.line("const float m = acc;")
		c.line("acc = 0.0f;")
		loop("acc", "acc += expf(xv - m);")
		if !perThread {
			c.line("acc = encc_block_sum(acc, sh);")
		}
		c.line("acc = m + logf(acc);")
	}
	if v.Op == ir.OpMean {
		c.line("acc = acc / %s;", flit(float64(redN)))
	}
	if perThread {
		c.line("out[o] = acc;")
	} else {
		c.line("if (threadIdx.x == 0) out[o] = acc;")
	}
	k := e.kernel(v, v.Op.String(), []param{out(v.Type.DType, "out"), in(x.Type.DType, "x")}, c.String())
	if perThread {
		e.launchThreads(v, k, outN, x)
	} else {
		e.launchBlocks(v, k, outN, x)
	}
	return nil
}

// splitLines returns the lines of s without their two-space indent.
func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		l := s[:i]
		if len(l) >= 2 && l[:2] == "  " {
			l = l[2:]
		}
		out = append(out, l)
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// lineGeom is the geometry of the 1-D lines of shape s along axis: rows
// lines of n elements, stride elements apart; a row r starts at
// (r / stride)·n·stride + r % stride.
func lineGeom(s ir.Shape, axis int) (rows, n, stride int) {
	n = s[axis]
	stride = 1
	for _, d := range s[axis+1:] {
		stride *= d
	}
	return s.NumElements() / max(1, n), n, stride
}

// rowBase declares base, the offset of row r's first element.
func (c *code) rowBase(row string, n, stride int) {
	if stride == 1 {
		c.line("const int base = %s * %d;", row, n)
		return
	}
	c.line("const int base = (%s / %d) * %d + %s %% %d;", row, stride, n*stride, row, stride)
}

func genArgMax(e *emitter, v *ir.Value) error {
	x := v.Args[0]
	rows, n, stride := lineGeom(x.Type.Shape, v.Aux.(ir.ArgMaxAttr).Axis)
	var c code
	c.line("const int o = blockIdx.x * blockDim.x + threadIdx.x;")
	c.line("if (o >= %d) return;", rows)
	c.rowBase("o", n, stride)
	c.line("%s best = x[base];", ctype(x.Type.DType))
	c.line("long long arg = 0;")
	c.line("for (int j = 1; j < %d; j++) {", n)
	c.line("  const %s xv = x[base + %s];", ctype(x.Type.DType), mulTerm("j", stride))
	c.line("  if (xv > best) { best = xv; arg = j; }")
	c.line("}")
	c.line("out[o] = (%s)arg;", ctype(v.Type.DType))
	k := e.kernel(v, "argmax", []param{out(v.Type.DType, "out"), in(x.Type.DType, "x")}, c.String())
	e.launchThreads(v, k, rows, x)
	return nil
}

// lseCode declares m (the row's max) and l (its log Σ exp) over the row
// at base, n elements stride apart, with the block's threads.
func (c *code) lseCode(ptr string, n, stride int) {
	c.line("float m = -ENCC_INF;")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) m = fmaxf(m, %s[base + %s]);", n, ptr, mulTerm("j", stride))
	c.line("m = encc_block_max(m, sh);")
	c.line("float s = 0.0f;")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) s += expf(%s[base + %s] - m);", n, ptr, mulTerm("j", stride))
	c.line("s = encc_block_sum(s, sh);")
	c.line("const float l = m + logf(s);")
}

func genSoftmax(e *emitter, v *ir.Value) error {
	x := v.Args[0]
	rows, n, stride := lineGeom(x.Type.Shape, v.Aux.(ir.AxisAttr).Axis)
	var c code
	c.line("__shared__ float sh[%d];", e.block)
	c.line("const int row = blockIdx.x;")
	c.rowBase("row", n, stride)
	c.lseCode("x", n, stride)
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) {", n)
	c.line("  const int o = base + %s;", mulTerm("j", stride))
	if v.Op == ir.OpSoftmax {
		c.line("  out[o] = expf(x[o] - l);")
	} else {
		c.line("  out[o] = x[o] - l;")
	}
	c.line("}")
	k := e.kernel(v, v.Op.String(), []param{out(v.Type.DType, "out"), in(x.Type.DType, "x")}, c.String())
	e.launchBlocks(v, k, rows, x)
	return nil
}

// genLayerNorm renders layernorm and its backward ops, one block per row
// of the last axis; the weight gradient adds each row's share with
// atomicAdd into zeroed storage.
func genLayerNorm(e *emitter, v *ir.Value) error {
	x := v.Args[0]
	eps := v.Aux.(ir.LayerNormAttr).Eps
	D := x.Type.Shape[x.Type.Rank()-1]
	rows := x.Type.NumElements() / max(1, D)
	var c code
	c.line("__shared__ float sh[%d];", e.block)
	c.line("const int row = blockIdx.x;")
	c.line("const float* xr = x + row * %d;", D)
	c.line("float s = 0.0f;")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) s += xr[j];", D)
	c.line("const float mean = encc_block_sum(s, sh) / %s;", flit(float64(D)))
	c.line("float q = 0.0f;")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) { const float dv = xr[j] - mean; q += dv * dv; }", D)
	c.line("const float rstd = 1.0f / sqrtf(encc_block_sum(q, sh) / %s + %s);", flit(float64(D)), flit(eps))
	params := []param{out(v.Type.DType, "out"), in(ir.F32, "x")}
	switch v.Op {
	case ir.OpLayerNorm:
		params = append(params, in(ir.F32, "w"), in(ir.F32, "b"))
		c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) out[row * %d + j] = (xr[j] - mean) * rstd * w[j] + b[j];", D, D)
	case ir.OpLayerNormBackwardInput:
		params = append(params, in(ir.F32, "w"), in(ir.F32, "dy"))
		c.line("const float* dyr = dy + row * %d;", D)
		c.line("float g = 0.0f, gx = 0.0f;")
		c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) { const float gj = dyr[j] * w[j]; g += gj; gx += gj * (xr[j] - mean) * rstd; }", D)
		c.line("const float mg = encc_block_sum(g, sh) / %s;", flit(float64(D)))
		c.line("const float mgx = encc_block_sum(gx, sh) / %s;", flit(float64(D)))
		c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) out[row * %d + j] = rstd * (dyr[j] * w[j] - mg - (xr[j] - mean) * rstd * mgx);", D, D)
	case ir.OpLayerNormBackwardWeight:
		params = append(params, in(ir.F32, "dy"))
		c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) atomicAdd(&out[j], dy[row * %d + j] * (xr[j] - mean) * rstd);", D, D)
	}
	k := e.kernel(v, v.Op.String(), params, c.String())
	if v.Op == ir.OpLayerNormBackwardWeight {
		e.memset(v)
	}
	e.launchBlocks(v, k, rows, v.Args...)
	return nil
}

// genCrossEntropy renders softmax_cross_entropy (one block walks every
// row, so the mean is summed in a fixed order) and its backward op (one
// block per row).
func genCrossEntropy(e *emitter, v *ir.Value) error {
	logits, labels := v.Args[0], v.Args[1]
	eps := v.Aux.(ir.CrossEntropyAttr).LabelSmoothing
	N, C := logits.Type.Shape[0], logits.Type.Shape[1]
	params := []param{out(v.Type.DType, "out"), in(ir.F32, "x"), in(labels.Type.DType, "labels")}
	var c code
	c.line("__shared__ float sh[%d];", e.block)
	if v.Op == ir.OpSoftmaxCrossEntropy {
		c.line("float total = 0.0f;")
		c.line("for (int row = 0; row < %d; row++) {", N)
		var body code
		body.line("const int base = row * %d;", C)
		body.lseCode("x", C, 1)
		body.line("float sx = 0.0f;")
		body.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) sx += x[base + j];", C)
		body.line("const float mean = encc_block_sum(sx, sh) / %s;", flit(float64(C)))
		body.line("const float nll = l - x[base + (int)labels[row]];")
		body.line("total += %s * nll + %s * (l - mean);", flit(1-eps), flit(eps))
		for _, l := range splitLines(body.String()) {
			c.line("  %s", l)
		}
		c.line("}")
		c.line("if (threadIdx.x == 0) out[0] = total / %s;", flit(float64(N)))
		k := e.kernel(v, "softmax_cross_entropy", params, c.String())
		e.launchBlocks(v, k, 1, logits, labels)
		return nil
	}
	dloss := v.Args[2]
	params = append(params, in(dloss.Type.DType, "dloss"))
	c.line("const int row = blockIdx.x;")
	c.line("const int base = row * %d;", C)
	c.lseCode("x", C, 1)
	c.line("const int label = (int)labels[row];")
	c.line("const float scale = dloss[0] / %s;", flit(float64(N)))
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) {", C)
	c.line("  const float t = %s + (j == label ? %s : 0.0f);", flit(eps/float64(C)), flit(1-eps))
	c.line("  out[base + j] = (expf(x[base + j] - l) - t) * scale;")
	c.line("}")
	k := e.kernel(v, "softmax_cross_entropy_backward", params, c.String())
	e.launchBlocks(v, k, N, logits, labels, dloss)
	return nil
}
