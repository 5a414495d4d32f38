package safetensors

// This file implements tensors that view their caller's storage, so a
// checkpoint is written without a copy of the weights.

import (
	"encoding/binary"
	"unsafe"
)

// littleEndian reports whether this machine stores numbers little-endian,
// the byte order of the format: then a []float32 is already its F32 data.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Float32View makes an F32 tensor whose Data is v's memory, not a copy
// (on a big-endian machine it copies, as FromFloat32). The tensor is
// valid while v is and reads v as it is when written: use it to Write v
// at once, without holding a second copy of it. len(v) must equal the
// product of shape.
func Float32View(name string, shape []int, v []float32) *Tensor {
	if !littleEndian {
		return FromFloat32(name, shape, v)
	}
	var d []byte
	if len(v) > 0 {
		d = unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	}
	return &Tensor{Name: name, DType: F32, Shape: append([]int{}, shape...), Data: d}
}

// Int64View is Float32View for an I64 tensor.
func Int64View(name string, shape []int, v []int64) *Tensor {
	if !littleEndian {
		return FromInt64(name, shape, v)
	}
	var d []byte
	if len(v) > 0 {
		d = unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 8*len(v))
	}
	return &Tensor{Name: name, DType: I64, Shape: append([]int{}, shape...), Data: d}
}
