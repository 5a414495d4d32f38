package data

import (
	"fmt"
	"slices"
)

// A DType is the element type of a field.
type DType uint8

// Field element types.
const (
	F32 DType = iota + 1
	I32
)

func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case I32:
		return "i32"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// A Role says what a field is for; preprocessing and the trainer use it.
type Role uint8

// Field roles.
const (
	// Feature is a numeric input (f32): scale and normalize apply to it.
	Feature Role = iota
	// Label is a class index (i32 scalar) in [0, Classes).
	Label
	// IDs is a sequence of token ids (i32[T]), in [0, Classes) where
	// Classes is the vocabulary size.
	IDs
	// Mask is a padding mask (1 for a real position, 0 for padding).
	Mask
)

func (r Role) String() string {
	switch r {
	case Feature:
		return "feature"
	case Label:
		return "label"
	case IDs:
		return "ids"
	case Mask:
		return "mask"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// A Field is one named column of a dataset. Its storage is contiguous,
// sample-major: sample i is F32[i*Size() : (i+1)*Size()] (or I32). Only
// the slice of the field's DType is set, except that an f32 field read
// from bytes (IDX images) may hold them as they are, in U8, a quarter of
// the memory: see [Field.Values].
type Field struct {
	Name  string
	DType DType
	Role  Role
	// Shape is the per-sample shape; empty for a scalar.
	Shape []int
	// Classes is the number of classes of a Label field (the vocabulary
	// size of an IDs field): values lie in [0, Classes). 0 otherwise.
	Classes int
	F32     []float32
	I32     []int32
	// U8, set instead of F32 on an f32 field, holds one byte per value:
	// value j of a sample is float32(float64(b)·Decode.Mul[j] +
	// Decode.Add[j]) for its byte b, or float32(b) when Decode is nil.
	// Preprocessing composes into Decode (Transform.Apply), so the values
	// are the ones a field held as floats would have, bit for bit; the
	// batches decode their rows as they gather them.
	U8     []uint8
	Decode *FieldTransform
	scale  scaler // Decode's fast form, when it has one (scale.of == Decode)
}

// Values returns the field's f32 values: F32, or the bytes of U8
// decoded into a new slice.
func (f *Field) Values() []float32 {
	if f.U8 == nil {
		return f.F32
	}
	return f.Samples(0, len(f.U8)/max(f.Size(), 1))
}

// Samples returns the f32 values of samples [lo, hi): a slice of F32, or
// the bytes of U8 decoded into a new slice.
func (f *Field) Samples(lo, hi int) []float32 {
	k := f.Size()
	if f.U8 == nil {
		return f.F32[lo*k : hi*k]
	}
	out := make([]float32, (hi-lo)*k)
	for i := range hi - lo {
		f.decodeRow(out[i*k:(i+1)*k], f.U8[(lo+i)*k:(lo+i+1)*k])
	}
	return out
}

// Materialize replaces U8 storage by the decoded values in F32.
func (f *Field) Materialize() {
	if f.U8 != nil {
		f.F32, f.U8, f.Decode, f.scale = f.Values(), nil, nil, scaler{}
	}
}

// decodeRow decodes the bytes of one sample into dst (both of Size()).
func (f *Field) decodeRow(dst []float32, src []uint8) {
	if f.Decode == nil {
		convertBytes(dst, src)
		return
	}
	if f.scale.of == f.Decode {
		f.scale.decode(dst, src)
		return
	}
	decodeBytes(dst, src, f.Decode.Mul, f.Decode.Add)
}

// Size reports the number of elements of one sample (the product of
// Shape; 1 for a scalar).
func (f *Field) Size() int {
	n := 1
	for _, d := range f.Shape {
		n *= d
	}
	return n
}

// Type formats the per-sample type as in the language: "f32[1, 28, 28]",
// "i32" for a scalar.
func (f *Field) Type() string {
	s := f.DType.String()
	if len(f.Shape) == 0 {
		return s
	}
	s += "["
	for i, d := range f.Shape {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(d)
	}
	return s + "]"
}

// A Dataset is N samples with named fields.
type Dataset struct {
	// Source describes where the data came from ("builtin:digits",
	// "data/x.csv"), for messages.
	Source string
	N      int
	Fields []*Field
}

// Field returns the named field, or nil.
func (d *Dataset) Field(name string) *Field {
	for _, f := range d.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Validate checks the invariants: unique non-empty names, storage length
// N × Size() of the field's dtype and none of the other, labels and ids in
// [0, Classes), scalar labels.
func (d *Dataset) Validate() error {
	seen := map[string]bool{}
	for _, f := range d.Fields {
		if f.Name == "" || seen[f.Name] {
			return fmt.Errorf("%s: empty or duplicate field name %q", d.Source, f.Name)
		}
		seen[f.Name] = true
		for _, s := range f.Shape {
			if s <= 0 {
				return fmt.Errorf("%s: field %s: bad shape %v", d.Source, f.Name, f.Shape)
			}
		}
		want := d.N * f.Size()
		switch f.DType {
		case F32:
			if f.U8 != nil {
				if len(f.U8) != want || f.F32 != nil || f.I32 != nil {
					return fmt.Errorf("%s: field %s %s: %d values, want %d", d.Source, f.Name, f.Type(), len(f.U8), want)
				}
				if f.Decode != nil && (len(f.Decode.Mul) != f.Size() || len(f.Decode.Add) != f.Size()) {
					return fmt.Errorf("%s: field %s %s: a decoding map of %d values, want %d", d.Source, f.Name, f.Type(), len(f.Decode.Mul), f.Size())
				}
				break
			}
			if len(f.F32) != want || f.I32 != nil {
				return fmt.Errorf("%s: field %s %s: %d values, want %d", d.Source, f.Name, f.Type(), len(f.F32), want)
			}
		case I32:
			if len(f.I32) != want || f.F32 != nil || f.U8 != nil {
				return fmt.Errorf("%s: field %s %s: %d values, want %d", d.Source, f.Name, f.Type(), len(f.I32), want)
			}
		default:
			return fmt.Errorf("%s: field %s: bad dtype %v", d.Source, f.Name, f.DType)
		}
		if f.Role == Label && (f.DType != I32 || len(f.Shape) != 0) {
			return fmt.Errorf("%s: label field %s is %s, want i32", d.Source, f.Name, f.Type())
		}
		if f.Role == Label || f.Role == IDs {
			if f.Classes <= 0 {
				return fmt.Errorf("%s: field %s: class count %d", d.Source, f.Name, f.Classes)
			}
			for i, v := range f.I32 {
				if v < 0 || int(v) >= f.Classes {
					return fmt.Errorf("%s: record %d: %s %d out of range [0, %d)", d.Source, i/f.Size()+1, f.Name, v, f.Classes)
				}
			}
		}
	}
	return nil
}

// Subset returns a new dataset holding the given samples, in that order,
// copied.
func (d *Dataset) Subset(rows []int) *Dataset {
	out := &Dataset{Source: d.Source, N: len(rows)}
	for _, f := range d.Fields {
		g := &Field{Name: f.Name, DType: f.DType, Role: f.Role, Shape: slices.Clone(f.Shape), Classes: f.Classes}
		k := f.Size()
		switch f.DType {
		case F32:
			if f.U8 != nil {
				g.U8, g.Decode, g.scale = make([]uint8, len(rows)*k), f.Decode, f.scale
				for j, r := range rows {
					copy(g.U8[j*k:(j+1)*k], f.U8[r*k:(r+1)*k])
				}
				break
			}
			g.F32 = make([]float32, len(rows)*k)
			for j, r := range rows {
				copy(g.F32[j*k:(j+1)*k], f.F32[r*k:(r+1)*k])
			}
		case I32:
			g.I32 = make([]int32, len(rows)*k)
			for j, r := range rows {
				copy(g.I32[j*k:(j+1)*k], f.I32[r*k:(r+1)*k])
			}
		}
		out.Fields = append(out.Fields, g)
	}
	return out
}

// Clone returns a deep copy of d.
func (d *Dataset) Clone() *Dataset {
	rows := make([]int, d.N)
	for i := range rows {
		rows[i] = i
	}
	return d.Subset(rows)
}

// ClassCounts returns, for a Label field, the number of samples of each
// class.
func (d *Dataset) ClassCounts(label string) ([]int, error) {
	f := d.Field(label)
	if f == nil || f.Role != Label {
		return nil, fmt.Errorf("%s: no label field %q", d.Source, label)
	}
	counts := make([]int, f.Classes)
	for _, v := range f.I32 {
		counts[v]++
	}
	return counts, nil
}
