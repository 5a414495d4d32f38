package data

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeBinary writes vectors in the word2vec binary format as the C tool
// does: "N D\n", then per word "word " and D little-endian float32s and
// a newline.
func writeBinary(t *testing.T, path string, words []string, vecs [][]float32) {
	var b bytes.Buffer
	b.WriteString("3 2\n")
	for i, w := range words {
		b.WriteString(w + " ")
		binary.Write(&b, binary.LittleEndian, vecs[i])
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadVectorsFormats(t *testing.T) {
	dir := t.TempDir()
	words := []string{"spam", "Ham", "naïve"}
	vecs := [][]float32{{0.5, -1}, {0.25, 2}, {1e-3, -3.5}}
	want := &Vectors{Words: words, Dim: 2, Data: []float32{0.5, -1, 0.25, 2, 1e-3, -3.5}}
	files := map[string]string{
		Word2VecText: "3 2\nspam 0.5 -1\nHam 0.25 2\nnaïve 0.001 -3.5\n",
		GloVeText:    "spam 0.5 -1\r\nHam 0.25 2\r\n\r\nnaïve 0.001 -3.5",
	}
	for format, text := range files {
		p := filepath.Join(dir, format+".txt")
		os.WriteFile(p, []byte(text), 0o644)
		got, err := ReadVectors(p, format)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", format, got, want)
		}
	}
	p := filepath.Join(dir, "v.bin")
	writeBinary(t, p, words, vecs)
	got, err := ReadVectors(p, Word2VecBinary)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("binary: got %+v, want %+v", got, want)
	}
}

func TestReadVectorsErrors(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "cut.bin")
	writeBinary(t, bin, []string{"a", "b", "c"}, [][]float32{{1, 2}, {3, 4}, {5, 6}})
	b, _ := os.ReadFile(bin)
	os.WriteFile(bin, b[:len(b)-6], 0o644)
	for _, c := range []struct{ format, text, want string }{
		{Word2VecText, "spam 0.5 -1\n", `w.txt:1: not a word2vec header ("count dim"): "spam 0.5 -1"`},
		{Word2VecText, "2 2\na 1 2\nb 1 2 3\n", `w.txt:3: 3 numbers after "b", want 2 (the dimension)`},
		{Word2VecText, "2 2\na 1 x\nb 1 2\n", `w.txt:2: number 2 of "a": "x" is not a number`},
		{Word2VecText, "3 2\na 1 2\nb 1 2\n", `w.txt: the header announces 3 words, the file has 2`},
		{GloVeText, "a 1 2\nb 1\n", `w.txt:2: 1 numbers after "b", want 2 (the dimension)`},
		{GloVeText, "\n\n", `w.txt: no word vectors`},
		{"fasttext", "", `unknown vector format "fasttext" (have: word2vec, word2vec_binary, glove)`},
	} {
		p := filepath.Join(dir, "w.txt")
		os.WriteFile(p, []byte(c.text), 0o644)
		_, err := ReadVectors(p, c.format)
		if err == nil || !strings.HasSuffix(err.Error(), c.want) {
			t.Errorf("%s %q: got %v, want ...%s", c.format, c.text, err, c.want)
		}
	}
	if _, err := ReadVectors(bin, Word2VecBinary); err == nil || !strings.Contains(err.Error(), `vector of word 3 ("c")`) || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("cut binary file: got %v", err)
	}
}

func TestWriteWord2VecRoundTrip(t *testing.T) {
	v := &Vectors{Words: []string{"a", "bé"}, Dim: 3, Data: []float32{0.1, float32(math.Pi), -1e-7, 1e20, 0, -2.5}}
	p := filepath.Join(t.TempDir(), "out.vec")
	if err := v.SaveWord2Vec(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if want := "2 3\na 0.1 3.1415927 -1e-07\nbé 1e+20 0 -2.5\n"; string(b) != want {
		t.Errorf("wrote %q, want %q", b, want)
	}
	got, err := ReadVectors(p, Word2VecText)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Errorf("read back %+v, want %+v", got, v)
	}
}

func TestAlignVectors(t *testing.T) {
	tok := Tokenizer{Kind: "words", Vocab: 8, MaxLen: 4, Lowercase: true}
	v, err := BuildVocab(tok, []string{"spam spam spam ham ham eggs", "Free"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Vocabulary: special tokens, spam, ham, eggs, free (ties in byte order).
	vecs := &Vectors{Words: []string{"ham", "FREE", "spam", "other"}, Dim: 2, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8}}
	table := make([]float32, 8*2)
	for i := range table {
		table[i] = -1
	}
	a, err := AlignVectors(vecs, v, table, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Alignment{Rows: 4, Found: 3, Lowercased: 1, Missing: []string{"eggs"}}); !reflect.DeepEqual(a, want) {
		t.Errorf("alignment %+v, want %+v", a, want)
	}
	want := []float32{-1, -1, -1, -1, -1, -1, -1, -1, 5, 6, 1, 2, -1, -1, 3, 4}
	if !reflect.DeepEqual(table, want) {
		t.Errorf("table %v (vocab %v), want %v", table, v.Tokens, want)
	}
	if _, err := AlignVectors(vecs, v, table, 3); err == nil || err.Error() != "the vectors have dimension 2, the embedding 3" {
		t.Errorf("dimension mismatch: %v", err)
	}
}

func TestStopWords(t *testing.T) {
	if len(EnglishStopWords) != 127 {
		t.Errorf("%d English stop words, want 127", len(EnglishStopWords))
	}
	tok := Tokenizer{Kind: "words", Vocab: 10, MaxLen: 6, Lowercase: true, StopWords: []string{"The", "a", "of", "the"}}
	v, err := BuildVocab(tok, []string{"The cost of a loan", "the loan"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"[PAD]", "[UNK]", "[CLS]", "[MASK]", "loan", "cost"}; !reflect.DeepEqual(v.Tokens, want) {
		t.Errorf("vocabulary %v, want %v", v.Tokens, want)
	}
	ids, mask := make([]int32, 6), make([]int32, 6)
	v.Encode("THE loan OF a cost", ids, mask)
	if want := []int32{ClsID, 4, 5, PadID, PadID, PadID}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	if got := v.IDs("a loan, a cost, an unknown"); !reflect.DeepEqual(got, []int32{4, 5}) {
		t.Errorf("IDs %v", got)
	}
	// Saved and loaded, the vocabulary encodes alike.
	p := filepath.Join(t.TempDir(), "v.json")
	if err := v.Save(p); err != nil {
		t.Fatal(err)
	}
	w, err := LoadVocab(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"The", "a", "of", "the"}; !reflect.DeepEqual(w.Tokenizer.StopWords, want) {
		t.Errorf("loaded stop words %v, want %v", w.Tokenizer.StopWords, want)
	}
	ids2 := make([]int32, 6)
	w.Encode("THE loan OF a cost", ids2, mask)
	if !reflect.DeepEqual(ids, ids2) {
		t.Errorf("loaded vocabulary encodes %v, saved %v", ids2, ids)
	}
	// chars has no stop words.
	if _, err := BuildVocab(Tokenizer{Kind: "chars", MaxLen: 4, StopWords: []string{"a"}}, nil, nil); err == nil {
		t.Error("chars with stop words: no error")
	}
	// A list from a file.
	f := filepath.Join(t.TempDir(), "stop.txt")
	os.WriteFile(f, []byte("# my list\nfoo bar\n\nbaz\n"), 0o644)
	if got, err := ReadStopWords(f); err != nil || !reflect.DeepEqual(got, []string{"foo", "bar", "baz"}) {
		t.Errorf("ReadStopWords: %v, %v", got, err)
	}
	os.WriteFile(f, []byte("# nothing\n"), 0o644)
	if _, err := ReadStopWords(f); err == nil || !strings.Contains(err.Error(), "no stop words") {
		t.Errorf("empty list: %v", err)
	}
}

// TestVectorsGensim checks the readers and the writer against gensim
// (Debian python3-gensim), the reference implementation of the formats:
// gensim writes a binary and a text file that ReadVectors reads, and
// gensim reads what WriteWord2Vec writes. In CI (CI=true) gensim must be
// installed; elsewhere the test skips without it.
func TestVectorsGensim(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	if err == nil {
		err = exec.Command(py, "-c", "import gensim").Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("gensim is needed in CI (apt-get install python3-gensim): %v", err)
		}
		t.Skipf("no gensim (apt-get install python3-gensim): %v", err)
	}
	dir := t.TempDir()
	ours := &Vectors{Words: []string{"spam", "ham", "ünï"}, Dim: 3, Data: []float32{0.5, -1, 2, 0.125, 3.25, -0.75, 1e-3, 7, -8}}
	if err := ours.SaveWord2Vec(filepath.Join(dir, "ours.txt")); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
from gensim.models import KeyedVectors
d = sys.argv[1]
kv = KeyedVectors(vector_size=3)
kv.add_vectors(["spam", "ham", "ünï"], np.array([[0.5, -1, 2], [0.125, 3.25, -0.75], [1e-3, 7, -8]], dtype=np.float32))
kv.save_word2vec_format(d + "/g.bin", binary=True)
kv.save_word2vec_format(d + "/g.txt", binary=False)
r = KeyedVectors.load_word2vec_format(d + "/ours.txt", binary=False)
assert r.index_to_key == ["spam", "ham", "ünï"], r.index_to_key
assert np.array_equal(r.vectors, kv.vectors), r.vectors
print("ok")
`
	out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Fatalf("gensim: %v\n%s", err, out)
	}
	for _, c := range []struct{ file, format string }{{"g.bin", Word2VecBinary}, {"g.txt", Word2VecText}} {
		got, err := ReadVectors(filepath.Join(dir, c.file), c.format)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, ours) {
			t.Errorf("%s written by gensim: read %+v, want %+v", c.file, got, ours)
		}
	}
}
