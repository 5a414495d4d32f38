package train

// This file implements using trained weights: Eval (metrics of a train
// on its test split), Predict (a model's outputs for the rows of a CSV
// file) and RandomForward (a forward pass on random input).

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/data"
)

// An EvalResult holds the metrics of a train's model on a split.
type EvalResult struct {
	Train   string
	Weights string
	Split   string             // "test", or "train" when the data has no test split
	N       int                // samples evaluated
	Metrics map[string]float64 // "loss" and the train's metrics
}

// Eval evaluates the weights in the file weights (a checkpoint or any
// safetensors file whose tensors are named by parameter path) with the
// loss and metrics of tr on its test split: the data are read, split
// and preprocessed exactly as Run does. Options.Device and Threads
// apply.
func Eval(p *compiler.Program, tr *compiler.Train, weights string, opts Options) (*EvalResult, error) {
	t := &trainer{p: p, tr: tr, opts: opts, evalProgs: map[int]Executor{}}
	var err error
	if t.backend, t.backendName, err = backendFor(opts.Device); err != nil {
		return nil, err
	}
	t.backend = inferBackend(t.backendName, t.backend) // the weights stay as loaded
	c, err := LoadCheckpoint(weights)
	if err != nil {
		return nil, err
	}
	tab, err := decodeInt8(weights, c)
	if err != nil {
		return nil, err
	}
	if tab != nil && t.backendName == "cpu" {
		t.backend = int8Backend(tab)
	}
	if tr.LoRA == nil && c.Meta.BaseSHA256 != "" {
		// a LoRA checkpoint evaluated by a train of the plain model: merged
		t.weights, err = ModelWeights(p, tr.Model, weights)
	} else {
		t.weights, err = TrainWeights(tr, c, weights)
	}
	if err != nil {
		return nil, err
	}
	if tr.Teacher != nil {
		if t.teacher, err = TeacherWeights(tr); err != nil {
			return nil, err
		}
	}
	t.shapes, t.state, t.ms = map[string][]int{}, map[string][]float32{}, metricsOf(tr)
	t.counts = map[string][]int64{}
	ld, err := loadData(p, tr)
	if err != nil {
		return nil, err
	}
	t.splits, t.transform, t.vocab = ld.splits, ld.transform, ld.vocab
	res := &EvalResult{Train: tr.Name, Weights: weights, Split: "test"}
	if t.splits.Test == nil {
		t.splits.Test = t.splits.Train
		res.Split = "train"
	}
	if err := t.setupData(); err != nil {
		return nil, err
	}
	res.N = t.splits.Test.N
	if res.Metrics, err = t.evaluate(); err != nil {
		return nil, err
	}
	return res, nil
}

// Instance returns the model instance a name stands for: the model of
// the train of that name, or the model of that name with its default
// hyper-parameters.
func Instance(p *compiler.Program, name string) (*compiler.Instance, error) {
	if tr := p.Train(name); tr != nil {
		return tr.Model, nil
	}
	for _, m := range p.Models {
		if m.Name != name {
			continue
		}
		if m.Default == nil {
			return nil, fmt.Errorf("model %s has hyper-parameters without defaults; name a train that builds it instead", name)
		}
		return m.Default, nil
	}
	if v := p.VectorTrain(name); v != nil {
		return nil, fmt.Errorf("train %s trains word vectors (objective = skipgram(...)) and has no model: what it makes is its vectors file, %s; name a train that reads them with init = vectors(...)", name, v.Save)
	}
	var have []string
	for _, tr := range p.Trains {
		have = append(have, tr.Name)
	}
	have = append(have, p.ModelNames()...)
	return nil, fmt.Errorf("no train or model named %s (have: %s)", name, strings.Join(have, ", "))
}

// A Tensor is a named f32 tensor: the output of a forward pass.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Format writes t as PyTorch prints a tensor: the rows of the last
// dimension, at most edge rows and columns at each end, with the shape.
func (t *Tensor) Format(w io.Writer, edge int) {
	cols := 1
	if len(t.Shape) > 0 {
		cols = t.Shape[len(t.Shape)-1]
	}
	rows := len(t.Data) / max(cols, 1)
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintf(bw, "%s: f32%s\n", t.Name, shapeString(t.Shape))
	row := func(r int) {
		bw.WriteString(" [")
		for c := 0; c < cols; c++ {
			if cols > 2*edge && c == edge {
				bw.WriteString(" ...,")
				c = cols - edge
			}
			fmt.Fprintf(bw, "%9.4f", t.Data[r*cols+c])
			if c < cols-1 {
				bw.WriteString(",")
			}
		}
		bw.WriteString("]\n")
	}
	for r := 0; r < rows; r++ {
		if rows > 2*edge && r == edge {
			bw.WriteString(" ...\n")
			r = rows - edge
		}
		row(r)
	}
}

// forward compiles the forward of in for a batch of n (and sequences of
// T, for text models; 0 leaves T unbound) and binds the weights; it
// returns the executor, the graph and its data inputs in order.
func forward(p *compiler.Program, in *compiler.Instance, weights map[string][]float32, n, T int, b Backend, threads int) (Executor, *ir.Graph, []*ir.Value, error) {
	dims := map[string]int{"B": n}
	if T > 0 {
		dims["T"] = T
	}
	g, err := p.LowerForward(in, dims)
	if err != nil {
		return nil, nil, nil, err
	}
	ex, err := b(g, threads)
	if err != nil {
		return nil, nil, nil, err
	}
	var xs []*ir.Value
	for _, v := range g.Inputs {
		switch v.Role() {
		case ir.RoleParam, ir.RoleConst:
			if err := ex.Bind(v.Name, weights[v.Name]); err != nil {
				return nil, nil, nil, err
			}
		case ir.RoleData:
			xs = append(xs, v)
		case ir.RoleScalar:
			return nil, nil, nil, fmt.Errorf("%s needs scalar %s in inference", in.Name(), v.Name)
		}
	}
	if len(xs) == 0 {
		return nil, nil, nil, fmt.Errorf("%s takes no input", in.Name())
	}
	return ex, g, xs, nil
}

// oneF32 checks that a forward takes one f32 input and returns it.
func oneF32(in *compiler.Instance, xs []*ir.Value) (*ir.Value, error) {
	if len(xs) > 1 {
		var names []string
		for _, x := range xs {
			names = append(names, x.Name)
		}
		return nil, fmt.Errorf("%s takes several inputs (%s); only one-input f32 models run here", in.Name(), strings.Join(names, ", "))
	}
	if xs[0].Type.DType != ir.F32 {
		return nil, fmt.Errorf("%s takes %s %v; only f32 inputs run here", in.Name(), xs[0].Name, xs[0].Type)
	}
	return xs[0], nil
}

// takesTokens reports whether the forward of in takes an i32 input
// first (token ids), as the compiler checked it.
func takesTokens(p *compiler.Program, in *compiler.Instance) (bool, error) {
	inputs, err := p.ForwardInputs(in)
	if err != nil {
		return false, err
	}
	return len(inputs) > 0 && inputs[0].Type.DType == "i32", nil
}

// RandomForward runs the forward of in on a batch of batch samples drawn
// from N(0, 1), with weights initialized by the model's initializers,
// both seeded by seed (the input from stream ParamStream("input:"+name)).
// It returns the outputs in declaration order ("out" for a single one).
func RandomForward(p *compiler.Program, in *compiler.Instance, batch int, seed uint64, opts Options) ([]*Tensor, error) {
	b, _, err := backendFor(opts.Device)
	if err != nil {
		return nil, err
	}
	if g, err := p.LowerForward(in, map[string]int{"B": batch}); err == nil {
		need, err := planMemory(g)
		if err != nil {
			return nil, err
		}
		if err := checkMemory(in.Name(), need); err != nil {
			return nil, err
		}
	}
	weights, err := InitParams(in.Params(), seed)
	if err != nil {
		return nil, err
	}
	ex, g, inputs, err := forward(p, in, weights, batch, 0, b, opts.Threads)
	if err != nil {
		return nil, err
	}
	x, err := oneF32(in, inputs)
	if err != nil {
		return nil, err
	}
	xs := make([]float32, x.Type.NumElements())
	r := rand.New(rand.NewPCG(seed, ParamStream("input:"+x.Name)))
	for i := range xs {
		xs[i] = float32(r.NormFloat64())
	}
	if err := ex.Bind(x.Name, xs); err != nil {
		return nil, err
	}
	if err := ex.Run(); err != nil {
		return nil, err
	}
	var out []*Tensor
	for _, o := range g.Outputs {
		if o.Updates != nil {
			continue
		}
		out = append(out, &Tensor{Name: o.Name, Shape: slices.Clone([]int(o.Value.Type.Shape)), Data: slices.Clone(ex.Float32(o.Name))})
	}
	return out, nil
}

// A PredictResult summarizes a prediction run.
type PredictResult struct {
	Rows     int
	Classes  int     // columns of the output (0 when it is not [rows, classes])
	Accuracy float64 // against the input's label column; NaN without one
}

// Predict runs the model named by target (a train's model, or a model
// with default hyper-parameters) with the weights in the file weights
// on every row of the CSV file input (a header row; numeric feature
// columns; a "label" column, if any, is compared to the predictions)
// and writes output: a CSV with a header and, per input row, the row
// number, the argmax class and the softmax probabilities of the output
// [rows, classes] (or the raw outputs when the output has another
// shape). The preprocessing saved in a checkpoint (scale, normalize
// fitted on the train split) is applied to the inputs first.
func Predict(p *compiler.Program, target, weights, input, output string, opts Options) (*PredictResult, error) {
	in, err := Instance(p, target)
	if err != nil {
		return nil, err
	}
	b, bname, err := backendFor(opts.Device)
	if err != nil {
		return nil, err
	}
	b = inferBackend(bname, b) // the weights stay as loaded
	c, err := LoadCheckpoint(weights)
	if err != nil {
		return nil, err
	}
	tab, err := decodeInt8(weights, c)
	if err != nil {
		return nil, err
	}
	if tab != nil && bname == "cpu" {
		b = int8Backend(tab)
	}
	w, err := modelWeights(p, in, c, weights)
	if err != nil {
		return nil, err
	}
	if tensorInput(input) {
		arrays, err := readTensorInputs(input)
		if err != nil {
			return nil, err
		}
		tf, err := transformOf(c, weights)
		if err != nil {
			return nil, err
		}
		return predictTensors(p, in, w, b, arrays, tf, input, output, opts)
	}
	if vf := VocabPath(weights); fileExists(vf) {
		if rawOutput(output) {
			return nil, fmt.Errorf("--output %s: raw outputs of raw text are not written; give token ids (.jsonl with \"ids\", .npy, .safetensors) as the input, or write CSV", output)
		}
		v, err := data.LoadVocab(vf)
		if err != nil {
			return nil, err
		}
		return predictText(p, in, w, v, b, input, output, opts)
	}
	tokens, err := takesTokens(p, in)
	if err != nil {
		return nil, err
	}
	if tokens {
		return nil, fmt.Errorf("%s takes token ids, and there is no vocabulary %s next to the weights: predict reads raw text with the vocabulary that encc run saves there", in.Name(), VocabPath(weights))
	}
	ds, xf, err := readFeatures(input, c, weights)
	if err != nil {
		return nil, err
	}
	if rawOutput(output) {
		x := &data.Array{Kind: data.ArrayF32, Shape: []int{ds.N, xf.Size()}, F32: xf.F32}
		return predictTensors(p, in, w, b, []namedArray{{a: x}}, nil, input, output, opts)
	}
	const maxBatch = 256
	res := &PredictResult{Rows: ds.N, Accuracy: math.NaN()}
	progs := map[int]Executor{}
	xs := map[int][]float32{}
	var out *ir.Value
	var outName string
	f, err := os.Create(output)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cw := csv.NewWriter(f)
	right := 0
	k := xf.Size()
	for start := 0; start < ds.N; start += maxBatch {
		n := min(maxBatch, ds.N-start)
		ex, ok := progs[n]
		if !ok {
			var g *ir.Graph
			var inputs []*ir.Value
			if ex, g, inputs, err = forward(p, in, w, n, 0, b, opts.Threads); err != nil {
				return nil, err
			}
			x, err := oneF32(in, inputs)
			if err != nil {
				return nil, err
			}
			if x.Type.NumElements() != n*k {
				return nil, fmt.Errorf("%s: rows have %d features; %s takes %d per sample (input %s)", input, k, in.Name(), x.Type.NumElements()/n, x.Name)
			}
			xs[n] = make([]float32, n*k)
			if err := ex.Bind(x.Name, xs[n]); err != nil {
				return nil, err
			}
			out, outName = g.Outputs[0].Value, g.Outputs[0].Name
			progs[n] = ex
			if start == 0 {
				if err := writeHeader(cw, out, n); err != nil {
					return nil, err
				}
			}
		}
		copy(xs[n], xf.F32[start*k:(start+n)*k])
		if err := ex.Run(); err != nil {
			return nil, err
		}
		y := ex.Float32(outName)
		cls := 0
		if out.Type.Rank() == 2 {
			cls = out.Type.Shape[1]
		}
		res.Classes = cls
		per := len(y) / n
		for i := 0; i < n; i++ {
			row := y[i*per : (i+1)*per]
			rec := []string{strconv.Itoa(start + i)}
			if cls > 0 {
				best, probs := softmax(row)
				rec = append(rec, strconv.Itoa(best))
				for _, q := range probs {
					rec = append(rec, strconv.FormatFloat(q, 'g', 6, 64))
				}
				if lf := ds.Field("label"); lf != nil && int(lf.I32[start+i]) == best {
					right++
				}
			} else {
				for _, v := range row {
					rec = append(rec, strconv.FormatFloat(float64(v), 'g', -1, 32))
				}
			}
			if err := cw.Write(rec); err != nil {
				return nil, err
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return nil, err
	}
	if ds.Field("label") != nil && res.Classes > 0 {
		res.Accuracy = float64(right) / float64(ds.N)
	}
	return res, f.Close()
}

// transformOf returns the preprocessing saved in checkpoint c, or nil.
// readFeatures reads a CSV of numeric feature columns (and an optional
// "label" column) into the field "x", with the preprocessing that the
// checkpoint c, read from weights, recorded applied: predict's and
// embed's rows.
func readFeatures(input string, c *Checkpoint, weights string) (*data.Dataset, *data.Field, error) {
	label, err := csvHasColumn(input, "label")
	if err != nil {
		return nil, nil, err
	}
	copt := data.CSVOptions{FeatureField: "x", LabelField: "label"}
	if label {
		copt.Label = "label"
	}
	ds, err := data.ReadCSV(input, copt)
	if err != nil {
		return nil, nil, err
	}
	xf := ds.Field("x")
	if xf == nil || xf.Size() == 0 {
		return nil, nil, fmt.Errorf("%s: no feature columns", input)
	}
	tf, err := transformOf(c, weights)
	if err != nil {
		return nil, nil, err
	}
	if tf != nil {
		for _, ft := range tf.Fields {
			if len(ft.Mul) == xf.Size() {
				ft.ApplyTo(xf.F32)
			}
		}
	}
	return ds, xf, nil
}

func transformOf(c *Checkpoint, weights string) (*data.Transform, error) {
	if c.Meta.Transform == "" || c.Meta.Transform == "null" {
		return nil, nil
	}
	var tf data.Transform
	if err := json.Unmarshal([]byte(c.Meta.Transform), &tf); err != nil {
		return nil, fmt.Errorf("%s: corrupt checkpoint: metadata transform: %v", weights, err)
	}
	return &tf, nil
}

func writeHeader(cw *csv.Writer, out *ir.Value, n int) error {
	h := []string{"row"}
	if out.Type.Rank() == 2 {
		h = append(h, "pred")
		for c := 0; c < out.Type.Shape[1]; c++ {
			h = append(h, "p"+strconv.Itoa(c))
		}
	} else {
		for i := 0; i < out.Type.NumElements()/n; i++ {
			h = append(h, "out"+strconv.Itoa(i))
		}
	}
	return cw.Write(h)
}

// softmax returns the argmax of logits and their softmax, in float64.
func softmax(logits []float32) (int, []float64) {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	m := float64(logits[best])
	p := make([]float64, len(logits))
	s := 0.0
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return best, p
}

// csvHasColumn reports whether the header row of a CSV file has column.
func csvHasColumn(path, column string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("%s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("%s: empty file", path)
	}
	for _, c := range strings.Split(strings.TrimRight(line, "\r\n"), ",") {
		if strings.TrimSpace(c) == column {
			return true, nil
		}
	}
	return false, nil
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
