package train

// This file implements Predict for text models: raw texts are prepared
// and encoded with the vocabulary saved next to the checkpoint, as
// training encoded them.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/data"
)

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readTexts reads the texts to predict and their labels, if any: a
// .jsonl file (objects with "text" and an optional "label"), a .csv file
// (a header with a "text" column and an optional "label" column), or
// any other file: one text per non-empty line.
func readTexts(input string) (texts, labels []string, err error) {
	b, err := os.ReadFile(input)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", input, unwrapPath(err))
	}
	switch strings.ToLower(filepath.Ext(input)) {
	case ".jsonl":
		for i, line := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(line, &obj); err != nil {
				return nil, nil, fmt.Errorf("%s:%d: bad JSON: %v", input, i+1, err)
			}
			var text string
			if err := json.Unmarshal(obj["text"], &text); err != nil {
				return nil, nil, fmt.Errorf("%s:%d: no string field \"text\"", input, i+1)
			}
			texts = append(texts, text)
			if raw, ok := obj["label"]; ok {
				var l string
				if json.Unmarshal(raw, &l) != nil {
					l = string(raw)
				}
				labels = append(labels, l)
			}
		}
		if len(labels) != len(texts) {
			labels = nil
		}
	case ".csv":
		r := csv.NewReader(bytes.NewReader(b))
		r.FieldsPerRecord = -1
		head, err := r.Read()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: no header row", input)
		}
		ti, li := -1, -1
		for i, h := range head {
			switch strings.TrimSpace(h) {
			case "text":
				ti = i
			case "label":
				li = i
			}
		}
		if ti < 0 {
			return nil, nil, fmt.Errorf("%s: no \"text\" column (columns: %s)", input, strings.Join(head, ", "))
		}
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %v", input, err)
			}
			line, _ := r.FieldPos(0)
			if ti >= len(rec) || (li >= 0 && li >= len(rec)) {
				return nil, nil, fmt.Errorf("%s:%d: row has %d fields, header has %d", input, line, len(rec), len(head))
			}
			texts = append(texts, rec[ti])
			if li >= 0 {
				labels = append(labels, rec[li])
			}
		}
	default:
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, len(b)+1)
		for sc.Scan() {
			if t := sc.Text(); strings.TrimSpace(t) != "" {
				texts = append(texts, t)
			}
		}
	}
	if len(texts) == 0 {
		return nil, nil, fmt.Errorf("%s: no texts", input)
	}
	return texts, labels, nil
}

// predictText predicts the class of every text of input with a text
// model (ids: i32[B, T] and an optional mask: bool[B, T]) and writes
// output: row, pred (class id), class (its name) and the probability of
// every class (p_NAME).
func predictText(p *compiler.Program, in *compiler.Instance, w map[string][]float32, v *data.Vocab, b Backend, input, output string, opts Options) (*PredictResult, error) {
	texts, labels, err := readTexts(input)
	if err != nil {
		return nil, err
	}
	T := v.Tokenizer.MaxLen
	const maxBatch = 64
	type prog struct {
		ex        Executor
		ids       []int32
		mask      []int32
		maskB     []bool
		hasMask   bool
		out, name string
		classes   int
	}
	progs := map[int]*prog{}
	f, err := os.Create(output)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cw := csv.NewWriter(f)
	h := []string{"row", "pred", "class"}
	for _, l := range v.Labels {
		h = append(h, "p_"+l)
	}
	if err := cw.Write(h); err != nil {
		return nil, err
	}
	res := &PredictResult{Rows: len(texts), Accuracy: math.NaN()}
	right := 0
	for start := 0; start < len(texts); start += maxBatch {
		n := min(maxBatch, len(texts)-start)
		pr, ok := progs[n]
		if !ok {
			ex, g, xs, err := forward(p, in, w, n, T, b, opts.Threads)
			if err != nil {
				return nil, err
			}
			pr = &prog{ex: ex, ids: make([]int32, n*T), mask: make([]int32, n*T), maskB: make([]bool, n*T)}
			for i, x := range xs {
				switch {
				case i == 0 && x.Type.DType == ir.I32 && x.Type.NumElements() == n*T:
					err = ex.Bind(x.Name, pr.ids)
				case i == 1 && x.Type.DType == ir.Bool && x.Type.NumElements() == n*T:
					err = ex.Bind(x.Name, pr.maskB)
					pr.hasMask = true
				default:
					return nil, fmt.Errorf("%s takes %s %v; a text model takes ids: i32[B, %d] and an optional mask: bool[B, %d]", in.Name(), x.Name, x.Type, T, T)
				}
				if err != nil {
					return nil, err
				}
			}
			o := g.Outputs[0].Value
			if o.Type.Rank() != 2 || o.Type.Shape[1] != len(v.Labels) {
				return nil, fmt.Errorf("%s returns %v; predict on text wants class scores [B, %d] (%s)", in.Name(), o.Type, len(v.Labels), strings.Join(v.Labels, ", "))
			}
			pr.name, pr.classes = g.Outputs[0].Name, len(v.Labels)
			progs[n] = pr
		}
		for i := 0; i < n; i++ {
			v.Encode(v.Prepare(texts[start+i]), pr.ids[i*T:(i+1)*T], pr.mask[i*T:(i+1)*T])
		}
		for i, m := range pr.mask {
			pr.maskB[i] = m != 0
		}
		if err := pr.ex.Run(); err != nil {
			return nil, err
		}
		y := pr.ex.Float32(pr.name)
		for i := 0; i < n; i++ {
			best, probs := softmax(y[i*pr.classes : (i+1)*pr.classes])
			rec := []string{strconv.Itoa(start + i), strconv.Itoa(best), v.Labels[best]}
			for _, q := range probs {
				rec = append(rec, strconv.FormatFloat(q, 'g', 6, 64))
			}
			if labels != nil && labels[start+i] == v.Labels[best] {
				right++
			}
			if err := cw.Write(rec); err != nil {
				return nil, err
			}
		}
	}
	res.Classes = len(v.Labels)
	cw.Flush()
	if err := cw.Error(); err != nil {
		return nil, err
	}
	if labels != nil {
		res.Accuracy = float64(right) / float64(len(texts))
	}
	return res, f.Close()
}
