package compiler

// This file checks a phase's prune field: prune = magnitude(...), the
// unstructured magnitude pruning that runtime/train/prune.go performs
// during the phase.

import (
	"slices"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

// A Prune is a checked prune = magnitude(...) of a phase.
type Prune struct {
	Pos      diag.Pos
	Params   []string // parameter paths pruned
	Sparsity float64  // final fraction of zeros in each pruned parameter
	Initial  float64  // fraction at the phase's first step
	End      float64  // fraction of the phase's steps at which Sparsity is reached
	Every    int      // optimizer steps between mask updates
}

var pruneEntry = cfg("magnitude", KPrune, "magnitude prunes the selected parameters during a phase (prune = magnitude(...)): every `every` steps the smallest-magnitude weights of each parameter are set to zero, to a sparsity that rises from `initial` to `sparsity` on the cubic schedule of Zhu & Gupta (2017), s = sparsity + (initial − sparsity)·(1 − t/(end·T))³ over the phase's T steps, and stays there. A pruned weight and its optimizer state are zero after every later step, in this phase and the following ones; the masks are saved in the checkpoint (PATH:prune_mask).",
	req("sparsity", "float", "final fraction of zeros in each pruned parameter, in [0, 1)"),
	p("params", "paths", StrV{"*.weight"}, "glob(s) of the parameters to prune"),
	p("initial", "float", FloatV{0}, "sparsity at the phase's first step"),
	p("end", "float", FloatV{0.75}, "fraction of the phase's steps at which the final sparsity is reached; the rest fine-tunes"),
	p("every", "int", IntV{50}, "optimizer steps between mask updates"))

// phasePrune checks prune = magnitude(...).
func (c *checker) phasePrune(tr *Train, f *lang.Field, en *env) *Prune {
	v := c.eval(f.Value, en)
	cv, good := configOf(v, KPrune)
	if !good {
		if _, bad := v.(InvalidV); !bad {
			c.errorAt(f.Value, "prune must be magnitude(sparsity: 0.9), got %s", describe(v))
		}
		return nil
	}
	pr := &Prune{Pos: cv.Pos, Every: int(cv.Args["every"].(IntV).V)}
	pr.Sparsity, _ = floatOf(cv.Args["sparsity"])
	pr.Initial, _ = floatOf(cv.Args["initial"])
	pr.End, _ = floatOf(cv.Args["end"])
	ok := true
	if pr.Sparsity < 0 || pr.Sparsity >= 1 {
		c.errorf(argPos(cv, "sparsity"), "magnitude: sparsity must be in [0, 1), got %g", pr.Sparsity)
		ok = false
	}
	if pr.Initial < 0 || pr.Initial > pr.Sparsity {
		c.errorf(argPos(cv, "initial"), "magnitude: initial must be in [0, sparsity], got %g", pr.Initial)
		ok = false
	}
	if pr.End <= 0 || pr.End > 1 {
		c.errorf(argPos(cv, "end"), "magnitude: end must be in (0, 1], got %g", pr.End)
		ok = false
	}
	if pr.Every <= 0 {
		c.errorf(argPos(cv, "every"), "magnitude: every must be a positive number of steps, got %d", pr.Every)
		ok = false
	}
	for _, pat := range pathsOf(cv.Args["params"]) {
		ps := matchParams(tr.Params, pat)
		if len(ps) == 0 {
			c.errorf(argPos(cv, "params"), "magnitude: params %q matches no parameter of %s (have: %s)", pat, tr.Model.Name(), paramList(tr.Params))
			ok = false
		}
		for _, p := range ps {
			if !p.Buffer && !slices.Contains(pr.Params, p.Path) {
				pr.Params = append(pr.Params, p.Path)
			}
		}
	}
	if !ok {
		return nil
	}
	return pr
}
