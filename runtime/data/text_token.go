package data

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// Special token ids, first in every vocabulary.
const (
	PadID  = 0 // [PAD]: padding after the last token; mask 0
	UnkID  = 1 // [UNK]: a word (or character) not in the vocabulary
	ClsID  = 2 // [CLS]: first token of every sequence
	MaskID = 3 // [MASK]: masked-token pre-training
)

// SpecialTokens are the tokens of PadID, UnkID, ClsID and MaskID.
var SpecialTokens = []string{"[PAD]", "[UNK]", "[CLS]", "[MASK]"}

// CharVocabSize is the vocabulary size of the chars tokenizer: the 4
// special tokens and the 256 code points U+0000..U+00FF (ASCII and
// Latin-1), id = 4 + code point. Every other character is [UNK].
const CharVocabSize = 4 + 256

// A Tokenizer says how to turn a text into token ids.
type Tokenizer struct {
	// Kind is "words" or "chars".
	Kind string
	// Vocab is the vocabulary size of words, the special tokens
	// included: ids lie in [0, Vocab). Unused for chars (CharVocabSize).
	Vocab int
	// MaxLen is the sequence length: [CLS] and the first MaxLen-1 tokens,
	// then [PAD] up to MaxLen.
	MaxLen int
	// Lowercase lower-cases the text (Unicode simple case mapping) first.
	Lowercase bool
	// StopWords are dropped from the text before the vocabulary is built
	// and before encoding (words only; see EnglishStopWords).
	StopWords []string
}

func (t Tokenizer) check() error {
	switch t.Kind {
	case "words":
		if t.Vocab <= len(SpecialTokens) {
			return fmt.Errorf("words: vocab %d leaves no room for words: it counts the %d special tokens", t.Vocab, len(SpecialTokens))
		}
	case "chars":
		if len(t.StopWords) > 0 {
			return fmt.Errorf("chars: stop words apply to the words tokenizer only")
		}
	default:
		return fmt.Errorf("unknown tokenizer %q (have: words, chars)", t.Kind)
	}
	if t.MaxLen < 1 {
		return fmt.Errorf("%s: max_len must be positive, got %d", t.Kind, t.MaxLen)
	}
	return nil
}

// Words splits text into words: the maximal runs of Unicode letters
// (category L), combining marks (M) and decimal digits (Nd). Everything
// else (spaces, punctuation, symbols) separates words and is dropped, so
// "Don't e-mail me@x.org!" gives Don, t, e, mail, me, x, org.
func Words(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r))
	})
}

// A Vocab is a fitted tokenizer: the vocabulary built from a train split,
// the class names, and how texts are prepared. It is saved as JSON next
// to a checkpoint so that predict reads raw text the way training did.
type Vocab struct {
	Tokenizer Tokenizer
	// StripHeaders says texts had their e-mail headers removed
	// (StripEmailHeaders) when read.
	StripHeaders bool
	// Tokens lists the words by id (words only): the special tokens, then
	// the most frequent words of the train split, ties in byte order.
	Tokens []string
	// Labels are the class names by class id.
	Labels []string

	index map[string]int32
	stop  map[string]bool
}

// BuildVocab fits tok on the texts of a train split: for words, it counts
// every word (after lower-casing, if asked) and keeps the Vocab-4 most
// frequent, ties broken by byte order, after the special tokens. labels
// are the class names by id (see Classes).
func BuildVocab(tok Tokenizer, train []string, labels []string) (*Vocab, error) {
	if err := tok.check(); err != nil {
		return nil, err
	}
	v := &Vocab{Tokenizer: tok, Labels: append([]string(nil), labels...)}
	if tok.Kind == "words" {
		counts := map[string]int{}
		stop := tok.stopSet()
		for _, t := range train {
			if tok.Lowercase {
				t = strings.ToLower(t)
			}
			for _, w := range Words(t) {
				if stop[w] {
					continue
				}
				counts[w]++
			}
		}
		words := make([]string, 0, len(counts))
		for w := range counts {
			words = append(words, w)
		}
		sort.Slice(words, func(i, j int) bool {
			if counts[words[i]] != counts[words[j]] {
				return counts[words[i]] > counts[words[j]]
			}
			return words[i] < words[j]
		})
		if n := tok.Vocab - len(SpecialTokens); len(words) > n {
			words = words[:n]
		}
		// A word is a substring of a (lower-cased) text: a copy keeps the
		// vocabulary from holding whole texts in memory for the run.
		for i, w := range words {
			words[i] = strings.Clone(w)
		}
		v.Tokens = append(append([]string(nil), SpecialTokens...), words...)
	}
	v.init()
	return v, nil
}

func (v *Vocab) init() {
	v.stop = v.Tokenizer.stopSet()
	v.index = make(map[string]int32, len(v.Tokens))
	for i, t := range v.Tokens {
		if i >= len(SpecialTokens) {
			v.index[t] = int32(i)
		}
	}
}

// Size is the number of token ids: Tokenizer.Vocab for words (even when
// the train split has fewer words), CharVocabSize for chars.
func (v *Vocab) Size() int {
	if v.Tokenizer.Kind == "chars" {
		return CharVocabSize
	}
	return v.Tokenizer.Vocab
}

// Prepare applies to a raw text what reading did: header stripping.
func (v *Vocab) Prepare(text string) string {
	if v.StripHeaders {
		text, _ = StripEmailHeaders(text)
	}
	return text
}

// Encode writes the ids and mask of a text (already prepared) into ids
// and mask, each of length MaxLen: [CLS], the tokens cut to MaxLen-1,
// then [PAD]; mask is 1 where the id is not [PAD], 0 after.
func (v *Vocab) Encode(text string, ids, mask []int32) {
	n := v.Tokenizer.MaxLen
	ids, mask = ids[:n], mask[:n]
	ids[0] = ClsID
	k := 1
	if v.Tokenizer.Lowercase {
		text = strings.ToLower(text)
	}
	if v.Tokenizer.Kind == "chars" {
		for _, r := range text {
			if k == n {
				break
			}
			id := int32(UnkID)
			if r >= 0 && r < 256 {
				id = int32(len(SpecialTokens)) + r
			}
			ids[k] = id
			k++
		}
	} else {
		for _, w := range Words(text) {
			if k == n {
				break
			}
			if v.stop[w] {
				continue
			}
			id, ok := v.index[w]
			if !ok {
				id = UnkID
			}
			ids[k] = id
			k++
		}
	}
	for i := range n {
		if i < k {
			mask[i] = 1
		} else {
			ids[i], mask[i] = PadID, 0
		}
	}
}

// vocabFile is the JSON form of a Vocab.
type vocabFile struct {
	Format       string   `json:"format"`
	Tokenizer    string   `json:"tokenizer"`
	Vocab        int      `json:"vocab,omitempty"`
	MaxLen       int      `json:"max_len"`
	Lowercase    bool     `json:"lowercase"`
	StripHeaders bool     `json:"strip_headers"`
	Labels       []string `json:"labels"`
	StopWords    []string `json:"stop_words,omitempty"`
	Tokens       []string `json:"tokens,omitempty"`
}

// VocabFormat names the JSON format of a saved Vocab.
const VocabFormat = "encc-text-vocab-1"

// MarshalJSON writes
//
//	{"format": "encc-text-vocab-1", "tokenizer": "words", "vocab": 8000,
//	 "max_len": 64, "lowercase": true, "strip_headers": false,
//	 "labels": ["ham", "spam"], "tokens": ["[PAD]", "[UNK]", ...]}
func (v *Vocab) MarshalJSON() ([]byte, error) {
	f := vocabFile{Format: VocabFormat, Tokenizer: v.Tokenizer.Kind, MaxLen: v.Tokenizer.MaxLen,
		Lowercase: v.Tokenizer.Lowercase, StripHeaders: v.StripHeaders, Labels: v.Labels, Tokens: v.Tokens}
	if len(v.Tokenizer.StopWords) > 0 {
		f.StopWords = sortedUnique(v.Tokenizer.StopWords)
	}
	if v.Tokenizer.Kind == "words" {
		f.Vocab = v.Tokenizer.Vocab
	}
	if f.Labels == nil {
		f.Labels = []string{}
	}
	return json.MarshalIndent(f, "", "\t")
}

// UnmarshalJSON reads what MarshalJSON writes and checks it.
func (v *Vocab) UnmarshalJSON(b []byte) error {
	var f vocabFile
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if f.Format != VocabFormat {
		return fmt.Errorf("format %q, want %q", f.Format, VocabFormat)
	}
	tok := Tokenizer{Kind: f.Tokenizer, Vocab: f.Vocab, MaxLen: f.MaxLen, Lowercase: f.Lowercase, StopWords: f.StopWords}
	if err := tok.check(); err != nil {
		return err
	}
	if tok.Kind == "words" {
		if len(f.Tokens) < len(SpecialTokens) || len(f.Tokens) > tok.Vocab {
			return fmt.Errorf("%d tokens for a vocabulary of %d", len(f.Tokens), tok.Vocab)
		}
		seen := map[string]bool{}
		for i, t := range f.Tokens {
			if i < len(SpecialTokens) && t != SpecialTokens[i] {
				return fmt.Errorf("token %d is %q, want %s", i, t, SpecialTokens[i])
			}
			if seen[t] {
				return fmt.Errorf("token %q twice", t)
			}
			seen[t] = true
		}
	} else if len(f.Tokens) > 0 {
		return fmt.Errorf("chars has a fixed vocabulary; the file lists %d tokens", len(f.Tokens))
	}
	*v = Vocab{Tokenizer: tok, StripHeaders: f.StripHeaders, Tokens: f.Tokens, Labels: f.Labels}
	v.init()
	return nil
}

// Save writes the vocabulary as JSON to file (atomically: a temporary
// file in the same folder, renamed over file).
func (v *Vocab) Save(file string) error {
	b, err := v.MarshalJSON()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".vocab-*.json")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), file)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return werr
	}
	return nil
}

// LoadVocab reads a vocabulary saved by Save.
func LoadVocab(file string) (*Vocab, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, openErr(file, err)
	}
	v := &Vocab{}
	if err := v.UnmarshalJSON(b); err != nil {
		return nil, fileErr(file, "not a text vocabulary: %v", err)
	}
	return v, nil
}
