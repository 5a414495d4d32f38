package train

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/runtime/data"
	"github.com/encc-lang/encc/runtime/safetensors"
)

// npyBytes encodes an .npy file by hand (not with EncodeNPY) for the
// dtypes the tests feed: '<f8' and '<i8'.
func npyBytes(descr string, shape []int, v []float64) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, strings.Join(dims, ", "))
	h += strings.Repeat(" ", (64-(10+len(h)+1)%64)%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	for _, x := range v {
		if descr == "<i8" {
			binary.Write(&b, binary.LittleEndian, int64(x))
		} else {
			binary.Write(&b, binary.LittleEndian, x)
		}
	}
	return b.Bytes()
}

// predict with .npy, safetensors and JSON-lines inputs and raw outputs
// (issue 17, case 22): a numeric model gives the same outputs from a CSV
// file and from the same rows as .npy, written at full precision.
func TestPredictTensorsNumeric(t *testing.T) {
	p := check(t, small)
	tr := p.Trains[0]
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, MaxEpochs: 1}); err != nil {
		t.Fatal(err)
	}
	dir := tr.Dir
	weights := filepath.Join(dir, "runs/t.safetensors")
	ds, err := data.Builtin("digits")
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	x := ds.Field("image").F32[:n*64]
	var csv strings.Builder
	for j := 0; j < 64; j++ {
		if j > 0 {
			csv.WriteString(",")
		}
		fmt.Fprintf(&csv, "p%d", j)
	}
	csv.WriteString("\n")
	f64 := make([]float64, len(x))
	for i := 0; i < n; i++ {
		for j := 0; j < 64; j++ {
			if j > 0 {
				csv.WriteString(",")
			}
			fmt.Fprintf(&csv, "%g", x[i*64+j])
			f64[i*64+j] = float64(x[i*64+j])
		}
		csv.WriteString("\n")
	}
	in := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	csvIn := in("x.csv", []byte(csv.String()))
	npyIn := in("x.npy", npyBytes("<f8", []int{n, 64}, f64))

	outs := map[string][]float32{}
	for _, tc := range []struct{ input, output string }{
		{csvIn, "a.npy"}, {npyIn, "b.npy"}, {npyIn, "c.safetensors"},
	} {
		out := filepath.Join(dir, tc.output)
		res, err := Predict(p, "t", weights, tc.input, out, Options{})
		if err != nil {
			t.Fatalf("%s → %s: %v", tc.input, tc.output, err)
		}
		if res.Rows != n || res.Classes != 10 {
			t.Errorf("%s: %d rows, %d classes", tc.output, res.Rows, res.Classes)
		}
		if strings.HasSuffix(out, ".npy") {
			a, err := data.ReadNPY(out)
			if err != nil {
				t.Fatal(err)
			}
			if a.Kind != data.ArrayF32 || fmt.Sprint(a.Shape) != "[5 10]" {
				t.Fatalf("%s: kind %v shape %v", out, a.Kind, a.Shape)
			}
			outs[tc.output] = a.F32
		} else {
			f, err := safetensors.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			ts := f.Get("out")
			if ts == nil || fmt.Sprint(ts.Shape) != "[5 10]" {
				t.Fatalf("%s: tensors %v", out, f.Names())
			}
			outs[tc.output], _ = ts.Float32()
		}
	}
	if !sameBits(outs["a.npy"], outs["b.npy"]) || !sameBits(outs["b.npy"], outs["c.safetensors"]) {
		t.Fatalf("outputs differ:\n%v\n%v\n%v", outs["a.npy"], outs["b.npy"], outs["c.safetensors"])
	}
	// The CSV of the same rows: the argmax of the raw outputs.
	csvOut := filepath.Join(dir, "p.csv")
	if _, err := Predict(p, "t", weights, npyIn, csvOut, Options{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(readBytes(t, csvOut))), "\n")
	for i := 0; i < n; i++ {
		row := outs["b.npy"][i*10 : (i+1)*10]
		best, _ := softmax(row)
		if f := strings.Split(lines[i+1], ","); f[1] != fmt.Sprint(best) {
			t.Errorf("row %d: csv pred %s, argmax of the raw outputs %d", i, f[1], best)
		}
	}
	// Bad inputs: one error each.
	for _, tc := range []struct {
		name string
		b    []byte
		err  string
	}{
		{"short.npy", npyBytes("<f8", []int{2, 3}, make([]float64, 6)), "the array has [2 3], 3 values per row; Net takes x f32[N, 64], 64 per row"},
		{"ints.npy", npyBytes("<i8", []int{2, 64}, make([]float64, 128)), "the array holds integers; Net takes x f32[N, 64]"},
		{"trunc.npy", npyBytes("<f8", []int{2, 64}, make([]float64, 100)), "truncated"},
		{"fortran.npy", bytes.Replace(npyBytes("<f8", []int{1, 64}, make([]float64, 64)), []byte("False"), []byte("True "), 1), "Fortran-order"},
		{"text.npy", []byte("hello"), "not an .npy file"},
	} {
		_, err := Predict(p, "t", weights, in(tc.name, tc.b), filepath.Join(dir, "o.npy"), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.err)
		}
	}
}

// A model taking token ids and a mask reads them from JSON lines (of
// any lengths: padded, masked), .npy (the mask derived: not [PAD]) or
// safetensors by name.
func TestPredictTokenIDs(t *testing.T) {
	p := check(t, `
model Tiny {
    c = TextClassifier(vocab: 50, max_len: 8, classes: 3, d: 8, layers: 1, heads: 2, ffn: 16, dropout: 0.0)
    forward(ids: i32[B, T], mask: bool[B, T]) -> f32[B, 3] { return c(ids, mask) }
}
`)
	in, err := Instance(p, "Tiny")
	if err != nil {
		t.Fatal(err)
	}
	w, err := InitParams(in.Params(), 1)
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int{}
	for _, prm := range in.Params() {
		s, _ := prm.Type.ConstShape()
		shapes[prm.Path] = s
	}
	dir := t.TempDir()
	weights := filepath.Join(dir, "w.safetensors")
	if err := SaveCheckpoint(weights, &Checkpoint{Weights: w, Shapes: shapes}); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, b, 0o644)
		return path
	}
	jsonl := write("ids.jsonl", []byte(`{"ids": [5, 6, 7]}
{"ids": [9, 10, 11, 12, 13]}
{"ids": [4], "mask": [1]}
`))
	padded := []float64{5, 6, 7, 0, 0, 9, 10, 11, 12, 13, 4, 0, 0, 0, 0}
	npy := write("ids.npy", npyBytes("<i8", []int{3, 5}, padded))
	ids := make([]int64, len(padded))
	mask := make([]byte, len(padded))
	for i, v := range padded {
		ids[i] = int64(v)
		if v != 0 {
			mask[i] = 1
		}
	}
	st := filepath.Join(dir, "ids.safetensors")
	if err := safetensors.Write(st, []*safetensors.Tensor{
		safetensors.FromInt64("ids", []int{3, 5}, ids),
		{Name: "mask", DType: safetensors.Bool, Shape: []int{3, 5}, Data: mask},
	}, nil); err != nil {
		t.Fatal(err)
	}
	var got [][]float32
	for _, input := range []string{jsonl, npy, st} {
		out := filepath.Join(dir, "out.npy")
		if _, err := Predict(p, "Tiny", weights, input, out, Options{}); err != nil {
			t.Fatalf("%s: %v", input, err)
		}
		a, err := data.ReadNPY(out)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(a.Shape) != "[3 3]" {
			t.Fatalf("%s: output shape %v", input, a.Shape)
		}
		got = append(got, a.F32)
	}
	for k := 1; k < len(got); k++ {
		for i := range got[0] {
			if d := math.Abs(float64(got[0][i] - got[k][i])); d > 1e-5 || math.IsNaN(d) {
				t.Fatalf("input %d differs from the JSON lines: %v vs %v", k, got[k], got[0])
			}
		}
	}
	// A tensor of the wrong name.
	bad := filepath.Join(dir, "bad.safetensors")
	safetensors.Write(bad, []*safetensors.Tensor{safetensors.FromInt64("tokens", []int{3, 5}, ids)}, nil)
	if _, err := Predict(p, "Tiny", weights, bad, filepath.Join(dir, "o.npy"), Options{}); err == nil || !strings.Contains(err.Error(), "gives no tensor named ids (has: tensor tokens)") {
		t.Errorf("wrong name: %v", err)
	}
	// JSON lines without ids.
	if _, err := Predict(p, "Tiny", weights, write("x.jsonl", []byte(`{"ids": [1]}`+"\n"+`{"text": "hi"}`+"\n")), filepath.Join(dir, "o.npy"), Options{}); err == nil || !strings.Contains(err.Error(), `x.jsonl:2: no field "ids"`) {
		t.Errorf("no ids: %v", err)
	}
}
