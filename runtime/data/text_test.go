package data

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Don't e-mail me@x.org!", []string{"Don", "t", "e", "mail", "me", "x", "org"}},
		{"  price: $1,000.50 ", []string{"price", "1", "000", "50"}},
		{"naïve café über straße", []string{"naïve", "café", "über", "straße"}},
		{"cafe\u0301 ok", []string{"cafe\u0301", "ok"}}, // a combining accent stays in its word
		{"日本語 text", []string{"日本語", "text"}},
		{"", nil},
		{"!!! ...", nil},
	} {
		if got := Words(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Words(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestStripEmailHeaders(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		ok             bool
	}{
		{"mbox", "From a@b.c  Thu Aug 22 12:36:23 2002\nReturn-Path: <a@b.c>\nReceived: from x\n\tby y\n    for z\nSubject: hi\n\nBody line\n\nmore\n", "Body line\n\nmore\n", true},
		{"crlf", "Subject: hi\r\nX-Spam: no\r\n\r\nbody\r\n", "body\r\n", true},
		{"headers only", "Subject: hi\nTo: x\n\n", "", true},
		{"not an e-mail", "Hello there: friend\nthis is plain text\n\nsecond paragraph", "", false},
		{"no blank line", "Subject: hi\nTo: x\n", "", false},
		{"no fields", "From a@b.c Thu\n\nbody", "", false},
		{"continuation first", " Subject: hi\n\nbody", "", false},
		{"space in name", "Sub ject: hi\n\nbody", "", false},
		{"empty name", ": hi\n\nbody", "", false},
		{"blank first", "\nSubject: hi\n\nbody", "", false},
		{"From later", "Subject: hi\nFrom someone\n\nbody", "", false},
	} {
		got, ok := StripEmailHeaders(c.in)
		want := c.want
		if !c.ok {
			want = c.in
		}
		if got != want || ok != c.ok {
			t.Errorf("%s: StripEmailHeaders = %q, %v; want %q, %v", c.name, got, ok, want, c.ok)
		}
	}
}

func docs(c *Corpus) (texts, labels, where []string) {
	for _, d := range c.Docs {
		texts = append(texts, d.Text)
		labels = append(labels, d.Label)
		where = append(where, d.Where)
	}
	return
}

func TestParseTextCSV(t *testing.T) {
	src := "id,review,sentiment\n1,Great film,pos\n2,\"Bad,\nvery bad\",neg\n3, meh ,neg\n"
	c, err := ParseTextCSV("r.csv", []byte(src), TextOptions{Text: "review", Label: "sentiment"})
	if err != nil {
		t.Fatal(err)
	}
	texts, labels, where := docs(c)
	if !slices.Equal(texts, []string{"Great film", "Bad,\nvery bad", " meh "}) ||
		!slices.Equal(labels, []string{"pos", "neg", "neg"}) ||
		!slices.Equal(where, []string{"r.csv:2", "r.csv:3", "r.csv:5"}) {
		t.Errorf("got %q %q %q", texts, labels, where)
	}
	if got := Classes(c); !slices.Equal(got, []string{"neg", "pos"}) {
		t.Errorf("Classes = %q", got)
	}
	semi, err := ParseTextCSV("s.csv", []byte("text;label\na b;x\n"), TextOptions{Delimiter: ';'})
	if err != nil || len(semi.Docs) != 1 || semi.Docs[0].Text != "a b" {
		t.Errorf("delimiter: %v %+v", err, semi)
	}
}

func TestTextErrors(t *testing.T) {
	csvOpt := TextOptions{Text: "review", Label: "y"}
	for _, c := range []struct {
		name, src, want string
		parse           func(string, []byte, TextOptions) (*Corpus, error)
		opt             TextOptions
	}{
		{"csv no text column", "text,y\na,1\n", `r.csv:1: no text column "review" (columns: text, y)`, ParseTextCSV, csvOpt},
		{"csv no label column", "review,z\na,1\n", `r.csv:1: no label column "y" (columns: review, z)`, ParseTextCSV, csvOpt},
		{"csv short row", "review,y\na,1\nb\n", "r.csv:3: row has 1 fields, header has 2", ParseTextCSV, csvOpt},
		{"csv empty text", "review,y\na,1\n  ,0\n", `r.csv:3: empty text (column "review")`, ParseTextCSV, csvOpt},
		{"csv empty label", "review,y\na,\n", `r.csv:2: empty label (column "y")`, ParseTextCSV, csvOpt},
		{"csv no rows", "review,y\n", "r.csv: no data rows", ParseTextCSV, csvOpt},
		{"csv empty", "", "r.csv: empty file", ParseTextCSV, csvOpt},
		{"csv quote", "review,y\n\"a,1\n", "r.csv:2: extraneous or missing \" in quoted-field", ParseTextCSV, csvOpt},
		{"jsonl bad", `{"text": "a", "label": 1}` + "\n{\"text\": \n", "r.csv:2: bad JSON: unexpected end of JSON input", ParseJSONL, TextOptions{}},
		{"jsonl array", `["a"]`, "r.csv:1: not a JSON object", ParseJSONL, TextOptions{}},
		{"jsonl null", `null`, "r.csv:1: not a JSON object", ParseJSONL, TextOptions{}},
		{"jsonl no text", `{"body": "a", "label": 1}`, `r.csv:1: no text field "text" (fields: body, label)`, ParseJSONL, TextOptions{}},
		{"jsonl no label", `{"text": "a"}`, `r.csv:1: no label field "label" (fields: text)`, ParseJSONL, TextOptions{}},
		{"jsonl text number", `{"text": 3, "label": 1}`, `r.csv:1: text field "text" is a number, want a string`, ParseJSONL, TextOptions{}},
		{"jsonl text null", `{"text": null, "label": 1}`, `r.csv:1: text field "text" is null, want a string`, ParseJSONL, TextOptions{}},
		{"jsonl label float", `{"text": "a", "label": 1.5}`, `r.csv:1: label field "label" is 1.5, want a string, an integer or a boolean`, ParseJSONL, TextOptions{}},
		{"jsonl label object", `{"text": "a", "label": {}}`, `r.csv:1: label field "label" is an object, want a string, an integer or a boolean`, ParseJSONL, TextOptions{}},
		{"jsonl empty text", "\n\n" + `{"text": " \n", "label": "x"}`, `r.csv:3: empty text (field "text")`, ParseJSONL, TextOptions{}},
		{"jsonl nothing", "\n \n", "r.csv: no JSON lines", ParseJSONL, TextOptions{}},
		{"label map none", `{"text": "a", "label": "other"}`, `r.csv:1: label "other" matches no key of the label map (keys: *ham*, spam*)`, ParseJSONL,
			TextOptions{LabelMap: map[string]string{"*ham*": "ham", "spam*": "spam"}}},
		{"label map conflict", `{"text": "a", "label": "spam-ham"}`, `r.csv:1: label "spam-ham" matches "*ham*" (class "ham") and "spam*" (class "spam") of the label map`, ParseJSONL,
			TextOptions{LabelMap: map[string]string{"*ham*": "ham", "spam*": "spam"}}},
	} {
		_, err := c.parse("r.csv", []byte(c.src), c.opt)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: error %v, want %s", c.name, err, c.want)
			continue
		}
		if _, ok := err.(*Error); !ok {
			t.Errorf("%s: error is %T, want *Error", c.name, err)
		}
	}
}

func TestParseJSONL(t *testing.T) {
	src := `{"text": "one", "label": 2}` + "\n\n" + `{"text": "two", "label": 0, "extra": [1]}` + "\r\n" + `{"label": true, "text": "three"}`
	c, err := ParseJSONL("d.jsonl", []byte(src), TextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	texts, labels, where := docs(c)
	if !slices.Equal(texts, []string{"one", "two", "three"}) || !slices.Equal(labels, []string{"2", "0", "true"}) ||
		!slices.Equal(where, []string{"d.jsonl:1", "d.jsonl:3", "d.jsonl:4"}) {
		t.Errorf("got %q %q %q", texts, labels, where)
	}
	num, _ := ParseJSONL("n.jsonl", []byte(`{"text": "a", "label": 3}`+"\n"+`{"text": "b", "label": 1}`), TextOptions{})
	if got := Classes(num); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Errorf("numeric Classes = %q, want 0..3 (a label is its class id)", got)
	}
	if got := Classes(c); !slices.Equal(got, []string{"0", "2", "true"}) {
		t.Errorf("mixed Classes = %q", got)
	}
	ten, _ := ParseJSONL("n.jsonl", []byte(`{"text": "a", "label": "10"}`+"\n"+`{"text": "b", "label": "02"}`), TextOptions{})
	if got := Classes(ten); !slices.Equal(got, []string{"02", "10"}) {
		t.Errorf("Classes with a leading zero = %q, want them as strings", got)
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadJSONDir(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"spam-1/b.json":     `{"text": "From x\nSubject: win\n\nWIN money", "group": "spam-1"}`,
		"easy-ham-1/a.json": `{"text": "Subject: hello\nTo: me\n\nhi there", "group": "easy-ham-1", "id": "1"}`,
		"hard-ham-1/c.JSON": `{"text": "no headers here", "group": "hard-ham-1"}`,
		"file_list.json":    `["easy-ham-1/a.txt"]`,
		"notes.txt":         `not read`,
	})
	c, err := ReadJSONDir(dir, TextOptions{Label: "group", StripHeaders: true,
		LabelMap: map[string]string{"*ham*": "ham", "spam-*": "spam"}})
	if err != nil {
		t.Fatal(err)
	}
	texts, labels, where := docs(c)
	if !slices.Equal(texts, []string{"hi there", "no headers here", "WIN money"}) || !slices.Equal(labels, []string{"ham", "ham", "spam"}) {
		t.Errorf("got %q %q", texts, labels)
	}
	if want := filepath.Join(dir, "easy-ham-1", "a.json"); where[0] != want {
		t.Errorf("where = %q, want %q", where[0], want)
	}
	if len(c.Skipped) != 1 || filepath.Base(c.Skipped[0]) != "file_list.json" {
		t.Errorf("Skipped = %q", c.Skipped)
	}

	bad := writeFiles(t, map[string]string{"a/x.json": `{"body": "x", "label": "y"}`})
	_, err = ReadJSONDir(bad, TextOptions{})
	if want := filepath.Join(bad, "a", "x.json") + `: no text field "text" (fields: body, label)`; err == nil || err.Error() != want {
		t.Errorf("missing field: %v, want %s", err, want)
	}
	broken := writeFiles(t, map[string]string{"x.json": `{"text": "x",`})
	if _, err = ReadJSONDir(broken, TextOptions{}); err == nil || !strings.Contains(err.Error(), "x.json: bad JSON") {
		t.Errorf("broken JSON: %v", err)
	}
	onlyManifest := writeFiles(t, map[string]string{"list.json": `["a"]`})
	if _, err = ReadJSONDir(onlyManifest, TextOptions{}); err == nil || !strings.HasSuffix(err.Error(), "no *.json documents (1 files skipped: their top-level value is not an object)") {
		t.Errorf("only a manifest: %v", err)
	}
	if _, err = ReadJSONDir(filepath.Join(dir, "nope"), TextOptions{}); err == nil || !strings.HasSuffix(err.Error(), "nope: no such file") {
		t.Errorf("missing folder: %v", err)
	}
}

func TestReadTextFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"r.csv":   "text,label\nhello world,a\n",
		"r.jsonl": `{"text": "hello", "label": "b"}`,
	})
	c, err := ReadTextCSV(filepath.Join(dir, "r.csv"), TextOptions{})
	if err != nil || len(c.Docs) != 1 || c.Docs[0].Label != "a" {
		t.Errorf("ReadTextCSV: %v %+v", err, c)
	}
	c, err = ReadJSONL(filepath.Join(dir, "r.jsonl"), TextOptions{})
	if err != nil || len(c.Docs) != 1 || c.Docs[0].Label != "b" {
		t.Errorf("ReadJSONL: %v %+v", err, c)
	}
	if _, err := ReadJSONL(filepath.Join(dir, "x.jsonl"), TextOptions{}); err == nil || !strings.HasSuffix(err.Error(), "x.jsonl: no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestBuildVocabAndEncode(t *testing.T) {
	train := []string{"the cat sat on the mat", "The dog, the CAT!", "a zebra"}
	v, err := BuildVocab(Tokenizer{Kind: "words", Vocab: 8, MaxLen: 6, Lowercase: true}, train, []string{"neg", "pos"})
	if err != nil {
		t.Fatal(err)
	}
	// the ×4, cat ×2, then a dog mat on sat zebra ×1 in byte order
	want := []string{"[PAD]", "[UNK]", "[CLS]", "[MASK]", "the", "cat", "a", "dog"}
	if !slices.Equal(v.Tokens, want) {
		t.Errorf("Tokens = %q, want %q", v.Tokens, want)
	}
	if v.Size() != 8 {
		t.Errorf("Size = %d", v.Size())
	}
	ids, mask := make([]int32, 6), make([]int32, 6)
	v.Encode("The cat and a DOG", ids, mask)
	if !slices.Equal(ids, []int32{ClsID, 4, 5, UnkID, 6, 7}) || !slices.Equal(mask, []int32{1, 1, 1, 1, 1, 1}) {
		t.Errorf("Encode = %v %v", ids, mask)
	}
	v.Encode("the cat the cat the cat", ids, mask) // cut to max_len
	if !slices.Equal(ids, []int32{ClsID, 4, 5, 4, 5, 4}) {
		t.Errorf("Encode long = %v", ids)
	}
	v.Encode("cat!", ids, mask)
	if !slices.Equal(ids, []int32{ClsID, 5, PadID, PadID, PadID, PadID}) || !slices.Equal(mask, []int32{1, 1, 0, 0, 0, 0}) {
		t.Errorf("Encode short = %v %v", ids, mask)
	}
	v.Encode("", ids, mask)
	if !slices.Equal(ids, []int32{ClsID, 0, 0, 0, 0, 0}) || !slices.Equal(mask, []int32{1, 0, 0, 0, 0, 0}) {
		t.Errorf("Encode empty = %v %v", ids, mask)
	}

	cased, _ := BuildVocab(Tokenizer{Kind: "words", Vocab: 100, MaxLen: 4}, train, nil)
	cased.Encode("The the THE", ids[:4], mask[:4])
	// the ×3; CAT, The, a, cat... ×1 in byte order: The is 6, THE unknown
	if cased.Tokens[4] != "the" || cased.Tokens[6] != "The" || !slices.Equal(ids[:4], []int32{ClsID, 6, 4, UnkID}) {
		t.Errorf("case-sensitive: tokens %q, ids %v", cased.Tokens, ids[:4])
	}

	for _, tok := range []Tokenizer{{Kind: "words", Vocab: 4, MaxLen: 8}, {Kind: "chars", MaxLen: 0}, {Kind: "bpe", MaxLen: 3}} {
		if _, err := BuildVocab(tok, train, nil); err == nil {
			t.Errorf("BuildVocab(%+v) accepted", tok)
		}
	}
}

func TestChars(t *testing.T) {
	v, err := BuildVocab(Tokenizer{Kind: "chars", MaxLen: 7, Lowercase: true}, nil, []string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Size() != CharVocabSize || v.Tokens != nil {
		t.Errorf("Size %d, Tokens %q", v.Size(), v.Tokens)
	}
	ids, mask := make([]int32, 7), make([]int32, 7)
	v.Encode("Ab é€", ids, mask)
	want := []int32{ClsID, 4 + 'a', 4 + 'b', 4 + ' ', 4 + 0xe9, UnkID, PadID}
	if !slices.Equal(ids, want) || !slices.Equal(mask, []int32{1, 1, 1, 1, 1, 1, 0}) {
		t.Errorf("Encode = %v %v, want %v", ids, mask, want)
	}
}

func TestVocabSaveLoad(t *testing.T) {
	dir := t.TempDir()
	for _, tok := range []Tokenizer{{Kind: "words", Vocab: 10, MaxLen: 5, Lowercase: true}, {Kind: "chars", MaxLen: 9}} {
		v, err := BuildVocab(tok, []string{"b a b c"}, []string{"ham", "spam"})
		if err != nil {
			t.Fatal(err)
		}
		v.StripHeaders = true
		p := filepath.Join(dir, tok.Kind+".json")
		if err := v.Save(p); err != nil {
			t.Fatal(err)
		}
		w, err := LoadVocab(p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(w.Tokenizer, v.Tokenizer) || w.StripHeaders != v.StripHeaders || !slices.Equal(w.Tokens, v.Tokens) || !slices.Equal(w.Labels, v.Labels) {
			t.Errorf("%s: loaded %+v, saved %+v", tok.Kind, w, v)
		}
		a, b := make([]int32, tok.MaxLen*2), make([]int32, tok.MaxLen*2)
		v.Encode("b c d a", a[:tok.MaxLen], a[tok.MaxLen:])
		w.Encode("b c d a", b[:tok.MaxLen], b[tok.MaxLen:])
		if !slices.Equal(a, b) {
			t.Errorf("%s: loaded vocabulary encodes %v, saved one %v", tok.Kind, b, a)
		}
		if got := w.Prepare("Subject: x\n\nbody"); got != "body" {
			t.Errorf("Prepare = %q", got)
		}
	}
	for name, body := range map[string]string{
		"format":  `{"format": "other", "tokenizer": "words", "vocab": 5, "max_len": 3, "tokens": ["[PAD]", "[UNK]", "[CLS]", "[MASK]"]}`,
		"special": `{"format": "encc-text-vocab-1", "tokenizer": "words", "vocab": 5, "max_len": 3, "tokens": ["[UNK]", "[PAD]", "[CLS]", "[MASK]"]}`,
		"dup":     `{"format": "encc-text-vocab-1", "tokenizer": "words", "vocab": 6, "max_len": 3, "tokens": ["[PAD]", "[UNK]", "[CLS]", "[MASK]", "a", "a"]}`,
		"big":     `{"format": "encc-text-vocab-1", "tokenizer": "words", "vocab": 5, "max_len": 3, "tokens": ["[PAD]", "[UNK]", "[CLS]", "[MASK]", "a", "b"]}`,
		"maxlen":  `{"format": "encc-text-vocab-1", "tokenizer": "chars", "max_len": 0}`,
		"json":    `{"format": `,
	} {
		p := filepath.Join(dir, name+".json")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := LoadVocab(p); err == nil || !strings.HasPrefix(err.Error(), p+": not a text vocabulary: ") {
			t.Errorf("%s: LoadVocab error %v", name, err)
		}
	}
}

// corpus makes n documents "w<i> common" labelled by i%3.
func corpus(n int) *Corpus {
	c := &Corpus{Source: "mem"}
	for i := range n {
		c.Docs = append(c.Docs, Doc{Text: "w" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + " common", Label: []string{"x", "y", "z"}[i%3], Where: "mem"})
	}
	return c
}

func TestTextSplits(t *testing.T) {
	c := corpus(100)
	tok := Tokenizer{Kind: "words", Vocab: 1000, MaxLen: 4, Lowercase: true}
	sp, v, err := TextSplits(c, nil, TextSpec{Tokenizer: tok, Train: 0.7, Val: 0.1, Test: 0.2, Seed: 7, StripHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	if !v.StripHeaders || !slices.Equal(v.Labels, []string{"x", "y", "z"}) {
		t.Errorf("vocab %+v", v)
	}
	// the same partition as SplitFractions of a 100-sample dataset
	idx := &Dataset{Source: "idx", N: 100, Fields: []*Field{{Name: "i", DType: I32, I32: make([]int32, 100)}}}
	for i := range 100 {
		idx.Fields[0].I32[i] = int32(i)
	}
	ref, err := SplitFractions(idx, 0.7, 0.1, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name     string
		got, ref *Dataset
	}{{"train", sp.Train, ref.Train}, {"val", sp.Val, ref.Val}, {"test", sp.Test, ref.Test}} {
		if err := p.got.Validate(); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if p.got.N != p.ref.N {
			t.Fatalf("%s: %d samples, SplitFractions gives %d", p.name, p.got.N, p.ref.N)
		}
		ids, mask, label := p.got.Field("ids"), p.got.Field("mask"), p.got.Field("label")
		if ids.Role != IDs || ids.Classes != 1000 || !slices.Equal(ids.Shape, []int{4}) || mask.Role != Mask || label.Classes != 3 {
			t.Fatalf("%s: fields %+v %+v %+v", p.name, ids, mask, label)
		}
		for k, doc := range p.ref.Fields[0].I32 {
			// the document's own word is known only when it is in the train split
			word := v.index[strings.Fields(c.Docs[doc].Text)[0]]
			wantWord := word
			if p.name != "train" {
				wantWord = UnkID
				if word != 0 {
					t.Errorf("%s document %d: its word is in the vocabulary, built from the train split only", p.name, doc)
				}
			}
			got := ids.I32[k*4 : k*4+4]
			if want := []int32{ClsID, wantWord, v.index["common"], PadID}; !slices.Equal(got, want) {
				t.Errorf("%s sample %d (document %d): ids %v, want %v", p.name, k, doc, got, want)
			}
			if label.I32[k] != int32(doc%3) {
				t.Errorf("%s sample %d: label %d, want %d", p.name, k, label.I32[k], doc%3)
			}
		}
	}
	if len(v.Tokens) != 4+1+70 {
		t.Errorf("%d tokens, want the specials, common and the 70 train words", len(v.Tokens))
	}

	// a separate test source: its labels join the classes
	test := &Corpus{Source: "test", Docs: []Doc{{Text: "common", Label: "w", Where: "test:1"}}}
	sp, v, err = TextSplits(c, test, TextSpec{Tokenizer: tok, Val: 0.1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Train.N != 90 || sp.Val.N != 10 || sp.Test.N != 1 || !slices.Equal(v.Labels, []string{"w", "x", "y", "z"}) || sp.Test.Field("label").I32[0] != 0 {
		t.Errorf("with a test source: %d/%d/%d, labels %q", sp.Train.N, sp.Val.N, sp.Test.N, v.Labels)
	}
	// no split: all is train
	sp, _, err = TextSplits(c, nil, TextSpec{Tokenizer: tok})
	if err != nil || sp.Train.N != 100 || sp.Val != nil || sp.Test != nil {
		t.Errorf("no split: %v %+v", err, sp)
	}
	// a label the vocabulary does not know
	_, err = v.Dataset(&Corpus{Source: "p", Docs: []Doc{{Text: "a", Label: "q", Where: "p.jsonl:4"}}})
	if err == nil || err.Error() != `p.jsonl:4: label "q" is not a class of the training data (w, x, y, z)` {
		t.Errorf("unknown label: %v", err)
	}
	if _, _, err := TextSplits(c, nil, TextSpec{Tokenizer: Tokenizer{Kind: "words", Vocab: 3, MaxLen: 4}}); err == nil {
		t.Error("a vocabulary of 3 accepted")
	}
}
