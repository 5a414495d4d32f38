package train

// This file implements Predict on tensors: inputs read from .npy,
// safetensors or JSON lines of token ids (made by other tools, other
// tokenizers), and outputs written raw, at full precision, to .npy or
// safetensors, so that encc fits into a pipeline.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/data"
	"github.com/encc-lang/encc/runtime/safetensors"
)

// A namedArray is one input array: by the name of the forward parameter
// it feeds, or "" for the single array of an .npy file (the first
// parameter).
type namedArray struct {
	name string
	a    *data.Array
	// padded: rows of token ids that predict padded with [PAD] to one
	// length; they may be padded further to the model's length.
	padded [][]int32
}

// rawOutput reports whether output is written raw (.npy, .safetensors).
func rawOutput(output string) bool {
	switch strings.ToLower(filepath.Ext(output)) {
	case ".npy", ".safetensors":
		return true
	}
	return false
}

// tensorInput reports whether input holds tensors rather than CSV rows
// or raw text: an .npy or safetensors file, or JSON lines with "ids".
func tensorInput(input string) bool {
	switch strings.ToLower(filepath.Ext(input)) {
	case ".npy", ".safetensors":
		return true
	case ".jsonl":
		f, err := os.Open(input)
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			var obj map[string]json.RawMessage
			if json.Unmarshal(line, &obj) != nil {
				return false
			}
			_, ok := obj["ids"]
			return ok
		}
	}
	return false
}

// readTensorInputs reads the arrays of input.
func readTensorInputs(input string) ([]namedArray, error) {
	switch strings.ToLower(filepath.Ext(input)) {
	case ".npy":
		a, err := data.ReadNPY(input)
		if err != nil {
			return nil, err
		}
		return []namedArray{{a: a}}, nil
	case ".safetensors":
		f, err := safetensors.Read(input)
		if err != nil {
			return nil, err
		}
		var out []namedArray
		for _, t := range f.Tensors {
			a := &data.Array{Shape: append([]int(nil), t.Shape...)}
			switch t.DType {
			case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
				a.Kind = data.ArrayF32
				a.F32, err = t.Float32()
			case safetensors.Bool:
				a.Kind = data.ArrayBool
				var v []int32
				v, err = t.Int32()
				a.Bool = make([]bool, len(v))
				for i, x := range v {
					a.Bool[i] = x != 0
				}
			default:
				a.Kind = data.ArrayI32
				a.I32, err = t.Int32()
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %v", input, err)
			}
			out = append(out, namedArray{name: t.Name, a: a})
		}
		return out, nil
	}
	return readIDLines(input)
}

// readIDLines reads JSON lines {"ids": [...], "mask": [...]} (mask
// optional, 0/1 or booleans): ids are padded with [PAD] to the longest
// row, and the mask is true on each row's own tokens unless given.
func readIDLines(input string) ([]namedArray, error) {
	b, err := os.ReadFile(input)
	if err != nil {
		return nil, err
	}
	var rows [][]int32
	var masks [][]bool
	hasMask := false
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var obj struct {
			IDs  *[]int64        `json:"ids"`
			Mask json.RawMessage `json:"mask"`
		}
		if err := json.Unmarshal(line, &obj); err != nil {
			return nil, fmt.Errorf("%s:%d: bad JSON: %v", input, i+1, err)
		}
		if obj.IDs == nil {
			return nil, fmt.Errorf("%s:%d: no field \"ids\" (a list of token ids)", input, i+1)
		}
		row := make([]int32, len(*obj.IDs))
		for j, v := range *obj.IDs {
			if v < 0 || v > math.MaxInt32 {
				return nil, fmt.Errorf("%s:%d: token id %d out of range", input, i+1, v)
			}
			row[j] = int32(v)
		}
		var m []bool
		if len(obj.Mask) > 0 && string(obj.Mask) != "null" {
			hasMask = true
			var raw []any
			if err := json.Unmarshal(obj.Mask, &raw); err != nil || len(raw) != len(row) {
				return nil, fmt.Errorf("%s:%d: \"mask\" must be a list of %d 0/1 or true/false", input, i+1, len(row))
			}
			for _, x := range raw {
				switch x := x.(type) {
				case bool:
					m = append(m, x)
				case float64:
					m = append(m, x != 0)
				default:
					return nil, fmt.Errorf("%s:%d: \"mask\" must be a list of 0/1 or true/false", input, i+1)
				}
			}
		}
		rows = append(rows, row)
		masks = append(masks, m)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", input)
	}
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	ids, mask := padIDs(rows, masks, T)
	out := []namedArray{{name: "ids", a: ids, padded: rows}}
	out = append(out, namedArray{name: "mask", a: mask})
	if !hasMask {
		out[1].padded = rows // derived: may be re-padded with ids
	}
	return out, nil
}

// padIDs lays rows out as [N, T] ids and mask arrays.
func padIDs(rows [][]int32, masks [][]bool, T int) (*data.Array, *data.Array) {
	ids := &data.Array{Kind: data.ArrayI32, Shape: []int{len(rows), T}, I32: make([]int32, len(rows)*T)}
	mask := &data.Array{Kind: data.ArrayBool, Shape: []int{len(rows), T}, Bool: make([]bool, len(rows)*T)}
	for i, r := range rows {
		copy(ids.I32[i*T:], r)
		for j := range r {
			mask.Bool[i*T+j] = masks == nil || masks[i] == nil || masks[i][j]
		}
	}
	return ids, mask
}

// predictTensors runs in on the arrays of inputs and writes every row's
// outputs to output: raw (.npy: the one output; .safetensors: each output
// by name), or as CSV otherwise (class scores as the argmax and softmax
// probabilities, other outputs raw at full precision). tf, when not nil,
// is applied to f32 inputs of its width first.
func predictTensors(p *compiler.Program, in *compiler.Instance, w map[string][]float32, b Backend, inputs []namedArray, tf *data.Transform, input, output string, opts Options) (*PredictResult, error) {
	N := -1
	for _, na := range inputs {
		if len(na.a.Shape) == 0 {
			return nil, fmt.Errorf("%s: %s is a scalar; predict wants one row per sample [N, ...]", input, arrayName(na))
		}
		if N >= 0 && na.a.Shape[0] != N {
			return nil, fmt.Errorf("%s: %s has %d rows, but another input has %d", input, arrayName(na), na.a.Shape[0], N)
		}
		N = na.a.Shape[0]
	}
	if N <= 0 {
		return nil, fmt.Errorf("%s: no rows", input)
	}
	// T, the sequence length of token inputs, from the first i32 array.
	T := 0
	for _, na := range inputs {
		if na.a.Kind == data.ArrayI32 && len(na.a.Shape) == 2 {
			T = na.a.Shape[1]
			break
		}
	}
	if tf != nil {
		for _, na := range inputs {
			if na.a.Kind != data.ArrayF32 {
				continue
			}
			for _, ft := range tf.Fields {
				if len(ft.Mul) == na.a.Len()/N {
					ft.ApplyTo(na.a.F32)
				}
			}
		}
	}
	const maxBatch = 256
	type prog struct {
		ex   Executor
		bind []func(start int) // copies rows [start, start+n) into the bound buffers
		outs []ir.Output
	}
	progs := map[int]*prog{}
	var outs []ir.Output
	results := map[string][]float32{}
	for start := 0; start < N; start += maxBatch {
		n := min(maxBatch, N-start)
		pr, ok := progs[n]
		if !ok {
			ex, g, xs, err := forward(p, in, w, n, T, b, opts.Threads)
			if err != nil {
				return nil, err
			}
			pr = &prog{ex: ex}
			for _, o := range g.Outputs {
				if o.Updates == nil && o.Name != "" {
					pr.outs = append(pr.outs, o)
				}
			}
			for i, x := range xs {
				f, err := bindArray(ex, in, x, i, n, inputs, input)
				if err != nil {
					return nil, err
				}
				pr.bind = append(pr.bind, f)
			}
			for _, o := range pr.outs {
				if o.Value.Type.DType != ir.F32 {
					return nil, fmt.Errorf("%s returns %s %v; predict writes f32 outputs", in.Name(), o.Name, o.Value.Type)
				}
			}
			progs[n] = pr
			outs = pr.outs
		}
		for _, f := range pr.bind {
			f(start)
		}
		if err := pr.ex.Run(); err != nil {
			return nil, err
		}
		for _, o := range pr.outs {
			results[o.Name] = append(results[o.Name], pr.ex.Float32(o.Name)...)
		}
	}
	res := &PredictResult{Rows: N, Accuracy: math.NaN()}
	shapeOf := func(o ir.Output) []int {
		return append([]int{N}, o.Value.Type.Shape[1:]...)
	}
	if o := outs[0]; o.Value.Type.Rank() == 2 {
		res.Classes = o.Value.Type.Shape[1]
	}
	switch strings.ToLower(filepath.Ext(output)) {
	case ".npy":
		if len(outs) > 1 {
			return nil, fmt.Errorf("%s returns %d outputs (%s); write them to a .safetensors file, or an .npy file holds one", in.Name(), len(outs), outputNames(outs))
		}
		return res, writeFileAtomic(output, data.EncodeNPY(shapeOf(outs[0]), results[outs[0].Name]))
	case ".safetensors":
		var ts []*safetensors.Tensor
		for _, o := range outs {
			ts = append(ts, safetensors.FromFloat32(o.Name, shapeOf(o), results[o.Name]))
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
		return res, safetensors.Write(output, ts, map[string]string{"model": in.Name(), "rows": strconv.Itoa(N)})
	}
	// CSV: the first output, per row.
	o := outs[0]
	y := results[o.Name]
	per := len(y) / N
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(csvHeader(o, per))
	for i := 0; i < N; i++ {
		row := y[i*per : (i+1)*per]
		rec := []string{strconv.Itoa(i)}
		if res.Classes > 0 {
			best, probs := softmax(row)
			rec = append(rec, strconv.Itoa(best))
			for _, q := range probs {
				rec = append(rec, strconv.FormatFloat(q, 'g', 6, 64))
			}
		} else {
			for _, v := range row {
				rec = append(rec, strconv.FormatFloat(float64(v), 'g', -1, 32))
			}
		}
		cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return nil, err
	}
	return res, writeFileAtomic(output, buf.Bytes())
}

func csvHeader(o ir.Output, per int) []string {
	h := []string{"row"}
	if o.Value.Type.Rank() == 2 {
		h = append(h, "pred")
		for c := 0; c < per; c++ {
			h = append(h, "p"+strconv.Itoa(c))
		}
		return h
	}
	for i := 0; i < per; i++ {
		h = append(h, "out"+strconv.Itoa(i))
	}
	return h
}

func outputNames(outs []ir.Output) string {
	var names []string
	for _, o := range outs {
		names = append(names, o.Name)
	}
	return strings.Join(names, ", ")
}

func arrayName(na namedArray) string {
	if na.name == "" {
		return "the array"
	}
	return "tensor " + na.name
}

// bindArray binds graph input x (the i-th data input) of a program of n
// rows to the array that feeds it and returns the function that copies
// rows [start, start+n) into the bound buffer. An array feeds x when it
// has x's name, or when it is the unnamed array and x the first input; a
// bool mask no array gives is derived from the token ids (not [PAD]).
func bindArray(ex Executor, in *compiler.Instance, x *ir.Value, i, n int, inputs []namedArray, input string) (func(int), error) {
	var src *namedArray
	for k := range inputs {
		if inputs[k].name == x.Name || inputs[k].name == "" && i == 0 {
			src = &inputs[k]
			break
		}
	}
	per := x.Type.NumElements() / n
	if src == nil && x.Type.DType == ir.Bool {
		for k := range inputs { // a padding mask from the ids
			if a := inputs[k].a; a.Kind == data.ArrayI32 && a.Len()/a.Shape[0] == per {
				m := &data.Array{Kind: data.ArrayBool, Shape: a.Shape, Bool: make([]bool, a.Len())}
				for j, id := range a.I32 {
					m.Bool[j] = id != data.PadID
				}
				src = &namedArray{name: x.Name, a: m}
				break
			}
		}
	}
	if src == nil {
		var have []string
		for _, na := range inputs {
			have = append(have, arrayName(na))
		}
		return nil, fmt.Errorf("%s takes %s %s; %s gives no tensor named %s (has: %s)", in.Name(), x.Name, perRow(x), input, x.Name, strings.Join(have, ", "))
	}
	a := src.a
	N := a.Shape[0]
	if src.padded != nil && a.Len()/N < per && len(a.Shape) == 2 {
		// Token ids shorter than the model's fixed length: pad them.
		ids, mask := padIDs(src.padded, nil, per)
		if a.Kind == data.ArrayBool {
			a = mask
		} else {
			a = ids
		}
	}
	if a.Len()/N != per {
		return nil, fmt.Errorf("%s: %s has %v, %d values per row; %s takes %s %s, %d per row", input, arrayName(*src), a.Shape, a.Len()/N, in.Name(), x.Name, perRow(x), per)
	}
	switch {
	case x.Type.DType == ir.F32 && a.Kind == data.ArrayF32:
		buf := make([]float32, n*per)
		return func(start int) { copy(buf, a.F32[start*per:]) }, ex.Bind(x.Name, buf)
	case x.Type.DType == ir.I32 && a.Kind == data.ArrayI32:
		buf := make([]int32, n*per)
		return func(start int) { copy(buf, a.I32[start*per:]) }, ex.Bind(x.Name, buf)
	case x.Type.DType == ir.Bool && (a.Kind == data.ArrayBool || a.Kind == data.ArrayI32):
		buf := make([]bool, n*per)
		return func(start int) {
			for j := range buf {
				if a.Kind == data.ArrayBool {
					buf[j] = a.Bool[start*per+j]
				} else {
					buf[j] = a.I32[start*per+j] != 0
				}
			}
		}, ex.Bind(x.Name, buf)
	}
	kinds := map[data.ArrayKind]string{data.ArrayF32: "floats", data.ArrayI32: "integers", data.ArrayBool: "booleans"}
	return nil, fmt.Errorf("%s: %s holds %s; %s takes %s %s", input, arrayName(*src), kinds[a.Kind], in.Name(), x.Name, perRow(x))
}

// writeFileAtomic writes b to path through a temporary file renamed over
// it, so a failed write leaves no half file.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// perRow writes the type of one row of x: "f32[N, 64]" for f32[B, 64].
func perRow(x *ir.Value) string {
	dims := []string{"N"}
	for _, d := range x.Type.Shape[1:] {
		dims = append(dims, strconv.Itoa(d))
	}
	return x.Type.DType.String() + "[" + strings.Join(dims, ", ") + "]"
}
