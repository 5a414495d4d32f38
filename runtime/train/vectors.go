package train

// This file implements word vectors at run time: trains with objective
// = skipgram(...) (skip-gram with negative sampling, written in the
// word2vec text format), init = vectors(...) (pre-trained vectors
// aligned with the vocabulary), and the tokenizer's stop_words.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/data"
)

// stopWordsOf reads the stop_words of a words tokenizer: none, the
// built-in English list or a file relative to the .enc file.
func stopWordsOf(ds *compiler.Dataset) ([]string, error) {
	s, _ := ds.Tokens.Args["stop_words"].(compiler.StrV)
	switch s.V {
	case "":
		return nil, nil
	case "english":
		return data.EnglishStopWords, nil
	}
	return data.ReadStopWords(compiler.DataPath(ds.Dir, s.V))
}

// A VectorsResult is what a skip-gram train did.
type VectorsResult struct {
	Train   string
	Words   int     // vectors written (the vocabulary without the special tokens)
	Dim     int     // their size
	Epochs  int     // epochs run
	Tokens  int64   // training tokens per epoch, before subsampling
	Loss    float64 // mean loss per (word, context) pair of the last epoch
	Seconds float64
	Path    string // the vectors file
}

// RunVectors trains the word vectors of vt with skip-gram and negative
// sampling (Mikolov et al. 2013, as word2vec's SGNS: syn0 drawn from
// U(-0.5/dim, 0.5/dim), syn1neg zero, a context window of 1..window
// words drawn per word, frequent words kept with probability
// (sqrt(f/(s·N)) + 1)·s·N/f, negatives drawn from counts^0.75, plain SGD
// with a rate decaying linearly to 1e-4 of lr) on the texts of the
// train split of its dataset, and writes them in the word2vec text
// format to its save. It is deterministic for a seed (one thread).
func RunVectors(ctx context.Context, p *compiler.Program, vt *compiler.VectorsTrain, opts Options) (*VectorsResult, error) {
	start := time.Now()
	ds := vt.Data
	tok, all, test, err := readDatasetTexts(ds)
	if err != nil {
		return nil, err
	}
	texts, vocab, err := data.TextTrain(all, test, data.TextSpec{Tokenizer: tok, Train: ds.Split["train"], Val: ds.Split["val"], Test: ds.Split["test"], Seed: uint64(ds.Seed)})
	if err != nil {
		return nil, err
	}
	sents := make([][]int32, len(texts))
	for i, t := range texts {
		sents[i] = vocab.IDs(t)
	}
	a := vt.Objective.Args
	sg := skipgram{
		dim: vt.Dim(), window: int(a["window"].(compiler.IntV).V), negatives: int(a["negatives"].(compiler.IntV).V),
		subsample: a["subsample"].(compiler.FloatV).V, lr: a["lr"].(compiler.FloatV).V,
	}
	out := opts.Out
	if out == nil {
		out = os.Stderr
	}
	if opts.Quiet {
		out = nil
	}
	epochs := vt.Epochs
	if opts.MaxEpochs > 0 {
		epochs = min(epochs, opts.MaxEpochs)
	}
	res := &VectorsResult{Train: vt.Name, Dim: sg.dim, Path: compiler.DataPath(vt.Dir, vt.Save)}
	syn0, stats, err := sg.train(ctx, sents, len(vocab.Tokens), vt.Epochs, epochs, uint64(vt.Seed), func(s epochStats) {
		if out == nil {
			return
		}
		if opts.JSON {
			b, _ := json.Marshal(map[string]any{"train": vt.Name, "epoch": s.epoch, "epochs": vt.Epochs, "loss": s.loss, "pairs": s.pairs, "seconds": s.seconds})
			fmt.Fprintf(out, "%s\n", b)
		} else {
			fmt.Fprintf(out, "%s: epoch %d/%d  loss %.4f  %d pairs  %.1fs\n", vt.Name, s.epoch, vt.Epochs, s.loss, s.pairs, s.seconds)
		}
	})
	if err != nil {
		return nil, err
	}
	nw := len(vocab.Tokens) - len(data.SpecialTokens)
	vecs := &data.Vectors{Words: vocab.Tokens[len(data.SpecialTokens):], Dim: sg.dim, Data: syn0[len(data.SpecialTokens)*sg.dim:]}
	if err := vecs.SaveWord2Vec(res.Path); err != nil {
		return nil, err
	}
	res.Words, res.Epochs, res.Tokens, res.Loss = nw, stats.epoch, stats.tokens, stats.loss
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// skipgram holds the hyper-parameters of SGNS.
type skipgram struct {
	dim, window, negatives int
	subsample, lr          float64
}

type epochStats struct {
	epoch   int
	loss    float64
	pairs   int64
	tokens  int64
	seconds float64
}

// unigramTableSize is the size of the table negatives are drawn from
// (word2vec uses 1e8 for millions of words; vocabularies here are
// thousands).
const unigramTableSize = 1 << 20

// train runs epochs of the declared total (the rate decays over total)
// over sents (ids in [0, rows)) and returns syn0, rows×dim.
func (sg skipgram) train(ctx context.Context, sents [][]int32, rows, total, epochs int, seed uint64, report func(epochStats)) ([]float32, epochStats, error) {
	dim := sg.dim
	rng := rand.New(rand.NewPCG(seed, 0x5eed5eed))
	counts := make([]int64, rows)
	var nTokens int64
	for _, s := range sents {
		for _, w := range s {
			counts[w]++
		}
		nTokens += int64(len(s))
	}
	if nTokens == 0 {
		return nil, epochStats{}, fmt.Errorf("skipgram: the train split has no word of the vocabulary")
	}
	// Negatives: a table where word w fills a share counts[w]^0.75.
	table := make([]int32, unigramTableSize)
	var z float64
	for _, c := range counts {
		z += math.Pow(float64(c), 0.75)
	}
	w, cum := 0, math.Pow(float64(counts[0]), 0.75)/z
	for i := range table {
		// Words with no count are stepped over: cum does not grow.
		for w < rows-1 && (float64(i)+0.5)/float64(len(table)) > cum {
			w++
			cum += math.Pow(float64(counts[w]), 0.75) / z
		}
		table[i] = int32(w)
	}
	// Subsampling: word w is kept with probability keep[w].
	keep := make([]float64, rows)
	for i, c := range counts {
		keep[i] = 1
		if sg.subsample > 0 && c > 0 {
			t := sg.subsample * float64(nTokens)
			keep[i] = min(1, (math.Sqrt(float64(c)/t)+1)*t/float64(c))
		}
	}
	syn0 := make([]float32, rows*dim)
	for i := range syn0 {
		syn0[i] = (rng.Float32() - 0.5) / float32(dim)
	}
	syn1 := make([]float32, rows*dim)
	neu := make([]float32, dim)
	order := make([]int, len(sents))
	for i := range order {
		order[i] = i
	}
	lr0 := float32(sg.lr)
	budget := float64(total) * float64(nTokens)
	var done int64
	var last epochStats
	sent := make([]int32, 0, 1024)
	for ep := 0; ep < epochs; ep++ {
		t0 := time.Now()
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var loss float64
		var pairs int64
		for k, si := range order {
			if k%64 == 0 && ctx.Err() != nil {
				return nil, last, fmt.Errorf("skipgram: %w", ErrInterrupted)
			}
			sent = sent[:0]
			for _, w := range sents[si] {
				if keep[w] >= 1 || keep[w] >= rng.Float64() {
					sent = append(sent, w)
				}
			}
			alpha := lr0 * float32(max(1-float64(done)/(budget+1), 1e-4))
			done += int64(len(sents[si]))
			for pos, word := range sent {
				b := sg.window - rng.IntN(sg.window) // 1..window
				for c := max(0, pos-b); c <= min(len(sent)-1, pos+b); c++ {
					if c == pos {
						continue
					}
					l1 := syn0[int(sent[c])*dim : int(sent[c]+1)*dim]
					clear(neu)
					for d := 0; d <= sg.negatives; d++ {
						target, label := word, float32(1)
						if d > 0 {
							target, label = table[rng.IntN(len(table))], 0
							if target == word {
								continue
							}
						}
						l2 := syn1[int(target)*dim : int(target+1)*dim]
						var f float32
						for j, x := range l1 {
							f += x * l2[j]
						}
						sig := 1 / (1 + math.Exp(-float64(f)))
						if label == 1 {
							loss -= math.Log(max(sig, 1e-12))
						} else {
							loss -= math.Log(max(1-sig, 1e-12))
						}
						g := (label - float32(sig)) * alpha
						for j, x := range l2 {
							neu[j] += g * x
							l2[j] += g * l1[j]
						}
					}
					for j, x := range neu {
						l1[j] += x
					}
					pairs++
				}
			}
		}
		last = epochStats{epoch: ep + 1, loss: loss / float64(max(pairs, 1)), pairs: pairs, tokens: nTokens, seconds: time.Since(t0).Seconds()}
		report(last)
	}
	return syn0, last, nil
}

// ensureVectors makes sure the file of init = vectors(...) is there and
// current when a skip-gram train of the program writes it: it runs that
// train when the file is missing or older than the program.
func ensureVectors(ctx context.Context, p *compiler.Program, tr *compiler.Train, opts Options) error {
	s, _ := tr.Init.Args["path"].(compiler.StrV)
	file := compiler.DataPath(tr.Dir, s.V)
	vt := p.VectorsSource(file)
	if vt == nil {
		return nil
	}
	fi, err := os.Stat(file)
	switch {
	case err != nil:
		fmt.Fprintf(logOf(opts), "%s: no vectors %s; running %s first\n", tr.Name, file, vt.Name)
	case fi.ModTime().Before(newestSource(p)):
		fmt.Fprintf(logOf(opts), "%s: vectors %s are older than the program; running %s again\n", tr.Name, file, vt.Name)
	default:
		return nil
	}
	o := opts
	o.MaxEpochs = 0
	res, err := RunVectors(ctx, p, vt, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(logOf(opts), VectorsLine(res))
	return nil
}

// VectorsLine is the final line of a skip-gram train.
func VectorsLine(r *VectorsResult) string {
	return fmt.Sprintf("%s: %d word vectors of dimension %d, loss %.4f (%d epochs, %d tokens an epoch, %.1fs); written to %s",
		r.Train, r.Words, r.Dim, r.Loss, r.Epochs, r.Tokens, r.Seconds, r.Path)
}

// initVectors fills the parameter of init = vectors(...) from the file,
// aligned with the vocabulary of the train split, and reports how.
func (t *trainer) initVectors() error {
	tr := t.tr
	a := tr.Init.Args
	rel, _ := a["path"].(compiler.StrV)
	param, _ := a["param"].(compiler.StrV)
	format, _ := a["format"].(compiler.StrV)
	if t.vocab == nil || t.vocab.Tokenizer.Kind != "words" {
		return fmt.Errorf("%s: vectors(...) needs a text dataset with tokens = words(...)", tr.Init.Pos)
	}
	file := compiler.DataPath(tr.Dir, rel.V)
	vecs, err := data.ReadVectors(file, format.V)
	if err != nil {
		return err
	}
	shape := t.shapes[param.V]
	table := t.weights[param.V]
	if len(shape) != 2 || table == nil {
		return fmt.Errorf("%s: vectors: no parameter %s [vocab, dim]", tr.Init.Pos, param.V)
	}
	al, err := data.AlignVectors(vecs, t.vocab, table, shape[1])
	if err != nil {
		return fmt.Errorf("%s: vectors %s: %v", tr.Init.Pos, file, err)
	}
	how := "its initializer"
	for _, prm := range tr.Params {
		if prm.Path == param.V {
			how = initDescription(prm)
		}
	}
	fmt.Fprintf(logOf(t.opts), "%s: %s from %s: %d of %d words found (%d by their lower-case form, %.1f%%); the other %d words and the %d special tokens keep %s\n",
		tr.Name, param.V, rel.V, al.Found, al.Rows, al.Lowercased, 100*float64(al.Found)/float64(max(al.Rows, 1)), al.Rows-al.Found, len(data.SpecialTokens), how)
	return nil
}

// initDescription names the initializer of a parameter: its init, or
// the default of its layer.
func initDescription(prm *compiler.Param) string {
	cv, ok := prm.Init.(*compiler.ConfigV)
	if !ok {
		return "the default initializer of " + prm.Layer
	}
	var args []string
	for _, p := range cv.E.Params {
		var s string
		switch v := cv.Args[p.Name].(type) {
		case compiler.IntV:
			s = fmt.Sprint(v.V)
		case compiler.FloatV:
			s = fmt.Sprint(v.V)
		case compiler.StrV:
			s = fmt.Sprintf("%q", v.V)
		case compiler.BoolV:
			s = fmt.Sprint(v.V)
		default:
			continue
		}
		args = append(args, p.Name+": "+s)
	}
	return fmt.Sprintf("the %s initializer %s(%s)", prm.Layer, cv.E.Name, strings.Join(args, ", "))
}
