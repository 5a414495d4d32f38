package train

// This file implements the view of a train's data that exporters
// (export/pytorch) write out: the samples exactly as the loop sees them.

import (
	"encoding/json"
	"fmt"
	"os"

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

// StartWeights returns the weights an exported train starts from, as
// encc run would: InitialWeights (but an init = from(...) is left to
// train.py, which runs that train first), then the word vectors of an
// init = vectors(...) placed for the vocabulary of pr.
func StartWeights(tr *compiler.Train, pr *Prepared) (map[string][]float32, error) {
	if tr.Init != nil && tr.Init.E.Name == "from" {
		// train.py runs the other train first and loads its result.
		return InitParams(tr.Params, uint64(tr.Seed))
	}
	w, _, err := InitialWeights(tr)
	if err != nil {
		return nil, err
	}
	if tr.Init != nil && tr.Init.E.Name == "vectors" {
		return w, initialVectors(tr, pr, w)
	}
	return w, nil
}

// SourceHash is the SHA-256 a checkpoint records of the .enc file that
// declares a train (Meta.SourceSHA256), and RNG how its random streams
// derive from the seed (Meta.RNG).
func SourceHash(text []byte) string { return sourceHash(text) }

// RNG is Meta.RNG of the checkpoints this runtime writes.
const RNG = rngDescription

// initialVectors places the word vectors of tr's init = vectors(...) in
// w as encc run does, for the vocabulary of pr. The file must exist: a
// skip-gram train that writes it runs under encc run, not in export.
func initialVectors(tr *compiler.Train, pr *Prepared, w map[string][]float32) error {
	a := tr.Init.Args
	rel, _ := a["path"].(compiler.StrV)
	param, _ := a["param"].(compiler.StrV)
	format, _ := a["format"].(compiler.StrV)
	if pr == nil || pr.Vocab == nil || pr.Vocab.Tokenizer.Kind != "words" {
		return fmt.Errorf("%s: vectors(...) needs a text dataset with tokens = words(...)", tr.Init.Pos)
	}
	file := compiler.DataPath(tr.Dir, rel.V)
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("%s: vectors: %s does not exist yet; run the train once with encc run (it writes the vectors), then export", tr.Init.Pos, rel.V)
	}
	vecs, err := data.ReadVectors(file, format.V)
	if err != nil {
		return err
	}
	for _, prm := range tr.Params {
		if shape, _ := prm.Type.ConstShape(); prm.Path == param.V && len(shape) == 2 {
			if _, err := data.AlignVectors(vecs, pr.Vocab, w[param.V], shape[1]); err != nil {
				return fmt.Errorf("%s: vectors %s: %v", tr.Init.Pos, file, err)
			}
			return nil
		}
	}
	return fmt.Errorf("%s: vectors: no parameter %s [vocab, dim]", tr.Init.Pos, param.V)
}
