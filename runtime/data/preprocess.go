package data

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

// A Norm is a per-feature normalization.
type Norm uint8

// Normalizations.
const (
	NoNorm Norm = iota
	// Standard maps each feature to zero mean and unit variance
	// (population variance, as scikit-learn's StandardScaler). A feature
	// that is constant on the train split is only centred.
	Standard
	// MinMax maps each feature's train range to [0, 1]. A feature that is
	// constant on the train split is only shifted to 0.
	MinMax
)

func (n Norm) String() string {
	switch n {
	case NoNorm:
		return "none"
	case Standard:
		return "standard"
	case MinMax:
		return "minmax"
	}
	return fmt.Sprintf("Norm(%d)", uint8(n))
}

// ParseNorm parses "standard", "minmax" or "none".
func ParseNorm(s string) (Norm, error) {
	for _, n := range []Norm{NoNorm, Standard, MinMax} {
		if s == n.String() {
			return n, nil
		}
	}
	return 0, fmt.Errorf("unknown normalization %q (want standard or minmax)", s)
}

// Preprocess says how to transform feature fields: first multiply by
// Scale (0 means 1), then Normalize.
type Preprocess struct {
	Scale     float64
	Normalize Norm
	// Fields lists the fields to transform; nil means every f32 field
	// whose Role is Feature.
	Fields []string
}

// A Transform is a fitted Preprocess: per field and per feature j of a
// sample, y = float32(float64(x)·Mul[j] + Add[j]). It holds everything
// needed to transform new inputs the same way (predict), and marshals to
// JSON.
type Transform struct {
	Fields []FieldTransform `json:"fields"`
}

// A FieldTransform is the affine map of one field.
type FieldTransform struct {
	Name string    `json:"name"`
	Mul  []float64 `json:"mul"`
	Add  []float64 `json:"add"`
}

// fieldTransformJSON is a FieldTransform as checkpoints hold it. A map
// whose elements all share one multiplier and one offset (a plain
// scale, as images have: 784 equal entries) is written once, with N the
// element count; a checkpoint of a small quantized model would otherwise
// be mostly this header.
type fieldTransformJSON struct {
	Name string    `json:"name"`
	N    int       `json:"n,omitempty"`
	Mul  []float64 `json:"mul"`
	Add  []float64 `json:"add"`
}

// MarshalJSON writes f, a uniform map in its short form.
func (f FieldTransform) MarshalJSON() ([]byte, error) {
	j := fieldTransformJSON{Name: f.Name, Mul: f.Mul, Add: f.Add}
	if n := len(f.Mul); n > 1 && len(f.Add) == n && allEqual(f.Mul) && allEqual(f.Add) {
		j = fieldTransformJSON{Name: f.Name, N: n, Mul: f.Mul[:1], Add: f.Add[:1]}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads either form.
func (f *FieldTransform) UnmarshalJSON(b []byte) error {
	var j fieldTransformJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = FieldTransform{Name: j.Name, Mul: j.Mul, Add: j.Add}
	if j.N == 0 {
		return nil
	}
	if len(j.Mul) != 1 || len(j.Add) != 1 || j.N < 0 || j.N > 1<<28 {
		return fmt.Errorf("transform of %s: n = %d with %d multipliers and %d offsets (want 1 each)", j.Name, j.N, len(j.Mul), len(j.Add))
	}
	f.Mul, f.Add = make([]float64, j.N), make([]float64, j.N)
	for i := range f.Mul {
		f.Mul[i], f.Add[i] = j.Mul[0], j.Add[0]
	}
	return nil
}

func allEqual(xs []float64) bool {
	for _, x := range xs[1:] {
		if math.Float64bits(x) != math.Float64bits(xs[0]) {
			return false
		}
	}
	return true
}

// Fit computes the transform from train alone. Statistics are computed in
// float64 over the scaled values.
func Fit(train *Dataset, p Preprocess) (*Transform, error) {
	scale := p.Scale
	if scale == 0 {
		scale = 1
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("scale %v is not finite", scale)
	}
	names := p.Fields
	if names == nil {
		for _, f := range train.Fields {
			if f.DType == F32 && f.Role == Feature {
				names = append(names, f.Name)
			}
		}
	}
	t := &Transform{}
	for _, name := range names {
		f := train.Field(name)
		if f == nil {
			return nil, fmt.Errorf("%s: no field %q to preprocess", train.Source, name)
		}
		if f.DType != F32 {
			return nil, fmt.Errorf("%s: field %s is %s; only f32 fields can be scaled or normalized", train.Source, name, f.Type())
		}
		k := f.Size()
		ft := FieldTransform{Name: name, Mul: make([]float64, k), Add: make([]float64, k)}
		for j := range ft.Mul {
			ft.Mul[j] = scale
		}
		if p.Normalize != NoNorm {
			if train.N == 0 {
				return nil, fmt.Errorf("%s: cannot fit %s normalization on an empty train split", train.Source, p.Normalize)
			}
			lo, hi, mean, std := stats(f, train.N, k, scale)
			for j := range k {
				switch p.Normalize {
				case Standard:
					s := std[j]
					if lo[j] == hi[j] {
						s = 1
					}
					ft.Mul[j] = scale / s
					ft.Add[j] = -mean[j] / s
				case MinMax:
					r := hi[j] - lo[j]
					if r == 0 {
						r = 1
					}
					ft.Mul[j] = scale / r
					ft.Add[j] = -lo[j] / r
				default:
					return nil, fmt.Errorf("unknown normalization %v", p.Normalize)
				}
			}
		}
		t.Fields = append(t.Fields, ft)
	}
	return t, nil
}

// stats returns per-feature min, max, mean and population standard
// deviation of x·scale over the n samples of k features of f.
func stats(f *Field, n, k int, scale float64) (lo, hi, mean, std []float64) {
	x, buf := f.F32, []float32(nil)
	if f.U8 != nil {
		buf = make([]float32, k)
	}
	sample := func(i int) []float32 {
		if buf == nil {
			return x[i*k : (i+1)*k]
		}
		f.decodeRow(buf, f.U8[i*k:(i+1)*k])
		return buf
	}
	lo, hi = make([]float64, k), make([]float64, k)
	mean, std = make([]float64, k), make([]float64, k)
	for j := range k {
		lo[j], hi[j] = math.Inf(1), math.Inf(-1)
	}
	for i := range n {
		for j, v := range sample(i) {
			s := float64(v) * scale
			mean[j] += s
			lo[j] = min(lo[j], s)
			hi[j] = max(hi[j], s)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := range n {
		for j, v := range sample(i) {
			d := float64(v)*scale - mean[j]
			std[j] += d * d
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / float64(n))
	}
	return lo, hi, mean, std
}

// Apply transforms d's fields in place. A field held as bytes (U8) keeps
// them and takes the transform as its Decode map (the same values); one
// that has a Decode map already is decoded to floats first (a second map
// rounds in between, as two transforms of floats do).
func (t *Transform) Apply(d *Dataset) error {
	for _, ft := range t.Fields {
		f := d.Field(ft.Name)
		if f == nil || f.DType != F32 || f.Size() != len(ft.Mul) || len(ft.Add) != len(ft.Mul) {
			return fmt.Errorf("%s: no f32 field %s with %d features to transform", d.Source, ft.Name, len(ft.Mul))
		}
		if f.U8 != nil && f.Decode == nil {
			f.Decode = &FieldTransform{Name: ft.Name, Mul: slices.Clone(ft.Mul), Add: slices.Clone(ft.Add)}
			f.scale, _ = newScaler(f.Decode)
			continue
		}
		f.Materialize()
		applyParallel(&ft, f.F32)
	}
	return nil
}

// applyParallel is ft.ApplyTo(x) with x cut, at sample boundaries, into
// pieces transformed at the same time when x is large (MNIST's 47 M
// pixels); each value is computed as ApplyTo computes it.
func applyParallel(ft *FieldTransform, x []float32) {
	k := len(ft.Mul)
	const chunk = 1 << 20
	parts := min(runtime.GOMAXPROCS(0), len(x)/chunk)
	if k == 0 || parts <= 1 {
		ft.ApplyTo(x)
		return
	}
	rows := len(x) / k
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*rows/parts*k, (p+1)*rows/parts*k
		if p == parts-1 {
			hi = len(x) // a partial sample at the end is left as ApplyTo leaves it
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ft.ApplyTo(x[lo:hi])
		}()
	}
	wg.Wait()
}

// ApplyTo transforms x, which holds whole samples of the field, in place.
func (ft *FieldTransform) ApplyTo(x []float32) {
	k := len(ft.Mul)
	for i := 0; i+k <= len(x); i += k {
		row := x[i : i+k]
		for j, v := range row {
			// The conversion of the product rounds it: no fused
			// multiply-add whatever GOAMD64, as decodeBytes.
			row[j] = float32(float64(float64(v)*ft.Mul[j]) + ft.Add[j])
		}
	}
}

// Preprocess fits p on s.Train only and applies it to every part.
func (s *Splits) Preprocess(p Preprocess) (*Transform, error) {
	t, err := Fit(s.Train, p)
	if err != nil {
		return nil, err
	}
	// A dataset used as two parts must not be transformed twice.
	done := map[*Dataset]bool{}
	for _, d := range s.All() {
		if done[d] {
			continue
		}
		done[d] = true
		if err := t.Apply(d); err != nil {
			return nil, err
		}
	}
	return t, nil
}
