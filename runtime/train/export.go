package train

// This file implements the view of a train's data that exporters
// (export/pytorch) write out: the samples exactly as the loop sees them.

import (
	"encoding/json"
	"path/filepath"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/data"
)

// Prepared is a train's data after reading, splitting, preprocessing and
// tokenization: what every training step and evaluation of Run reads.
type Prepared struct {
	Splits    *data.Splits
	Vocab     *data.Vocab // text data; nil otherwise
	Transform string      // the fitted preprocessing as checkpoints record it (JSON, "null" for none)
}

// PrepareData reads the dataset of tr (paths relative to the .enc file)
// as Run does.
func PrepareData(p *compiler.Program, tr *compiler.Train) (*Prepared, error) {
	l, err := loadData(p, tr)
	if err != nil {
		return nil, err
	}
	pr := &Prepared{Splits: l.splits, Vocab: l.vocab}
	b, err := json.Marshal(l.transform)
	if err != nil {
		return nil, err
	}
	pr.Transform = string(b)
	return pr, nil
}

// InitialWeights returns the weights tr starts from when it has no
// from(...) init: every parameter drawn by its initializer from the
// train's seed (InitParam), then the file of a load(...) init fitted
// over them, as Run does.
func InitialWeights(tr *compiler.Train) (map[string][]float32, error) {
	w, err := InitParams(tr.Params, uint64(tr.Seed))
	if err != nil {
		return nil, err
	}
	if tr.Init == nil || tr.Init.E.Name != "load" {
		return w, nil
	}
	s, _ := tr.Init.Args["path"].(compiler.StrV)
	file := filepath.Join(tr.Dir, s.V)
	c, err := LoadCheckpoint(file)
	if err != nil {
		return nil, err
	}
	loaded, err := FitWeights(c, tr.Params, LoadSpecOf(tr.Init), file, tr.Model.Name())
	if err != nil {
		return nil, err
	}
	for name, v := range loaded {
		copy(w[name], v)
	}
	return w, nil
}

// SourceHash is the SHA-256 a checkpoint records of the .enc file that
// declares a train (Meta.SourceSHA256), and RNG how its random streams
// derive from the seed (Meta.RNG).
func SourceHash(text []byte) string { return sourceHash(text) }

// RNG is Meta.RNG of the checkpoints this runtime writes.
const RNG = rngDescription
