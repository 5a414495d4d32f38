// This file implements the kernel interface, the registry of kernel
// builders by op, typed views of buffers and the shape arithmetic shared
// by the kernel families.

package cpu

import (
	"fmt"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// A kernel computes one value of the graph. Compile prepares it once with
// its buffers and shape arithmetic resolved; run executes it and must not
// allocate (an error return is the only exception, on bad data such as
// an id out of range).
type kernel interface {
	run() error
}

// A builder prepares the kernel of v. It returns a nil kernel when v
// needs no work (a reshape that aliases its operand).
type builder func(c *compileCtx, v *ir.Value) (kernel, error)

// builders holds the builder of every op; each kernel-family file
// registers its ops in an init function.
var builders = map[ir.Op]builder{}

func register(b builder, ops ...ir.Op) {
	for _, op := range ops {
		if builders[op] != nil {
			panic("cpu: two kernels for " + op.String())
		}
		builders[op] = b
	}
}

// HasKernel reports whether the backend can run op.
func HasKernel(op ir.Op) bool { return op == ir.OpInput || builders[op] != nil }

// A buffer is the storage of one value: an arena slot, an input's own
// storage or caller-bound storage. Values that share storage (aliases,
// in-place updates) share the *buffer, so rebinding an input is seen by
// every kernel that reads it.
type buffer struct {
	p  unsafe.Pointer // first element; nil when n == 0
	n  int            // number of elements
	dt ir.DType
}

// view returns b's elements as a []T; T must match b.dt's size.
func view[T any](b *buffer) []T {
	if b.n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(b.p), b.n)
}

func f32s(b *buffer) []float32 { return view[float32](b) }

// scalarInt reads an integer scalar (i32 or i64) such as step or seed.
func scalarInt(b *buffer) int64 {
	if b.dt == ir.I32 {
		return int64(*(*int32)(b.p))
	}
	return *(*int64)(b.p)
}

// scalarF32 reads an f32 scalar such as the learning rate.
func scalarF32(b *buffer) float32 { return *(*float32)(b.p) }

// A compileCtx holds what builders need while Compile prepares kernels.
type compileCtx struct {
	g    *ir.Graph
	plan *ir.Plan
	bufs map[*ir.Value]*buffer
	pool *parallel.Pool
	opts Options

	frozen []*matmulF32 // products by a frozen weight (Options.FrozenWeights)
	// accumulate: the matmuls that add into the storage they take over
	// (accumulateFolds): gemm's Beta = 1.
	accumulate map[*ir.Value]bool
}

func (c *compileCtx) buf(v *ir.Value) *buffer { return c.bufs[v] }

// unsupported is the error of a builder given a dtype it does not handle.
func unsupported(v *ir.Value, t ir.Type) error {
	return fmt.Errorf("cpu: %s: no kernel for %v operands", v.Op, t)
}

// parMinWork is the number of elements (or comparable units of work)
// below which a kernel does not hand chunks to the pool: a hand-off costs
// about a microsecond, which a chunk should dwarf.
const parMinWork = 1 << 14

// parWakeWork is the work (units as parMinWork) below which a kernel does
// not wake a parked helper: the wake-up and the helper's start take
// several µs, more than half of such a job saves. Helpers still spinning
// from the previous kernel are used whatever the size.
const parWakeWork = 1 << 16

// parFor runs r over [0, n) items of perItem units of work each, split
// over the pool only when every chunk gets at least parMinWork units (and,
// below parWakeWork in all, only when the helpers are awake). The chunks
// depend only on n, perItem and the pool size.
func parFor(pool *parallel.Pool, n, perItem int, r parallel.Ranger) {
	grain := max(1, parMinWork/max(1, perItem))
	if n <= grain {
		r.Range(0, n)
		return
	}
	if n*max(1, perItem) < parWakeWork {
		pool.ForRangerSmall(n, grain, r)
		return
	}
	pool.ForRanger(n, grain, r)
}

// maxOps is the number of operands (the result included) up to which
// kernels keep an ndLoop's offsets in an array on the stack.
const maxOps = 4

// An ndLoop walks a result shape with, for each operand, a stride per
// dimension (0 where the operand is broadcast). Dimensions of size 1 are
// dropped and adjacent ones merged where every operand allows it. The
// innermost dimension is cut into blocks; an item is one block of one
// outer row, so both many short rows and one long row split over cores.
type ndLoop struct {
	nops   int
	outer  []int   // outer dims, outermost first
	ostr   [][]int // per operand, the stride of each outer dim
	inner  int     // length of the innermost dim
	istr   []int   // per operand, its stride
	blk    int     // block length along inner
	nblk   int     // blocks per row
	nitems int
}

// loopBlock is the length of an ndLoop block along the innermost dim.
const loopBlock = 4096

// newLoop prepares the walk of shape with the given per-operand strides
// (each of len(shape)).
func newLoop(shape ir.Shape, strides ...[]int) *ndLoop {
	return newLoopBlock(shape, loopBlock, strides...)
}

// newLoopBlock is newLoop with blocks of at most blk elements.
func newLoopBlock(shape ir.Shape, blk int, strides ...[]int) *ndLoop {
	var dims []int
	strs := make([][]int, len(strides))
	for d, n := range shape {
		if n == 1 {
			continue
		}
		if k := len(dims) - 1; k >= 0 {
			merge := true
			for i, st := range strides {
				if strs[i][k] != st[d]*n {
					merge = false
					break
				}
			}
			if merge {
				dims[k] *= n
				for i, st := range strides {
					strs[i][k] = st[d]
				}
				continue
			}
		}
		dims = append(dims, n)
		for i, st := range strides {
			strs[i] = append(strs[i], st[d])
		}
	}
	l := &ndLoop{nops: len(strides), inner: 1, ostr: make([][]int, len(strides)), istr: make([]int, len(strides))}
	for _, n := range shape {
		if n == 0 {
			return l
		}
	}
	if k := len(dims) - 1; k >= 0 {
		l.inner = dims[k]
		for i := range strides {
			l.istr[i] = strs[i][k]
			l.ostr[i] = strs[i][:k]
		}
		l.outer = dims[:k]
	}
	rows := 1
	for _, n := range l.outer {
		rows *= n
	}
	l.blk = min(l.inner, blk)
	l.nblk = (l.inner + l.blk - 1) / l.blk
	l.nitems = rows * l.nblk
	return l
}

// item sets offs to the offsets of each operand at the start of item it
// and returns the item's length along the innermost dim.
func (l *ndLoop) item(it int, offs []int) int {
	row, b := it/l.nblk, it%l.nblk
	j0 := b * l.blk
	for k := 0; k < l.nops; k++ {
		offs[k] = j0 * l.istr[k]
	}
	for d := len(l.outer) - 1; d >= 0; d-- {
		n := l.outer[d]
		i := row % n
		row /= n
		for k := 0; k < l.nops; k++ {
			offs[k] += i * l.ostr[k][d]
		}
	}
	return min(l.blk, l.inner-j0)
}

// contiguous returns the row-major strides of s.
func contiguous(s ir.Shape) []int { return s.Strides() }

// bcastStrides returns the strides with which an operand of shape in is
// read at each index of the result shape out (NumPy broadcasting): 0 on
// the dims in lacks or has as 1.
func bcastStrides(out, in ir.Shape) []int {
	st := make([]int, len(out))
	ist := in.Strides()
	off := len(out) - len(in)
	for i, d := range in {
		if d != 1 {
			st[off+i] = ist[i]
		}
	}
	return st
}

// numeric are the element types of arithmetic.
type numeric interface {
	~float32 | ~int32 | ~int64
}

// scalar are the element types of comparisons, casts and selections;
// bool is held as a uint8 that is 0 or 1.
type scalar interface {
	~float32 | ~int32 | ~int64 | ~uint8
}

// bytesOf returns b's storage as bytes.
func bytesOf(b *buffer) []byte {
	if b.n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(b.p), b.n*b.dt.Size())
}
