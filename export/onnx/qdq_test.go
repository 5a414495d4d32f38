package onnx

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/train"
)

const qdqSrc = `
model Net {
    fc1  = Linear(64, 48)
    fc2  = Linear(48, 32)
    head = Linear(32, 10)

    forward(x: f32[B, 64]) -> f32[B, 10] {
        return x |> fc1 |> relu |> fc2 |> tanh |> head
    }
}
`

// TestQDQ exports an int8 model (fc1 and fc2 int8, head f32, as an
// exclude glob leaves it) in the QDQ format, checks the file with the
// ONNX checker, and runs it with onnxruntime against encc's int8 CPU
// kernels at batch 1 and 7 on inputs of which some fall outside the
// calibrated range (Clip's work). Tolerance: 1e-5 of the output's
// largest magnitude (float summation order) plus, per output, the
// effect of one rounding step of one activation of the last int8
// product (its input scale times the largest |W| of the output's row):
// onnxruntime rounds x/scale, encc x·(1/scale), which may differ at a
// tie. The test reports how many outputs needed the second term.
func TestQDQ(t *testing.T) {
	node := findNode(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.enc")
	if err := os.WriteFile(path, []byte(qdqSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, diags := compiler.CheckFile(path, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	in, err := train.Instance(prog, "Net")
	if err != nil {
		t.Fatal(err)
	}
	weights, err := train.InitParams(in.Params(), 3)
	if err != nil {
		t.Fatal(err)
	}
	// Quantize fc1 and fc2 as encc's int8 checkpoints do.
	int8s := map[string]Int8Weight{}
	tab := map[string]*cpu.Int8Linear{}
	ranges := map[string][2]float32{"fc1.weight": {-2, 2.5}, "fc2.weight": {0, 1.2}}
	for name, r := range ranges {
		w := weights[name]
		n, k := 0, 0
		for _, p := range in.Params() {
			if p.Path == name {
				s, _ := p.Type.ConstShape()
				n, k = s[0], s[1]
			}
		}
		q := make([]int8, n*k)
		scale := make([]float32, n)
		for row := range n {
			var amax float32
			for _, v := range w[row*k : (row+1)*k] {
				amax = max(amax, float32(math.Abs(float64(v))))
			}
			scale[row] = amax / 127
			for j, v := range w[row*k : (row+1)*k] {
				q[row*k+j] = int8(math.RoundToEven(float64(v / scale[row])))
				w[row*k+j] = float32(q[row*k+j]) * scale[row] // dequantized, as decodeInt8 gives
			}
		}
		qp := gemm.QParamsFor(r[0], r[1])
		int8s[name] = Int8Weight{Q: q, Scale: scale, InputScale: qp.Scale, InputZero: qp.Zero}
		tab[name] = &cpu.Int8Linear{W: gemm.PackQWeights(k, n, q, k, true, scale), In: qp}
	}
	m, err := Export(prog, in, Options{Weights: weights, Int8: int8s, ProducerVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, nd := range m.Graph.Node {
		ops[nd.GetOpType()]++
	}
	if ops["QuantizeLinear"] != 2 || ops["DequantizeLinear"] != 4 || ops["Clip"] != 2 {
		t.Errorf("QDQ nodes: %v, want 2 QuantizeLinear, 4 DequantizeLinear (2 inputs, 2 weights), 2 Clip", ops)
	}
	for _, init := range m.Graph.Initializer {
		if init.GetName() == "fc1.weight" || init.GetName() == "fc2.weight" {
			t.Errorf("%s is written in f32 beside its int8 form", init.GetName())
		}
	}
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if v := checkModels(t, []string{file})[file]; v != "ok" {
		t.Errorf("onnx checker: %s", v)
	}
	// encc's int8 outputs.
	r := rand.New(rand.NewPCG(5, 6))
	type run struct {
		feeds map[string]feed
		want  []float32
	}
	var runs []run
	for _, batch := range []int{1, 7} {
		g, err := prog.LowerForward(in, map[string]int{"B": batch})
		if err != nil {
			t.Fatal(err)
		}
		if err := ir.Optimize(g, ir.PipelineOptions{}); err != nil {
			t.Fatal(err)
		}
		p, err := cpu.Compile(g, cpu.Options{Threads: 1, Int8: tab})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, batch*64)
		f := feed{Type: "float32", Dims: []int{batch, 64}, Data: make([]float64, len(x))}
		for i := range x {
			x[i] = float32(r.NormFloat64() * 1.2)
			f.Data[i] = float64(x[i])
		}
		var xname, out string
		for _, v := range g.Inputs {
			if v.Role() == ir.RoleData {
				xname = v.Name
				if err := p.Bind(v.Name, x); err != nil {
					t.Fatal(err)
				}
			} else if err := p.Bind(v.Name, weights[v.Name]); err != nil {
				t.Fatal(err)
			}
		}
		for _, o := range g.Outputs {
			out = o.Name
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run{map[string]feed{xname: f}, append([]float32(nil), p.Float32(out)...)})
	}
	req := []map[string]any{{"model": file, "runs": []map[string]feed{runs[0].feeds, runs[1].feeds}}}
	reqPath, resPath := filepath.Join(dir, "req.json"), filepath.Join(dir, "res.json")
	rb, _ := json.Marshal(req)
	if err := os.WriteFile(reqPath, rb, 0o644); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs(filepath.Join(ortDir, "run.js"))
	if out, err := exec.Command(node, script, reqPath, resPath).CombinedOutput(); err != nil {
		t.Fatalf("onnxruntime: %v\n%s", err, out)
	}
	var res []struct {
		Runs  []map[string]feed `json:"runs"`
		Error string            `json:"error"`
	}
	rb, err = os.ReadFile(resPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &res); err != nil {
		t.Fatal(err)
	}
	if res[0].Error != "" {
		t.Fatalf("onnxruntime: %s", res[0].Error)
	}
	// One rounding step of one of fc2's inputs (the last int8 product),
	// through fc2, tanh (slope ≤ 1) and head, bounds each output's change:
	// step · max_i Σ_j |head[o, j]|·|fc2[j, i]|.
	step := float64(int8s["fc2.weight"].InputScale)
	w2, wh := weights["fc2.weight"], weights["head.weight"]
	bound := make([]float64, 10)
	for o := range 10 {
		for i := range 48 {
			var s float64
			for j := range 32 {
				s += math.Abs(float64(wh[o*32+j])) * math.Abs(float64(w2[j*48+i]))
			}
			bound[o] = max(bound[o], step*s)
		}
	}
	var report []string
	for i, rn := range runs {
		var got []float64
		for _, o := range res[0].Runs[i] {
			got = o.Data
		}
		if len(got) != len(rn.want) {
			t.Fatalf("run %d: onnxruntime gave %d values, encc %d", i, len(got), len(rn.want))
		}
		var scale, worst float64
		for _, v := range rn.want {
			scale = max(scale, math.Abs(float64(v)))
		}
		stepped := 0
		for j := range got {
			d := math.Abs(got[j] - float64(rn.want[j]))
			worst = max(worst, d)
			if d > 1e-5*scale {
				stepped++
			}
			if d > 1e-5*scale+bound[j%10] {
				t.Errorf("run %d, output %d: onnxruntime %.7g, encc's int8 kernels %.7g: more than one rounding step (%.3g) apart", i, j, got[j], rn.want[j], bound[j%10])
			}
		}
		report = append(report, fmt.Sprintf("batch %d: max |onnxruntime − encc int8| = %.3g (%.3g of the largest output); outputs beyond 1e-5 (a rounding step apart): %d", len(rn.want)/10, worst, worst/scale, stepped))
	}
	t.Log(strings.Join(report, "\n"))
}
