package compiler

import "strings"

// A TensorType is a dtype and a list of symbolic dimensions: f32[B, 64].
// A scalar has no dimensions: f32[].
type TensorType struct {
	DType string // f32 f16 bf16 i32 i64 bool
	Dims  []Dim
}

// Rank is the number of dimensions.
func (t TensorType) Rank() int { return len(t.Dims) }

// String prints t as written in the language: f32[B, 64].
func (t TensorType) String() string {
	var sb strings.Builder
	sb.WriteString(t.DType)
	sb.WriteByte('[')
	for i, d := range t.Dims {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(d.String())
	}
	sb.WriteByte(']')
	return sb.String()
}

// Equal reports whether t and u have the same dtype and dimensions.
func (t TensorType) Equal(u TensorType) bool {
	if t.DType != u.DType || len(t.Dims) != len(u.Dims) {
		return false
	}
	for i := range t.Dims {
		if !t.Dims[i].Equal(u.Dims[i]) {
			return false
		}
	}
	return true
}

// ConstShape returns the concrete shape when every dimension is constant.
func (t TensorType) ConstShape() ([]int, bool) {
	s := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		n, ok := d.Const()
		if !ok {
			return nil, false
		}
		s[i] = int(n)
	}
	return s, true
}

// NumElements returns the product of the dimensions as a Dim.
func (t TensorType) NumElements() Dim {
	n := ConstDim(1)
	for _, d := range t.Dims {
		n = n.Mul(d)
	}
	return n
}

// Subst substitutes dimension variables.
func (t TensorType) Subst(m map[string]Dim) TensorType {
	out := TensorType{DType: t.DType, Dims: make([]Dim, len(t.Dims))}
	for i, d := range t.Dims {
		out.Dims[i] = d.Subst(m)
	}
	return out
}

func tensorOf(dtype string, dims ...Dim) TensorType {
	return TensorType{DType: dtype, Dims: dims}
}

func constDims(ns ...int64) []Dim {
	ds := make([]Dim, len(ns))
	for i, n := range ns {
		ds[i] = ConstDim(n)
	}
	return ds
}

// isFloat reports whether a dtype is a floating-point type.
func isFloat(dt string) bool { return dt == "f32" || dt == "f16" || dt == "bf16" || dt == "f64" }

// isInt reports whether a dtype is an integer type.
func isInt(dt string) bool { return dt == "i32" || dt == "i64" }

var dtypes = map[string]bool{"f32": true, "f16": true, "bf16": true, "i32": true, "i64": true, "bool": true}
