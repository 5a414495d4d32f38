package compiler

// This file checks a phase's prune field: prune = magnitude(...), the
// unstructured magnitude pruning that runtime/train/prune.go performs
// during the phase, and prune = structured(...), the removal of whole
// units of Linear and Conv2d layers that runtime/train/structured.go
// performs (masks during the run, then a smaller dense checkpoint and a
// generated .enc of the model's new hyper-parameters).

import (
	"math"
	"slices"
	"strings"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

// A Prune is a checked prune = magnitude(...) or prune = structured(...)
// of a phase.
type Prune struct {
	Pos      diag.Pos
	Kind     string   // "magnitude" or "structured"
	Params   []string // magnitude: parameter paths pruned
	Sparsity float64  // final fraction of zeros in each pruned parameter
	Initial  float64  // fraction at the phase's first step
	End      float64  // fraction of the phase's steps at which Sparsity is reached
	Every    int      // optimizer steps between mask updates

	// structured(...): the layers whose units (rows of the weight,
	// output channels) are removed, by layer path (fc1, enc.conv2).
	Layers   []string
	Fraction float64 // fraction of each layer's units removed
	Norm     string  // "l2" or "l1": the norm of a unit's weight row that ranks it
	Save     string  // the smaller checkpoint, relative to the file
	Enc      string  // the generated .enc of the smaller model, relative to the file
}

var pruneEntry = cfg("magnitude", KPrune, "magnitude prunes the selected parameters during a phase (prune = magnitude(...)): every `every` steps the smallest-magnitude weights of each parameter are set to zero, to a sparsity that rises from `initial` to `sparsity` on the cubic schedule of Zhu & Gupta (2017), s = sparsity + (initial − sparsity)·(1 − t/(end·T))³ over the phase's T steps, and stays there. A pruned weight and its optimizer state are zero after every later step, in this phase and the following ones; the masks are saved in the checkpoint (PATH:prune_mask).",
	req("sparsity", "float", "final fraction of zeros in each pruned parameter, in [0, 1)"),
	p("params", "paths", StrV{"*.weight"}, "glob(s) of the parameters to prune"),
	p("initial", "float", FloatV{0}, "sparsity at the phase's first step"),
	p("end", "float", FloatV{0.75}, "fraction of the phase's steps at which the final sparsity is reached; the rest fine-tunes"),
	p("every", "int", IntV{50}, "optimizer steps between mask updates"))

var structuredEntry = cfg("structured", KPrune, "structured removes whole units of Linear and Conv2d layers in a phase (prune = structured(...)): after the phase's first optimizer step the `fraction` of each layer's units whose weight rows (output channels) have the smallest norm are masked out — the row, its bias and every weight that reads the unit (the next layer's input columns) — and the rest of the run fine-tunes the rest, the masked weights kept at zero as magnitude's are. The masked model computes exactly what the smaller one does. After the run, the smaller dense model is written: a checkpoint (save) with the smaller tensors and a generated .enc (enc) that declares the train's models with the hyper-parameter values that give those sizes (a layer's width must be set by an int hyper-parameter of the train's model).",
	req("fraction", "float", "fraction of each layer's units removed, in (0, 1)"),
	req("layers", "paths", "glob(s) of the Linear or Conv2d layers to shrink, by path (\"fc1\", \"enc.conv*\")"),
	p("norm", "string", StrV{"l2"}, `"l2" or "l1": the norm of a unit's weight row (all its input weights) that ranks it; the smallest are removed`),
	req("save", "string", "path of the smaller checkpoint (.safetensors), relative to the file"),
	p("enc", "string", StrV{""}, "path of the generated .enc of the smaller model, relative to the file; default: save with .enc for .safetensors"))

// phasePrune checks prune = magnitude(...) and prune = structured(...).
func (c *checker) phasePrune(tr *Train, f *lang.Field, en *env) *Prune {
	v := c.eval(f.Value, en)
	cv, good := configOf(v, KPrune)
	if !good {
		if _, bad := v.(InvalidV); !bad {
			c.errorAt(f.Value, "prune must be magnitude(sparsity: 0.9) or structured(fraction: 0.5, layers: \"fc1\", save: \"small.safetensors\"), got %s", describe(v))
		}
		return nil
	}
	if cv.E.Name == "structured" {
		return c.structuredPrune(tr, cv)
	}
	pr := &Prune{Pos: cv.Pos, Kind: "magnitude", Every: int(cv.Args["every"].(IntV).V)}
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

// structuredPrune checks prune = structured(...).
func (c *checker) structuredPrune(tr *Train, cv *ConfigV) *Prune {
	pr := &Prune{Pos: cv.Pos, Kind: "structured", Norm: cv.Args["norm"].(StrV).V,
		Save: cv.Args["save"].(StrV).V, Enc: cv.Args["enc"].(StrV).V}
	pr.Fraction, _ = floatOf(cv.Args["fraction"])
	ok := true
	for _, ph := range tr.Phases {
		if ph.Prune != nil && ph.Prune.Kind == "structured" {
			c.errorf(cv.Pos, "structured: phase %s prunes structurally already; a train has one structured pruning (its layers may be several)", ph.Name)
			ok = false
		}
	}
	if !(pr.Fraction > 0 && pr.Fraction < 1) {
		c.errorf(argPos(cv, "fraction"), "structured: fraction must be in (0, 1), got %g", pr.Fraction)
		ok = false
	}
	if pr.Norm != "l2" && pr.Norm != "l1" {
		c.errorf(argPos(cv, "norm"), "structured: norm must be \"l2\" or \"l1\", got %q", pr.Norm)
		ok = false
	}
	if !strings.HasSuffix(pr.Save, ".safetensors") {
		c.errorf(argPos(cv, "save"), "structured: save must be a path ending in .safetensors, got %q", pr.Save)
		ok = false
	}
	if pr.Enc == "" {
		pr.Enc = strings.TrimSuffix(pr.Save, ".safetensors") + ".enc"
	} else if !strings.HasSuffix(pr.Enc, ".enc") {
		c.errorf(argPos(cv, "enc"), "structured: enc must be a path ending in .enc, got %q", pr.Enc)
		ok = false
	}
	if tr.Save != "" && DataPath(tr.Dir, tr.Save) == DataPath(tr.Dir, pr.Save) {
		c.errorf(argPos(cv, "save"), "structured: save %q is the train's own checkpoint; the smaller model needs a file of its own", pr.Save)
		ok = false
	}
	// Layers: each pattern names layers through their weights.
	for _, pat := range pathsOf(cv.Args["layers"]) {
		found := false
		for _, p := range tr.Params {
			layer, isWeight := strings.CutSuffix(p.Path, ".weight")
			if !isWeight || !MatchPath(pat, layer) {
				continue
			}
			found = true
			if p.Layer != "Linear" && p.Layer != "Conv2d" {
				c.errorf(argPos(cv, "layers"), "structured: %s is a %s; structured pruning removes units of Linear and Conv2d layers", layer, p.Layer)
				ok = false
				continue
			}
			n, _ := p.Type.Dims[0].Const()
			if keep := n - int64(math.Round(pr.Fraction*float64(n))); keep < 1 || keep == n {
				c.errorf(argPos(cv, "fraction"), "structured: fraction %g of the %d units of %s keeps %d; choose one that removes at least one unit and keeps one", pr.Fraction, n, layer, keep)
				ok = false
				continue
			}
			if !slices.Contains(pr.Layers, layer) {
				pr.Layers = append(pr.Layers, layer)
			}
		}
		if !found {
			c.errorf(argPos(cv, "layers"), "structured: layers %q matches no Linear or Conv2d layer of %s (have: %s)", pat, tr.Model.Name(), layerList(tr.Params))
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return pr
}

// layerList names the layers that own a weight, for messages.
func layerList(ps []*Param) string {
	var names []string
	for _, p := range ps {
		if l, ok := strings.CutSuffix(p.Path, ".weight"); ok && (p.Layer == "Linear" || p.Layer == "Conv2d") {
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
