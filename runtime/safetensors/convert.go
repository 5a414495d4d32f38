package safetensors

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Float32 returns the tensor's values as float32. F32 is copied; F16 and
// BF16 are widened exactly; F64 is rounded to the nearest float32 (values
// beyond float32's range become ±Inf). Other dtypes are an error.
func (t *Tensor) Float32() ([]float32, error) {
	n := t.NumElements()
	if len(t.Data) != n*t.DType.Size() {
		return nil, fmt.Errorf("safetensors: tensor %q: %d bytes of data, but %s%v needs %d", t.Name, len(t.Data), t.DType, t.Shape, n*t.DType.Size())
	}
	out := make([]float32, n)
	d := t.Data
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = F16ToF32(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(d[2*i:])) << 16)
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:])))
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %q: cannot read %s as float32", t.Name, t.DType)
	}
	return out, nil
}

// Int32 returns the tensor's values as int32. I32 is copied; I16, I8, U16,
// U8 and BOOL are widened; I64 and U32 are converted when every value fits,
// and are an error naming the first value that does not. Other dtypes are
// an error.
func (t *Tensor) Int32() ([]int32, error) {
	n := t.NumElements()
	if len(t.Data) != n*t.DType.Size() {
		return nil, fmt.Errorf("safetensors: tensor %q: %d bytes of data, but %s%v needs %d", t.Name, len(t.Data), t.DType, t.Shape, n*t.DType.Size())
	}
	out := make([]int32, n)
	d := t.Data
	switch t.DType {
	case I32:
		for i := range out {
			out[i] = int32(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case I64:
		for i := range out {
			v := int64(binary.LittleEndian.Uint64(d[8*i:]))
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("safetensors: tensor %q: element %d = %d does not fit in int32", t.Name, i, v)
			}
			out[i] = int32(v)
		}
	case U32:
		for i := range out {
			v := binary.LittleEndian.Uint32(d[4*i:])
			if v > math.MaxInt32 {
				return nil, fmt.Errorf("safetensors: tensor %q: element %d = %d does not fit in int32", t.Name, i, v)
			}
			out[i] = int32(v)
		}
	case I16:
		for i := range out {
			out[i] = int32(int16(binary.LittleEndian.Uint16(d[2*i:])))
		}
	case U16:
		for i := range out {
			out[i] = int32(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case I8:
		for i := range out {
			out[i] = int32(int8(d[i]))
		}
	case U8:
		for i := range out {
			out[i] = int32(d[i])
		}
	case Bool:
		for i := range out {
			if d[i] > 1 {
				return nil, fmt.Errorf("safetensors: tensor %q: element %d is %d, not a bool (0 or 1)", t.Name, i, d[i])
			}
			out[i] = int32(d[i])
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %q: cannot read %s as int32", t.Name, t.DType)
	}
	return out, nil
}

// F16ToF32 converts an IEEE 754 binary16 value to float32, exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // ±0
		return math.Float32frombits(sign)
	}
	// Subnormal: mant × 2^-24, exact in float32.
	v := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// FromFloat32 makes an F32 tensor. It copies v; len(v) must equal the
// product of shape.
func FromFloat32(name string, shape []int, v []float32) *Tensor {
	d := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(d[4*i:], math.Float32bits(x))
	}
	return &Tensor{Name: name, DType: F32, Shape: append([]int{}, shape...), Data: d}
}

// FromInt32 makes an I32 tensor. It copies v.
func FromInt32(name string, shape []int, v []int32) *Tensor {
	d := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(d[4*i:], uint32(x))
	}
	return &Tensor{Name: name, DType: I32, Shape: append([]int{}, shape...), Data: d}
}

// FromInt64 makes an I64 tensor. It copies v.
func FromInt64(name string, shape []int, v []int64) *Tensor {
	d := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(d[8*i:], uint64(x))
	}
	return &Tensor{Name: name, DType: I64, Shape: append([]int{}, shape...), Data: d}
}

// Write writes tensors and metadata to path atomically: the file is
// written to a temporary file in the same directory, synced, renamed over
// path, and the directory is synced. On error path is untouched and the
// temporary file removed. The new file's mode is 0644. The tensors'
// data is written from Data as it is (see Float32View): Write holds no
// copy of it. Temporary files that killed writes of path left behind
// are removed (tempfiles.go).
func Write(path string, tensors []*Tensor, metadata map[string]string) (err error) {
	// Validate and lay out the header before touching the file system;
	// the tensors' data is streamed from their storage, not copied.
	h, ts, err := header(tensors, metadata)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	removeStaleTemps(dir, base)
	tmp, err := os.CreateTemp(dir, tempPattern(base))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = writeFile(bw, h, ts); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename durable. Some file systems cannot sync a
	// directory; the rename has still happened, so that is not an error.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
