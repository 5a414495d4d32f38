package train

// This file implements post-training int8 quantization (a train's
// quantize = int8(...)) and the int8 checkpoints it writes, which eval,
// predict and bench run with the CPU backend's int8 products.
//
// The quantized weights are those of every product x·Wᵀ with a named
// weight W [N, K] (Linear layers; matmul_bias after fusion) and of every
// ungrouped convolution with a named weight W [O, C, KH, KW] (Conv2d,
// whose rows are [O, C·KH·KW]) that the exclude globs do not name. For
// each:
//
//   - W is quantized symmetrically per output channel (row n):
//     scale[n] = max|W[n, :]| / 127, q = round-half-even(W/scale).
//   - x is quantized to 7 bits (0…127, see backend/cpu/gemm/int8.go)
//     with a scale and zero point from its range over the calibration
//     samples: [min, max] (minmax) or the [100−p, p] percentiles
//     (percentile, the default: one outlier in a million values would
//     otherwise stretch the range and coarsen every other value's step).
//
// Checkpoint layout (safetensors): W as I8 [N, K] (or [O, C, KH, KW]);
// W:weight_scale F32 [N]; W:input_scale F32 [1]; W:input_zero F32 [1] (an integer); every
// other parameter as F32; metadata encc.int8 (JSON: observer,
// percentile, calibration samples, excluded and quantized weights).

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/encc-lang/encc/backend"
	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/data"
	"github.com/encc-lang/encc/runtime/safetensors"
)

// Int8Meta is the metadata key of an int8 checkpoint.
const Int8Meta = "encc.int8"

// Int8Info is the JSON under Int8Meta.
type Int8Info struct {
	Observer   string   `json:"observer"`
	Percentile float64  `json:"percentile,omitempty"`
	Samples    int      `json:"calibration_samples"`
	Quantized  []string `json:"quantized"`
	Excluded   []string `json:"excluded,omitempty"`
}

// Int8Result reports a run's quantization.
type Int8Result struct {
	Path      string
	Metrics   map[string]float64 // the int8 model on the test split
	Bytes     int64              // the int8 checkpoint's size
	F32Bytes  int64              // the same weights in f32 (4 bytes each)
	Quantized []string
}

// quantize runs the train's quantize = int8(...) on the final weights.
func (t *trainer) quantize() (*Int8Result, error) {
	q := t.tr.Quantize
	path := compiler.DataPath(t.tr.Dir, q.Save)
	obs := map[string]*observer{}
	samples, err := t.calibrate(q, obs)
	if err != nil {
		return nil, err
	}
	info := Int8Info{Observer: q.Observer, Samples: samples}
	if q.Observer == "percentile" {
		info.Percentile = q.Percentile
	}
	for name := range q.Exclude {
		info.Excluded = append(info.Excluded, name)
	}
	sort.Strings(info.Excluded)
	var ts []*safetensors.Tensor
	var f32Elems int64
	for name, w := range t.weights {
		f32Elems += int64(len(w))
		o := obs[name]
		shape := t.shapes[name]
		if o == nil || q.Exclude[name] || (len(shape) != 2 && len(shape) != 4) {
			ts = append(ts, safetensors.FromFloat32(name, shape, w))
			continue
		}
		info.Quantized = append(info.Quantized, name)
		wq, scale := quantizeRows(shape[0], len(w)/shape[0], w)
		in := o.params(q)
		if r, ok := t.qatInput(name); ok { // qat = fake_int8(...): its moving range (qat.go)
			in, info.Observer, info.Percentile = r, "qat", 0
		}
		ts = append(ts, &safetensors.Tensor{Name: name, DType: safetensors.I8, Shape: shape, Data: int8Bytes(wq)},
			safetensors.FromFloat32(name+":weight_scale", []int{shape[0]}, scale),
			safetensors.FromFloat32(name+":input_scale", []int{1}, []float32{in.Scale}),
			safetensors.FromFloat32(name+":input_zero", []int{1}, []float32{float32(in.Zero)}))
	}
	if len(info.Quantized) == 0 {
		return nil, fmt.Errorf("%s: quantize: no product x·Wᵀ or convolution with a weight of %s to quantize (int8 covers Linear and ungrouped Conv2d layers)", t.tr.Name, t.tr.Model.Name())
	}
	sort.Strings(info.Quantized)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	js, _ := json.Marshal(info)
	tf, _ := json.Marshal(t.transform)
	meta := (&Meta{Format: FormatName, Train: t.tr.Name, Epochs: t.total, Epoch: t.total, Seed: t.tr.Seed,
		RNG: rngDescription, SourceSHA256: t.hash, Transform: string(tf)}).encode()
	meta[Int8Meta] = string(js)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := safetensors.Write(path, ts, meta); err != nil {
		return nil, fmt.Errorf("cannot write the int8 checkpoint: %w", err)
	}
	res := &Int8Result{Path: path, F32Bytes: 4 * f32Elems, Quantized: info.Quantized}
	if fi, err := os.Stat(path); err == nil {
		res.Bytes = fi.Size()
	}
	// The int8 model on the test split, from the file just written.
	if t.splits.Test != nil && t.backendName == "cpu" {
		c, err := LoadCheckpoint(path)
		if err != nil {
			return nil, err
		}
		tab, err := decodeInt8(path, c)
		if err != nil {
			return nil, err
		}
		w, err := FitWeights(c, t.tr.Params, LoadSpec{}, path, t.tr.Model.Name())
		if err != nil {
			return nil, err
		}
		e := &trainer{p: t.p, tr: t.tr, opts: t.opts, evalProgs: map[int]Executor{}, weights: w, splits: t.splits,
			evalBatcher: t.evalBatcher, evalBatch: t.evalBatch, ms: t.ms, classes: t.classes, backendName: "cpu",
			backend: int8Backend(tab)}
		if res.Metrics, err = e.evaluate(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// calibrate runs the f32 forward pass over the first calibrate training
// samples (in file order, whole batches) and feeds every quantizable
// product's input to its observer. It returns the samples seen.
func (t *trainer) calibrate(q *compiler.Quantize, obs map[string]*observer) (int, error) {
	bt, err := data.NewBatcher(t.splits.Train, t.tr.Batch, data.BatchOptions{})
	if err != nil {
		return 0, err
	}
	batch := bt.NewBatch()
	observe := func(name string, x []float32) {
		o := obs[name]
		if o == nil {
			o = &observer{lo: float32(math.Inf(1)), hi: float32(math.Inf(-1))}
			obs[name] = o
		}
		o.add(x, q.Observer == "percentile")
	}
	progs := map[int]Executor{}
	seen := 0
	bt.Reset(0, 0)
	for seen < q.Calibrate && bt.Next(batch) {
		ex, ok := progs[batch.N]
		if !ok {
			g, err := t.p.LowerEval(t.tr, batch.N)
			if err != nil {
				return 0, err
			}
			p, err := backend.Compile(g, "cpu", backend.Options{Threads: t.opts.Threads, CPU: cpu.Options{Observe: observe}})
			if err != nil {
				return 0, fmt.Errorf("compiling the calibration of %s: %w", t.tr.Name, err)
			}
			ex = &convExec{Executor: p}
			if err := t.bind(ex, g, t.splits.Train, batch, batch.N); err != nil {
				return 0, err
			}
			progs[batch.N] = ex
		}
		if err := ex.Run(); err != nil {
			return 0, err
		}
		seen += batch.N
	}
	return seen, nil
}

// An observer accumulates the range of a product's input.
type observer struct {
	lo, hi float32
	vals   []float32 // percentile: every value seen
}

func (o *observer) add(x []float32, keep bool) {
	for _, v := range x {
		o.lo, o.hi = min(o.lo, v), max(o.hi, v)
	}
	if keep {
		o.vals = append(o.vals, x...)
	}
}

// params returns the input quantization the observer gives.
func (o *observer) params(q *compiler.Quantize) gemm.QParams {
	lo, hi := o.lo, o.hi
	if q.Observer == "percentile" && len(o.vals) > 0 {
		lo, hi = percentileRange(o.vals, q.Percentile)
	}
	return gemm.QParamsFor(lo, hi)
}

// percentileRange returns the (100−p)th and pth percentiles of v
// (nearest rank), sorting v in place.
func percentileRange(v []float32, p float64) (lo, hi float32) {
	slices.Sort(v)
	n := len(v)
	at := func(q float64) float32 {
		i := int(math.Round(q / 100 * float64(n-1)))
		return v[max(0, min(n-1, i))]
	}
	return at(100 - p), at(p)
}

// quantizeRows quantizes W [n, k] symmetrically per row (output channel).
func quantizeRows(n, k int, w []float32) ([]int8, []float32) {
	q := make([]int8, n*k)
	scale := make([]float32, n)
	for r := 0; r < n; r++ {
		row := w[r*k : (r+1)*k]
		var amax float32
		for _, v := range row {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		s := amax / 127
		if s == 0 {
			s = 1
		}
		scale[r] = s
		for j, v := range row {
			q[r*k+j] = int8(max(-127, min(127, math.RoundToEven(float64(v/s)))))
		}
	}
	return q, scale
}

func int8Bytes(q []int8) []byte {
	b := make([]byte, len(q))
	for i, v := range q {
		b[i] = byte(v)
	}
	return b
}

// decodeInt8 turns the int8 tensors of checkpoint c (read from path)
// into the CPU backend's int8 weights, and puts their dequantized f32
// values in c.Weights so that the checkpoint fits the model as any other
// and runs, unquantized products aside, on any backend. A checkpoint
// without int8 tensors gives nil.
func decodeInt8(path string, c *Checkpoint) (map[string]*cpu.Int8Linear, error) {
	var names []string
	for name, dt := range c.NonFloat {
		if dt == string(safetensors.I8) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	f, err := safetensors.Read(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read checkpoint: %w", err)
	}
	tab := map[string]*cpu.Int8Linear{}
	for _, name := range names {
		t := f.Get(name)
		ws, is, iz := c.State[name+":weight_scale"], c.State[name+":input_scale"], c.State[name+":input_zero"]
		if (len(t.Shape) != 2 && len(t.Shape) != 4) || ws == nil || is == nil || iz == nil || len(ws) != t.Shape[0] || len(is) != 1 || len(iz) != 1 {
			return nil, fmt.Errorf("%s: corrupt int8 checkpoint: %s needs a 2-D or 4-D I8 tensor with %s:weight_scale [%d], :input_scale [1] and :input_zero [1]", path, name, name, t.Shape[0])
		}
		n := t.Shape[0]
		k := len(t.Data) / max(n, 1)
		if n == 0 || k == 0 {
			return nil, fmt.Errorf("%s: corrupt int8 checkpoint: %s has shape %v", path, name, t.Shape)
		}
		q := make([]int8, n*k)
		deq := make([]float32, n*k)
		for i, b := range t.Data {
			q[i] = int8(b)
			if q[i] == -128 {
				return nil, fmt.Errorf("%s: corrupt int8 checkpoint: %s holds -128 (the weights are symmetric, -127…127)", path, name)
			}
			deq[i] = float32(q[i]) * ws[i/k]
		}
		in := gemm.QParams{Scale: is[0], Zero: int32(iz[0])}
		if !(in.Scale > 0) || in.Zero < 0 || in.Zero > gemm.QMax || float32(in.Zero) != iz[0] {
			return nil, fmt.Errorf("%s: corrupt int8 checkpoint: %s: input scale %g, zero point %g", path, name, is[0], iz[0])
		}
		tab[name] = &cpu.Int8Linear{W: gemm.PackQWeights(k, n, q, k, true, ws), In: in}
		c.Weights[name] = deq
		delete(c.NonFloat, name)
		for _, s := range []string{":weight_scale", ":input_scale", ":input_zero"} {
			delete(c.State, name+s)
		}
	}
	return tab, nil
}

// int8Backend compiles for the CPU with the int8 weights tab.
func int8Backend(tab map[string]*cpu.Int8Linear) Backend {
	return func(g *ir.Graph, threads int) (Executor, error) {
		return backend.Compile(g, "cpu", backend.Options{Threads: threads, CPU: cpu.Options{Int8: tab}})
	}
}

// InferenceWeights reads a checkpoint for inference with the model of
// params: the f32 weights by path (int8 ones dequantized) and, for an
// int8 checkpoint, the CPU backend options that run its int8 products.
func InferenceWeights(path string, params []*compiler.Param, model string) (map[string][]float32, cpu.Options, error) {
	c, err := LoadCheckpoint(path)
	if err != nil {
		return nil, cpu.Options{}, err
	}
	tab, err := decodeInt8(path, c)
	if err != nil {
		return nil, cpu.Options{}, err
	}
	w, err := FitWeights(c, params, LoadSpec{}, path, model)
	return w, cpu.Options{Int8: tab}, err
}
