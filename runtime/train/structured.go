package train

// This file implements structured pruning, a phase's
// prune = structured(...) (compiler/prune.go): whole units of Linear
// and Conv2d layers are removed and the run ends with a smaller dense
// model.
//
//   - At the start of the run, the hyper-parameter of the train's model
//     that sets each pruned layer's width is found by checking the file
//     again with candidate values (compiler.Options.Resize): the one
//     whose new value gives the layer the smaller width, and changes no
//     other Linear or Conv2d layer's own width, is it. Every tensor axis
//     that the change shrinks is tied to the layer: its weight and bias
//     rows, the next layer's input columns (a block of H·W columns per
//     channel after a flatten), a BatchNorm's entries.
//   - After the phase's first optimizer step, the units whose weight rows
//     have the smallest L2 (or L1) norm are removed: every tied entry is
//     masked (PATH:prune_mask, as magnitude pruning's masks), so from then
//     on the run trains exactly the smaller model's function: a removed
//     unit reaches no output, whatever its activation.
//   - After the run, the smaller checkpoint keeps the tied tensors' other
//     entries (the metadata encc.structured names the units kept), and
//     the generated .enc declares the file's models with the new
//     hyper-parameter values as defaults. The smaller model is then
//     evaluated on the test split from the file just written.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
	"github.com/encc-lang/encc/runtime/safetensors"
)

// StructuredMeta is the metadata key of a structured-pruning checkpoint.
const StructuredMeta = "encc.structured"

// StructuredInfo is the JSON under StructuredMeta.
type StructuredInfo struct {
	Model string           `json:"model"`
	Hyper map[string]int64 `json:"hyper"` // the hyper-parameters changed, with their new values
	Norm  string           `json:"norm"`
	Kept  map[string][]int `json:"kept"` // layer → indices of the units kept, of the original layer
}

// StructuredResult reports a run's structured pruning.
type StructuredResult struct {
	Path, Enc    string             // the smaller checkpoint and the generated .enc
	Hyper        map[string]int64   // hyper-parameters changed
	Params       [2]int64           // parameters before and after
	Metrics      map[string]float64 // the smaller model on the test split
	UnitsRemoved map[string][2]int  // layer → units before, after
}

// A structPlan ties the axes of the model's tensors to the pruned layers.
type structPlan struct {
	pr     *compiler.Prune
	phase  int
	width  map[string][2]int     // layer → units before, after
	hyper  map[string]int64      // hyper-parameter → new value
	axes   map[string][]tiedAxis // parameter path → its shrunk axes
	prog   *compiler.Program     // the file checked with hyper
	train  *compiler.Train       // the train in prog: the smaller model
	decl   *lang.ModelDecl       // the train's model's declaration
	shapes map[string][]int      // the smaller model's shapes
	kept   map[string][]int      // layer → units kept, once chosen
}

// A tiedAxis is an axis of a tensor whose entries follow a pruned layer's
// units, block entries per unit.
type tiedAxis struct {
	axis  int
	layer string
	block int
}

// planStructured finds the smaller model of the train's structured
// pruning, if any, before the run trains.
func (t *trainer) planStructured() error {
	for ph, phase := range t.tr.Phases {
		pr := phase.Prune
		if pr == nil || pr.Kind != "structured" {
			continue
		}
		sp, err := resizePlan(t.p, t.tr, pr)
		if err != nil {
			return err
		}
		sp.phase = ph
		t.structured = sp
	}
	return nil
}

func shapesOf(ps []*compiler.Param) map[string][]int {
	out := map[string][]int{}
	for _, p := range ps {
		s, _ := p.Type.ConstShape()
		out[p.Path] = s
	}
	return out
}

// ownsUnits reports whether axis 0 of parameter p holds the units of its
// own layer (a Linear or Conv2d weight or bias).
func ownsUnits(p *compiler.Param) bool {
	return p.Layer == "Linear" || p.Layer == "Conv2d"
}

// resizePlan finds, layer by layer, the int hyper-parameter of tr's model
// that sets the layer's width, by checking the file again with it changed.
func resizePlan(p *compiler.Program, tr *compiler.Train, pr *compiler.Prune) (*structPlan, error) {
	file := tr.Decl.Pos().File
	src, ok := p.Sources[file]
	if !ok {
		return nil, fmt.Errorf("%s: structured: the source of %s is not at hand", pr.Pos, file)
	}
	decl := tr.Model.Decl()
	if decl.Pos().File != file {
		return nil, posErr(pr.Pos, "structured: model %s is declared in %s; the generated .enc copies the models of %s, so declare it there", tr.Model.Name(), decl.Pos().File, filepath.Base(file))
	}
	params := map[string]*compiler.Param{}
	for _, q := range tr.Params {
		params[q.Path] = q
	}
	sp := &structPlan{pr: pr, width: map[string][2]int{}, hyper: map[string]int64{}, axes: map[string][]tiedAxis{},
		decl: decl, shapes: shapesOf(tr.Params), kept: map[string][]int{}}
	for _, layer := range pr.Layers {
		n0 := sp.shapes[layer+".weight"][0]
		n1 := n0 - int(math.Round(pr.Fraction*float64(n0)))
		sp.width[layer] = [2]int{n0, n1}
		found := false
		for _, h := range tr.Model.HPNames {
			if _, used := sp.hyper[h]; used {
				continue
			}
			if v, isInt := tr.Model.HP[h].(compiler.IntV); !isInt || v.V != int64(n0) {
				continue
			}
			try := map[string]int64{h: int64(n1)}
			for k, v := range sp.hyper {
				try[k] = v
			}
			prog, diags := compiler.Check(file, src, &compiler.Options{Resize: map[string]map[string]int64{tr.Name: try}})
			if diags.HasErrors() || prog == nil || prog.Train(tr.Name) == nil {
				continue
			}
			small := prog.Train(tr.Name)
			shapes := shapesOf(small.Params)
			ties, good := tiesOf(sp.shapes, shapes, params, layer, n0, n1)
			if !good {
				continue
			}
			for path, ax := range ties {
				sp.axes[path] = append(sp.axes[path], ax...)
			}
			sp.hyper[h], sp.prog, sp.train, sp.shapes = int64(n1), prog, small, shapes
			found = true
			break
		}
		if !found {
			return nil, posErr(pr.Pos, "structured: the width of %s (%d units) is not set by an int hyper-parameter of %s alone, or its units are the model's output; declare one (model %s(%s_units: int = %d)) and use it for that layer and the inputs of the next only", layer, n0, tr.Model.Name(), tr.Model.Name(), strings.ReplaceAll(layer, ".", "_"), n0)
		}
	}
	// The shapes in sp.shapes are the final ones; the original ones are
	// those of tr.
	return sp, nil
}

// tiesOf compares the shapes before (old) and after (new) one
// hyper-parameter change that should shrink layer from n0 to n1 units: it
// returns the axes that change, each tied to layer, or false when the
// change does something else (shrinks another layer's own units, changes
// a rank, shrinks by another ratio, or shrinks no tensor that reads the
// units: they are then the model's output).
func tiesOf(old, new map[string][]int, params map[string]*compiler.Param, layer string, n0, n1 int) (map[string][]tiedAxis, bool) {
	if len(old) != len(new) {
		return nil, false
	}
	out := map[string][]tiedAxis{}
	for path, s0 := range old {
		s1, ok := new[path]
		if !ok || len(s1) != len(s0) {
			return nil, false
		}
		for ax := range s0 {
			if s0[ax] == s1[ax] {
				continue
			}
			if s0[ax]%n0 != 0 || s1[ax] != s0[ax]/n0*n1 {
				return nil, false
			}
			own := path == layer+".weight" || path == layer+".bias"
			if ax == 0 && ownsUnits(params[path]) && !own {
				return nil, false // another layer's width moves with it
			}
			out[path] = append(out[path], tiedAxis{axis: ax, layer: layer, block: s0[ax] / n0})
		}
	}
	if s := new[layer+".weight"]; len(s) == 0 || s[0] != n1 {
		return nil, false
	}
	consumed := false
	for path := range out {
		consumed = consumed || (path != layer+".weight" && path != layer+".bias")
	}
	if !consumed { // the units are the model's output: removing them changes what it computes
		return nil, false
	}
	return out, true
}

func posErr(pos diag.Pos, format string, args ...any) error {
	return fmt.Errorf("%s: %s", pos, fmt.Sprintf(format, args...))
}

// structuredStep removes the units after the first optimizer step of the
// pruning phase: it chooses them by norm and masks every tied entry.
func (t *trainer) structuredStep() {
	sp := t.structured
	for _, layer := range sp.pr.Layers {
		sp.kept[layer] = keepUnits(t.weights[layer+".weight"], sp.width[layer][0], sp.width[layer][1], sp.pr.Norm)
	}
	for path, axes := range sp.axes {
		shape := t.shapes[path]
		name := path + pruneMaskSuffix
		mask, ok := t.state[name]
		if !ok {
			mask = make([]float32, len(t.weights[path]))
			for i := range mask {
				mask[i] = 1
			}
			t.state[name] = mask
			t.shapes[name] = append([]int(nil), shape...)
		}
		for _, ax := range axes {
			keep := unitSet(sp.kept[ax.layer])
			forAxis(shape, ax.axis, func(i, at int) {
				if !keep[at/ax.block] {
					mask[i] = 0
				}
			})
		}
	}
}

// keepUnits returns the n1 rows of w ([n0, ...]) with the largest norm,
// in increasing order (ties: the lower index is kept).
func keepUnits(w []float32, n0, n1 int, norm string) []int {
	k := len(w) / n0
	score := make([]float64, n0)
	for r := range n0 {
		for _, v := range w[r*k : (r+1)*k] {
			if norm == "l1" {
				score[r] += math.Abs(float64(v))
			} else {
				score[r] += float64(v) * float64(v)
			}
		}
	}
	idx := make([]int, n0)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score[idx[a]] > score[idx[b]] })
	kept := slices.Clone(idx[:n1])
	slices.Sort(kept)
	return kept
}

func unitSet(kept []int) map[int]bool {
	m := map[int]bool{}
	for _, u := range kept {
		m[u] = true
	}
	return m
}

// forAxis calls f with every flat index of a tensor of shape and its
// coordinate on axis.
func forAxis(shape []int, axis int, f func(i, at int)) {
	inner := 1
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	total := 1
	for _, d := range shape {
		total *= d
	}
	for i := range total {
		f(i, i/inner%shape[axis])
	}
}

// keptFromMasks recovers the units kept from the masks (a resumed run that
// chose them before).
func (t *trainer) keptFromMasks() error {
	sp := t.structured
	for _, layer := range sp.pr.Layers {
		if sp.kept[layer] != nil {
			continue
		}
		mask := t.state[layer+".weight"+pruneMaskSuffix]
		n0, n1 := sp.width[layer][0], sp.width[layer][1]
		if mask == nil {
			return fmt.Errorf("%s: structured: the checkpoint has no mask of %s.weight: its units were never chosen", sp.pr.Pos, layer)
		}
		k := len(mask) / n0
		var kept []int
		for r := range n0 {
			if slices.ContainsFunc(mask[r*k:(r+1)*k], func(m float32) bool { return m != 0 }) {
				kept = append(kept, r)
			}
		}
		if len(kept) != n1 {
			return fmt.Errorf("%s: structured: the mask of %s.weight keeps %d units, not %d", sp.pr.Pos, layer, len(kept), n1)
		}
		sp.kept[layer] = kept
	}
	return nil
}

// shrink returns the smaller model's weights: of every tensor, the entries
// whose tied coordinates are kept.
func (sp *structPlan) shrink(weights map[string][]float32, shapes map[string][]int) map[string][]float32 {
	out := map[string][]float32{}
	for path, w := range weights {
		axes, tied := sp.axes[path]
		if !tied {
			out[path] = w
			continue
		}
		shape := shapes[path]
		keep := make([]bool, len(w))
		for i := range keep {
			keep[i] = true
		}
		for _, ax := range axes {
			set := unitSet(sp.kept[ax.layer])
			forAxis(shape, ax.axis, func(i, at int) {
				if !set[at/ax.block] {
					keep[i] = false
				}
			})
		}
		var small []float32
		for i, v := range w {
			if keep[i] {
				small = append(small, v)
			}
		}
		out[path] = small
	}
	return out
}

// writeStructured writes the smaller checkpoint and .enc after the run and
// evaluates the smaller model.
func (t *trainer) writeStructured() (*StructuredResult, error) {
	sp := t.structured
	if t.state[sp.pr.Layers[0]+".weight"+pruneMaskSuffix] == nil {
		return nil, nil // the run stopped before the pruning phase
	}
	if err := t.keptFromMasks(); err != nil {
		return nil, err
	}
	paths := map[string]bool{}
	for _, q := range t.tr.Params {
		paths[q.Path] = true
	}
	model := map[string][]float32{}
	for path := range paths {
		model[path] = t.weights[path]
	}
	small := sp.shrink(model, t.shapes)
	res := &StructuredResult{Path: compiler.DataPath(t.tr.Dir, sp.pr.Save), Enc: compiler.DataPath(t.tr.Dir, sp.pr.Enc),
		Hyper: sp.hyper, UnitsRemoved: map[string][2]int{}}
	var ts []*safetensors.Tensor
	for path, w := range small {
		if want := sp.shapes[path]; len(w) != prod(want) {
			return nil, fmt.Errorf("internal error: structured: %s has %d values for shape %v", path, len(w), want)
		}
		ts = append(ts, safetensors.FromFloat32(path, sp.shapes[path], w))
		res.Params[0] += int64(len(model[path]))
		res.Params[1] += int64(len(w))
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	for l, w := range sp.width {
		res.UnitsRemoved[l] = w
	}
	info := StructuredInfo{Model: t.tr.Model.Name(), Hyper: sp.hyper, Norm: sp.pr.Norm, Kept: sp.kept}
	js, _ := json.Marshal(info)
	tf, _ := json.Marshal(t.transform)
	meta := (&Meta{Format: FormatName, Train: t.tr.Name, Epochs: t.total, Epoch: t.total, Seed: t.tr.Seed,
		RNG: rngDescription, SourceSHA256: t.hash, Transform: string(tf)}).encode()
	meta[StructuredMeta] = string(js)
	if err := os.MkdirAll(filepath.Dir(res.Path), 0o755); err != nil {
		return nil, err
	}
	if err := safetensors.Write(res.Path, ts, meta); err != nil {
		return nil, fmt.Errorf("cannot write the pruned checkpoint: %w", err)
	}
	text, err := sp.generate(t.p, res.Enc, t.tr)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(res.Enc), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(res.Enc, text, 0o644); err != nil {
		return nil, err
	}
	// The smaller model on the test split, from the file just written.
	if t.splits.Test != nil {
		c, err := LoadCheckpoint(res.Path)
		if err != nil {
			return nil, err
		}
		w, err := FitWeights(c, sp.train.Params, LoadSpec{}, res.Path, sp.train.Model.Name())
		if err != nil {
			return nil, err
		}
		e := &trainer{p: sp.prog, tr: sp.train, opts: t.opts, evalProgs: map[int]Executor{}, weights: w, splits: t.splits,
			evalBatcher: t.evalBatcher, evalBatch: t.evalBatch, ms: t.ms, classes: t.classes, backendName: t.backendName,
			backend: t.backend}
		if res.Metrics, err = e.evaluate(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// generate writes the .enc of the smaller model: the imports of the
// train's file (their paths rebased onto the new file's directory) and its
// const and model declarations, the train's model with every scalar
// hyper-parameter's default set to the smaller model's value. Datasets and
// trains stay in the original file.
func (sp *structPlan) generate(p *compiler.Program, to string, tr *compiler.Train) ([]byte, error) {
	file := tr.Decl.Pos().File
	src := p.Sources[file]
	root := p.Files[file]
	if root == nil {
		return nil, fmt.Errorf("internal error: structured: %s not parsed", file)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// Generated by encc run: train %s of %s with %s removed by\n", tr.Name, filepath.Base(file), describeWidths(sp.width))
	fmt.Fprintf(&b, "// structured pruning (%s norm of each unit's weights). The weights are in\n", strings.ToUpper(sp.pr.Norm))
	fmt.Fprintf(&b, "// %s.\n", filepath.Base(sp.pr.Save))
	b.WriteString("\n")
	fromDir, toDir := filepath.Dir(file), filepath.Dir(to)
	for _, im := range root.Imports {
		path := im.Path
		if !filepath.IsAbs(path) {
			abs, _ := filepath.Abs(filepath.Join(fromDir, path))
			absTo, _ := filepath.Abs(toDir)
			if rel, err := filepath.Rel(absTo, abs); err == nil {
				path = filepath.ToSlash(rel)
			}
		}
		fmt.Fprintf(&b, "import %q\n", path)
	}
	if len(root.Imports) > 0 {
		b.WriteString("\n")
	}
	hp := tr.Model.HP
	if sp.train != nil {
		hp = sp.train.Model.HP
	}
	for _, d := range root.Decls {
		switch d := d.(type) {
		case *lang.ConstDecl:
			b.Write(src[d.Pos().Offset:d.End().Offset])
			b.WriteString("\n\n")
		case *lang.ModelDecl:
			text := src[d.Pos().Offset:d.End().Offset]
			if d == sp.decl {
				text = withDefaults(src, d, hp)
			}
			b.Write(text)
			b.WriteString("\n\n")
		}
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n"), nil
}

// withDefaults returns the text of model declaration d with the default of
// each scalar hyper-parameter set to its value in hp.
func withDefaults(src []byte, d *lang.ModelDecl, hp map[string]compiler.Value) []byte {
	type edit struct {
		from, to int
		text     string
	}
	var edits []edit
	for _, h := range d.Params {
		v := hp[h.Name.Name]
		var lit string
		switch v := v.(type) {
		case compiler.IntV, compiler.FloatV, compiler.BoolV:
			lit = fmt.Sprint(valueLiteral(v))
		case compiler.StrV:
			lit = fmt.Sprintf("%q", v.V)
		default:
			continue
		}
		if h.Default != nil {
			edits = append(edits, edit{h.Default.Pos().Offset, h.Default.End().Offset, lit})
		} else {
			edits = append(edits, edit{h.End().Offset, h.End().Offset, " = " + lit})
		}
	}
	start := d.Pos().Offset
	out := slices.Clone(src[start:d.End().Offset])
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		out = slices.Concat(out[:e.from-start], []byte(e.text), out[e.to-start:])
	}
	return out
}

func valueLiteral(v compiler.Value) string {
	switch v := v.(type) {
	case compiler.IntV:
		return fmt.Sprint(v.V)
	case compiler.FloatV:
		s := fmt.Sprint(v.V)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return s
	case compiler.BoolV:
		return fmt.Sprint(v.V)
	}
	return ""
}

func describeWidths(w map[string][2]int) string {
	var parts []string
	for l, n := range w {
		parts = append(parts, fmt.Sprintf("%s %d → %d units", l, n[0], n[1]))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
