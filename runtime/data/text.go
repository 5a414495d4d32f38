package data

// This file reads labelled text: a CSV text column, JSON lines and a
// folder of JSON documents. Tokenizing is in text_token.go, splitting and
// encoding into datasets in text_split.go.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A Doc is one labelled text, as read.
type Doc struct {
	Text string
	// Label is the class name: the label as read (a JSON number or
	// boolean in its JSON spelling), after TextOptions.LabelMap.
	Label string
	// Where locates the document for messages: "file:line" or the file.
	Where string
}

// A Corpus is the labelled texts of one source, in file order.
type Corpus struct {
	Source string
	Docs   []Doc
	// Skipped lists the files of a JSON folder that were not read
	// because their top-level value is not an object (a manifest such as
	// SpamAssassin's file_list.json).
	Skipped []string
}

// TextOptions say how to read a text source.
type TextOptions struct {
	// Text and Label name the text and label column (CSV) or field
	// (JSON); by default "text" and "label".
	Text, Label string
	// Delimiter separates CSV fields; 0 means ','.
	Delimiter rune
	// StripHeaders removes RFC 822 e-mail headers (see StripEmailHeaders)
	// from every text after it is read.
	StripHeaders bool
	// LabelMap, when not empty, maps labels onto class names: each key is
	// a pattern (path.Match syntax: *, ?, [a-z]) and its value the class
	// of the labels it matches, so {"*ham*": "ham", "spam*": "spam"} folds
	// SpamAssassin's groups easy-ham-1, hard-ham-1, spam-2... into two
	// classes. Every label must match at least one key, and all keys it
	// matches must give the same class.
	LabelMap map[string]string
}

func (o *TextOptions) defaults() {
	if o.Text == "" {
		o.Text = "text"
	}
	if o.Label == "" {
		o.Label = "label"
	}
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
}

// label applies the label map.
func (o *TextOptions) label(raw string) (string, error) {
	if len(o.LabelMap) == 0 {
		return raw, nil
	}
	keys := make([]string, 0, len(o.LabelMap))
	for k := range o.LabelMap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	class, first := "", ""
	for _, k := range keys {
		ok, err := path.Match(k, raw)
		if err != nil {
			return "", fmt.Errorf("label map key %q: %v", k, err)
		}
		if !ok {
			continue
		}
		if first != "" && o.LabelMap[k] != class {
			return "", fmt.Errorf("label %q matches %q (class %q) and %q (class %q) of the label map", raw, first, class, k, o.LabelMap[k])
		}
		if first == "" {
			class, first = o.LabelMap[k], k
		}
	}
	if first == "" {
		return "", fmt.Errorf("label %q matches no key of the label map (keys: %s)", raw, strings.Join(keys, ", "))
	}
	return class, nil
}

// add checks and appends one document.
func (c *Corpus) add(o *TextOptions, text, label string, file string, line int, what string) error {
	fail := func(format string, args ...any) error {
		if line > 0 {
			return lineErr(file, line, format, args...)
		}
		return fileErr(file, format, args...)
	}
	if strings.TrimSpace(text) == "" {
		return fail("empty text (%s %q)", what, o.Text)
	}
	class, err := o.label(label)
	if err != nil {
		return fail("%v", err)
	}
	if o.StripHeaders {
		text, _ = StripEmailHeaders(text)
	}
	where := file
	if line > 0 {
		where = fmt.Sprintf("%s:%d", file, line)
	}
	c.Docs = append(c.Docs, Doc{Text: text, Label: class, Where: where})
	return nil
}

// ReadTextCSV reads a CSV file (gzipped or not) with a header row, a text
// column and a label column (any string; see Classes). A text may span
// lines when quoted; a document's line is the line its row starts on.
func ReadTextCSV(file string, opt TextOptions) (*Corpus, error) {
	b, err := readFile(file)
	if err != nil {
		return nil, err
	}
	return ParseTextCSV(file, b, opt)
}

// ParseTextCSV parses CSV text b; name is the file name for messages.
func ParseTextCSV(name string, b []byte, opt TextOptions) (*Corpus, error) {
	opt.defaults()
	r := csv.NewReader(bytes.NewReader(b))
	r.Comma = opt.Delimiter
	r.FieldsPerRecord = -1
	read := csvRecords(name, r)
	hdr, line, err := read()
	if err == io.EOF {
		return nil, fileErr(name, "empty file")
	}
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	for i, h := range hdr {
		h = strings.TrimSpace(h)
		if _, dup := index[h]; dup {
			return nil, lineErr(name, line, "duplicate column %q", h)
		}
		index[h] = i
	}
	col := func(c, what string) (int, error) {
		i, ok := index[c]
		if !ok {
			return 0, lineErr(name, line, "no %s column %q (columns: %s)", what, c, listColumns(hdr))
		}
		return i, nil
	}
	textCol, err := col(opt.Text, "text")
	if err != nil {
		return nil, err
	}
	labelCol, err := col(opt.Label, "label")
	if err != nil {
		return nil, err
	}
	c := &Corpus{Source: name}
	for {
		rec, line, err := read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) != len(hdr) {
			return nil, lineErr(name, line, "row has %d fields, header has %d", len(rec), len(hdr))
		}
		label := strings.TrimSpace(rec[labelCol])
		if label == "" {
			return nil, lineErr(name, line, "empty label (column %q)", opt.Label)
		}
		if err := c.add(&opt, rec[textCol], label, name, line, "column"); err != nil {
			return nil, err
		}
	}
	if len(c.Docs) == 0 {
		return nil, fileErr(name, "no data rows")
	}
	return c, nil
}

// docFields reads the text and label of one JSON object. A label may be
// a string, an integer or a boolean.
func docFields(raw []byte, opt *TextOptions) (text, label string, err error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", "", err
	}
	if obj == nil {
		return "", "", errors.New("not a JSON object")
	}
	t, ok := obj[opt.Text]
	if !ok {
		return "", "", fmt.Errorf("no text field %q (fields: %s)", opt.Text, listColumns(sortedKeys(obj)))
	}
	if err := json.Unmarshal(t, &text); err != nil || bytes.Equal(bytes.TrimSpace(t), []byte("null")) {
		return "", "", fmt.Errorf("text field %q is %s, want a string", opt.Text, jsonKind(t))
	}
	l, ok := obj[opt.Label]
	if !ok {
		return "", "", fmt.Errorf("no label field %q (fields: %s)", opt.Label, listColumns(sortedKeys(obj)))
	}
	var v any
	if err := json.Unmarshal(l, &v); err != nil {
		return "", "", err
	}
	switch v := v.(type) {
	case string:
		label = v
	case bool:
		label = strconv.FormatBool(v)
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return "", "", fmt.Errorf("label field %q is %s, want a string, an integer or a boolean", opt.Label, string(bytes.TrimSpace(l)))
		}
		label = strconv.FormatInt(int64(v), 10)
	default:
		return "", "", fmt.Errorf("label field %q is %s, want a string, an integer or a boolean", opt.Label, jsonKind(l))
	}
	if strings.TrimSpace(label) == "" {
		return "", "", fmt.Errorf("empty label (field %q)", opt.Label)
	}
	return text, label, nil
}

func jsonKind(raw json.RawMessage) string {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return "empty"
	}
	switch s[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func sortedKeys(m map[string]json.RawMessage) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ReadJSONL reads JSON lines (gzipped or not): one object per line with
// a text field and a label field (a string, an integer or a boolean).
// Blank lines are skipped.
func ReadJSONL(file string, opt TextOptions) (*Corpus, error) {
	b, err := readFile(file)
	if err != nil {
		return nil, err
	}
	return ParseJSONL(file, b, opt)
}

// ParseJSONL parses JSON lines b; name is the file name for messages.
func ParseJSONL(name string, b []byte, opt TextOptions) (*Corpus, error) {
	opt.defaults()
	c := &Corpus{Source: name}
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		text, label, err := docFields(line, &opt)
		if err != nil {
			return nil, lineErr(name, i+1, "%s", jsonMsg(err))
		}
		if err := c.add(&opt, text, label, name, i+1, "field"); err != nil {
			return nil, err
		}
	}
	if len(c.Docs) == 0 {
		return nil, fileErr(name, "no JSON lines")
	}
	return c, nil
}

// jsonMsg words a JSON syntax or type error for a user.
func jsonMsg(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "bad JSON: " + se.Error()
	case errors.As(err, &te):
		return "not a JSON object"
	}
	return err.Error()
}

// ReadJSONDir reads every *.json file under dir (recursively, in
// lexical path order; files may be gzipped). Each file is one document:
// a JSON object with a text field and a label field. A file whose
// top-level value is not an object (an array or a string, such as a
// manifest) is skipped and listed in Corpus.Skipped. Document paths in
// messages are as found under dir.
func ReadJSONDir(dir string, opt TextOptions) (*Corpus, error) {
	opt.defaults()
	st, err := os.Stat(dir)
	if err != nil {
		return nil, openErr(dir, err)
	}
	if !st.IsDir() {
		return nil, fileErr(dir, "not a folder")
	}
	var files []string
	// The trailing separator makes WalkDir follow a root that is a
	// symbolic link (examples/data/spam-assassin → the cache).
	err = filepath.WalkDir(dir+string(filepath.Separator), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return openErr(p, err)
		}
		if !d.IsDir() && strings.HasSuffix(strings.ToLower(d.Name()), ".json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := &Corpus{Source: dir}
	for _, f := range files {
		b, err := readFile(f)
		if err != nil {
			return nil, err
		}
		s := bytes.TrimSpace(b)
		if len(s) > 0 && s[0] != '{' && json.Valid(s) {
			c.Skipped = append(c.Skipped, f)
			continue
		}
		text, label, err := docFields(b, &opt)
		if err != nil {
			return nil, fileErr(f, "%s", jsonMsg(err))
		}
		if err := c.add(&opt, text, label, f, 0, "field"); err != nil {
			return nil, err
		}
	}
	if len(c.Docs) == 0 {
		msg := "no *.json documents"
		if len(c.Skipped) > 0 {
			msg = fmt.Sprintf("no *.json documents (%d files skipped: their top-level value is not an object)", len(c.Skipped))
		}
		return nil, fileErr(dir, "%s", msg)
	}
	return c, nil
}

// Classes returns the class names of the labels of the given corpora:
// when every label is a non-negative integer, the classes are "0", "1",
// ... up to the largest, so that a label's class id is its value;
// otherwise the distinct labels sorted (byte order), a label's class id
// being its place in that order.
func Classes(cs ...*Corpus) []string {
	seen := map[string]bool{}
	numeric := true
	maxv := int64(-1)
	for _, c := range cs {
		if c == nil {
			continue
		}
		for _, d := range c.Docs {
			if seen[d.Label] {
				continue
			}
			seen[d.Label] = true
			v, err := strconv.ParseInt(d.Label, 10, 32)
			if err != nil || v < 0 || strconv.FormatInt(v, 10) != d.Label {
				numeric = false
			} else {
				maxv = max(maxv, v)
			}
		}
	}
	var names []string
	if numeric && len(seen) > 0 {
		for i := int64(0); i <= maxv; i++ {
			names = append(names, strconv.FormatInt(i, 10))
		}
		return names
	}
	for l := range seen {
		names = append(names, l)
	}
	sort.Strings(names)
	return names
}
