package data

import (
	"strings"
	"testing"
	"unsafe"
)

// TestVocabHoldsNoText: the vocabulary's words are copies, not
// substrings of the train texts, so a run does not keep the texts (a
// corpus read for the vocabulary) in memory for the vocabulary's sake.
func TestVocabHoldsNoText(t *testing.T) {
	text := strings.Repeat("alpha beta gamma delta ", 1000) // lower case: ToLower returns it as it is
	v, err := BuildVocab(Tokenizer{Kind: "words", Vocab: 16, MaxLen: 8, Lowercase: true}, []string{text}, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	lo := uintptr(unsafe.Pointer(unsafe.StringData(text)))
	hi := lo + uintptr(len(text))
	words := 0
	for _, w := range v.Tokens[len(SpecialTokens):] {
		words++
		if p := uintptr(unsafe.Pointer(unsafe.StringData(w))); p >= lo && p < hi {
			t.Errorf("vocabulary word %q points into the train text", w)
		}
	}
	if words != 4 {
		t.Errorf("%d words, want 4", words)
	}
}
