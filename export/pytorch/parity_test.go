package pytorch

// The PyTorch parity tests run the exported Python with /usr/bin/python3
// and torch (Debian python3-torch). Without them a test skips, saying
// so; in CI (CI=true) it fails.

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
	"github.com/encc-lang/encc/runtime/safetensors"
	"github.com/encc-lang/encc/runtime/train"
)

const forwardTol = 1e-5

// python returns the interpreter with torch, or skips (fails in CI).
func python(t *testing.T) string {
	t.Helper()
	py := os.Getenv("ENCC_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	out, err := exec.Command(py, "-c", "import torch, numpy").CombinedOutput()
	if err != nil {
		why := err.Error()
		if l := lastLine(string(out)); l != "" {
			why += ": " + l
		}
		msg := fmt.Sprintf("no PyTorch (%s -c 'import torch, numpy': %s); apt-get install python3-torch", py, why)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// stdlibProgram instantiates every stdlib model, small, in every
// variant its compile-time ifs choose between.
const stdlibProgram = `
model DenseCase { m = DenseBlock(6, 5, 0.0)
    forward(x: f32[B, 6]) -> f32[B, 5] { return m(x) } }
model MLPCase { m = MLP(6, 8, 3, depth: 4)
    forward(x: f32[B, 6]) -> f32[B, 3] { return m(x) } }
model LeNetCase { m = LeNet5(classes: 7)
    forward(x: f32[B, 1, 28, 28]) -> f32[B, 7] { return m(x) } }
model MHACase { m = MultiHeadAttention(8, 2)
    forward(x: f32[B, T, 8], mask: bool[B, T]) -> f32[B, T, 8] { return m(x, mask) } }
model PostReluCase { m = TransformerEncoderLayer(8, 2, 16, "post", 0.0, "relu")
    forward(x: f32[B, T, 8], mask: bool[B, T]) -> f32[B, T, 8] { return m(x, mask) } }
model PreCase { m = TransformerEncoder(2, 8, 2, 16, norm: "pre")
    forward(x: f32[B, T, 8]) -> f32[B, T, 8] { return m(x) } }
model PostCase { m = TransformerEncoder(2, 8, 4, 16)
    forward(x: f32[B, T, 8], mask: bool[B, T]) -> f32[B, T, 8] { return m(x, mask) } }
model TextEncCase { m = TextEncoder(20, 9, d: 8, layers: 1, heads: 2, ffn: 16, norm: "pre", dropout: 0.0)
    forward(ids: i32[B, T], mask: bool[B, T]) -> f32[B, T, 8] { return m(ids, mask) } }
model MLMCase { m = MaskedLM(20, 9, d: 8, layers: 2, heads: 2, ffn: 16, dropout: 0.0)
    forward(ids: i32[B, T], mask: bool[B, T]) -> f32[B, T, 20] { return m(ids, mask) } }
model MeanCase { m = TextClassifier(20, 9, classes: 3, d: 8, layers: 1, heads: 2, ffn: 16, dropout: 0.0)
    forward(ids: i32[B, T], mask: bool[B, T]) -> f32[B, 3] { return m(ids, mask) } }
model NoMaskCase { m = TextClassifier(20, 9, classes: 3, d: 8, layers: 1, heads: 2, ffn: 16, dropout: 0.0)
    forward(ids: i32[B, T]) -> f32[B, 3] { return m(ids) } }
model ClsCase { m = TextClassifier(20, 9, classes: 3, d: 8, layers: 1, heads: 2, ffn: 16, dropout: 0.0, pool: "cls")
    forward(ids: i32[B, T], mask: bool[B, T]) -> f32[B, 3] { return m(ids, mask) } }
model MaxCase { m = TextClassifier(20, 9, classes: 3, d: 8, layers: 1, heads: 2, ffn: 16, dropout: 0.0, pool: "max")
    forward(ids: i32[B, T], mask: bool[B, T]) -> f32[B, 3] { return m(ids, mask) } }
model Outputs(d: int = 6) {
    enc = Linear(d, 4)
    dec = Linear(4, d)
    forward(x: f32[B, d]) -> (z: f32[B, 4], recon: f32[B, d]) {
        z = enc(x) |> tanh
        return { z: z, recon: z |> dec |> sigmoid }
    }
}
model Ops {
    fc = Linear(12, 12)
    param g: f32[12] = ones()
    forward(x: f32[B, 12]) -> f32[B, 30] {
        h = fc(x) * g
        a = h |> reshape(B, 3, 4) |> softmax(axis: 1) |> transpose |> flatten
        b = h |> leaky_relu(slope: 0.2) |> silu |> gelu(approximate: "tanh") |> softplus(beta: 2.0, threshold: 1.5) |> elu(alpha: 0.7)
        c = log_softmax(h) + sqrt(abs(h) + 1.0) - exp(-abs(h)) + log(abs(h) + 1.0)
        d = where(h > 0.0, h, 0.5) + matmul(h, transpose(fc.weight)) / 4.0
        e = concat(mean(h, axis: 1, keepdims: true), sum(h |> reshape(B, 2, 6), axis: [1, 2], keepdims: true) |> reshape(B, 1), max(h, axis: 1, keepdims: true), axis: 1)
        f = h |> reshape(B, 1, 3, 4) |> avgpool2d(kernel: 2, stride: 1) |> flatten
        p = sinusoidal(2, 12) |> reshape(1, 24)
        q = one_hot(argmax(h, axis: 1), classes: 12) + (float(argmax(h)) |> reshape(B, 1))
        r = concat(h |> reshape(B, 3, 4) |> maxpool1d(kernel: 2) |> flatten, h |> reshape(B, 3, 4) |> avgpool1d(kernel: 2, stride: 2) |> flatten, axis: 1)
        return concat(a, b + c + d + r, dropout(e, 0.5), f, axis: 1)[:, 0:30] + 0.0 * p[:, 0:1] + q[:, 0:1]
    }
}
`

// recurrentProgram calls RNN, GRU and LSTM in every configuration
// model.py writes differently (layers, directions, bias, relu, with and
// without a mask, a layer in a compile-time if, one class for two
// instances that take different branches) and returns every named
// output. Their masks leave the first row with no real step.
const recurrentProgram = `
model LSTMAll {
    lstm = LSTM(5, 4, layers: 2, bidirectional: true)
    forward(x: f32[B, T, 5], mask: bool[B, T]) -> (output: f32[B, T, 8], h_n: f32[4, B, 4], c_n: f32[4, B, 4], last: f32[B, 8]) {
        r = lstm(x, mask: mask)
        return { output: r.output, h_n: r.h_n, c_n: r.c_n, last: r.last }
    }
}
model LSTMNoMask {
    lstm = LSTM(5, 3, layers: 2, bias: false)
    forward(x: f32[B, T, 5]) -> (output: f32[B, T, 3], h_n: f32[2, B, 3], c_n: f32[2, B, 3], last: f32[B, 3]) {
        r = x |> lstm
        return { output: r.output, h_n: r.h_n, c_n: r.c_n, last: r.last }
    }
}
model GRUAll {
    gru = GRU(5, 3, layers: 2, bidirectional: true, dropout: 0.3)
    forward(x: f32[B, T, 5], mask: bool[B, T]) -> (output: f32[B, T, 6], h_n: f32[4, B, 3], last: f32[B, 6]) {
        r = gru(x, mask)
        return { output: r.output, h_n: r.h_n, last: r.last }
    }
}
model GRUNoMaskBi {
    gru = GRU(5, 3, bidirectional: true)
    forward(x: f32[B, T, 5]) -> (output: f32[B, T, 6], h_n: f32[2, B, 3], last: f32[B, 6]) {
        r = gru(x)
        return { output: r.output, h_n: r.h_n, last: r.last }
    }
}
model RNNRelu {
    rnn = RNN(5, 4, bidirectional: true, nonlinearity: "relu")
    forward(x: f32[B, T, 5], mask: bool[B, T]) -> (output: f32[B, T, 8], h_n: f32[2, B, 4], last: f32[B, 8]) {
        r = rnn(x, mask: mask)
        return { output: r.output, h_n: r.h_n, last: r.last }
    }
}
model RNNDeep {
    rnn = RNN(5, 4, layers: 3, bias: false)
    head = Linear(4, 2)
    forward(x: f32[B, T, 5], mask: bool[B, T]) -> f32[B, 2] {
        return head(rnn(x, mask: mask).h_n[2] + rnn(x).last)
    }
}
model Switch(cell: string = "gru") {
    if cell == "lstm" {
        lstm = LSTM(5, 4)
    } else {
        gru = GRU(5, 4)
    }
    forward(x: f32[B, T, 5], mask: bool[B, T]) -> f32[B, T, 4] {
        if cell == "lstm" {
            return lstm(x, mask: mask).output
        }
        return gru(x, mask: mask).output
    }
}
model SwitchLSTM { m = Switch("lstm")
    forward(x: f32[B, T, 5], mask: bool[B, T]) -> f32[B, T, 4] { return m(x, mask) } }
model SwitchBoth { a = Switch("lstm")
    b = Switch()
    forward(x: f32[B, T, 5], mask: bool[B, T]) -> f32[B, T, 4] { return a(x, mask) + b(x, mask) } }
`

// A fwdCase is one model instance whose forward is compared.
type fwdCase struct {
	name string
	prog *compiler.Program
	in   *compiler.Instance
	// emptyRow: the masks leave the first row with no real step.
	emptyRow bool
}

func forwardCases(t *testing.T) []fwdCase {
	var cases []fwdCase
	seen := map[string]bool{}
	add := func(prefix string, p *compiler.Program, in *compiler.Instance) {
		key := prefix + ":" + in.String()
		if in == nil || seen[key] {
			return
		}
		seen[key] = true
		cases = append(cases, fwdCase{name: prefix + "." + in.Name(), prog: p, in: in})
	}
	files, _ := filepath.Glob("../../examples/*.enc")
	for _, f := range files {
		p, diags := compiler.CheckFile(f, nil)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		base := strings.TrimSuffix(filepath.Base(f), ".enc")
		for _, tr := range p.Trains {
			add(base, p, tr.Model)
		}
		for _, m := range p.Models {
			if m.Default != nil {
				add(base, p, m.Default)
			}
		}
	}
	dir := t.TempDir()
	sf := filepath.Join(dir, "stdlib_cases.enc")
	if err := os.WriteFile(sf, []byte(stdlibProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	p, diags := compiler.CheckFile(sf, nil)
	if diags.HasErrors() {
		t.Fatalf("stdlib cases: %v", diags)
	}
	for _, m := range p.Models {
		add("stdlib", p, m.Default)
	}
	rf := filepath.Join(dir, "recurrent_cases.enc")
	must(t, os.WriteFile(rf, []byte(recurrentProgram), 0o644))
	p, diags = compiler.CheckFile(rf, nil)
	if diags.HasErrors() {
		t.Fatalf("recurrent cases: %v", diags)
	}
	for _, m := range p.Models {
		n := len(cases)
		add("recurrent", p, m.Default)
		if len(cases) > n {
			cases[n].emptyRow = true
		}
	}
	return cases
}

// takes reports whether a forward input of in is named by a dim var.
func usesT(in *compiler.Instance) bool {
	for _, m := range in.Decl().Members {
		if fw, ok := m.(*lang.ForwardDecl); ok {
			for _, p := range fw.Params {
				if tt, ok := p.Type.(*lang.TensorType); ok {
					for _, d := range tt.Dims {
						if id, ok := d.(*lang.Ident); ok && id.Name == "T" {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

// writeForwardCase runs encc's CPU forward of c on random weights and
// inputs and writes model.py, case.safetensors and case.json in dir.
func writeForwardCase(t *testing.T, c fwdCase, dir string) {
	t.Helper()
	g := newModelGen(c.prog)
	if err := g.visit(c.in); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	src, err := g.write("")
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.py"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	dims := map[string]int{"B": 3}
	if usesT(c.in) {
		dims["T"] = 7
	}
	gr, err := c.prog.LowerForward(c.in, dims)
	if err != nil {
		t.Fatalf("%s: lower: %v", c.name, err)
	}
	weights, err := train.InitParams(c.in.Params(), 5)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, prm := range c.in.Params() { // LayerNorm's ones and zeros would hide a swapped weight and bias
		v := weights[prm.Path]
		for i := range v {
			v[i] += float32(0.1 * r.NormFloat64())
		}
	}
	if err := ir.Optimize(gr, ir.PipelineOptions{}); err != nil {
		t.Fatal(err)
	}
	ex, err := cpu.Compile(gr, cpu.Options{Threads: 1})
	if err != nil {
		t.Fatalf("%s: compile: %v", c.name, err)
	}
	var ts []*safetensors.Tensor
	shapes := map[string][]int{}
	for _, p := range c.in.Params() {
		var s []int
		for _, d := range p.Type.Dims {
			k, _ := d.Const()
			s = append(s, int(k))
		}
		shapes[p.Path] = s
		ts = append(ts, safetensors.FromFloat32(p.Path, s, weights[p.Path]))
	}
	var inputs []string
	for _, v := range gr.Inputs {
		switch v.Role() {
		case ir.RoleParam, ir.RoleConst:
			if err := ex.Bind(v.Name, weights[v.Name]); err != nil {
				t.Fatal(err)
			}
		case ir.RoleData:
			shape := []int(v.Type.Shape)
			n := v.Type.NumElements()
			inputs = append(inputs, v.Name)
			switch v.Type.DType {
			case ir.F32:
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				must(t, ex.Bind(v.Name, x))
				ts = append(ts, safetensors.FromFloat32("input:"+v.Name, shape, x))
			case ir.I32:
				x := make([]int32, n)
				for i := range x {
					x[i] = int32(r.IntN(20))
				}
				must(t, ex.Bind(v.Name, x))
				ts = append(ts, safetensors.FromInt32("input:"+v.Name, shape, x))
			case ir.Bool:
				x := make([]bool, n)
				b := make([]byte, n)
				T := shape[len(shape)-1]
				for row := 0; row < n/T; row++ {
					k := 1 + r.IntN(T)
					if row == 0 && c.emptyRow {
						k = 0
					}
					for j := 0; j < k; j++ {
						x[row*T+j], b[row*T+j] = true, 1
					}
				}
				must(t, ex.Bind(v.Name, x))
				ts = append(ts, &safetensors.Tensor{Name: "input:" + v.Name, DType: safetensors.Bool, Shape: shape, Data: b})
			default:
				t.Fatalf("%s: input %s of type %v", c.name, v.Name, v.Type)
			}
		default:
			t.Fatalf("%s: input %s has role %v", c.name, v.Name, v.Role())
		}
	}
	must(t, ex.Run())
	var outs []string
	names := map[string]string{}
	for _, o := range gr.Outputs {
		if o.Updates != nil {
			continue
		}
		outs = append(outs, o.Name)
		ts = append(ts, safetensors.FromFloat32("output:"+o.Name, []int(o.Value.Type.Shape), ex.Float32(o.Name)))
		names[o.Name] = strings.TrimPrefix(o.Name, "out.")
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	must(t, safetensors.Write(filepath.Join(dir, "case.safetensors"), ts, nil))
	spec, _ := json.Marshal(map[string]any{"name": c.name, "ctor": instanceCall(c.in), "inputs": inputs, "outputs": outs, "names": names})
	must(t, os.WriteFile(filepath.Join(dir, "case.json"), spec, 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestForwardParity exports every example and stdlib model and checks
// that the PyTorch module with encc's weights gives encc's CPU outputs
// within 1e-5 relative (max over elements).
func TestForwardParity(t *testing.T) {
	t.Parallel() // each runs python3 processes; let them overlap
	py := python(t)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "encc_support.py"), []byte(supportPy), 0o644))
	var args []string
	cases := forwardCases(t)
	for i, c := range cases {
		cd := filepath.Join(dir, fmt.Sprintf("case%02d", i))
		writeForwardCase(t, c, cd)
		args = append(args, cd)
	}
	out, err := exec.Command(py, append([]string{"testdata/forward_check.py", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("forward_check.py: %v\n%s", err, out)
	}
	got := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var res struct {
			Case       string
			Errors     map[string]float64
			Missing    []string
			Unexpected []string
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		got++
		if len(res.Missing)+len(res.Unexpected) > 0 {
			t.Errorf("%s: state_dict names differ from encc's paths: missing %v, unexpected %v", res.Case, res.Missing, res.Unexpected)
		}
		for name, e := range res.Errors {
			t.Logf("%-36s %-8s max rel err %.2e", res.Case, name, e)
			if !(e <= forwardTol) || math.IsNaN(e) {
				t.Errorf("%s: output %s differs from encc's by %.3g relative (want <= %g)", res.Case, name, e, forwardTol)
			}
		}
	}
	if got != len(cases) {
		t.Errorf("%d results for %d cases:\n%s", got, len(cases), out)
	}
}
