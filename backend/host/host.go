// Package host holds the host-side binding code the backends share: the
// slices a Program's Bind accepts and the dtype each one holds ([Slice]),
// and [IO], the inputs and named outputs of a program by name with Bind,
// Float32, Int32, Int64, Bool and SetScalar over any backend's buffers
// ([Buffer]). backend/cpu and backend/cuda (runtime_cuda.go) forward their
// Program's methods to an IO, so the two behave alike by construction.
package host

import (
	"unsafe"

	"github.com/encc-lang/encc/ir"
)

// Slice returns the first element, the length and the dtype of a slice
// that can hold a tensor's elements: []float32 (f32), []int32 (i32),
// []int64 (i64) or []bool (bool). ok is false for any other value.
func Slice(data any) (p unsafe.Pointer, n int, dt ir.DType, ok bool) {
	switch d := data.(type) {
	case []float32:
		return unsafe.Pointer(unsafe.SliceData(d)), len(d), ir.F32, true
	case []int32:
		return unsafe.Pointer(unsafe.SliceData(d)), len(d), ir.I32, true
	case []int64:
		return unsafe.Pointer(unsafe.SliceData(d)), len(d), ir.I64, true
	case []bool:
		return unsafe.Pointer(unsafe.SliceData(d)), len(d), ir.Bool, true
	}
	return nil, 0, 0, false
}
