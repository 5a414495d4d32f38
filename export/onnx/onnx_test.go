package onnx

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/export/onnx/internal/onnxpb"
	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/internal/golden"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/train"
	"github.com/encc-lang/encc/stdlib"
)

// inCI reports whether a missing tool must fail the test rather than
// skip it (.ci/run sets CI=true).
func inCI() bool { return os.Getenv("CI") == "true" }

func needTool(t *testing.T, what string, err error) {
	t.Helper()
	if inCI() {
		t.Fatalf("%s is required in CI: %v", what, err)
	}
	t.Skipf("skipping: %s not available (%v)", what, err)
}

// TestEveryOpHasForm checks the op table and keeps testdata/forms.txt,
// the list of every IR op with its ONNX form or the reason it has none
// (go test ./export/onnx -update rewrites it).
func TestEveryOpHasForm(t *testing.T) {
	var list strings.Builder
	for _, op := range ir.Ops() {
		f, ok := forms[op]
		if f.emit != nil {
			fmt.Fprintf(&list, "%-30s %s\n", op, f.onnx)
		} else {
			fmt.Fprintf(&list, "%-30s none: %s\n", op, f.reason)
		}
		switch {
		case !ok:
			t.Errorf("op %s has no entry in the ONNX op table", op)
		case f.emit != nil && f.onnx == "":
			t.Errorf("op %s: the table does not say which ONNX operators it becomes", op)
		case f.emit == nil && f.reason == "":
			t.Errorf("op %s has no ONNX form and no reason", op)
		case f.emit != nil && f.reason != "":
			t.Errorf("op %s has both a form and a reason", op)
		}
	}
	golden.Check(t, "testdata/forms.txt", []byte(list.String()))
}

func TestFit(t *testing.T) {
	vars := []string{"B", "T"}
	base := []int64{baseSize(0), baseSize(1)}
	cases := []struct {
		f    func(b, t int64) int64
		want string
	}{
		{func(b, t int64) int64 { return 64 }, "64"},
		{func(b, t int64) int64 { return b }, "B"},
		{func(b, t int64) int64 { return b * t * 4 }, "4*B*T"},
		{func(b, t int64) int64 { return 2*t + 1 }, "2*T + 1"},
		{func(b, t int64) int64 { return b*t - t }, "B*T + -1*T"},
	}
	for _, c := range cases {
		f := make([]int64, 4)
		for k := range f {
			d := cornerDims(vars, base, k)
			f[k] = c.f(int64(d["B"]), int64(d["T"]))
		}
		if got := fit(f, base).format(vars); got != c.want {
			t.Errorf("fit = %s, want %s", got, c.want)
		}
	}
}

// A parityCase is one model instance to export and compare.
type parityCase struct {
	name string // file:model
	prog *compiler.Program
	in   *compiler.Instance
}

// parityCases lists the models of every example and of testdata: the
// model of each train and each model whose hyper-parameters all have
// defaults, once per instance.
func parityCases(t *testing.T) []parityCase {
	files, _ := filepath.Glob("../../examples/*.enc")
	files = append(files, "testdata/models.enc")
	var out []parityCase
	for _, f := range files {
		p, diags := compiler.CheckFile(f, nil)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		seen := map[string]bool{}
		add := func(label string, in *compiler.Instance) {
			if in == nil || seen[in.String()] {
				return
			}
			seen[in.String()] = true
			out = append(out, parityCase{filepath.Base(f) + ":" + label, p, in})
		}
		for _, tr := range p.Trains {
			add(tr.Name, tr.Model)
		}
		for _, m := range p.Models {
			add(m.Name, m.Default)
		}
	}
	return out
}

// A feed is one input tensor as run.js reads it.
type feed struct {
	Type string    `json:"type"`
	Dims []int     `json:"dims"`
	Data []float64 `json:"data"`
}

// sizes are the two sizes each model runs at: the batch (first
// variable) 1 then 5, other variables 3 then 7. Neither is a size the
// export lowered at.
func sizes(vars []string, run int) map[string]int {
	m := map[string]int{}
	for i, v := range vars {
		m[v] = [][2]int{{1, 5}, {3, 7}}[min(i, 1)][run]
	}
	return m
}

// extraSizes adds a size to the runs of some models: the sequence
// length spam_transformer trains at, and long sequences where the
// position table's angles are large.
var extraSizes = map[string]map[string]int{
	"spam_transformer.enc:spam_transformer": {"B": 3, "T": 128},
	"models.enc:SinPositions":               {"B": 2, "T": 300},
}

// minSizes raises the sizes of some models: a TextCNN's sequences are
// at least its widest convolution.
var minSizes = map[string]map[string]int{
	"spam_textcnn.enc:spam_textcnn": {"T": 5},
	"spam_word2vec.enc:pretrained":  {"T": 5},
	"models.enc:TextConv":           {"T": 5},
}

// inputs makes random inputs for g: f32 from N(0, 1), integer ids below
// the smallest table they index, masks true on a random prefix of every
// row (at least one position).
func inputs(g *ir.Graph, r *rand.Rand) map[string]feed {
	limit := map[*ir.Value]int{}
	for _, v := range g.Values {
		if v.Op == ir.OpGather {
			id, rows := v.Args[1], v.Args[0].Type.Shape[0]
			if l, ok := limit[id]; !ok || rows < l {
				limit[id] = rows
			}
		}
	}
	out := map[string]feed{}
	for _, x := range g.Inputs {
		if x.Role() != ir.RoleData {
			continue
		}
		n := x.Type.NumElements()
		f := feed{Dims: slices.Clone([]int(x.Type.Shape)), Data: make([]float64, n)}
		switch x.Type.DType {
		case ir.F32:
			f.Type = "float32"
			for i := range f.Data {
				f.Data[i] = float64(float32(r.NormFloat64()))
			}
		case ir.I32:
			f.Type = "int32"
			l := limit[x]
			if l == 0 {
				l = 2
			}
			for i := range f.Data {
				f.Data[i] = float64(r.IntN(l))
			}
		case ir.Bool:
			f.Type = "bool"
			last := x.Type.Shape[x.Type.Rank()-1]
			for row := 0; row < n/last; row++ {
				keep := 1 + r.IntN(last)
				for j := 0; j < keep; j++ {
					f.Data[row*last+j] = 1
				}
			}
		}
		out[x.Name] = f
	}
	return out
}

// runCPU runs the forward of in at dims on encc's CPU backend.
func runCPU(p *compiler.Program, in *compiler.Instance, dims map[string]int, weights map[string][]float32, feeds map[string]feed) (map[string][]float32, map[string][]int, error) {
	g, err := p.LowerForward(in, dims)
	if err != nil {
		return nil, nil, err
	}
	if err := ir.Optimize(g, ir.PipelineOptions{}); err != nil {
		return nil, nil, err
	}
	prog, err := cpu.Compile(g, cpu.Options{Threads: 1})
	if err != nil {
		return nil, nil, err
	}
	for _, x := range g.Inputs {
		switch x.Role() {
		case ir.RoleParam, ir.RoleConst:
			err = prog.Bind(x.Name, weights[x.Name])
		case ir.RoleData:
			f := feeds[x.Name]
			switch x.Type.DType {
			case ir.F32:
				d := make([]float32, len(f.Data))
				for i, v := range f.Data {
					d[i] = float32(v)
				}
				err = prog.Bind(x.Name, d)
			case ir.I32:
				d := make([]int32, len(f.Data))
				for i, v := range f.Data {
					d[i] = int32(v)
				}
				err = prog.Bind(x.Name, d)
			case ir.Bool:
				d := make([]bool, len(f.Data))
				for i, v := range f.Data {
					d[i] = v != 0
				}
				err = prog.Bind(x.Name, d)
			}
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if err := prog.Run(); err != nil {
		return nil, nil, err
	}
	outs, shapes := map[string][]float32{}, map[string][]int{}
	for _, o := range g.Outputs {
		if o.Updates == nil {
			outs[o.Name] = slices.Clone(prog.Float32(o.Name))
			shapes[o.Name] = slices.Clone([]int(o.Value.Type.Shape))
		}
	}
	return outs, shapes, nil
}

// relErr is the largest error of got against want relative to want's
// largest magnitude: max |got - want| / max |want|.
func relErr(got []float64, want []float32) float64 {
	scale, worst := 0.0, 0.0
	for i, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
		worst = math.Max(worst, math.Abs(got[i]-float64(w)))
	}
	if scale == 0 {
		return worst
	}
	return worst / scale
}

// elemRelErr is the largest elementwise relative error, |got - want| /
// |want|, over the elements with |want| ≥ 1e-3 · max |want| (below that
// the float32 rounding of sums that cancel dominates).
func elemRelErr(got []float64, want []float32) float64 {
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	worst := 0.0
	for i, w := range want {
		if a := math.Abs(float64(w)); a >= 1e-3*scale && a > 0 {
			worst = math.Max(worst, math.Abs(got[i]-float64(w))/a)
		}
	}
	return worst
}

// ortDir is where .ci/run installs onnxruntime-node (npm install
// --ignore-scripts in export/onnx/ort).
const ortDir = "ort"

func findNode(t *testing.T) string {
	node, err := exec.LookPath("node")
	if err != nil {
		needTool(t, "node (Node.js)", err)
	}
	if _, err := os.Stat(filepath.Join(ortDir, "node_modules", "onnxruntime-node", "package.json")); err != nil {
		needTool(t, "onnxruntime-node (cd export/onnx/ort && npm install --ignore-scripts)", err)
	}
	return node
}

// pythonONNX returns a Python that imports onnx (Debian's python3-onnx).
func pythonONNX(t *testing.T) string {
	var last error
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(py, "-c", "import onnx").Run(); err == nil {
			return py
		} else {
			last = err
		}
	}
	needTool(t, "python3 with onnx (apt-get install python3-onnx)", last)
	return ""
}

// checkModels runs onnx.checker.check_model(path, full_check=True) on
// every file and returns its verdict per file ("ok" or the error).
func checkModels(t *testing.T, paths []string) map[string]string {
	py := pythonONNX(t)
	script := `import sys, onnx
for p in sys.argv[1:]:
    try:
        onnx.checker.check_model(p, full_check=True)
        print("ok")
    except Exception as e:
        print(("error: " + str(e)).replace("\n", " "))
`
	out, err := exec.Command(py, append([]string{"-c", script}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx checker: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(paths) {
		t.Fatalf("onnx checker printed %d lines for %d files:\n%s", len(lines), len(paths), out)
	}
	res := map[string]string{}
	for i, p := range paths {
		res[p] = lines[i]
	}
	return res
}

// TestParity exports every example model and every model of
// testdata/models.enc with weights from their initializers, checks each
// file with the ONNX checker (full_check), runs it with onnxruntime at
// two sizes (batch 1 and 5; sequences of 3 and 7) and compares every
// output with encc's CPU backend: within 1e-5 of the output's largest
// magnitude, max over elements.
func TestParity(t *testing.T) {
	node := findNode(t)
	cases := parityCases(t)
	dir := t.TempDir()
	type job struct {
		c       parityCase
		path    string
		vars    []string
		sizes   []map[string]int
		want    []map[string][]float32
		shapes  []map[string][]int
		feeds   []map[string]feed
		weights map[string][]float32
	}
	var jobs []*job
	for i, c := range cases {
		weights, err := train.InitParams(c.in.Params(), uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Export(c.prog, c.in, Options{Weights: weights, ProducerVersion: "test", Metadata: map[string]string{"encc_version": "test"}})
		if err != nil {
			t.Errorf("%s: export: %v", c.name, err)
			continue
		}
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		j := &job{c: c, path: filepath.Join(dir, fmt.Sprintf("m%d.onnx", i)), weights: weights}
		if err := os.WriteFile(j.path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fins, err := c.prog.ForwardInputs(c.in)
		if err != nil {
			t.Fatal(err)
		}
		for _, fi := range fins {
			for _, d := range fi.Type.Dims {
				if v, ok := d.Var(); ok && !slices.Contains(j.vars, v) {
					j.vars = append(j.vars, v)
				}
			}
		}
		r := rand.New(rand.NewPCG(uint64(i), 7))
		j.sizes = []map[string]int{sizes(j.vars, 0), sizes(j.vars, 1)}
		for _, dims := range j.sizes {
			for v, n := range minSizes[c.name] {
				dims[v] = max(dims[v], n)
			}
		}
		if extra, ok := extraSizes[c.name]; ok {
			j.sizes = append(j.sizes, extra)
		}
		for _, dims := range j.sizes {
			g, err := c.prog.LowerForward(c.in, dims)
			if err != nil {
				t.Fatal(err)
			}
			feeds := inputs(g, r)
			want, shapes, err := runCPU(c.prog, c.in, dims, weights, feeds)
			if err != nil {
				t.Fatalf("%s: cpu: %v", c.name, err)
			}
			j.feeds, j.want, j.shapes = append(j.feeds, feeds), append(j.want, want), append(j.shapes, shapes)
		}
		jobs = append(jobs, j)
	}
	var paths []string
	type request struct {
		Model string            `json:"model"`
		Runs  []map[string]feed `json:"runs"`
	}
	var req []request
	for _, j := range jobs {
		paths = append(paths, j.path)
		req = append(req, request{j.path, j.feeds})
	}
	verdicts := checkModels(t, paths)
	reqPath, resPath := filepath.Join(dir, "req.json"), filepath.Join(dir, "res.json")
	b, _ := json.Marshal(req)
	if err := os.WriteFile(reqPath, b, 0o644); err != nil {
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
	b, err := os.ReadFile(resPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	var report []string
	for k, j := range jobs {
		if v := verdicts[j.path]; v != "ok" {
			t.Errorf("%s: onnx checker: %s", j.c.name, v)
		}
		if res[k].Error != "" {
			t.Errorf("%s: onnxruntime: %s", j.c.name, res[k].Error)
			continue
		}
		worst, worstElem := 0.0, 0.0
		var sizesRun []string
		for run := range j.want {
			sizesRun = append(sizesRun, fmt.Sprint(j.sizes[run]))
			got := res[k].Runs[run]
			names := make([]string, 0, len(j.want[run]))
			for name := range j.want[run] {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				want := j.want[run][name]
				o, ok := got[name]
				if !ok {
					t.Errorf("%s: onnxruntime gave no output %s", j.c.name, name)
					continue
				}
				if !slices.Equal(o.Dims, j.shapes[run][name]) {
					t.Errorf("%s at %v: output %s has shape %v, encc %v", j.c.name, j.sizes[run], name, o.Dims, j.shapes[run][name])
					continue
				}
				e := relErr(o.Data, want)
				worst = math.Max(worst, e)
				worstElem = math.Max(worstElem, elemRelErr(o.Data, want))
				if e > 1e-5 || math.IsNaN(e) {
					t.Errorf("%s at %v: output %s differs from encc's CPU backend by %.3g relative", j.c.name, j.sizes[run], name, e)
				}
			}
		}
		report = append(report, fmt.Sprintf("%-40s checker %-3s  max rel err %.2e (elementwise %.2e)  at %s", j.c.name, verdicts[j.path], worst, worstElem, strings.Join(sizesRun, " and ")))
	}
	t.Logf("ONNX parity, %d models:\n%s", len(jobs), strings.Join(report, "\n"))
}

// TestErrors checks that what cannot be exported is one error at the
// .enc position that produced it.
func TestErrors(t *testing.T) {
	cases := []struct{ src, model, want string }{
		{`model M {
    fc = Linear(4, 4)

    forward(x: f32[B, 4]) -> f32[B, 4] {
        h = fc(x)
        return h * h.shape[0]
    }
}`, "M", "in.enc:6:16: a size used as a number (B = 2 or 3) would be frozen in the ONNX graph (x.shape[i] in arithmetic, or a loss that divides by the batch: nll, kl_div): export needs one graph for every size"},
		{`model M {
    forward(x: f32[B, T, 8], y: f32[B, 4]) -> f32[B, 4] {
        return y * x.shape[1]
    }
}`, "M", "in.enc:3:16: a size used as a number (T = 4 or 5) would be frozen in the ONNX graph (x.shape[i] in arithmetic, or a loss that divides by the batch: nll, kl_div): export needs one graph for every size"},
	}
	for _, c := range cases {
		p, diags := compiler.Check("in.enc", []byte(c.src), nil)
		if diags.HasErrors() {
			t.Fatalf("%v", diags)
		}
		var in *compiler.Instance
		for _, m := range p.Models {
			if m.Name == c.model {
				in = m.Default
			}
		}
		_, err := Export(p, in, Options{})
		var ee *Error
		if !errors.As(err, &ee) {
			t.Errorf("got %v, want an *Error", err)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("got  %s\nwant %s", err, c.want)
		}
	}
}

// TestRecurrentFixedLength checks that a recurrent layer exports with a
// fixed sequence length (the unrolled steps; the values are checked by
// TestParity on examples/mnist_lstm.enc and spam_gru.enc) and that a
// symbolic one is refused with the reason.
func TestRecurrentFixedLength(t *testing.T) {
	for _, tc := range []struct{ T, want string }{{"6", ""}, {"T", "give the forward a fixed sequence length"}} {
		src := `model M {
    gru = GRU(8, 16, bidirectional: true)
    forward(x: f32[B, ` + tc.T + `, 8], mask: bool[B, ` + tc.T + `]) -> f32[B, 32] { return gru(x, mask: mask).last }
}`
		p, diags := compiler.Check("in.enc", []byte(src), nil)
		if diags.HasErrors() {
			t.Fatalf("%v", diags)
		}
		in := p.Models[0].Default
		weights, err := train.InitParams(in.Params(), 1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Export(p, in, Options{Weights: weights})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("T = %s: %v", tc.T, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("T = %s: got %v, want an error saying %q", tc.T, err, tc.want)
		}
	}
}

// TestNoForm checks the error for an op without an ONNX form: a graph
// with dropout, which eval-mode forwards never have, built by hand.
func TestNoForm(t *testing.T) {
	var gs []*ir.Graph
	for b := 2; b <= 3; b++ {
		g := ir.NewGraph()
		bd := ir.NewBuilder(g)
		bd.Pos = diag.Pos{File: "m.enc", Line: 7, Col: 12}
		x, _ := bd.Input("x", ir.RoleData, ir.TensorOf(ir.F32, b, 4))
		seed, _ := bd.Input("seed", ir.RoleScalar, ir.Scalar(ir.I64))
		step, _ := bd.Input("step", ir.RoleScalar, ir.Scalar(ir.I64))
		y, err := bd.Dropout(x, seed, step, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		g.AddOutput("out", y)
		gs = append(gs, g)
	}
	_, err := exportGraphs("M", gs, []string{"B"}, []int64{2}, map[int]varSource{0: {"x", 0}}, Options{})
	want := "m.enc:7:12: cannot export dropout to ONNX: " + whyDropout
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

// TestFileLayout checks what the file says besides the graph: opset and
// IR version, initializers named by parameter path holding the weights,
// inputs and outputs with named dynamic dimensions, the metadata.
func TestFileLayout(t *testing.T) {
	p, diags := compiler.CheckFile("testdata/models.enc", nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var in *compiler.Instance
	for _, m := range p.Models {
		if m.Name == "TextMeanPool" {
			in = m.Default
		}
	}
	weights, err := train.InitParams(in.Params(), 3)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Export(p, in, Options{Weights: weights, ProducerVersion: "v9", Metadata: map[string]string{"source_sha256": "abc", "encc_version": "v9"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	var back onnxpb.ModelProto
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.GetIrVersion() != IRVersion || len(back.OpsetImport) != 1 || back.OpsetImport[0].GetVersion() != Opset || back.GetProducerName() != "encc" {
		t.Errorf("header: ir %d, opsets %v, producer %q", back.GetIrVersion(), back.OpsetImport, back.GetProducerName())
	}
	var meta []string
	for _, kv := range back.MetadataProps {
		meta = append(meta, kv.GetKey()+"="+kv.GetValue())
	}
	if got := strings.Join(meta, " "); got != "encc_version=v9 source_sha256=abc" {
		t.Errorf("metadata %q", got)
	}
	var names []string
	for _, init := range back.Graph.Initializer {
		names = append(names, init.GetName())
		w := weights[init.GetName()]
		raw := init.GetRawData()
		if len(raw) != 4*len(w) {
			t.Fatalf("%s: %d bytes for %d weights", init.GetName(), len(raw), len(w))
		}
		for i, x := range w {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != x {
				t.Fatalf("%s[%d] = %v, want %v", init.GetName(), i, got, x)
			}
		}
	}
	var paths []string
	for _, prm := range in.Params() {
		paths = append(paths, prm.Path)
	}
	sort.Strings(names)
	sort.Strings(paths)
	if !slices.Equal(names, paths) {
		t.Errorf("initializers %v\nparameters   %v", names, paths)
	}
	sig := func(vs []*onnxpb.ValueInfoProto) string {
		var parts []string
		for _, v := range vs {
			tt := v.GetType().GetTensorType()
			var dims []string
			for _, d := range tt.GetShape().GetDim() {
				if d.GetDimParam() != "" {
					dims = append(dims, d.GetDimParam())
				} else {
					dims = append(dims, fmt.Sprint(d.GetDimValue()))
				}
			}
			parts = append(parts, fmt.Sprintf("%s:%s[%s]", v.GetName(), onnxpb.TensorProto_DataType(tt.GetElemType()), strings.Join(dims, ",")))
		}
		return strings.Join(parts, " ")
	}
	if got := sig(back.Graph.Input); got != "ids:INT32[B,T] mask:BOOL[B,T]" {
		t.Errorf("inputs %s", got)
	}
	if got := sig(back.Graph.Output); got != "out:FLOAT[B,3]" {
		t.Errorf("outputs %s", got)
	}
	if _, err := Export(p, in, Options{Weights: map[string][]float32{}}); err == nil || !strings.Contains(err.Error(), "no weights for m.encoder.tokens.weight") {
		t.Errorf("missing weights: got %v", err)
	}
}

// TestStdlibCovered checks that testdata/models.enc instantiates every
// model of the standard library, so TestParity runs each.
func TestStdlibCovered(t *testing.T) {
	models, err := os.ReadFile("testdata/models.enc")
	if err != nil {
		t.Fatal(err)
	}
	files, err := stdlib.Files()
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^model (\w+)`)
	n := 0
	for _, f := range files {
		src, err := stdlib.Source(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllSubmatch(src, -1) {
			n++
			if !regexp.MustCompile(`= ` + string(m[1]) + `\(`).Match(models) {
				t.Errorf("stdlib model %s (%s) is not instantiated in testdata/models.enc", m[1], f)
			}
		}
	}
	if n == 0 {
		t.Fatal("no stdlib models found")
	}
}
