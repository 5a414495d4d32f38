package train

// This file implements matching the tensors of a weights file to the
// parameters of a model: only: globs, rename: prefixes, split: fused
// tensors, and the one error that lists everything that does not fit.

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/encc-lang/encc/compiler"
)

// A FitError says how a weights file does not fit a model: the
// parameters it lacks, the tensors the model has no place for, and the
// tensors whose shape (or dtype) differs. Each entry names the tensor
// and its shape.
type FitError struct {
	File       string
	Model      string
	Missing    []string
	Unexpected []string
	Misshaped  []string
}

func (e *FitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s does not fit %s", e.File, e.Model)
	list := func(what string, xs []string) {
		if len(xs) > 0 {
			fmt.Fprintf(&b, "\n\t%s (%d): %s", what, len(xs), strings.Join(xs, ", "))
		}
	}
	list("missing", e.Missing)
	list("unexpected", e.Unexpected)
	list("mis-shaped", e.Misshaped)
	return b.String()
}

// A LoadSpec says which tensors of a file to take and under what names.
type LoadSpec struct {
	// Only holds parameter patterns (compiler.MatchPath): only matching
	// parameters are loaded and only matching tensors are considered.
	// Empty: every parameter, and every tensor must be used.
	Only []string
	// Rename rewrites name prefixes of the file (longest prefix first):
	// {"bert.encoder.layer.": "encoder.blocks."}.
	Rename map[string]string
	// Split cuts a fused tensor along dimension 0 into equal parts named
	// as the model names them. A key names the tensor as in the file or
	// after renaming.
	Split map[string][]string
}

// specOf reads only:, rename: and split: of a from(...) or load(...).
func specOf(cv *compiler.ConfigV) LoadSpec {
	var s LoadSpec
	switch v := cv.Args["only"].(type) {
	case compiler.StrV:
		if v.V != "" {
			s.Only = []string{v.V}
		}
	case *compiler.ListV:
		for _, e := range v.Elems {
			if str, ok := e.(compiler.StrV); ok {
				s.Only = append(s.Only, str.V)
			}
		}
	}
	if m, ok := cv.Args["rename"].(*compiler.MapV); ok && len(m.Vals) > 0 {
		s.Rename = map[string]string{}
		for k, v := range m.Vals {
			if str, ok := v.(compiler.StrV); ok {
				s.Rename[k] = str.V
			}
		}
	}
	if m, ok := cv.Args["split"].(*compiler.MapV); ok && len(m.Vals) > 0 {
		s.Split = map[string][]string{}
		for k, v := range m.Vals {
			if l, ok := v.(*compiler.ListV); ok {
				for _, e := range l.Elems {
					if str, ok := e.(compiler.StrV); ok {
						s.Split[k] = append(s.Split[k], str.V)
					}
				}
			}
		}
	}
	return s
}

func (s LoadSpec) selects(path string) bool {
	if len(s.Only) == 0 {
		return true
	}
	for _, o := range s.Only {
		if compiler.MatchPath(o, path) {
			return true
		}
	}
	return false
}

func (s LoadSpec) rename(name string) string {
	best := ""
	found := false
	for k := range s.Rename {
		if strings.HasPrefix(name, k) && (!found || len(k) > len(best)) {
			best, found = k, true
		}
	}
	if !found {
		return name
	}
	return s.Rename[best] + name[len(best):]
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// FitWeights takes from c the weights of params that spec selects and
// checks that they fit: every selected parameter present with its
// shape, and (without Only) every tensor used. Anything that does not
// fit is one *FitError listing missing, unexpected and mis-shaped
// tensors. file and model name the two sides in messages.
func FitWeights(c *Checkpoint, params []*compiler.Param, spec LoadSpec, file, model string) (map[string][]float32, error) {
	type tensor struct {
		v     []float32
		shape []int
		dtype string // non-float dtype, or ""
	}
	byName := map[string]tensor{}
	for name, v := range c.Weights {
		byName[spec.rename(name)] = tensor{v: v, shape: c.Shapes[name]}
	}
	for name, dt := range c.NonFloat {
		byName[spec.rename(name)] = tensor{shape: c.Shapes[name], dtype: dt}
	}
	// Split fused tensors.
	keys := make([]string, 0, len(spec.Split))
	for k := range spec.Split {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts := spec.Split[k]
		t, ok := byName[k]
		name := k
		if !ok {
			name = spec.rename(k)
			t, ok = byName[name]
		}
		if !ok {
			return nil, fmt.Errorf("%s: split: no tensor %s in the file", file, k)
		}
		if t.dtype != "" || len(t.shape) == 0 || len(parts) == 0 || t.shape[0]%len(parts) != 0 {
			return nil, fmt.Errorf("%s: split: cannot cut %s %s into %d equal parts along dimension 0", file, k, shapeString(t.shape), len(parts))
		}
		delete(byName, name)
		rows := t.shape[0] / len(parts)
		n := len(t.v) / len(parts)
		for i, p := range parts {
			shape := append([]int{rows}, t.shape[1:]...)
			byName[p] = tensor{v: t.v[i*n : (i+1)*n], shape: shape}
		}
	}
	out := map[string][]float32{}
	fe := &FitError{File: file, Model: model}
	have := map[string]bool{}
	for _, prm := range params {
		have[prm.Path] = true
		if !spec.selects(prm.Path) {
			continue
		}
		want, _ := prm.Type.ConstShape()
		t, ok := byName[prm.Path]
		switch {
		case !ok:
			fe.Missing = append(fe.Missing, prm.Path+" "+shapeString(want))
		case t.dtype != "":
			fe.Misshaped = append(fe.Misshaped, fmt.Sprintf("%s: %s %s in the file, f32 %s in the model", prm.Path, t.dtype, shapeString(t.shape), shapeString(want)))
		case !slices.Equal(t.shape, want):
			fe.Misshaped = append(fe.Misshaped, fmt.Sprintf("%s: %s in the file, %s in the model", prm.Path, shapeString(t.shape), shapeString(want)))
		default:
			out[prm.Path] = t.v
		}
	}
	for name, t := range byName {
		if !have[name] && spec.selects(name) {
			fe.Unexpected = append(fe.Unexpected, name+" "+shapeString(t.shape))
		}
	}
	sort.Strings(fe.Unexpected)
	if len(fe.Missing)+len(fe.Unexpected)+len(fe.Misshaped) > 0 {
		return nil, fe
	}
	return out, nil
}
