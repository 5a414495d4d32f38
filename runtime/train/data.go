package train

// This file implements loading a train's dataset: reading the source,
// splitting it and fitting the preprocessing (or, for text, the
// vocabulary) on the train split only.

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/data"
)

// A srcArgs reads the arguments of a data source.
type srcArgs struct{ src *compiler.ConfigV }

func (a srcArgs) str(name string) string {
	s, _ := a.src.Args[name].(compiler.StrV)
	return s.V
}

func (a srcArgs) int(name string) int {
	n, _ := a.src.Args[name].(compiler.IntV)
	return int(n.V)
}

func (a srcArgs) bool(name string) bool {
	b, _ := a.src.Args[name].(compiler.BoolV)
	return b.V
}

// isText reports whether a source reads text.
func isText(src *compiler.ConfigV) bool {
	switch src.E.Name {
	case "jsonl", "json_dir":
		return true
	case "csv":
		return srcArgs{src}.str("text") != ""
	}
	return false
}

// readSource reads one numeric data source of ds (its source or test).
// classes, when not 0, is the number of classes the train's loss takes:
// a CSV label outside [0, classes) is an error naming its line.
func readSource(ds *compiler.Dataset, src *compiler.ConfigV, classes int) (*data.Dataset, error) {
	a := srcArgs{src}
	path := func(name string) string { return compiler.DataPath(ds.Dir, a.str(name)) }
	switch src.E.Name {
	case "builtin":
		return data.Builtin(a.str("name"))
	case "csv":
		if d := a.str("delimiter"); d != "" && d != "," {
			return nil, fmt.Errorf("%s: csv delimiter %q is not supported for numeric data (only \",\")", src.Pos, d)
		}
		return data.ReadCSV(path("path"), data.CSVOptions{Label: a.str("label"), Classes: classes, FeatureField: "x", LabelField: "label"})
	case "idx":
		return data.ReadIDX(path("images"), path("labels"), data.IDXOptions{Classes: classes, ImageField: "image", LabelField: "label"})
	case "synthetic":
		var shape []int
		if l, ok := src.Args["shape"].(*compiler.ListV); ok {
			for _, e := range l.Elems {
				n, _ := e.(compiler.IntV)
				shape = append(shape, int(n.V))
			}
		}
		return data.Synthetic(data.SyntheticOptions{Shape: shape, Classes: a.int("classes"), N: a.int("n"), Vocab: a.int("vocab"), Seed: uint64(ds.Seed)})
	}
	return nil, fmt.Errorf("%s: data source %s is not supported by the runtime yet", src.Pos, src.E.Name)
}

// readCorpus reads one text source of ds.
func readCorpus(ds *compiler.Dataset, src *compiler.ConfigV) (*data.Corpus, error) {
	a := srcArgs{src}
	opt := data.TextOptions{Text: a.str("text"), Label: a.str("label"), StripHeaders: a.bool("strip_headers")}
	if m, ok := src.Args["labels"].(*compiler.MapV); ok && len(m.Vals) > 0 {
		opt.LabelMap = map[string]string{}
		for k, v := range m.Vals {
			s, _ := v.(compiler.StrV)
			opt.LabelMap[k] = s.V
		}
	}
	path := compiler.DataPath(ds.Dir, a.str("path"))
	switch src.E.Name {
	case "csv":
		if d := []rune(a.str("delimiter")); len(d) == 1 {
			opt.Delimiter = d[0]
		} else if len(d) > 1 {
			return nil, fmt.Errorf("%s: csv delimiter %q must be one character", src.Pos, a.str("delimiter"))
		}
		return data.ReadTextCSV(path, opt)
	case "jsonl":
		return data.ReadJSONL(path, opt)
	case "json_dir":
		return data.ReadJSONDir(path, opt)
	}
	return nil, fmt.Errorf("%s: text source %s is not supported by the runtime yet", src.Pos, src.E.Name)
}

// tokenizerOf reads tokens = words(...) or chars(...).
func tokenizerOf(ds *compiler.Dataset) (data.Tokenizer, error) {
	if ds.Tokens == nil {
		return data.Tokenizer{}, fmt.Errorf("%s: a text source needs a tokenizer (tokens = words(vocab: 8000, max_len: 64))", ds.Source.Pos)
	}
	a := srcArgs{ds.Tokens}
	tok := data.Tokenizer{Kind: ds.Tokens.E.Name, Vocab: a.int("vocab"), MaxLen: a.int("max_len"), Lowercase: a.bool("lowercase")}
	var err error
	if tok.StopWords, err = stopWordsOf(ds); err != nil {
		return data.Tokenizer{}, err
	}
	return tok, nil
}

// A loaded dataset: the splits, the fitted preprocessing and, for text,
// the vocabulary built on the train split.
type loaded struct {
	splits    *data.Splits
	transform *data.Transform
	vocab     *data.Vocab
}

// loadData reads, splits and preprocesses the dataset of a train. The
// split is seeded by the dataset's seed; scale and normalize (or the
// vocabulary of a text source) are fitted on the train split and applied
// to every split.
func loadData(p *compiler.Program, tr *compiler.Train) (*loaded, error) {
	ds := tr.Data
	if isText(ds.Source) {
		return loadText(ds)
	}
	classes := lossClasses(p, tr)
	// The test source is read while the source is: each is mostly one
	// thread gunzipping (MNIST: 0.3 s for the training images).
	var test *data.Dataset
	var testErr error
	testDone := make(chan struct{})
	go func() {
		defer close(testDone)
		if ds.Test != nil {
			test, testErr = readSource(ds, ds.Test, classes)
		}
	}()
	all, err := readSource(ds, ds.Source, classes)
	<-testDone
	if err != nil {
		return nil, err
	}
	seed := uint64(ds.Seed)
	var sp *data.Splits
	switch {
	case ds.Test != nil:
		if testErr != nil {
			return nil, testErr
		}
		sp, err = data.SplitTestSource(all, test, ds.Split["val"], seed)
		if err != nil {
			return nil, err
		}
	case ds.Split["train"] > 0:
		sp, err = data.SplitFractions(all, ds.Split["train"], ds.Split["val"], ds.Split["test"], seed)
		if err != nil {
			return nil, err
		}
	default:
		sp = &data.Splits{Train: all}
	}
	pre := data.Preprocess{Scale: ds.Scale}
	if ds.Normalize != "" {
		if pre.Normalize, err = data.ParseNorm(ds.Normalize); err != nil {
			return nil, err
		}
	}
	tf, err := sp.Preprocess(pre)
	if err != nil {
		return nil, err
	}
	for _, d := range sp.All() {
		if err := checkFields(ds, d); err != nil {
			return nil, err
		}
	}
	return &loaded{splits: sp, transform: tf}, nil
}

// lossClasses returns the number of classes of the train's predictions
// when its loss reads the label field (cross_entropy(model(x), label)):
// the width of its "pred" output [B, classes]; 0 otherwise.
func lossClasses(p *compiler.Program, tr *compiler.Train) int {
	g, err := p.LowerEval(tr, 1)
	if err != nil || g.Input("label") == nil {
		return 0
	}
	if pred := g.Output("pred"); pred != nil && pred.Type.Rank() == 2 {
		return pred.Type.Shape[1]
	}
	return 0
}

// readDatasetTexts returns the tokenizer of text dataset ds, its source's texts
// and its test source's (nil without one).
func readDatasetTexts(ds *compiler.Dataset) (data.Tokenizer, *data.Corpus, *data.Corpus, error) {
	tok, err := tokenizerOf(ds)
	if err != nil {
		return data.Tokenizer{}, nil, nil, err
	}
	all, err := readCorpus(ds, ds.Source)
	if err != nil {
		return data.Tokenizer{}, nil, nil, err
	}
	var test *data.Corpus
	if ds.Test != nil {
		if test, err = readCorpus(ds, ds.Test); err != nil {
			return data.Tokenizer{}, nil, nil, err
		}
	}
	return tok, all, test, nil
}

// loadText reads a text source (and its test source), splits it, builds
// the vocabulary on the train split and encodes every split.
func loadText(ds *compiler.Dataset) (*loaded, error) {
	tok, all, test, err := readDatasetTexts(ds)
	if err != nil {
		return nil, err
	}
	sp, v, err := data.TextSplits(all, test, data.TextSpec{
		Tokenizer: tok, Train: ds.Split["train"], Val: ds.Split["val"], Test: ds.Split["test"],
		Seed: uint64(ds.Seed), StripHeaders: srcArgs{ds.Source}.bool("strip_headers"),
	})
	if err != nil {
		return nil, err
	}
	if ds.Classes > 0 && len(v.Labels) != ds.Classes {
		return nil, fmt.Errorf("%s: the labels map gives %d classes, the data has %d (%s)", ds.Source.Pos, ds.Classes, len(v.Labels), strings.Join(v.Labels, ", "))
	}
	for _, d := range sp.All() {
		if err := checkFields(ds, d); err != nil {
			return nil, err
		}
	}
	return &loaded{splits: sp, vocab: v}, nil
}

// VocabPath is where the vocabulary of a text train is saved next to its
// checkpoint: runs/x.safetensors → runs/x.vocab.json.
func VocabPath(checkpoint string) string {
	return strings.TrimSuffix(checkpoint, filepath.Ext(checkpoint)) + ".vocab.json"
}

// checkFields checks that d gives the fields the compiler typed. A mask
// the program types bool may be an i32 0/1 field (see bindData).
func checkFields(ds *compiler.Dataset, d *data.Dataset) error {
	for _, f := range ds.Fields {
		got := d.Field(f.Name)
		if got == nil {
			var have []string
			for _, g := range d.Fields {
				have = append(have, g.Name)
			}
			sort.Strings(have)
			return fmt.Errorf("%s: no field %s (the program expects %s: %s; the data has %s)", d.Source, f.Name, f.Name, f.Type, strings.Join(have, ", "))
		}
		want, _ := f.Type.ConstShape()
		dtOK := got.DType.String() == f.Type.DType || (f.Type.DType == "bool" && got.DType == data.I32)
		if !slices.Equal(want, got.Shape) || !dtOK {
			return fmt.Errorf("%s: field %s is %s, the program expects %s", d.Source, f.Name, got.Type(), f.Type)
		}
	}
	return nil
}

// labelField returns the label field of d, or nil.
func labelField(d *data.Dataset) *data.Field {
	for _, f := range d.Fields {
		if f.Role == data.Label {
			return f
		}
	}
	return nil
}
