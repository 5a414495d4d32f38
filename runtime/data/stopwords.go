package data

// This file holds stop-word removal for the words tokenizer: the
// built-in English list and reading a list from a file.

import (
	"bufio"
	"os"
	"sort"
	"strings"
)

// EnglishStopWords is the built-in English stop-word list (stop_words:
// "english"): the 127 words of NLTK's English list as of NLTK 3.0
// (pronouns, articles, auxiliaries, prepositions, conjunctions), lower
// case, with the fragments of contractions the words tokenizer gives
// ("don't" splits into "don" and "t").
var EnglishStopWords = strings.Fields(`
i me my myself we our ours ourselves you your yours yourself yourselves
he him his himself she her hers herself it its itself they them their
theirs themselves what which who whom this that these those am is are
was were be been being have has had having do does did doing a an the
and but if or because as until while of at by for with about against
between into through during before after above below to from up down in
out on off over under again further then once here there when where why
how all any both each few more most other some such no nor not only own
same so than too very s t can will just don should now`)

// ReadStopWords reads a stop-word list: one or more words a line,
// separated by spaces; a line starting with # is a comment. The words
// are kept as written (the tokenizer lower-cases them when it
// lower-cases text).
func ReadStopWords(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, openErr(file, err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(s, "#") {
			continue
		}
		out = append(out, strings.Fields(s)...)
	}
	if err := sc.Err(); err != nil {
		return nil, lineErr(file, line+1, "%v", err)
	}
	if len(out) == 0 {
		return nil, fileErr(file, "no stop words (one or more words a line; # starts a comment)")
	}
	return out, nil
}

// stopSet builds the set of stop words of t (lower-cased when the
// tokenizer lower-cases), or nil when it has none.
func (t Tokenizer) stopSet() map[string]bool {
	if len(t.StopWords) == 0 {
		return nil
	}
	m := make(map[string]bool, len(t.StopWords))
	for _, w := range t.StopWords {
		if t.Lowercase {
			w = strings.ToLower(w)
		}
		m[w] = true
	}
	return m
}

// sortedUnique returns the words sorted, without repeats.
func sortedUnique(words []string) []string {
	out := append([]string(nil), words...)
	sort.Strings(out)
	k := 0
	for i, w := range out {
		if i == 0 || w != out[k-1] {
			out[k] = w
			k++
		}
	}
	return out[:k]
}
