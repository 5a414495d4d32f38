// This file implements the elementwise kernels: constants (fill, iota,
// literal), and the vector or typed loops of the elementwise ops that
// have one (elementwiseKernels): unary math, cast, broadcasting binary
// arithmetic, comparisons, where and the relu and GELU gradients. Every
// other elementwise op of the table computes its arithmetic (table.go).

package cpu

import (
	"errors"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildConst, ir.OpFill, ir.OpIota, ir.OpLiteral)
	for _, op := range ir.Ops() {
		if op.IsElementwise() && !op.IsFused() {
			register(buildElementwise, op)
		}
	}
}

// elementwiseKernels are the elementwise ops with loops of their own,
// faster than the op table's arithmetic in float64: typed, branch-free
// or vector (AVX2). A builder returns a nil kernel for the operands it
// does not handle, which then take the table's arithmetic.
var elementwiseKernels = map[ir.Op]builder{
	ir.OpNeg: buildUnaryNum, ir.OpRelu: buildUnaryNum, ir.OpAbs: buildUnaryNum, ir.OpSign: buildUnaryNum,
	ir.OpTanh: buildActivation, ir.OpSigmoid: buildActivation, ir.OpGelu: buildActivation,
	ir.OpCast: buildCast,
	ir.OpAdd:  buildBinary, ir.OpSub: buildBinary, ir.OpMul: buildBinary, ir.OpDiv: buildBinary,
	ir.OpMax: buildBinary, ir.OpMin: buildBinary,
	ir.OpEq: buildCompare, ir.OpNe: buildCompare, ir.OpLt: buildCompare, ir.OpLe: buildCompare,
	ir.OpGt: buildCompare, ir.OpGe: buildCompare,
	ir.OpWhere:        buildWhere,
	ir.OpReluBackward: buildGradF32, ir.OpGeluBackward: buildGradF32,
}

// buildElementwise builds an elementwise op: its own loop where it has
// one, else a unary f32 loop or the general kernel over the op table's
// arithmetic.
func buildElementwise(c *compileCtx, v *ir.Value) (kernel, error) {
	if b := elementwiseKernels[v.Op]; b != nil {
		if k, err := b(c, v); k != nil || err != nil {
			return k, err
		}
	}
	if len(v.Args) == 1 && v.Type.DType == ir.F32 && v.Args[0].Type.DType == ir.F32 {
		return &unaryF32{f: v.Op.Scalar(v.Aux, ir.F32), x: c.buf(v.Args[0]), out: c.buf(v), pool: c.pool}, nil
	}
	return buildTable(c, v)
}

// constKernel copies a constant computed at compile time into its slot.
// Constants run every step because the planner may reuse their slot.
type constKernel struct {
	out  *buffer
	data []byte
}

func (k *constKernel) run() error { copy(bytesOf(k.out), k.data); return nil }

func buildConst(c *compileCtx, v *ir.Value) (kernel, error) {
	n := v.Type.NumElements()
	vals := make([]float64, n)
	switch a := v.Aux.(type) {
	case ir.FillAttr:
		for i := range vals {
			vals[i] = a.Value
		}
	case ir.IotaAttr:
		st := v.Type.Shape.Strides()
		for i := range vals {
			vals[i] = float64(i / st[a.Axis] % v.Type.Shape[a.Axis])
		}
	case ir.LiteralAttr:
		copy(vals, a.Data)
	}
	data := make([]byte, v.Type.Bytes())
	for i, x := range vals {
		switch v.Type.DType {
		case ir.F32:
			*(*float32)(unsafe.Pointer(&data[4*i])) = float32(x)
		case ir.I32:
			*(*int32)(unsafe.Pointer(&data[4*i])) = int32(x)
		case ir.I64:
			*(*int64)(unsafe.Pointer(&data[8*i])) = int64(x)
		case ir.Bool:
			if x != 0 {
				data[i] = 1
			}
		}
	}
	return &constKernel{c.buf(v), data}, nil
}

// unaryF32 computes a unary op on f32: a GEMM activation (act), or
// else the op table's arithmetic f.
type unaryF32 struct {
	act    gemm.Activation
	f      ir.ScalarFunc
	x, out *buffer
	pool   *parallel.Pool
	// deriv: GELU's derivative Φ(x) + x·φ(x), kept for the gelu_backward
	// linked to this forward (shareGeluPhi); nil where none.
	deriv []float32
}

// The unary and gradient kernels split their work in units of 16
// elements: every core's part but the last is whole vectors, so an
// element takes the vector or the scalar path (whose bits can differ)
// by its place in the tensor, not by the number of cores (GELU's
// elements all take the vector kernel).

func (k *unaryF32) run() error {
	parFor(k.pool, (k.out.n+15)/16, 8*16, k)
	return nil
}

func (k *unaryF32) Range(lo, hi int) {
	lo, hi = lo*16, min(hi*16, k.out.n)
	if k.deriv != nil {
		geluVecF32(f32s(k.out)[lo:hi], f32s(k.x)[lo:hi], nil, k.deriv[lo:hi])
		return
	}
	unaryF32Inner(k.act, k.f, f32s(k.out)[lo:hi], f32s(k.x)[lo:hi])
}

// actOf returns the gemm activation that computes a unary op (so that
// the op and a GEMM epilogue agree bit for bit), or ActNone: the one map
// from the IR's epilogue activations to gemm's.
func actOf(op ir.Op, aux any) gemm.Activation {
	switch op {
	case ir.OpRelu:
		return gemm.ActReLU
	case ir.OpTanh:
		return gemm.ActTanh
	case ir.OpSigmoid:
		return gemm.ActSigmoid
	case ir.OpGelu:
		if aux.(ir.GeluAttr).Approximate {
			return gemm.ActGELUTanh
		}
		return gemm.ActGELU
	}
	return gemm.ActNone
}

// buildActivation builds a unary op that is a GEMM activation, on f32.
func buildActivation(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, nil
	}
	return &unaryF32{act: actOf(v.Op, v.Aux), x: c.buf(v.Args[0]), out: c.buf(v), pool: c.pool}, nil
}

// unaryF32Inner computes o = op(x): with the GEMM activation act (GELU's
// erf form 8 lanes at a time), or else with the table's arithmetic f.
func unaryF32Inner(act gemm.Activation, f ir.ScalarFunc, o, x []float32) {
	if act == gemm.ActGELU && simdOn {
		geluF32(o, x, nil)
		return
	}
	if (act == gemm.ActSigmoid || act == gemm.ActTanh) && simdOn {
		sigTanhF32(o, x, act)
		return
	}
	if act != gemm.ActNone {
		copy(o, x)
		gemm.ActivateSlice(act, o)
		return
	}
	x = x[:len(o)]
	for i, e := range x {
		r, _ := f(float64(e), 0, 0)
		o[i] = float32(r)
	}
}

// unaryNum computes neg, relu, abs and sign on any numeric dtype.
type unaryNum[T numeric] struct {
	op     ir.Op
	x, out *buffer
	pool   *parallel.Pool
}

func (k *unaryNum[T]) run() error { parFor(k.pool, k.out.n, 1, k); return nil }

func (k *unaryNum[T]) Range(lo, hi int) {
	unaryNumInner(k.op, view[T](k.out)[lo:hi], view[T](k.x)[lo:hi])
}

// isNumUnary reports whether op is a unary op of every numeric dtype.
func isNumUnary(op ir.Op) bool {
	return op == ir.OpNeg || op == ir.OpRelu || op == ir.OpAbs || op == ir.OpSign
}

// unaryNumInner computes o = op(x) for neg, relu, abs and sign.
func unaryNumInner[T numeric](op ir.Op, o, x []T) {
	switch op {
	case ir.OpNeg:
		for i, e := range x {
			o[i] = -e
		}
	case ir.OpRelu:
		if xf, ok := any(x).([]float32); ok {
			reluF32(any(o).([]float32), xf)
			return
		}
		for i, e := range x {
			o[i] = max(e, 0)
		}
	case ir.OpAbs:
		for i, e := range x {
			if e < 0 {
				e = -e
			}
			o[i] = e
		}
	case ir.OpSign:
		for i, e := range x {
			switch {
			case e > 0:
				e = 1
			case e < 0:
				e = -1
			}
			o[i] = e // 0 or NaN stay
		}
	}
}

// reluF32 is max(x, 0), 8 lanes at a time with AVX2 (a NaN stays NaN).
func reluF32(o, x []float32) {
	x = x[:len(o)]
	i := 0
	if simdOn {
		if i = len(o) &^ 7; i > 0 {
			reluAVX2(&o[0], &x[0], i)
		}
	}
	for ; i < len(o); i++ {
		o[i] = max(x[i], 0)
	}
}

// geluTable holds geluVecAVX2's constants (gelu2_amd64.s), each over 8
// lanes: Q(t) is a degree-8 fit of erfc(z)·exp(z²)/(2t) in t = 1/(1+p·z),
// p = 0.3, over z in [0, 9.35] (down to x = -13.2, where Φ(x) leaves the
// normal floats) with relative error 0.8 ulp (2.5 evaluated in float32),
// its coefficients rounded one at a time from the highest, each lower one
// fitted again, so that Q(1) is 0.5 exactly (Φ(0) = 0.5); exp's e^r on
// [-ln2/2, ln2/2] is 1 + r + r²·E(r), E a degree-4 fit (0.06 ulp).
var geluTable = func() (w [24][8]float32) {
	c := [24]float32{math.Float32frombits(0x7fffffff), 0.2121320366859436, 1,
		-0.06469585001468658, 0.2424367070198059, -0.25536152720451355, 0.27287977933883667,
		-0.04657059162855148, 0.10710011422634125, 0.07427584379911423, 0.08534031361341476, 0.0845952033996582,
		-0.5, 13.25, 1.44269504088896341, 0.693359375, -2.12194440e-4,
		0.0013814539415761828, 0.00836874544620514, 0.04166838899254799, 0.1666652113199234, 0.4999999403953552,
		0.3989422804014327, math.Float32frombits(127)}
	for i := range w {
		for j := range w[i] {
			w[i][j] = c[i]
		}
	}
	return w
}()

// geluF32 writes GELU (erf form) of x into o, or, with dy, its backward
// dy·(Φ(x) + x·φ(x)), 16 lanes at a time with AVX2 (geluVecAVX2); the
// last len(o) mod 16 go through the same kernel from a padded copy, so
// every element has the kernel's bits wherever a range starts.
func geluF32(o, x, dy []float32) {
	geluVecF32(o, x, dy, nil)
}

// geluVecF32 is geluF32, or with g (and no dy) the forward that also
// writes the derivative Φ(x) + x·φ(x) into g (a linked gelu_backward's
// factor, shareGeluPhi).
func geluVecF32(o, x, dy, g []float32) {
	n := len(o)
	x = x[:n]
	mode := 0
	var pdy, pg *float32
	n16 := n &^ 15
	switch {
	case dy != nil:
		dy, mode = dy[:n], 2
		if n16 > 0 {
			pdy = &dy[0]
		}
	case g != nil:
		g, mode = g[:n], 1
		if n16 > 0 {
			pg = &g[0]
		}
	}
	if n16 > 0 {
		geluVecAVX2(&o[0], &x[0], pdy, pg, n16, &geluTable, mode)
	}
	if n16 == n {
		return
	}
	var to, tx, tdy, tg [16]float32
	copy(tx[:], x[n16:])
	if dy != nil {
		copy(tdy[:], dy[n16:])
	}
	geluVecAVX2(&to[0], &tx[0], &tdy[0], &tg[0], 16, &geluTable, mode)
	copy(o[n16:], to[:])
	if g != nil {
		copy(g[n16:], tg[:])
	}
}

// sigTanhConsts are sigTanhAVX2's constants: expConsts, then 0.125, -1/3,
// 2/15 and -17/315.
var sigTanhConsts = [32]float32{88.3762626647949, -88.3762626647949, 1.44269504088896341, 0.5,
	0.693359375, -2.12194440e-4, 1,
	1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
	0.125, -1.0 / 3, 2.0 / 15, -17.0 / 315}

// sigTanhF32 writes sigmoid(x) or tanh(x) (act), 8 lanes at a time with
// AVX2 (within 1e-6 relative of the float64 functions; the GEMM
// epilogue's scalar forms for the last len(o) mod 8).
func sigTanhF32(o, x []float32, act gemm.Activation) {
	x = x[:len(o)]
	i := len(o) &^ 7
	if i > 0 {
		tanh := 0
		if act == gemm.ActTanh {
			tanh = 1
		}
		sigTanhAVX2(&o[0], &x[0], i, &sigTanhConsts, tanh)
	}
	for ; i < len(o); i++ {
		o[i] = gemm.Activate(act, x[i])
	}
}

// reluGradF32 is x > 0 ? dy : 0 (relu's backward), 8 lanes at a time
// with AVX2.
func reluGradF32(o, x, dy []float32) {
	x, dy = x[:len(o)], dy[:len(o)]
	i := 0
	if simdOn {
		if i = len(o) &^ 7; i > 0 {
			reluGradAVX2(&o[0], &x[0], &dy[0], i)
		}
	}
	for ; i < len(o); i++ {
		if x[i] > 0 {
			o[i] = dy[i]
		} else {
			o[i] = 0
		}
	}
}

// buildUnaryNum builds neg, relu, abs or sign on any numeric dtype.
func buildUnaryNum(c *compileCtx, v *ir.Value) (kernel, error) {
	x, out := c.buf(v.Args[0]), c.buf(v)
	switch v.Type.DType {
	case ir.F32:
		return &unaryNum[float32]{v.Op, x, out, c.pool}, nil
	case ir.I32:
		return &unaryNum[int32]{v.Op, x, out, c.pool}, nil
	case ir.I64:
		return &unaryNum[int64]{v.Op, x, out, c.pool}, nil
	}
	return nil, nil
}

// gradF32 computes relu_backward or gelu_backward (erf form) on f32
// operands of the result's shape, 8 lanes at a time with AVX2.
type gradF32 struct {
	op         ir.Op
	x, dy, out *buffer
	pool       *parallel.Pool
	deriv      []float32 // gelu: the linked forward's GELU'(x) (shareGeluPhi)
	// sum: the column sums of the result (a bias gradient) computed here,
	// from the rows just written, instead of by a later pass over memory
	// (fuseGeluBiasGrad); nil where none.
	sum *sumWalk
}

func (k *gradF32) run() error {
	if k.sum != nil {
		n := k.sum.lens[1]
		parFor(k.pool, n/minSumCols, minSumCols*k.sum.lens[0], geluSumCols{k})
		// Only now, with every core done reading dy: the sums may take
		// dy's storage (the arena gives them a slot free at the reduce's
		// place, and dy dies at the gelu_backward).
		k.sum.emit(0, k.sum.out.n)
		return nil
	}
	perItem := 2
	if k.op == ir.OpGeluBackward && k.deriv == nil {
		perItem = 48
	}
	parFor(k.pool, (k.out.n+15)/16, perItem*16, k)
	return nil
}

func (k *gradF32) Range(lo, hi int) {
	lo, hi = lo*16, min(hi*16, k.out.n)
	if k.deriv != nil {
		// dy·GELU'(x): the bits geluF32 computes (the same product of the
		// same factors).
		binaryF32Vector(ir.OpMul, f32s(k.out)[lo:hi], f32s(k.dy)[lo:hi], k.deriv[lo:hi])
		return
	}
	o, x, dy := f32s(k.out)[lo:hi], f32s(k.x)[lo:hi], f32s(k.dy)[lo:hi]
	if k.op == ir.OpReluBackward {
		reluGradF32(o, x, dy)
	} else {
		geluF32(o, x, dy)
	}
}

// geluSumCols computes a linked gelu_backward's result dy·GELU'(x),
// [rows, n], over the columns [lo·minSumCols, hi·minSumCols) (the last
// chunk takes the remainder of n), a block of rows at a time, and adds
// each block into the column sums while it is in cache: the products are
// the bits of the elementwise kernel, and every column adds its rows in
// order as sumCols does, so the sums are the reduce_to's bits (the
// float32 results written by the caller, sumWalk.emit: sumCols's
// conversion).
type geluSumCols struct{ k *gradF32 }

func (c geluSumCols) Range(lo, hi int) {
	k, s := c.k, c.k.sum
	rows, n := s.lens[0], s.lens[1]
	clo, chi := lo*minSumCols, hi*minSumCols
	if chi > n-minSumCols {
		chi = n
	}
	w := chi - clo
	o, dy := f32s(k.out), f32s(k.dy)
	acc := s.acc[clo:chi]
	clear(acc)
	nv := w &^ 3 // simdOn: a linked gelu_backward runs only with AVX2
	rb := min(max(2048/w, 8), 64)
	for r0 := 0; r0 < rows; r0 += rb {
		r1 := min(r0+rb, rows)
		for r := r0; r < r1; r++ {
			off := r*n + clo
			binaryF32Vector(ir.OpMul, o[off:off+w], dy[off:off+w], k.deriv[off:off+w])
		}
		if nv > 0 {
			colSumBlocks(acc, o[r0*n+clo:], r1-r0, nv, n)
		}
		if nv < w {
			for r := r0; r < r1; r++ {
				for i, e := range o[r*n+clo+nv:][:w-nv] {
					acc[nv+i] += float64(e)
				}
			}
		}
	}
}

// geluBiasOn enables fuseGeluBiasGrad (tests turn it off to compare).
var geluBiasOn = true

// fuseGeluBiasGrad folds a reduce_to over the rows of a linked
// gelu_backward's result (the bias gradient of the product before the
// GELU; W4: ff1's [512] from [2048, 512]) into the gelu_backward, which
// then adds the rows it writes into the column sums while they are in
// cache (geluSumCols), and the reduce's step goes: one pass over the
// result less (4 MiB in W4, read back after the products in between
// have evicted it). The reduce moves up to the gelu_backward's place:
// every step in between must be one whose storage stageable knows and
// that neither writes the result nor touches the sums' storage, and the
// sums' storage must be apart from the gelu_backward's x and result. It
// may be dy's (dy dies at the gelu_backward and the arena reuses its
// slot; W4 at batch 32): the sums are written after the last core has
// read dy. Runs before the stage pass, on the flat program order.
func (p *Program) fuseGeluBiasGrad() {
	if !geluBiasOn || !simdOn {
		return
	}
	spanOf := p.spanOf()
	drop := map[int]bool{}
	for i, st := range p.steps {
		g, ok := st.k.(*gradF32)
		if !ok || g.deriv == nil || g.sum != nil {
			continue
		}
		j := i + 1
		for ; j < len(p.steps); j++ {
			if sw, ok := p.steps[j].k.(*sumWalk); ok && g.out.p != nil && sw.x.p == g.out.p && sw.x.n == g.out.n {
				break
			}
		}
		if j == len(p.steps) {
			continue
		}
		sw := p.steps[j].k.(*sumWalk)
		if !sw.colsOK || sw.lens[0]*sw.lens[1] != g.out.n {
			continue
		}
		res, sums := spanOf(g.out), spanOf(sw.out)
		if sums.overlaps(res) || sums.overlaps(spanOf(g.x)) {
			continue
		}
		if p.leaveAlone(p.steps[i+1:j], spanOf, []span{res}, []span{sums}) {
			g.sum = sw
			drop[j] = true
		}
	}
	p.dropSteps(drop)
}

// hasGradF32 reports whether gradF32 computes the op with attributes aux
// on f32: relu_backward, and gelu_backward's erf form where AVX2 is on.
func hasGradF32(op ir.Op, aux any) bool {
	switch op {
	case ir.OpReluBackward:
		return true
	case ir.OpGeluBackward:
		return simdOn && !aux.(ir.GeluAttr).Approximate
	}
	return false
}

func buildGradF32(c *compileCtx, v *ir.Value) (kernel, error) {
	if !hasGradF32(v.Op, v.Aux) || v.Type.DType != ir.F32 {
		return nil, nil
	}
	for _, a := range v.Args {
		if a.Type.DType != ir.F32 || !a.Type.Shape.Equal(v.Type.Shape) {
			return nil, nil
		}
	}
	return &gradF32{op: v.Op, x: c.buf(v.Args[0]), dy: c.buf(v.Args[1]), out: c.buf(v), pool: c.pool}, nil
}

// castKernel converts S elements to D; toBool writes x != 0.
type castKernel[S, D scalar] struct {
	toBool bool
	x, out *buffer
	pool   *parallel.Pool
}

func (k *castKernel[S, D]) run() error { parFor(k.pool, k.out.n, 1, k); return nil }

func (k *castKernel[S, D]) Range(lo, hi int) {
	castInner(k.toBool, view[D](k.out)[lo:hi], view[S](k.x)[lo:hi])
}

// castInner converts x into o; toBool writes x != 0 as 0 or 1.
func castInner[S, D scalar](toBool bool, o []D, x []S) {
	if toBool {
		for i, e := range x {
			o[i] = 0
			if e != 0 {
				o[i] = 1
			}
		}
		return
	}
	for i, e := range x {
		o[i] = D(e)
	}
}

func newCast[S scalar](x, out *buffer, pool *parallel.Pool) kernel {
	switch out.dt {
	case ir.F32:
		return &castKernel[S, float32]{false, x, out, pool}
	case ir.I32:
		return &castKernel[S, int32]{false, x, out, pool}
	case ir.I64:
		return &castKernel[S, int64]{false, x, out, pool}
	}
	return &castKernel[S, uint8]{true, x, out, pool}
}

func buildCast(c *compileCtx, v *ir.Value) (kernel, error) {
	x, out := c.buf(v.Args[0]), c.buf(v)
	switch x.dt {
	case ir.F32:
		return newCast[float32](x, out, c.pool), nil
	case ir.I32:
		return newCast[int32](x, out, c.pool), nil
	case ir.I64:
		return newCast[int64](x, out, c.pool), nil
	}
	return newCast[uint8](x, out, c.pool), nil
}

// operandLoop prepares the walk of v's result with every operand
// broadcast to it; operand 0 of the loop is the result.
func operandLoop(v *ir.Value) *ndLoop {
	st := [][]int{contiguous(v.Type.Shape)}
	for _, a := range v.Args {
		st = append(st, bcastStrides(v.Type.Shape, a.Type.Shape))
	}
	return newLoop(v.Type.Shape, st...)
}

var errDivZero = errors.New("integer division by zero")

// binaryKernel computes a broadcasting arithmetic op.
type binaryKernel[T numeric] struct {
	op        ir.Op
	l         *ndLoop
	x, y, out *buffer
	pool      *parallel.Pool
	divByZero atomic.Bool
}

func (k *binaryKernel[T]) run() error {
	parFor(k.pool, k.l.nitems, k.l.blk, k)
	if k.divByZero.Load() {
		k.divByZero.Store(false)
		return errDivZero
	}
	return nil
}

func (k *binaryKernel[T]) Range(lo, hi int) {
	x, y, o := view[T](k.x), view[T](k.y), view[T](k.out)
	sx, sy := k.l.istr[1], k.l.istr[2]
	var offs [maxOps]int
	for it := lo; it < hi; it++ {
		n := k.l.item(it, offs[:])
		if !binaryInner(k.op, o[offs[0]:offs[0]+n], x[offs[1]:], sx, y[offs[2]:], sy) {
			k.divByZero.Store(true)
		}
	}
}

// binaryInner computes o[i] = x[i·sx] op y[i·sy]; it reports false on an
// integer division by zero.
func binaryInner[T numeric](op ir.Op, o, x []T, sx int, y []T, sy int) bool {
	if sx == 1 && sy == 1 && simdOn && len(o) >= 8 {
		var z T
		if _, ok := any(z).(float32); ok && binaryF32Vector(op, f32view(o), f32view(x), f32view(y)) {
			return true
		}
	}
	ix, iy := 0, 0
	switch op {
	case ir.OpAdd:
		if sx == 1 && sy == 1 {
			x, y = x[:len(o)], y[:len(o)]
			for i := range o {
				o[i] = x[i] + y[i]
			}
			return true
		}
		for i := range o {
			o[i] = x[ix] + y[iy]
			ix, iy = ix+sx, iy+sy
		}
	case ir.OpSub:
		for i := range o {
			o[i] = x[ix] - y[iy]
			ix, iy = ix+sx, iy+sy
		}
	case ir.OpMul:
		if sx == 1 && sy == 1 {
			x, y = x[:len(o)], y[:len(o)]
			for i := range o {
				o[i] = x[i] * y[i]
			}
			return true
		}
		for i := range o {
			o[i] = x[ix] * y[iy]
			ix, iy = ix+sx, iy+sy
		}
	case ir.OpDiv:
		var zero T
		isInt := T(1)/T(2) == zero
		for i := range o {
			d := y[iy]
			if isInt && d == 0 {
				return false
			}
			o[i] = x[ix] / d
			ix, iy = ix+sx, iy+sy
		}
	case ir.OpMax:
		for i := range o {
			o[i] = max(x[ix], y[iy])
			ix, iy = ix+sx, iy+sy
		}
	case ir.OpMin:
		for i := range o {
			o[i] = min(x[ix], y[iy])
			ix, iy = ix+sx, iy+sy
		}
	}
	return true
}

func buildBinary(c *compileCtx, v *ir.Value) (kernel, error) {
	x, y, out, l := c.buf(v.Args[0]), c.buf(v.Args[1]), c.buf(v), operandLoop(v)
	switch v.Type.DType {
	case ir.F32:
		return &binaryKernel[float32]{op: v.Op, l: l, x: x, y: y, out: out, pool: c.pool}, nil
	case ir.I32:
		return &binaryKernel[int32]{op: v.Op, l: l, x: x, y: y, out: out, pool: c.pool}, nil
	case ir.I64:
		return &binaryKernel[int64]{op: v.Op, l: l, x: x, y: y, out: out, pool: c.pool}, nil
	}
	return nil, nil
}

// compareKernel computes a broadcasting comparison into bool (uint8).
type compareKernel[T scalar] struct {
	op        ir.Op
	l         *ndLoop
	x, y, out *buffer
	pool      *parallel.Pool
}

func (k *compareKernel[T]) run() error { parFor(k.pool, k.l.nitems, k.l.blk, k); return nil }

func (k *compareKernel[T]) Range(lo, hi int) {
	x, y, o := view[T](k.x), view[T](k.y), view[uint8](k.out)
	sx, sy := k.l.istr[1], k.l.istr[2]
	var offs [maxOps]int
	for it := lo; it < hi; it++ {
		n := k.l.item(it, offs[:])
		compareInner(k.op, o[offs[0]:offs[0]+n], x[offs[1]:], sx, y[offs[2]:], sy)
	}
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func compareInner[T scalar](op ir.Op, o []uint8, x []T, sx int, y []T, sy int) {
	if sx == 1 && sy == 1 {
		compareUnit(op, o, x[:len(o)], y[:len(o)])
		return
	}
	ix, iy := 0, 0
	for i := range o {
		a, b := x[ix], y[iy]
		var r bool
		switch op {
		case ir.OpEq:
			r = a == b
		case ir.OpNe:
			r = a != b
		case ir.OpLt:
			r = a < b
		case ir.OpLe:
			r = a <= b
		case ir.OpGt:
			r = a > b
		case ir.OpGe:
			r = a >= b
		}
		o[i] = b2u(r)
		ix, iy = ix+sx, iy+sy
	}
}

// compareUnit is compareInner for unit strides: one loop per op, no
// branch on the data.
func compareUnit[T scalar](op ir.Op, o []uint8, x, y []T) {
	x, y = x[:len(o)], y[:len(o)]
	switch op {
	case ir.OpEq:
		for i := range o {
			o[i] = b2u(x[i] == y[i])
		}
	case ir.OpNe:
		for i := range o {
			o[i] = b2u(x[i] != y[i])
		}
	case ir.OpLt:
		for i := range o {
			o[i] = b2u(x[i] < y[i])
		}
	case ir.OpLe:
		for i := range o {
			o[i] = b2u(x[i] <= y[i])
		}
	case ir.OpGt:
		for i := range o {
			o[i] = b2u(x[i] > y[i])
		}
	case ir.OpGe:
		for i := range o {
			o[i] = b2u(x[i] >= y[i])
		}
	}
}

func buildCompare(c *compileCtx, v *ir.Value) (kernel, error) {
	x, y, out, l := c.buf(v.Args[0]), c.buf(v.Args[1]), c.buf(v), operandLoop(v)
	switch x.dt {
	case ir.F32:
		return &compareKernel[float32]{v.Op, l, x, y, out, c.pool}, nil
	case ir.I32:
		return &compareKernel[int32]{v.Op, l, x, y, out, c.pool}, nil
	case ir.I64:
		return &compareKernel[int64]{v.Op, l, x, y, out, c.pool}, nil
	}
	return &compareKernel[uint8]{v.Op, l, x, y, out, c.pool}, nil
}

// whereKernel selects between x and y by a bool condition, broadcasting
// all three; T is an unsigned type of the element size.
type whereKernel[T uint8 | uint32 | uint64] struct {
	l            *ndLoop
	c, x, y, out *buffer
	pool         *parallel.Pool
}

func (k *whereKernel[T]) run() error { parFor(k.pool, k.l.nitems, k.l.blk, k); return nil }

func (k *whereKernel[T]) Range(lo, hi int) {
	c, x, y, o := view[uint8](k.c), view[T](k.x), view[T](k.y), view[T](k.out)
	sc, sx, sy := k.l.istr[1], k.l.istr[2], k.l.istr[3]
	var offs [maxOps]int
	for it := lo; it < hi; it++ {
		n := k.l.item(it, offs[:])
		oo, cc, xx, yy := o[offs[0]:offs[0]+n], c[offs[1]:], x[offs[2]:], y[offs[3]:]
		ic, ix, iy := 0, 0, 0
		for i := range oo {
			if cc[ic] != 0 {
				oo[i] = xx[ix]
			} else {
				oo[i] = yy[iy]
			}
			ic, ix, iy = ic+sc, ix+sx, iy+sy
		}
	}
}

func buildWhere(c *compileCtx, v *ir.Value) (kernel, error) {
	l := operandLoop(v)
	cb, x, y, out := c.buf(v.Args[0]), c.buf(v.Args[1]), c.buf(v.Args[2]), c.buf(v)
	switch v.Type.DType.Size() {
	case 1:
		return &whereKernel[uint8]{l, cb, x, y, out, c.pool}, nil
	case 4:
		return &whereKernel[uint32]{l, cb, x, y, out, c.pool}, nil
	case 8:
		return &whereKernel[uint64]{l, cb, x, y, out, c.pool}, nil
	}
	return nil, unsupported(v, v.Type)
}

// geluShareOn enables shareGeluPhi (tests turn it off to compare).
var geluShareOn = true

// shareGeluPhi links each gelu_backward (erf form, AVX2) to a gelu
// forward on the same x that it depends on (its dy is computed from the
// forward's result, so every schedule runs the forward first): the
// forward then also writes GELU'(x) = Φ(x) + x·φ(x) into a buffer of its
// own (outside the memory plan; φ's exp(-x²/2) is the one the forward's
// erfc already computes, so this costs two operations a lane), and the
// backward is the product dy·GELU'(x) (W4: 2 × 1M elements per step).
// The derivative is computed by the operations of the unlinked backward,
// so the results are the unlinked kernels' bits.
func (p *Program) shareGeluPhi() {
	if !geluShareOn || !simdOn {
		return
	}
	type forward struct {
		v *ir.Value
		k *unaryF32
	}
	fwd := map[*ir.Value]forward{}
	for _, s := range p.steps {
		switch k := s.k.(type) {
		case *unaryF32:
			if k.act == gemm.ActGELU {
				fwd[s.v.Args[0]] = forward{s.v, k}
			}
		case *gradF32:
			if k.op != ir.OpGeluBackward {
				continue
			}
			f, ok := fwd[s.v.Args[0]]
			if !ok || f.k.out.n != k.out.n || !dependsOn(s.v.Args[1], f.v) {
				continue
			}
			if f.k.deriv == nil {
				f.k.deriv = make([]float32, k.out.n)
			}
			k.deriv = f.k.deriv
		}
	}
}

// binaryF32Vector computes o[i] = x[i] op y[i] for op add, sub or mul by
// the AVX2 kernels (the elements past the last 8 by the scalar loop),
// bit for bit the scalar loop's float32 results; it reports false for
// the other ops.
func binaryF32Vector(op ir.Op, o, x, y []float32) bool {
	var f func(o, x, y *float32, n int)
	switch op {
	case ir.OpAdd:
		f = addF32AVX2
	case ir.OpSub:
		f = subF32AVX2
	case ir.OpMul:
		f = mulF32AVX2
	default:
		return false
	}
	n := len(o)
	x, y = x[:n], y[:n]
	nv := n &^ 7
	f(&o[0], &x[0], &y[0], nv)
	for i := nv; i < n; i++ {
		switch op {
		case ir.OpAdd:
			o[i] = x[i] + y[i]
		case ir.OpSub:
			o[i] = x[i] - y[i]
		default:
			o[i] = x[i] * y[i]
		}
	}
	return true
}

// f32view is s (whose elements are float32) as a []float32.
func f32view[T numeric](s []T) []float32 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&s[0])), len(s))
}
