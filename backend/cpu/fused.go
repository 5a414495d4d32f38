// This file implements the fused ops that the fuse pass makes:
// matmul_bias (a GEMM with its bias and activation epilogue) and fused
// (an elementwise group with an expression body).
//
// A fused body runs block by block, not element by element: each
// instruction is one tight loop over a block of fusedBlock elements held
// in a register, so the dispatch on the op is paid once per block and
// the registers stay in L1. Operands read with unit stride are used in
// place; broadcast ones are expanded into their register; the last
// instruction writes straight into the result.

package cpu

import (
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildMatMulBias, ir.OpMatMulBias)
	register(buildFused, ir.OpFused)
}

// gemmAct maps the epilogue attributes of matmul_bias to gemm's.
func gemmAct(a ir.MatMulBiasAttr) gemm.Activation {
	op, aux := a.Activation()
	if op == ir.OpRelu {
		return gemm.ActReLU
	}
	return actOf(op, aux)
}

// matmulBiasInt is an integer matmul_bias: the product, then the bias
// added to every row (integers take no activation).
type matmulBiasInt[T numeric] struct {
	mm        kernel
	bias, out *buffer
}

func (k *matmulBiasInt[T]) run() error {
	if err := k.mm.run(); err != nil {
		return err
	}
	o, b := view[T](k.out), view[T](k.bias)
	for r := 0; r < len(o); r += len(b) {
		row := o[r : r+len(b)]
		for j := range row {
			row[j] += b[j]
		}
	}
	return nil
}

func buildMatMulBias(c *compileCtx, v *ir.Value) (kernel, error) {
	at := v.Aux.(ir.MatMulBiasAttr)
	mv := &ir.Value{Op: ir.OpMatMul, Type: v.Type, Args: v.Args[:2], Aux: at.MatMul()}
	c.bufs[mv] = c.bufs[v]
	defer delete(c.bufs, mv)
	mm, err := buildMatMul(c, mv)
	if err != nil {
		return nil, err
	}
	bias := c.buf(v.Args[2])
	switch k := mm.(type) {
	case *matmulF32:
		k.bias, k.act = bias, gemmAct(at)
		if k.act == gemm.ActGELU && simdOn {
			// The vector GELU after the product beats the epilogue's
			// scalar one by far.
			k.act = gemm.ActNone
			return &postGelu{mm: k, out: c.buf(v), pool: c.pool}, nil
		}
		return k, nil
	case *matmulInt[int32]:
		return &matmulBiasInt[int32]{k, bias, c.buf(v)}, nil
	case *matmulInt[int64]:
		return &matmulBiasInt[int64]{k, bias, c.buf(v)}, nil
	}
	return nil, unsupported(v, v.Type)
}

// postGelu is a matmul_bias whose GELU (erf form) runs after the
// product, 8 lanes at a time (geluF32).
type postGelu struct {
	mm   kernel
	out  *buffer
	pool *parallel.Pool
}

func (k *postGelu) run() error {
	if err := k.mm.run(); err != nil {
		return err
	}
	parFor(k.pool, k.out.n, 64, k)
	return nil
}

func (k *postGelu) Range(lo, hi int) {
	o := f32s(k.out)[lo:hi]
	geluF32(o, o, nil)
}

// fusedBlock is the number of elements a fused register holds.
const fusedBlock = 512

// A frame is one worker's register file: for each register, where its
// block is (its own storage, or an operand or the result read in place).
type frame struct {
	regs []unsafe.Pointer
	own  []unsafe.Pointer // each register's own storage
	offs []int            // loop offsets: result, then operands
}

// regView returns register r of f as n elements of T.
func regView[T any](f *frame, r, n int) []T { return unsafe.Slice((*T)(f.regs[r]), n) }

// A finstr is one instruction of a fused body, prepared to run on
// blocks: exec computes register dst from args over n elements and
// reports false on an integer division by zero.
type finstr struct {
	dst  int
	args []int
	exec func(f *frame, in *finstr, n int) bool
}

// fusedKernel runs a fused body over its result, block by block.
type fusedKernel struct {
	nargs   int
	l       *ndLoop
	args    []*buffer
	size    []int // element size of each operand
	out     *buffer
	body    []finstr
	frames  []*frame // one per worker
	pool    *parallel.Pool
	divZero atomic.Bool
	loadFns []func(f *frame, k int, src unsafe.Pointer, off, stride, n int)
}

func (k *fusedKernel) run() error {
	grain := max(1, parMinWork/max(1, k.l.blk*len(k.body)))
	if k.l.nitems <= grain {
		k.RangeWorker(0, 0, k.l.nitems)
	} else {
		k.pool.ForWorker(k.l.nitems, grain, k)
	}
	if k.divZero.Load() {
		k.divZero.Store(false)
		return errDivZero
	}
	return nil
}

func (k *fusedKernel) RangeWorker(w, lo, hi int) {
	f := k.frames[w]
	last := k.body[len(k.body)-1].dst
	outSize := k.out.dt.Size()
	for it := lo; it < hi; it++ {
		n := k.l.item(it, f.offs)
		for a := range k.nargs {
			b := k.args[a]
			off, st := f.offs[a+1], k.l.istr[a+1]
			if st == 1 {
				f.regs[a] = unsafe.Add(b.p, off*k.size[a])
			} else {
				f.regs[a] = f.own[a]
				k.loadFns[a](f, a, b.p, off, st, n)
			}
		}
		f.regs[last] = unsafe.Add(k.out.p, f.offs[0]*outSize)
		for i := range k.body {
			in := &k.body[i]
			if !in.exec(f, in, n) {
				k.divZero.Store(true)
			}
		}
		f.regs[last] = f.own[last]
	}
}

// load expands n elements of an operand read with stride st (0 when
// broadcast) into its own register.
func load[T word](f *frame, k int, src unsafe.Pointer, off, st, n int) {
	dst := unsafe.Slice((*T)(f.own[k]), n)
	s := unsafe.Slice((*T)(src), off+(n-1)*st+1)[off:]
	if st == 0 {
		v := s[0]
		for i := range dst {
			dst[i] = v
		}
		return
	}
	for i := range dst {
		dst[i] = s[i*st]
	}
}

func loaderOf(size int) func(f *frame, k int, src unsafe.Pointer, off, stride, n int) {
	switch size {
	case 1:
		return load[uint8]
	case 4:
		return load[uint32]
	}
	return load[uint64]
}

// reluGradKernel is the fused body of relu's backward, where(gt(x, 0),
// dy, 0), on operands of the result's shape.
type reluGradKernel struct {
	x, dy, out *buffer
	pool       *parallel.Pool
}

func (k *reluGradKernel) run() error {
	parFor(k.pool, k.out.n, 2, k)
	return nil
}

func (k *reluGradKernel) Range(lo, hi int) {
	reluGradF32(f32s(k.out)[lo:hi], f32s(k.x)[lo:hi], f32s(k.dy)[lo:hi])
}

// isReluGrad says whether v is fused(x, dy) {$2 = fill 0; $3 = gt($0,
// $2); $4 = where($3, $1, $2)} on f32 operands of its own shape.
func isReluGrad(v *ir.Value) bool {
	fa := v.Aux.(ir.FusedAttr)
	if len(v.Args) != 2 || len(fa.Body) != 3 || v.Type.DType != ir.F32 {
		return false
	}
	for _, a := range v.Args {
		if a.Type.DType != ir.F32 || !a.Type.Shape.Equal(v.Type.Shape) {
			return false
		}
	}
	f, gt, w := fa.Body[0], fa.Body[1], fa.Body[2]
	fill, ok := f.Aux.(ir.FillAttr)
	return f.Op == ir.OpFill && f.DType == ir.F32 && ok && fill.Value == 0 &&
		gt.Op == ir.OpGt && slices.Equal(gt.Args, []int{0, 2}) &&
		w.Op == ir.OpWhere && w.DType == ir.F32 && slices.Equal(w.Args, []int{3, 1, 2})
}

// geluGradKernel is the fused body of GELU's (erf form) backward,
// dy·(Φ(x) + x·φ(x)), on operands of the result's shape.
type geluGradKernel struct {
	x, dy, out *buffer
	pool       *parallel.Pool
}

func (k *geluGradKernel) run() error {
	parFor(k.pool, k.out.n, 64, k)
	return nil
}

func (k *geluGradKernel) Range(lo, hi int) {
	geluF32(f32s(k.out)[lo:hi], f32s(k.x)[lo:hi], f32s(k.dy)[lo:hi])
}

// geluGradBody is the body ir's VJP of gelu (erf form) fuses into, with
// x as $0 and dy as $1: for each instruction its op, operands and, for a
// fill, its value.
var geluGradBody = []struct {
	op   ir.Op
	args []int
	val  float64
}{
	{ir.OpFill, nil, 0.7071067811865476}, {ir.OpMul, []int{0, 2}, 0}, {ir.OpErf, []int{3}, 0},
	{ir.OpFill, nil, 1}, {ir.OpAdd, []int{4, 5}, 0}, {ir.OpFill, nil, 0.5}, {ir.OpMul, []int{6, 7}, 0},
	{ir.OpMul, []int{0, 0}, 0}, {ir.OpFill, nil, -0.5}, {ir.OpMul, []int{9, 10}, 0}, {ir.OpExp, []int{11}, 0},
	{ir.OpFill, nil, 0.3989422804014327}, {ir.OpMul, []int{12, 13}, 0}, {ir.OpMul, []int{0, 14}, 0},
	{ir.OpAdd, []int{8, 15}, 0}, {ir.OpMul, []int{1, 16}, 0},
}

// isGeluGrad says whether v is geluGradBody on f32 operands of its shape.
func isGeluGrad(v *ir.Value) bool {
	fa := v.Aux.(ir.FusedAttr)
	if len(v.Args) != 2 || len(fa.Body) != len(geluGradBody) || v.Type.DType != ir.F32 {
		return false
	}
	for _, a := range v.Args {
		if a.Type.DType != ir.F32 || !a.Type.Shape.Equal(v.Type.Shape) {
			return false
		}
	}
	for i, in := range fa.Body {
		w := geluGradBody[i]
		if in.Op != w.op || in.DType != ir.F32 || !slices.Equal(in.Args, w.args) {
			return false
		}
		if in.Op == ir.OpFill {
			if f, ok := in.Aux.(ir.FillAttr); !ok || f.Value != w.val {
				return false
			}
		}
	}
	return true
}

func buildFused(c *compileCtx, v *ir.Value) (kernel, error) {
	fa := v.Aux.(ir.FusedAttr)
	if isReluGrad(v) {
		return &reluGradKernel{x: c.buf(v.Args[0]), dy: c.buf(v.Args[1]), out: c.buf(v), pool: c.pool}, nil
	}
	if simdOn && isGeluGrad(v) {
		return &geluGradKernel{x: c.buf(v.Args[0]), dy: c.buf(v.Args[1]), out: c.buf(v), pool: c.pool}, nil
	}
	n := len(v.Args)
	k := &fusedKernel{nargs: n, l: newLoopBlock(v.Type.Shape, fusedBlock, operandStrides(v)...),
		out: c.buf(v), pool: c.pool}
	dts := make([]ir.DType, 0, n+len(fa.Body))
	for _, a := range v.Args {
		k.args = append(k.args, c.buf(a))
		k.size = append(k.size, a.Type.DType.Size())
		k.loadFns = append(k.loadFns, loaderOf(a.Type.DType.Size()))
		dts = append(dts, a.Type.DType)
	}
	var consts []int // registers of fills, with their values set below
	for j, in := range fa.Body {
		argDT := ir.InvalidDType
		if len(in.Args) > 0 {
			argDT = dts[in.Args[0]]
			if in.Op == ir.OpWhere {
				argDT = dts[in.Args[1]]
			}
		}
		exec, err := instrExec(in, argDT)
		if err != nil {
			return nil, err
		}
		k.body = append(k.body, finstr{dst: n + j, args: in.Args, exec: exec})
		dts = append(dts, in.DType)
		if in.Op == ir.OpFill {
			consts = append(consts, j)
		}
	}
	for range c.pool.Size() {
		f := &frame{regs: make([]unsafe.Pointer, len(dts)), own: make([]unsafe.Pointer, len(dts)), offs: make([]int, n+1)}
		for r := range dts {
			f.own[r] = unsafe.Pointer(&make([]uint64, fusedBlock)[0])
			f.regs[r] = f.own[r]
		}
		// Constants are computed once: their registers are never written.
		for _, j := range consts {
			k.body[j].exec(f, &k.body[j], fusedBlock)
		}
		k.frames = append(k.frames, f)
	}
	if len(consts) > 0 {
		body := k.body[:0]
		for j := range k.body {
			if fa.Body[j].Op != ir.OpFill || j == len(k.body)-1 {
				body = append(body, k.body[j])
			}
		}
		k.body = body
	}
	return k, nil
}

// operandStrides returns the contiguous strides of v's result followed
// by each operand's broadcast strides.
func operandStrides(v *ir.Value) [][]int {
	st := [][]int{contiguous(v.Type.Shape)}
	for _, a := range v.Args {
		st = append(st, bcastStrides(v.Type.Shape, a.Type.Shape))
	}
	return st
}

// instrExec prepares one body instruction; argDT is the dtype of its
// (value) operands.
func instrExec(in ir.FusedInstr, argDT ir.DType) (func(f *frame, in *finstr, n int) bool, error) {
	op := in.Op
	switch {
	case op == ir.OpFill:
		return fillExec(in.DType, in.Aux.(ir.FillAttr).Value), nil
	case op == ir.OpCast:
		return castExec(argDT, in.DType), nil
	case op == ir.OpWhere:
		switch argDT.Size() {
		case 1:
			return whereExec[uint8], nil
		case 4:
			return whereExec[uint32], nil
		}
		return whereExec[uint64], nil
	case op == ir.OpEq || op == ir.OpNe || op == ir.OpLt || op == ir.OpLe || op == ir.OpGt || op == ir.OpGe:
		switch argDT {
		case ir.F32:
			return compareExec[float32](op), nil
		case ir.I32:
			return compareExec[int32](op), nil
		case ir.I64:
			return compareExec[int64](op), nil
		}
		return compareExec[uint8](op), nil
	case len(in.Args) == 2:
		switch argDT {
		case ir.F32:
			return binaryExec[float32](op), nil
		case ir.I32:
			return binaryExec[int32](op), nil
		case ir.I64:
			return binaryExec[int64](op), nil
		}
	case isNumUnary(op):
		switch argDT {
		case ir.F32:
			return unaryNumExec[float32](op), nil
		case ir.I32:
			return unaryNumExec[int32](op), nil
		case ir.I64:
			return unaryNumExec[int64](op), nil
		}
	case len(in.Args) == 1 && argDT == ir.F32:
		act := actOf(op, in.Aux)
		return func(f *frame, in *finstr, n int) bool {
			unaryF32Inner(op, act, regView[float32](f, in.dst, n), regView[float32](f, in.args[0], n))
			return true
		}, nil
	}
	return nil, errUnsupportedInstr{op, argDT}
}

type errUnsupportedInstr struct {
	op ir.Op
	dt ir.DType
}

func (e errUnsupportedInstr) Error() string {
	return "no fused instruction " + e.op.String() + " on " + e.dt.String()
}

func fillExec(dt ir.DType, v float64) func(f *frame, in *finstr, n int) bool {
	return func(f *frame, in *finstr, n int) bool {
		switch dt {
		case ir.F32:
			for i, r := 0, regView[float32](f, in.dst, n); i < n; i++ {
				r[i] = float32(v)
			}
		case ir.I32:
			for i, r := 0, regView[int32](f, in.dst, n); i < n; i++ {
				r[i] = int32(v)
			}
		case ir.I64:
			for i, r := 0, regView[int64](f, in.dst, n); i < n; i++ {
				r[i] = int64(v)
			}
		case ir.Bool:
			for i, r := 0, regView[uint8](f, in.dst, n); i < n; i++ {
				r[i] = b2u(v != 0)
			}
		}
		return true
	}
}

func castExec(from, to ir.DType) func(f *frame, in *finstr, n int) bool {
	switch from {
	case ir.F32:
		return castExecFrom[float32](to)
	case ir.I32:
		return castExecFrom[int32](to)
	case ir.I64:
		return castExecFrom[int64](to)
	}
	return castExecFrom[uint8](to)
}

func castExecFrom[S scalar](to ir.DType) func(f *frame, in *finstr, n int) bool {
	switch to {
	case ir.F32:
		return castExecTo[S, float32](false)
	case ir.I32:
		return castExecTo[S, int32](false)
	case ir.I64:
		return castExecTo[S, int64](false)
	}
	return castExecTo[S, uint8](true)
}

func castExecTo[S, D scalar](toBool bool) func(f *frame, in *finstr, n int) bool {
	return func(f *frame, in *finstr, n int) bool {
		castInner(toBool, regView[D](f, in.dst, n), regView[S](f, in.args[0], n))
		return true
	}
}

func whereExec[T word](f *frame, in *finstr, n int) bool {
	c, x, y, o := regView[uint8](f, in.args[0], n), regView[T](f, in.args[1], n), regView[T](f, in.args[2], n), regView[T](f, in.dst, n)
	c, x, y = c[:len(o)], x[:len(o)], y[:len(o)]
	for i := range o {
		m := -T(c[i]) // bools are 0 or 1: all ones or zero, no branch on the data
		o[i] = x[i]&m | y[i]&^m
	}
	return true
}

func compareExec[T scalar](op ir.Op) func(f *frame, in *finstr, n int) bool {
	return func(f *frame, in *finstr, n int) bool {
		compareInner(op, regView[uint8](f, in.dst, n), regView[T](f, in.args[0], n), 1, regView[T](f, in.args[1], n), 1)
		return true
	}
}

func binaryExec[T numeric](op ir.Op) func(f *frame, in *finstr, n int) bool {
	return func(f *frame, in *finstr, n int) bool {
		return binaryInner(op, regView[T](f, in.dst, n), regView[T](f, in.args[0], n), 1, regView[T](f, in.args[1], n), 1)
	}
}

func unaryNumExec[T numeric](op ir.Op) func(f *frame, in *finstr, n int) bool {
	return func(f *frame, in *finstr, n int) bool {
		unaryNumInner(op, regView[T](f, in.dst, n), regView[T](f, in.args[0], n))
		return true
	}
}
