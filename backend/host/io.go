package host

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/encc-lang/encc/ir"
)

// A Buffer is the host storage of one input or named output of a
// program: n elements of dtype dt at p. A backend's buffer type (the CPU
// arena's, the GPU's host mirror) implements it.
type Buffer interface {
	// Host returns the storage's first element (nil when n is 0), its
	// length and its dtype.
	Host() (p unsafe.Pointer, n int, dt ir.DType)
	// SetHost makes the buffer use caller-owned storage p instead.
	SetHost(p unsafe.Pointer)
}

// IO is the binding code a backend's Program shares: inputs and named
// outputs by name, bound to caller-owned slices, read back as slices,
// scalars set from float64. A Program keeps an IO over its buffers and
// forwards Bind, Float32, Int32, Int64, Bool and SetScalar to it.
type IO[B Buffer] struct {
	Backend string    // names the backend in errors and panics: "cpu"
	Graph   *ir.Graph // the program's graph, for the types in errors
	Inputs  map[string]B
	Outputs map[string]B
}

// Bind makes input name use caller-owned storage: data is []float32 for
// f32, []int32 for i32, []int64 for i64, []bool for bool, of the input's
// element count.
func (io *IO[B]) Bind(name string, data any) error {
	b, ok := io.Inputs[name]
	if !ok {
		return fmt.Errorf("%s: no input %q", io.Backend, name)
	}
	ptr, n, dt, ok := Slice(data)
	if !ok {
		return fmt.Errorf("%s: cannot bind input %s to %T", io.Backend, name, data)
	}
	if _, bn, bdt := b.Host(); dt != bdt || n != bn {
		return fmt.Errorf("%s: cannot bind input %s of type %v to %d %v elements", io.Backend, name, io.Graph.Input(name).Type, n, dt)
	}
	if n > 0 {
		b.SetHost(ptr)
	}
	return nil
}

// view returns the storage of an input or a named output of dtype dt as
// a []T, or nil when there is none.
func view[T any, B Buffer](io *IO[B], name string, dt ir.DType) []T {
	b, ok := io.Inputs[name]
	if !ok {
		b, ok = io.Outputs[name]
	}
	if !ok {
		return nil
	}
	p, n, bdt := b.Host()
	if bdt != dt || n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(p), n)
}

// Float32 returns the storage of an f32 input or named output (valid
// until the next Run for outputs), or nil.
func (io *IO[B]) Float32(name string) []float32 { return view[float32](io, name, ir.F32) }

// Int32 returns the storage of an i32 input or named output, or nil.
func (io *IO[B]) Int32(name string) []int32 { return view[int32](io, name, ir.I32) }

// Int64 returns the storage of an i64 input or named output, or nil.
func (io *IO[B]) Int64(name string) []int64 { return view[int64](io, name, ir.I64) }

// Bool returns the storage of a bool input or named output, or nil.
func (io *IO[B]) Bool(name string) []bool { return view[bool](io, name, ir.Bool) }

// SetScalar sets a scalar input (lr, step, seed, lr_scale) to v,
// converted to its dtype (integers rounded to nearest). It panics if name
// is not a scalar input.
func (io *IO[B]) SetScalar(name string, v float64) {
	b, ok := io.Inputs[name]
	var p unsafe.Pointer
	var n int
	var dt ir.DType
	if ok {
		p, n, dt = b.Host()
	}
	if !ok || n != 1 {
		panic(fmt.Sprintf("%s: SetScalar: no scalar input %q", io.Backend, name))
	}
	switch dt {
	case ir.F32:
		*(*float32)(p) = float32(v)
	case ir.I32:
		*(*int32)(p) = int32(math.Round(v))
	case ir.I64:
		*(*int64)(p) = int64(math.Round(v))
	case ir.Bool:
		*(*bool)(p) = v != 0
	}
}
