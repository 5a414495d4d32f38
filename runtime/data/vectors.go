package data

// This file reads and writes word-vector files: the word2vec text and
// binary formats (Mikolov et al.'s tool; gensim's save_word2vec_format)
// and the GloVe text format, and aligns a table of vectors with a
// vocabulary.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Vector file formats.
const (
	Word2VecText   = "word2vec"        // "N D" header, then "word v1 ... vD" lines
	Word2VecBinary = "word2vec_binary" // "N D\n" header, then "word " and D little-endian float32 each
	GloVeText      = "glove"           // no header: "word v1 ... vD" lines
)

// VectorFormats lists the formats ReadVectors reads.
var VectorFormats = []string{Word2VecText, Word2VecBinary, GloVeText}

// Vectors is a table of word vectors: Data holds len(Words) rows of Dim
// floats.
type Vectors struct {
	Words []string
	Dim   int
	Data  []float32
}

// Row returns the vector of word i.
func (v *Vectors) Row(i int) []float32 { return v.Data[i*v.Dim : (i+1)*v.Dim] }

// ReadVectors reads a word-vector file in format (one of VectorFormats).
// Errors name the file and line (text) or the word's number (binary).
// A word given twice keeps its first vector, as gensim does.
func ReadVectors(file, format string) (*Vectors, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, openErr(file, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	switch format {
	case Word2VecText, GloVeText:
		return readTextVectors(file, r, format == Word2VecText)
	case Word2VecBinary:
		return readBinaryVectors(file, r)
	}
	return nil, fmt.Errorf("unknown vector format %q (have: %s)", format, strings.Join(VectorFormats, ", "))
}

// parseHeader reads a word2vec "count dim" line.
func parseHeader(file, line string) (n, dim int, err error) {
	f := strings.Fields(line)
	if len(f) == 2 {
		n, err1 := strconv.Atoi(f[0])
		dim, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil && n >= 0 && dim > 0 {
			return n, dim, nil
		}
	}
	return 0, 0, lineErr(file, 1, "not a word2vec header (\"count dim\"): %q", clip(line))
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func readTextVectors(file string, r *bufio.Reader, header bool) (*Vectors, error) {
	v := &Vectors{}
	want := -1
	seen := map[string]bool{}
	line := 0
	for {
		s, err := r.ReadString('\n')
		if s == "" && err != nil {
			if err != io.EOF {
				return nil, fileErr(file, "%v", err)
			}
			break
		}
		line++
		s = strings.TrimRight(s, "\r\n")
		if header && line == 1 {
			n, dim, herr := parseHeader(file, s)
			if herr != nil {
				return nil, herr
			}
			want, v.Dim = n, dim
			continue
		}
		if strings.TrimSpace(s) == "" {
			continue
		}
		f := strings.Fields(s)
		if v.Dim == 0 {
			v.Dim = len(f) - 1
			if v.Dim < 1 {
				return nil, lineErr(file, line, "a word with no vector")
			}
		}
		if len(f)-1 != v.Dim {
			return nil, lineErr(file, line, "%d numbers after %q, want %d (the dimension)", len(f)-1, clip(f[0]), v.Dim)
		}
		word := f[0]
		if seen[word] {
			continue
		}
		seen[word] = true
		v.Words = append(v.Words, word)
		for j, x := range f[1:] {
			y, perr := strconv.ParseFloat(x, 32)
			if perr != nil {
				return nil, lineErr(file, line, "number %d of %q: %q is not a number", j+1, clip(word), clip(x))
			}
			v.Data = append(v.Data, float32(y))
		}
	}
	if header && want >= 0 && len(v.Words) != want && len(seen) != want {
		return nil, fileErr(file, "the header announces %d words, the file has %d", want, len(seen))
	}
	if len(v.Words) == 0 {
		return nil, fileErr(file, "no word vectors")
	}
	return v, nil
}

func readBinaryVectors(file string, r *bufio.Reader) (*Vectors, error) {
	hdr, err := r.ReadString('\n')
	if err != nil {
		return nil, fileErr(file, "no word2vec header")
	}
	n, dim, err := parseHeader(file, strings.TrimRight(hdr, "\r\n"))
	if err != nil {
		return nil, err
	}
	v := &Vectors{Dim: dim, Words: make([]string, 0, n), Data: make([]float32, 0, n*dim)}
	seen := map[string]bool{}
	buf := make([]byte, 4*dim)
	for i := range n {
		// The word: bytes up to a space; a newline left by the previous
		// vector (the C tool writes one) is skipped.
		w, err := r.ReadBytes(' ')
		if err != nil {
			return nil, fileErr(file, "word %d of %d: %v (the file is cut short)", i+1, n, errOrEOF(err))
		}
		w = bytes.TrimLeft(w[:len(w)-1], "\n")
		if len(w) == 0 {
			return nil, fileErr(file, "word %d of %d is empty", i+1, n)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fileErr(file, "vector of word %d (%q): %v (the file is cut short)", i+1, clip(string(w)), errOrEOF(err))
		}
		word := string(w)
		if seen[word] {
			continue
		}
		seen[word] = true
		v.Words = append(v.Words, word)
		for j := range dim {
			v.Data = append(v.Data, math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:])))
		}
	}
	return v, nil
}

func errOrEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WriteWord2Vec writes v in the word2vec text format: a "count dim"
// line, then each word and its numbers separated by spaces (the
// shortest decimal form that reads back as the same float32), one word
// a line. gensim's KeyedVectors.load_word2vec_format and fastText read it.
func (v *Vectors) WriteWord2Vec(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%d %d\n", len(v.Words), v.Dim)
	var num []byte
	for i, word := range v.Words {
		bw.WriteString(word)
		for _, x := range v.Row(i) {
			num = strconv.AppendFloat(num[:0], float64(x), 'g', -1, 32)
			bw.WriteByte(' ')
			bw.Write(num)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// SaveWord2Vec writes v to file in the word2vec text format (atomically:
// a temporary file renamed over file).
func (v *Vectors) SaveWord2Vec(file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".vectors-*")
	if err != nil {
		return err
	}
	werr := v.WriteWord2Vec(tmp)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), file)
	}
	if werr != nil {
		os.Remove(tmp.Name())
	}
	return werr
}

// An Alignment reports how AlignVectors filled an embedding table.
type Alignment struct {
	Rows, Found int // rows of the table (words of the vocabulary, special tokens excluded), rows found in the file
	// Lowercased counts the rows found only under their lower-case
	// spelling (the vocabulary was lower-cased, the file was not).
	Lowercased int
	Missing    []string // a few words not found, most frequent first
}

// AlignVectors copies into table (vocab.Size() rows of dim floats, in
// vocabulary-id order, already initialized by the model's initializer)
// the vector of every vocabulary word the file has: a word is looked up
// as it is, then lower-cased. Rows of words the file lacks, and of the
// special tokens, keep their initialization. dim must equal vecs.Dim.
func AlignVectors(vecs *Vectors, vocab *Vocab, table []float32, dim int) (Alignment, error) {
	if vecs.Dim != dim {
		return Alignment{}, fmt.Errorf("the vectors have dimension %d, the embedding %d", vecs.Dim, dim)
	}
	if len(table) != vocab.Size()*dim {
		return Alignment{}, fmt.Errorf("the embedding has %d rows, the vocabulary %d ids", len(table)/dim, vocab.Size())
	}
	index := make(map[string]int, len(vecs.Words))
	lower := map[string]int{}
	for i, w := range vecs.Words {
		index[w] = i
		if l := strings.ToLower(w); l != w {
			if _, ok := lower[l]; !ok {
				lower[l] = i
			}
		}
	}
	var a Alignment
	for id := len(SpecialTokens); id < len(vocab.Tokens); id++ {
		w := vocab.Tokens[id]
		a.Rows++
		i, ok := index[w]
		if !ok {
			if i, ok = lower[w]; ok {
				a.Lowercased++
			}
		}
		if !ok {
			if len(a.Missing) < 10 {
				a.Missing = append(a.Missing, w)
			}
			continue
		}
		a.Found++
		copy(table[id*dim:(id+1)*dim], vecs.Row(i))
	}
	return a, nil
}

// IDs returns the ids of every word of text (already prepared) that is
// in the vocabulary, in order, without [CLS], cutting or padding: words
// not in the vocabulary and stop words are dropped (as word2vec drops
// rare words before it draws context windows).
func (v *Vocab) IDs(text string) []int32 {
	if v.Tokenizer.Lowercase {
		text = strings.ToLower(text)
	}
	var out []int32
	for _, w := range Words(text) {
		if v.stop[w] {
			continue
		}
		if id, ok := v.index[w]; ok {
			out = append(out, id)
		}
	}
	return out
}
