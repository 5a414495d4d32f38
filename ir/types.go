// This file implements DType, Shape and Type, the static type of every
// IR value.

package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// A DType is the element type of a tensor.
type DType uint8

// The element types. F32 is the training dtype; the reference evaluator
// computes every dtype in float64.
const (
	InvalidDType DType = iota
	F32
	F64
	F16
	BF16
	I32
	I64
	Bool
)

var dtypeNames = [...]string{
	InvalidDType: "invalid",
	F32:          "f32",
	F64:          "f64",
	F16:          "f16",
	BF16:         "bf16",
	I32:          "i32",
	I64:          "i64",
	Bool:         "bool",
}

// String returns the dtype's name as written in types: f32, i64, bool.
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return "dtype(" + strconv.Itoa(int(d)) + ")"
}

// IsFloat reports whether d is a floating-point dtype.
func (d DType) IsFloat() bool { return d == F32 || d == F64 || d == F16 || d == BF16 }

// IsInt reports whether d is an integer dtype.
func (d DType) IsInt() bool { return d == I32 || d == I64 }

// Size is the number of bytes of one element (Bool takes one byte).
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16:
		return 2
	case Bool:
		return 1
	}
	return 0
}

// ParseDType returns the dtype named s.
func ParseDType(s string) (DType, bool) {
	for d, n := range dtypeNames {
		if n == s && d != int(InvalidDType) {
			return DType(d), true
		}
	}
	return InvalidDType, false
}

// A Shape lists the sizes of a tensor's dimensions, outermost first. The
// empty shape is a scalar.
type Shape []int

// Rank is the number of dimensions.
func (s Shape) Rank() int { return len(s) }

// NumElements is the product of the dimensions (1 for a scalar).
func (s Shape) NumElements() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether s and t have the same dimensions.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s that shares no memory with it.
func (s Shape) Clone() Shape {
	if s == nil {
		return Shape{}
	}
	return append(Shape{}, s...)
}

// Strides returns the row-major strides of s, in elements.
func (s Shape) Strides() []int {
	st := make([]int, len(s))
	n := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = n
		n *= s[i]
	}
	return st
}

// String formats s as [64,256]; a scalar is [].
func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(d))
	}
	b.WriteByte(']')
	return b.String()
}

// Broadcast returns the NumPy broadcast of shapes: aligned from the
// right, each dimension is equal or 1.
func Broadcast(shapes ...Shape) (Shape, bool) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make(Shape, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			switch {
			case d == out[off+i] || d == 1:
			case out[off+i] == 1:
				out[off+i] = d
			default:
				return nil, false
			}
		}
	}
	return out, true
}

// BroadcastsTo reports whether s broadcasts to t without changing t.
func (s Shape) BroadcastsTo(t Shape) bool {
	b, ok := Broadcast(s, t)
	return ok && b.Equal(t)
}

// A Type is the static type of a value: element type and concrete shape.
type Type struct {
	DType DType
	Shape Shape
}

// TensorOf returns the type with dtype d and dimensions dims.
func TensorOf(d DType, dims ...int) Type { return Type{d, Shape(dims).Clone()} }

// Scalar returns the rank-0 type of dtype d.
func Scalar(d DType) Type { return Type{d, Shape{}} }

// String formats t canonically: f32[64,256], i64[].
func (t Type) String() string { return t.DType.String() + t.Shape.String() }

// Equal reports whether t and u have the same dtype and shape.
func (t Type) Equal(u Type) bool { return t.DType == u.DType && t.Shape.Equal(u.Shape) }

// Rank is the number of dimensions of t.
func (t Type) Rank() int { return len(t.Shape) }

// NumElements is the number of elements of t.
func (t Type) NumElements() int { return t.Shape.NumElements() }

// Bytes is the storage size of t.
func (t Type) Bytes() int { return t.NumElements() * t.DType.Size() }

// ParseType parses the canonical form written by Type.String.
func ParseType(s string) (Type, error) {
	i := strings.IndexByte(s, '[')
	if i < 0 || !strings.HasSuffix(s, "]") {
		return Type{}, fmt.Errorf("bad type %q: want dtype[dims]", s)
	}
	d, ok := ParseDType(s[:i])
	if !ok {
		return Type{}, fmt.Errorf("bad type %q: unknown dtype %q", s, s[:i])
	}
	t := Type{DType: d, Shape: Shape{}}
	body := s[i+1 : len(s)-1]
	if body == "" {
		return t, nil
	}
	for _, f := range strings.Split(body, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return Type{}, fmt.Errorf("bad type %q: bad dimension %q", s, f)
		}
		t.Shape = append(t.Shape, n)
	}
	return t, nil
}
