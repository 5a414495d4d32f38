package train

// This file implements matching the tensors of a weights file to the
// parameters of a model: only: globs, and rename: and split: read into
// the one mapping of runtime/weights, which also makes the one error that
// lists everything that does not fit.

import (
	"fmt"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/weights"
)

// A FitError says how a weights file does not fit a model (see
// weights.FitError).
type FitError = weights.FitError

// A LoadSpec says which tensors of a file to take and under what names.
type LoadSpec struct {
	// Only holds parameter patterns (compiler.MatchPath): only matching
	// parameters are loaded and only matching tensors are considered.
	// Empty: every parameter, and every tensor must be used.
	Only []string
	// Mapping renames the file's tensors and splits fused ones
	// (rename: and split:, docs/pytorch-weights.md).
	weights.Mapping
}

// LoadSpecOf reads only:, rename: and split: of a train's init, a
// from(...) or load(...) (compiler.Train.Init), as a run loads it.
func LoadSpecOf(cv *compiler.ConfigV) LoadSpec {
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
	s.Mapping = loadMapping(cv)
	return s
}

// Selects reports whether s loads the parameter at path.
func (s LoadSpec) Selects(path string) bool {
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

func shapeString(s []int) string { return weights.ShapeString(s) }

// FitWeights takes from c the weights of params that spec selects,
// mapped by spec.Mapping (the one algorithm of runtime/weights), and
// checks that they fit: every selected parameter present with its
// shape, and every selected tensor used. Anything that does not fit is
// one *FitError listing missing, unexpected and mis-shaped tensors; a
// mapping that is wrong in itself (a split that does not divide, two
// tensors on one path, a split key matching no tensor) is an error
// naming file. file and model name the two sides in messages.
func FitWeights(c *Checkpoint, params []*compiler.Param, spec LoadSpec, file, model string) (map[string][]float32, error) {
	shapes := make(map[string][]int, len(c.Weights)+len(c.NonFloat))
	for name := range c.Weights {
		shapes[name] = c.Shapes[name]
	}
	for name := range c.NonFloat {
		shapes[name] = c.Shapes[name]
	}
	pieces, err := spec.Mapping.Plan(shapes)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	want := make([]weights.Param, len(params))
	for i, prm := range params {
		shape, _ := prm.Type.ConstShape()
		want[i] = weights.Param{Path: prm.Path, Shape: shape}
	}
	fit, err := weights.Check(pieces, want, weights.CheckOptions{File: file, Model: model, Only: spec.Selects, NonFloat: c.NonFloat})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]float32, len(fit))
	for path, p := range fit {
		out[path] = weights.Take(p, c.Weights[p.From])
	}
	return out, nil
}
