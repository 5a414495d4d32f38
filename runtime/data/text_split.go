package data

import "fmt"

// TextSpec says how to split and tokenize a text corpus.
type TextSpec struct {
	Tokenizer Tokenizer
	// Train, Val and Test are split fractions as in SplitFractions;
	// Train 0 means no split (and, with a test corpus, Val is the
	// fraction of the source that becomes validation data).
	Train, Val, Test float64
	Seed             uint64
	// StripHeaders is recorded in the Vocab (the corpora must have been
	// read with TextOptions.StripHeaders set alike) so that predict
	// prepares raw text the same way.
	StripHeaders bool
}

// TextSplits splits corpus all (and pairs it with test, when not nil)
// exactly as SplitFractions and SplitTestSource split a dataset of the
// same size with the same seed, builds the vocabulary from the train
// split only, and encodes every part as a dataset with the fields
//
//	ids    i32[MaxLen]  Role IDs, Classes = Vocab.Size()
//	mask   i32[MaxLen]  Role Mask: 1 at real tokens ([CLS] included), 0 at [PAD]
//	label  i32          Role Label, Classes = len(Vocab.Labels)
//
// The class names come from the labels of all and test together (see
// Classes); a part's Source is the corpus's.
func TextSplits(all, test *Corpus, spec TextSpec) (*Splits, *Vocab, error) {
	if err := spec.Tokenizer.check(); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", all.Source, err)
	}
	train, val, testC, err := splitCorpus(all, test, spec)
	if err != nil {
		return nil, nil, err
	}
	texts := make([]string, len(train.Docs))
	for i, d := range train.Docs {
		texts[i] = d.Text
	}
	v, err := BuildVocab(spec.Tokenizer, texts, Classes(all, test))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", all.Source, err)
	}
	v.StripHeaders = spec.StripHeaders
	out := &Splits{}
	for _, p := range []struct {
		c   *Corpus
		dst **Dataset
	}{{train, &out.Train}, {val, &out.Val}, {testC, &out.Test}} {
		if p.c == nil {
			continue
		}
		if *p.dst, err = v.Dataset(p.c); err != nil {
			return nil, nil, err
		}
	}
	return out, v, nil
}

// splitCorpus splits all (and pairs it with test) as TextSplits does:
// the train, validation (nil when none) and test corpora.
func splitCorpus(all, test *Corpus, spec TextSpec) (train, val, testC *Corpus, err error) {
	index := func(c *Corpus) *Dataset {
		f := &Field{Name: "doc", DType: I32, I32: make([]int32, len(c.Docs))}
		for i := range f.I32 {
			f.I32[i] = int32(i)
		}
		return &Dataset{Source: c.Source, N: len(c.Docs), Fields: []*Field{f}}
	}
	var parts *Splits
	switch {
	case test != nil:
		parts, err = SplitTestSource(index(all), index(test), spec.Val, spec.Seed)
	case spec.Train > 0:
		parts, err = SplitFractions(index(all), spec.Train, spec.Val, spec.Test, spec.Seed)
	default:
		parts = &Splits{Train: index(all)}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	pick := func(c *Corpus, d *Dataset) *Corpus {
		if d == nil {
			return nil
		}
		out := &Corpus{Source: c.Source, Docs: make([]Doc, d.N)}
		for i, j := range d.Fields[0].I32 {
			out.Docs[i] = c.Docs[j]
		}
		return out
	}
	train, val = pick(all, parts.Train), pick(all, parts.Val)
	testC = test
	if test == nil {
		testC = pick(all, parts.Test)
	}
	return train, val, testC, nil
}

// TextTrain splits corpus all exactly as TextSplits does and returns the
// texts of the train split and the vocabulary built on them (skip-gram
// trains on these texts).
func TextTrain(all, test *Corpus, spec TextSpec) ([]string, *Vocab, error) {
	if err := spec.Tokenizer.check(); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", all.Source, err)
	}
	train, _, _, err := splitCorpus(all, test, spec)
	if err != nil {
		return nil, nil, err
	}
	texts := make([]string, len(train.Docs))
	for i, d := range train.Docs {
		texts[i] = d.Text
	}
	v, err := BuildVocab(spec.Tokenizer, texts, Classes(all, test))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", all.Source, err)
	}
	v.StripHeaders = spec.StripHeaders
	return texts, v, nil
}

// Dataset encodes a corpus (its texts already prepared, as read) into
// the fields ids, mask and label (see TextSplits). A label that is not
// one of v.Labels is an error naming the document.
func (v *Vocab) Dataset(c *Corpus) (*Dataset, error) {
	n, T := len(c.Docs), v.Tokenizer.MaxLen
	class := make(map[string]int32, len(v.Labels))
	for i, l := range v.Labels {
		class[l] = int32(i)
	}
	ids := &Field{Name: "ids", DType: I32, Role: IDs, Shape: []int{T}, Classes: v.Size(), I32: make([]int32, n*T)}
	mask := &Field{Name: "mask", DType: I32, Role: Mask, Shape: []int{T}, I32: make([]int32, n*T)}
	label := &Field{Name: "label", DType: I32, Role: Label, Classes: len(v.Labels), I32: make([]int32, n)}
	for i, d := range c.Docs {
		k, ok := class[d.Label]
		if !ok {
			return nil, fmt.Errorf("%s: label %q is not a class of the training data (%s)", d.Where, d.Label, listColumns(v.Labels))
		}
		label.I32[i] = k
		v.Encode(d.Text, ids.I32[i*T:(i+1)*T], mask.I32[i*T:(i+1)*T])
	}
	return &Dataset{Source: c.Source, N: n, Fields: []*Field{ids, mask, label}}, nil
}
