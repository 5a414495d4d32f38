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
	if o, isObs := mm.(*observed); isObs {
		// Calibration: the observer wraps the whole matmul_bias.
		o.kernel, err = matmulBiasOf(c, v, at, o.kernel, bias)
		return o, err
	}
	return matmulBiasOf(c, v, at, mm, bias)
}

func matmulBiasOf(c *compileCtx, v *ir.Value, at ir.MatMulBiasAttr, mm kernel, bias *buffer) (kernel, error) {
	switch k := mm.(type) {
	case *matmulInt8:
		k.bias, k.ep.Act = bias, actOf(at.Act.Op, at.Act.Aux)
		if !at.Act.IsNone() && k.ep.Act == gemm.ActNone {
			k.post = at.Act.Op.Scalar(at.Act.Aux, ir.F32)
		}
		return k, nil
	case *matmulF32:
		k.bias, k.act = bias, actOf(at.Act.Op, at.Act.Aux)
		if k.act == gemm.ActGELU && simdOn && geluFoldOn {
			// The vector GELU on each block of the product as it is
			// finished (geluTile, no derivative kept): the bits of the
			// pass after the product, below.
			k.act = gemm.ActNone
			for i := range k.ps {
				k.ps[i].Tile = &geluTile{}
			}
			return k, nil
		}
		if !at.Act.IsNone() && (k.act == gemm.ActNone || k.act == gemm.ActGELU && simdOn) {
			// The vector GELU after the product beats the epilogue's
			// scalar one by far; an activation that is not one of gemm's
			// runs after the product too, with the op table's arithmetic.
			post := &postActivation{mm: k, act: k.act, out: c.buf(v), pool: c.pool}
			if k.act == gemm.ActNone {
				post.f = at.Act.Op.Scalar(at.Act.Aux, ir.F32)
			}
			k.act = gemm.ActNone
			return post, nil
		}
		return k, nil
	case *matmulInt[int32]:
		return &matmulBiasInt[int32]{k, bias, c.buf(v)}, nil
	case *matmulInt[int64]:
		return &matmulBiasInt[int64]{k, bias, c.buf(v)}, nil
	}
	return nil, unsupported(v, v.Type)
}

// postActivation is a matmul_bias whose activation runs after the
// product: GELU (erf form) 8 lanes at a time (geluF32), or an activation
// gemm does not have with the op table's arithmetic f.
type postActivation struct {
	mm   kernel
	act  gemm.Activation
	f    ir.ScalarFunc
	out  *buffer
	pool *parallel.Pool
}

func (k *postActivation) run() error {
	if err := k.mm.run(); err != nil {
		return err
	}
	parFor(k.pool, k.out.n, 64, k)
	return nil
}

func (k *postActivation) Range(lo, hi int) {
	o := f32s(k.out)[lo:hi]
	unaryF32Inner(k.act, k.f, o, o)
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
	name string // the loop that exec runs, for tests (see instrExec)
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

func buildFused(c *compileCtx, v *ir.Value) (kernel, error) {
	fa := v.Aux.(ir.FusedAttr)
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
		argDTs := make([]ir.DType, len(in.Args))
		for i, r := range in.Args {
			argDTs[i] = dts[r]
		}
		name, exec := instrExec(in, argDTs)
		k.body = append(k.body, finstr{dst: n + j, args: in.Args, exec: exec, name: name})
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

// instrExec prepares one body instruction, whose operand registers have
// dtypes argDTs: its own loop where the op has one (as elementwiseKernels
// for whole tensors), else the op table's arithmetic. It returns the
// name of the loop (the op's name, with /avx2 for a vector loop and
// /table for the table's arithmetic) and the loop.
func instrExec(in ir.FusedInstr, argDTs []ir.DType) (string, func(f *frame, in *finstr, n int) bool) {
	op := in.Op
	argDT := ir.InvalidDType
	if len(argDTs) > 0 {
		argDT = argDTs[0]
	}
	name := op.String()
	switch {
	case op == ir.OpFill:
		return name, fillExec(in.DType, in.Aux.(ir.FillAttr).Value)
	case op == ir.OpCast:
		return name, castExec(argDT, in.DType)
	case op == ir.OpWhere:
		switch argDTs[1].Size() {
		case 1:
			return name, whereExec[uint8]
		case 4:
			return name, whereExec[uint32]
		}
		return name, whereExec[uint64]
	case op == ir.OpEq || op == ir.OpNe || op == ir.OpLt || op == ir.OpLe || op == ir.OpGt || op == ir.OpGe:
		switch argDT {
		case ir.F32:
			return name, compareExec[float32](op)
		case ir.I32:
			return name, compareExec[int32](op)
		case ir.I64:
			return name, compareExec[int64](op)
		}
		return name, compareExec[uint8](op)
	case isBinaryArith(op) && argDT == ir.F32:
		return name, binaryExec[float32](op)
	case isBinaryArith(op) && argDT == ir.I32:
		return name, binaryExec[int32](op)
	case isBinaryArith(op) && argDT == ir.I64:
		return name, binaryExec[int64](op)
	case hasGradF32(op, in.Aux) && argDT == ir.F32:
		if op == ir.OpGeluBackward {
			return name + "/avx2", func(f *frame, in *finstr, n int) bool {
				geluF32(regView[float32](f, in.dst, n), regView[float32](f, in.args[0], n), regView[float32](f, in.args[1], n))
				return true
			}
		}
		if simdOn {
			name += "/avx2"
		}
		return name, func(f *frame, in *finstr, n int) bool {
			reluGradF32(regView[float32](f, in.dst, n), regView[float32](f, in.args[0], n), regView[float32](f, in.args[1], n))
			return true
		}
	case isNumUnary(op) && argDT == ir.F32:
		if op == ir.OpRelu && simdOn {
			name += "/avx2"
		}
		return name, unaryNumExec[float32](op)
	case len(in.Args) == 1 && argDT == ir.F32 && in.DType == ir.F32:
		act := actOf(op, in.Aux)
		switch {
		case act == gemm.ActGELU && simdOn:
			name += "/avx2"
		case act == gemm.ActNone:
			name += "/table"
		}
		fn := op.Scalar(in.Aux, ir.F32)
		return name, func(f *frame, in *finstr, n int) bool {
			unaryF32Inner(act, fn, regView[float32](f, in.dst, n), regView[float32](f, in.args[0], n))
			return true
		}
	}
	return name + "/table", tableExec(in, argDTs)
}

// isBinaryArith reports whether op is one of binaryInner's.
func isBinaryArith(op ir.Op) bool {
	return op == ir.OpAdd || op == ir.OpSub || op == ir.OpMul || op == ir.OpDiv || op == ir.OpMax || op == ir.OpMin
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
