package train

// This file implements the weights of LoRA trains (compiler.LoRA): their
// checkpoints hold only what was trained (the adapters, the base
// parameters under lora's train:, optimizer state) plus the path and
// SHA-256 of the base checkpoint; loading one rebuilds the base weights
// as the run started from them (the initializers and the train's init)
// and lays the trained tensors over them. Merge folds the adapters into
// a plain checkpoint of the base model.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/encc-lang/encc/compiler"
)

// initFile is the weights file of a train's init, or "" for none (and
// for vectors(...), whose rows are placed by the vocabulary: vectors.go).
func initFile(tr *compiler.Train) (string, error) {
	if tr.Init == nil {
		return "", nil
	}
	switch tr.Init.E.Name {
	case "vectors":
		return "", nil
	case "from":
		return compiler.DataPath(tr.From.Dir, tr.From.Save), nil
	case "load":
		s, _ := tr.Init.Args["path"].(compiler.StrV)
		return compiler.DataPath(tr.Dir, s.V), nil
	}
	return "", fmt.Errorf("%s: init %s is not supported by the runtime", tr.Init.Pos, tr.Init.E.Name)
}

// InitialWeights returns the weights a run of tr starts from: every
// parameter from its initializer under the train's seed, then the base
// parameters its init (from or load) selects from the init file. It
// also returns that file ("" when the train has no init).
func InitialWeights(tr *compiler.Train) (map[string][]float32, string, error) {
	w, err := InitParams(tr.Params, uint64(tr.Seed))
	if err != nil {
		return nil, "", err
	}
	file, err := initFile(tr)
	if err != nil || file == "" {
		return w, "", err
	}
	c, err := LoadCheckpoint(file)
	if err != nil {
		return nil, "", err
	}
	loaded, err := FitWeights(c, tr.BaseParams(), LoadSpecOf(tr.Init), file, tr.Model.Name())
	if err != nil {
		return nil, "", err
	}
	for name, v := range loaded {
		copy(w[name], v)
	}
	return w, file, nil
}

// fileSHA256 is the hex SHA-256 of a file's bytes.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// trainedParams lists the parameters of tr some phase trains.
func trainedParams(tr *compiler.Train) []*compiler.Param {
	keep := map[string]bool{}
	for _, p := range tr.Trained() {
		keep[p] = true
	}
	var out []*compiler.Param
	for _, p := range tr.Params {
		if keep[p.Path] {
			out = append(out, p)
		}
	}
	return out
}

// TrainWeights returns the weights of every parameter of tr (adapters
// included) that the checkpoint c read from file stands for. A LoRA
// checkpoint (Meta.Base set) is laid over the train's initial weights,
// after checking that the base file is the one it was trained from; a
// plain checkpoint of the base model given to a LoRA train gets zero
// adapters (B = 0: the adapted model equals the base).
func TrainWeights(tr *compiler.Train, c *Checkpoint, file string) (map[string][]float32, error) {
	if tr.LoRA == nil {
		return FitWeights(c, tr.Params, LoadSpec{}, file, tr.Model.Name())
	}
	if c.Meta.BaseSHA256 == "" && c.Meta.Base == "" {
		w, err := FitWeights(c, tr.BaseParams(), LoadSpec{}, file, tr.Model.Name())
		if err != nil {
			return nil, err
		}
		for _, p := range tr.Params {
			if p.IsAdapter() {
				w[p.Path] = make([]float32, p.Elements())
			}
		}
		return w, nil
	}
	w, base, err := InitialWeights(tr)
	if err != nil {
		return nil, fmt.Errorf("%s: rebuilding the base weights of the LoRA checkpoint: %w", file, err)
	}
	if base != "" {
		sum, err := fileSHA256(base)
		if err != nil {
			return nil, err
		}
		if sum != c.Meta.BaseSHA256 {
			return nil, fmt.Errorf("%s: the adapters were trained on base weights %s with sha256 %.12s…, but that file now has sha256 %.12s…: train again, or restore the base checkpoint", file, c.Meta.Base, c.Meta.BaseSHA256, sum)
		}
	}
	trained, err := FitWeights(c, trainedParams(tr), LoadSpec{}, file, tr.Model.Name()+" (what "+tr.Name+" trains)")
	if err != nil {
		return nil, err
	}
	for name, v := range trained {
		w[name] = v
	}
	return w, nil
}

// Merge folds the adapters of a LoRA train into the weights of its base
// model: W + (alpha/r)·B·A for every adapted Linear. The result holds
// the base parameters only.
func Merge(tr *compiler.Train, w map[string][]float32) (map[string][]float32, error) {
	out := map[string][]float32{}
	for _, p := range tr.BaseParams() {
		v, ok := w[p.Path]
		if !ok {
			return nil, fmt.Errorf("merge: no weights for %s", p.Path)
		}
		out[p.Path] = append([]float32(nil), v...)
	}
	if tr.LoRA == nil {
		return out, nil
	}
	scale := tr.LoRA.Scale()
	r := tr.LoRA.R
	for _, layer := range tr.LoRA.Layers {
		an, bn := compiler.LoRAPair(layer)
		a, b, wt := w[an], w[bn], out[layer+".weight"]
		if a == nil || b == nil || wt == nil {
			return nil, fmt.Errorf("merge: missing adapter tensors of %s", layer)
		}
		in := len(a) / r
		outDim := len(b) / r
		if len(wt) != outDim*in {
			return nil, fmt.Errorf("merge: %s.weight has %d elements, want %d×%d", layer, len(wt), outDim, in)
		}
		for o := 0; o < outDim; o++ {
			for i := 0; i < in; i++ {
				var s float64
				for k := 0; k < r; k++ {
					s += float64(b[o*r+k]) * float64(a[k*in+i])
				}
				wt[o*in+i] += float32(scale * s)
			}
		}
	}
	return out, nil
}

// ModelWeights returns the weights of the model instance in from the
// file path (predict, export): a plain checkpoint fitted to the model,
// or a LoRA checkpoint rebuilt through the train that saved it (named in
// its metadata) and merged into plain weights.
func ModelWeights(p *compiler.Program, in *compiler.Instance, path string) (map[string][]float32, error) {
	c, err := LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	return modelWeights(p, in, c, path)
}

// modelWeights is ModelWeights of the checkpoint c read from path.
func modelWeights(p *compiler.Program, in *compiler.Instance, c *Checkpoint, path string) (map[string][]float32, error) {
	if c.Meta.BaseSHA256 == "" && c.Meta.Base == "" {
		return FitWeights(c, in.Params(), LoadSpec{}, path, in.Name())
	}
	tr := p.Train(c.Meta.Train)
	if tr == nil || tr.LoRA == nil {
		return nil, fmt.Errorf("%s: a LoRA checkpoint of train %s, which this program does not declare with lora: cannot rebuild its base weights", path, c.Meta.Train)
	}
	w, err := TrainWeights(tr, c, path)
	if err != nil {
		return nil, err
	}
	merged, err := Merge(tr, w)
	if err != nil {
		return nil, err
	}
	// The instance may be the train's model or another with the same
	// parameters: fit by name and shape.
	fc := &Checkpoint{Weights: merged, Shapes: map[string][]int{}, NonFloat: map[string]string{}}
	for _, prm := range tr.BaseParams() {
		s, _ := prm.Type.ConstShape()
		fc.Shapes[prm.Path] = s
	}
	return FitWeights(fc, in.Params(), LoadSpec{}, path+" (merged)", in.Name())
}

// MergeFile writes the merged weights of the LoRA checkpoint of tr at
// path to out: a plain checkpoint of the base model.
func MergeFile(tr *compiler.Train, path, out string) (int, error) {
	if tr.LoRA == nil {
		return 0, fmt.Errorf("train %s has no lora: nothing to merge", tr.Name)
	}
	c, err := LoadCheckpoint(path)
	if err != nil {
		return 0, err
	}
	if c.Meta.Train != "" && c.Meta.Train != tr.Name {
		return 0, fmt.Errorf("%s: checkpoint of train %s, not %s", path, c.Meta.Train, tr.Name)
	}
	w, err := TrainWeights(tr, c, path)
	if err != nil {
		return 0, err
	}
	merged, err := Merge(tr, w)
	if err != nil {
		return 0, err
	}
	shapes := map[string][]int{}
	for _, prm := range tr.BaseParams() {
		s, _ := prm.Type.ConstShape()
		shapes[prm.Path] = s
	}
	m := c.Meta
	m.Base, m.BaseSHA256 = "", ""
	m.Format = FormatName
	m.Train = tr.Name
	return len(merged), SaveCheckpoint(out, &Checkpoint{Weights: merged, Shapes: shapes, Meta: m})
}

// relToDir writes path relative to dir when it lies under it.
func relToDir(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
