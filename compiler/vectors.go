package compiler

// This file holds word vectors: trains whose objective is skip-gram
// with negative sampling (they write word2vec text files, not
// checkpoints), init = vectors(...) that fills an Embedding from a
// word-vector file aligned with the dataset's vocabulary (its dimension
// is checked here, against the file's header or the skip-gram train
// that writes it), and the check of a tokenizer's stop_words. The
// runtime side is runtime/train/vectors.go and runtime/data/vectors.go.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/lang"
)

// VectorFormats are the word-vector formats of vectors(format: ...).
var VectorFormats = []string{"word2vec", "word2vec_binary", "glove"}

func init() {
	register(
		cfg("skipgram", KObjective, "skipgram trains word vectors for the dataset's vocabulary with skip-gram and negative sampling (Mikolov et al. 2013, word2vec's SGNS: "+
			"context windows drawn from 1..window, frequent words subsampled, negatives drawn from the unigram distribution to the 3/4, a learning rate decaying linearly to 0.0001 lr) "+
			"on the texts of the train split; a train with objective = skipgram(...) takes data, epochs, seed and save (a .txt or .vec file written in the word2vec text format).",
			p("dim", "int", IntV{100}, "vector size"), p("window", "int", IntV{5}, "largest distance between a word and its context"),
			p("negatives", "int", IntV{5}, "negative samples per pair"), p("subsample", "float", FloatV{1e-3}, "subsampling threshold of frequent words; 0 keeps every word"),
			p("lr", "float", FloatV{0.025}, "initial learning rate (SGD)")),
		cfg("vectors", KWeights, "vectors(path, param: \"embed.weight\") fills an Embedding's weight from pre-trained word vectors, aligned with the dataset's vocabulary: "+
			"each word is looked up as it is, then lower-cased; the special tokens and the words the file lacks keep the Embedding's initializer (run reports how many were found).",
			req("path", "string", "word-vector file, relative to the .enc file"), req("param", "string", "the Embedding weight to fill, [vocab, dim]"),
			p("format", "string", StrV{"word2vec"}, `"word2vec" (text), "word2vec_binary" or "glove" (text, no header)`)),
	)
}

// A VectorsTrain is a checked train whose objective is skipgram(...):
// it trains word vectors for the vocabulary of its dataset and writes
// them to Save in the word2vec text format.
type VectorsTrain struct {
	Name      string
	Decl      *lang.TrainDecl
	Data      *Dataset
	Objective *ConfigV // skipgram(...)
	Epochs    int
	Seed      int64
	Save      string // relative to Dir
	Dir       string
}

// Dim is the size of the vectors.
func (v *VectorsTrain) Dim() int { return int(v.Objective.Args["dim"].(IntV).V) }

// VectorTrain returns the vectors train of the root file called name, or nil.
func (p *Program) VectorTrain(name string) *VectorsTrain {
	for _, v := range p.VectorTrains {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// VectorsSource returns the vectors train whose save is file (a path
// as the runtime joins it), or nil.
func (p *Program) VectorsSource(file string) *VectorsTrain {
	for _, v := range p.VectorTrains {
		if filepath.Clean(DataPath(v.Dir, v.Save)) == filepath.Clean(file) {
			return v
		}
	}
	return nil
}

var vectorsTrainFields = []string{"data", "objective", "epochs", "seed", "save"}

// checkVectorsTrain checks a train with an objective (fields are its
// fields by name); it records the result on d.
func (c *checker) checkVectorsTrain(d *trainDecl, fields map[string]*lang.Field, phases []*lang.Phase) {
	vt := &VectorsTrain{Name: d.name, Decl: d.decl, Epochs: 5, Dir: filepath.Dir(d.file.name)}
	en := &env{sc: d.file.scope, hyper: true}
	ok := true
	for _, name := range sortedKeys(fields) {
		if !slices.Contains(vectorsTrainFields, name) {
			c.errorAt(fields[name].Name, "a train with an objective takes %s, not %s", strings.Join(vectorsTrainFields, ", "), name)
			ok = false
		}
	}
	if len(phases) > 0 {
		c.errorf(phases[0].Pos(), "a train with an objective has no phases")
		ok = false
	}
	ov := c.eval(fields["objective"].Value, en)
	cv, good := configOf(ov, KObjective)
	if !good {
		if _, bad := ov.(InvalidV); !bad {
			c.errorAt(fields["objective"].Value, "objective must be skipgram(...), got %s", describe(ov))
		}
		return
	}
	vt.Objective = cv
	for _, n := range []string{"dim", "window", "negatives"} {
		if v := cv.Args[n].(IntV).V; v <= 0 {
			c.errorf(argPos(cv, n), "skipgram: %s must be positive, got %d", n, v)
			ok = false
		}
	}
	if v := cv.Args["lr"].(FloatV).V; v <= 0 {
		c.errorf(argPos(cv, "lr"), "skipgram: lr must be positive, got %g", v)
		ok = false
	}
	if v := cv.Args["subsample"].(FloatV).V; v < 0 {
		c.errorf(argPos(cv, "subsample"), "skipgram: subsample must not be negative, got %g", v)
		ok = false
	}
	df := fields["data"]
	if df == nil {
		c.errorAt(d.decl.Name, "train %s needs data = a text dataset", d.name)
		return
	}
	dv := c.eval(df.Value, en)
	dsv, isDS := dv.(*DatasetV)
	if !isDS {
		if _, bad := dv.(InvalidV); !bad {
			c.errorAt(df.Value, "data must name a dataset, got %s", describe(dv))
		}
		return
	}
	if vt.Data = c.checkDataset(dsv.D); vt.Data == nil {
		return
	}
	if tok := vt.Data.Tokens; tok == nil || tok.E.Name != "words" {
		c.errorAt(df.Value, "skipgram trains vectors of words: dataset %s needs tokens = words(...)", vt.Data.Name)
		ok = false
	}
	for _, name := range []string{"epochs", "seed", "save"} {
		f := fields[name]
		if f == nil {
			continue
		}
		v := c.eval(f.Value, en)
		switch name {
		case "epochs", "seed":
			n, good := v.(IntV)
			if !good || (name == "epochs" && n.V <= 0) {
				c.errorAt(f.Value, "%s must be a positive int, got %s", name, describe(v))
				ok = false
				continue
			}
			if name == "epochs" {
				vt.Epochs = int(n.V)
			} else {
				vt.Seed = n.V
			}
		case "save":
			s, good := v.(StrV)
			if !good || !(strings.HasSuffix(s.V, ".txt") || strings.HasSuffix(s.V, ".vec")) {
				c.errorAt(f.Value, "save of a skipgram train must be a .txt or .vec path (the word2vec text format), got %s", describe(v))
				ok = false
				continue
			}
			vt.Save = s.V
		}
	}
	if vt.Save == "" {
		c.errorAt(d.decl.Name, "train %s needs save = \"runs/%s.txt\" (the vectors, in the word2vec text format)", d.name, d.name)
		ok = false
	}
	if ok {
		d.vt = vt
	}
}

// checkVectorsInit checks init = vectors(path, param: ...): the
// parameter is an Embedding-shaped [vocab, dim] weight with a row per id
// of the dataset's words vocabulary, and dim is the file's dimension
// (read from its header when it exists, else from the skip-gram train of
// this file that writes it).
func (c *checker) checkVectorsInit(tr *Train, cv *ConfigV) {
	format := cv.Args["format"].(StrV).V
	if !slices.Contains(VectorFormats, format) {
		c.errorf(argPos(cv, "format"), "vectors: unknown format %q (have: %s)", format, strings.Join(VectorFormats, ", "))
		return
	}
	name := cv.Args["param"].(StrV).V
	var prm *Param
	for _, q := range tr.Params {
		if q.Path == name {
			prm = q
		}
	}
	if prm == nil {
		c.errorf(argPos(cv, "param"), "vectors: %s has no parameter %q (have: %s)", tr.Model.Name(), name, paramList(tr.Params))
		return
	}
	shape, isConst := prm.Type.ConstShape()
	if !isConst || len(shape) != 2 {
		c.errorf(argPos(cv, "param"), "vectors: %s is %s; word vectors fill an Embedding weight [vocab, dim]", name, prm.Type)
		return
	}
	tok := tr.Data.Tokens
	if tok == nil || tok.E.Name != "words" {
		c.errorf(cv.Pos, "vectors: the words of dataset %s are needed to align the vectors; it needs tokens = words(...)", tr.Data.Name)
		return
	}
	if v := int(tok.Args["vocab"].(IntV).V); v != shape[0] {
		c.errorf(argPos(cv, "param"), "vectors: %s has %d rows, the vocabulary of %s has %d ids", name, shape[0], tr.Data.Name, v).
			WithNote(tok.Pos, "vocabulary set here")
		return
	}
	rel := cv.Args["path"].(StrV).V
	file := DataPath(tr.Dir, rel)
	if _, err := os.Stat(file); err != nil {
		c.checkVectorsSource(tr, cv, file, shape[1])
		return
	}
	dim, err := vectorsDim(file, format)
	if err != nil {
		c.errorf(argPos(cv, "path"), "vectors: %v", err)
		return
	}
	if dim != shape[1] {
		c.errorf(argPos(cv, "path"), "vectors: %s holds vectors of dimension %d, but %s is %s (dimension %d)", rel, dim, name, prm.Type, shape[1])
	}
}

// checkVectorsSource checks the dimension against the skip-gram train of
// the file that writes a missing vectors file.
func (c *checker) checkVectorsSource(tr *Train, cv *ConfigV, file string, dim int) {
	for _, d := range tr.file.decls {
		td, isTrain := d.(*trainDecl)
		if !isTrain || td.decl == tr.Decl {
			continue
		}
		if td.vt == nil && td.tr == nil && !td.busy {
			c.checkTrain(td)
		}
		vt := td.vt
		if vt == nil || filepath.Clean(DataPath(vt.Dir, vt.Save)) != filepath.Clean(file) {
			continue
		}
		if vt.Dim() != dim {
			c.errorf(argPos(cv, "path"), "vectors: train %s writes vectors of dimension %d, but %s has dimension %d", vt.Name, vt.Dim(), cv.Args["param"].(StrV).V, dim).
				WithNote(argPos(vt.Objective, "dim"), "dimension set here")
		}
		if f := cv.Args["format"].(StrV).V; f != "word2vec" {
			c.errorf(argPos(cv, "format"), "vectors: train %s writes the word2vec text format, not %s", vt.Name, f)
		}
		return
	}
}

// vectorsDim reads the dimension of a word-vector file from its first
// line: the "count dim" header of word2vec files, the number of numbers
// after the first word of GloVe files.
func vectorsDim(file, format string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if line == "" && err != nil {
		return 0, fmt.Errorf("%s: empty file", file)
	}
	fields := strings.Fields(line)
	if format == "glove" {
		if len(fields) < 2 {
			return 0, fmt.Errorf("%s:1: not a GloVe line (a word, then its numbers)", file)
		}
		return len(fields) - 1, nil
	}
	if len(fields) == 2 {
		if _, err := strconv.Atoi(fields[0]); err == nil {
			if d, err := strconv.Atoi(fields[1]); err == nil && d > 0 {
				return d, nil
			}
		}
	}
	return 0, fmt.Errorf("%s:1: not a word2vec header (\"count dim\"); for a file without one use format: \"glove\"", file)
}

// checkStopWords checks the stop_words of a words tokenizer: "",
// "english" or a file that exists.
func (c *checker) checkStopWords(ds *Dataset) bool {
	sw, _ := ds.Tokens.Args["stop_words"].(StrV)
	if sw.V == "" || sw.V == "english" {
		return true
	}
	if ds.Tokens.E.Name != "words" {
		c.errorf(argPos(ds.Tokens, "stop_words"), "stop_words apply to the words tokenizer only")
		return false
	}
	if _, err := os.Stat(DataPath(ds.Dir, sw.V)); err != nil {
		c.errorf(argPos(ds.Tokens, "stop_words"), "stop_words: no file %s (relative to the .enc file); use \"english\" for the built-in list", sw.V)
		return false
	}
	return true
}
