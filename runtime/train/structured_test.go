package train

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
)

const structuredSrc = `
model Net(hidden: int = 48) {
    fc1  = Linear(64, hidden)
    fc2  = Linear(hidden, 32)
    head = Linear(32, 10)

    forward(x: f32[B, 64]) -> f32[B, 10] {
        return x |> fc1 |> relu |> fc2 |> tanh |> head
    }
}

dataset digits {
    source = builtin("digits")
    scale  = 1.0 / 16.0
    split  = { train: 0.8, test: 0.2 }
    seed   = 3
}

train t {
    model     = Net()
    data      = digits
    loss      = cross_entropy(model(image), label)
    optimizer = Adam(lr: 3e-3)
    batch     = 50
    metrics   = [accuracy]
    seed      = 11
    save      = "runs/t.safetensors"

    phase dense (epochs: 3) {
    }
    phase prune (epochs: 2) {
        prune = structured(fraction: 0.5, layers: "fc1", norm: "NORM", save: "runs/small.safetensors")
    }
}
`

// runForward runs instance in of p with weights on x [n, ...] on the CPU.
func runForward(t *testing.T, p *compiler.Program, in *compiler.Instance, weights map[string][]float32, n int, x []float32) []float32 {
	t.Helper()
	b, _, err := backendFor("cpu")
	if err != nil {
		t.Fatal(err)
	}
	ex, g, xs, err := forward(p, in, weights, n, 0, b, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Bind(xs[0].Name, x); err != nil {
		t.Fatal(err)
	}
	if err := ex.Run(); err != nil {
		t.Fatal(err)
	}
	for _, o := range g.Outputs {
		if o.Updates == nil {
			return append([]float32(nil), ex.Float32(o.Name)...)
		}
	}
	t.Fatal("no output")
	return nil
}

func randomInput(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func maxRelDiff(a, b []float32) float64 {
	var worst, scale float64
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i]-b[i])))
		scale = max(scale, math.Abs(float64(a[i])))
	}
	return worst / max(scale, 1e-30)
}

// TestStructuredPrune: a run with prune = structured(...) removes half of
// fc1's units (L2 and L1): the smaller checkpoint holds fc1.weight [24,
// 64], fc1.bias [24] and fc2.weight [32, 24]; the generated .enc checks
// and declares exactly those shapes (hidden: 24); the smaller model's
// outputs equal the masked full model's on random inputs (fc1's removed
// units have trained biases: this holds because fc2's columns are masked,
// not because relu(0) = 0); its test metrics equal the run's final ones.
func TestStructuredPrune(t *testing.T) {
	for _, norm := range []string{"l2", "l1"} {
		t.Run(norm, func(t *testing.T) {
			dir := t.TempDir()
			p := checkIn(t, dir, strings.Replace(structuredSrc, "NORM", norm, 1))
			tr := p.Trains[0]
			res, err := Run(context.Background(), p, tr, Options{Quiet: true})
			if err != nil {
				t.Fatal(err)
			}
			s := res.Structured
			if s == nil {
				t.Fatal("no structured result")
			}
			if s.Hyper["hidden"] != 24 || len(s.Hyper) != 1 {
				t.Errorf("hyper-parameters %v, want hidden: 24", s.Hyper)
			}
			// The smaller model, from the generated file.
			text, err := os.ReadFile(s.Enc)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(text), "model Net(hidden: int = 24)") {
				t.Errorf("generated .enc:\n%s", text)
			}
			sp, diags := compiler.CheckFile(s.Enc, nil)
			if diags.HasErrors() {
				t.Fatalf("generated .enc: %s\n%s", diags, text)
			}
			in, err := Instance(sp, "Net")
			if err != nil {
				t.Fatal(err)
			}
			c, err := LoadCheckpoint(s.Path)
			if err != nil {
				t.Fatal(err)
			}
			small, err := FitWeights(c, in.Params(), LoadSpec{}, s.Path, "Net")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"fc1.weight": 24 * 64, "fc1.bias": 24, "fc2.weight": 32 * 24, "fc2.bias": 32, "head.weight": 10 * 32, "head.bias": 10}
			for path, n := range want {
				if len(small[path]) != n {
					t.Errorf("%s: %d values in the smaller checkpoint, want %d", path, len(small[path]), n)
				}
			}
			// Outputs: the full model with the run's masked weights vs the
			// smaller one.
			full := p.Trains[0].Model
			x := randomInput(16*64, 5)
			a := runForward(t, p, full, res.Weights, 16, x)
			b := runForward(t, sp, in, small, 16, x)
			if d := maxRelDiff(a, b); d > 1e-5 {
				t.Errorf("smaller model's outputs differ from the masked model's: max rel. diff %.3g", d)
			}
			if math.Abs(s.Metrics["accuracy"]-res.Final["accuracy"]) > 1e-9 {
				t.Errorf("smaller model's accuracy %.4f, masked model's %.4f", s.Metrics["accuracy"], res.Final["accuracy"])
			}
			if res.Final["accuracy"] < 0.85 {
				t.Errorf("accuracy %.4f after removing half of fc1", res.Final["accuracy"])
			}
			// The masks in the run's checkpoint: 24 of fc2's 48 input
			// columns, weights zero.
			ck, err := LoadCheckpoint(res.Checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			m := ck.State["fc2.weight"+pruneMaskSuffix]
			if len(m) != 32*48 {
				t.Fatalf("fc2.weight mask: %d values", len(m))
			}
			zeroCols := 0
			for col := range 48 {
				z := true
				for r := range 32 {
					if m[r*48+col] != 0 || res.Weights["fc2.weight"][r*48+col] != 0 {
						z = false
					}
				}
				if z {
					zeroCols++
				}
			}
			if zeroCols != 24 {
				t.Errorf("fc2.weight: %d zero input columns, want 24", zeroCols)
			}
		})
	}
}

// TestStructuredZeroReluUnit: a ReLU unit whose weight row and bias are
// zero contributes nothing, whatever the next layer's column holds, so
// removing it (without masking that column) leaves the outputs as they
// were.
func TestStructuredZeroReluUnit(t *testing.T) {
	dir := t.TempDir()
	p := checkIn(t, dir, strings.Replace(structuredSrc, "NORM", "l2", 1))
	in := p.Trains[0].Model
	w, err := InitParams(in.Params(), 7)
	if err != nil {
		t.Fatal(err)
	}
	// Zero the rows and biases of fc1's odd units; fc2's columns stay.
	var kept []int
	for u := range 48 {
		if u%2 == 1 {
			for j := range 64 {
				w["fc1.weight"][u*64+j] = 0
			}
			w["fc1.bias"][u] = 0
		} else {
			kept = append(kept, u)
		}
	}
	sp := &structPlan{kept: map[string][]int{"fc1": kept}, axes: map[string][]tiedAxis{
		"fc1.weight": {{axis: 0, layer: "fc1", block: 1}},
		"fc1.bias":   {{axis: 0, layer: "fc1", block: 1}},
		"fc2.weight": {{axis: 1, layer: "fc1", block: 1}},
	}}
	shapes := map[string][]int{"fc1.weight": {48, 64}, "fc1.bias": {48}, "fc2.weight": {32, 48}}
	small := sp.shrink(w, shapes)
	smallP := checkIn(t, t.TempDir(), strings.NewReplacer("hidden: int = 48", "hidden: int = 24", "NORM", "l2").Replace(structuredSrc))
	x := randomInput(8*64, 9)
	a := runForward(t, p, in, w, 8, x)
	b := runForward(t, smallP, smallP.Trains[0].Model, small, 8, x)
	if d := maxRelDiff(a, b); d > 1e-5 {
		t.Errorf("removing zero relu units changed the outputs: max rel. diff %.3g", d)
	}
	// A unit with a nonzero bias is not removable exactly.
	w["fc1.bias"][1] = 1
	a = runForward(t, p, in, w, 8, x)
	if d := maxRelDiff(a, b); d < 1e-4 {
		t.Errorf("a unit with bias 1 removed without effect (diff %.3g): the test does not see removal", d)
	}
}

// TestStructuredConv: output channels of a Conv2d followed by BatchNorm2d,
// a flatten and a Linear: the Linear's input columns go in blocks of H·W
// per channel, the BatchNorm's entries follow, and the smaller model
// computes what the masked one does.
func TestStructuredConv(t *testing.T) {
	src := `
model C(ch: int = 6) {
    conv = Conv2d(1, ch, kernel: 3)
    bn   = BatchNorm2d(ch)
    fc   = Linear(ch * 36, 10)

    forward(x: f32[B, 64]) -> f32[B, 10] {
        return x |> reshape(B, 1, 8, 8) |> conv |> bn |> relu |> flatten |> fc
    }
}

dataset digits {
    source = builtin("digits")
    scale  = 1.0 / 16.0
    split  = { train: 0.8, test: 0.2 }
    seed   = 3
}

train t {
    model     = C()
    data      = digits
    loss      = cross_entropy(model(image), label)
    optimizer = Adam(lr: 3e-3)
    batch     = 50
    metrics   = [accuracy]
    seed      = 11

    phase dense (epochs: 1) {
    }
    phase prune (epochs: 1) {
        prune = structured(fraction: 0.5, layers: "conv", save: "runs/small.safetensors", enc: "runs/c_small.enc")
    }
}
`
	dir := t.TempDir()
	p := checkIn(t, dir, src)
	res, err := Run(context.Background(), p, p.Trains[0], Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Structured
	if s == nil || s.Hyper["ch"] != 3 {
		t.Fatalf("structured result %+v", s)
	}
	if filepath.Base(s.Enc) != "c_small.enc" {
		t.Errorf("generated .enc at %s", s.Enc)
	}
	sp, diags := compiler.CheckFile(s.Enc, nil)
	if diags.HasErrors() {
		t.Fatalf("generated .enc: %s", diags)
	}
	in, err := Instance(sp, "C")
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	small, err := FitWeights(c, in.Params(), LoadSpec{}, s.Path, "C")
	if err != nil {
		t.Fatal(err)
	}
	if len(small["fc.weight"]) != 10*3*36 || len(small["bn.running_mean"]) != 3 {
		t.Errorf("fc.weight %d values, bn.running_mean %d", len(small["fc.weight"]), len(small["bn.running_mean"]))
	}
	x := randomInput(4*64, 3)
	a := runForward(t, p, p.Trains[0].Model, res.Weights, 4, x)
	b := runForward(t, sp, in, small, 4, x)
	if d := maxRelDiff(a, b); d > 1e-5 {
		t.Errorf("smaller conv model's outputs differ from the masked model's: max rel. diff %.3g", d)
	}
	if math.Abs(s.Metrics["accuracy"]-res.Final["accuracy"]) > 1e-9 {
		t.Errorf("smaller model's accuracy %.4f, masked model's %.4f", s.Metrics["accuracy"], res.Final["accuracy"])
	}
}

// TestStructuredNoHyper: a layer whose width is a literal, or is tied to
// another layer's, or is the model's output, is a positioned error before
// training.
func TestStructuredNoHyper(t *testing.T) {
	for _, tc := range []struct{ edit, layer, want string }{
		{"", "fc2", "the width of fc2 (32 units) is not set by an int hyper-parameter of Net alone"},
		{"fc2  = Linear(hidden, 32)", "fc1", "the width of fc1 (48 units) is not set"},
		{"classes", "head", "the width of head (10 units) is not set by an int hyper-parameter of Net alone, or its units are the model's output"},
	} {
		src := strings.Replace(structuredSrc, "NORM", "l2", 1)
		src = strings.Replace(src, `layers: "fc1"`, `layers: "`+tc.layer+`"`, 1)
		if tc.edit == "classes" { // the output's width is a hyper-parameter: still not prunable
			src = strings.NewReplacer("model Net(hidden: int = 48)", "model Net(hidden: int = 48, classes: int = 10)",
				"head = Linear(32, 10)", "head = Linear(32, classes)", "-> f32[B, 10]", "-> f32[B, classes]").Replace(src)
		} else if tc.edit != "" {
			src = strings.Replace(src, tc.edit, "fc2  = Linear(hidden, hidden)", 1)
			src = strings.Replace(src, "head = Linear(32, 10)", "head = Linear(hidden, 10)", 1)
		}
		p := check(t, src)
		_, err := Run(context.Background(), p, p.Trains[0], Options{Quiet: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "m.enc:") {
			t.Errorf("layers %s: error %v, want %q at a position", tc.layer, err, tc.want)
		}
	}
}

// TestKeepUnits: the units kept are the rows of largest L2 (or L1) norm,
// in increasing order, the lower index on a tie.
func TestKeepUnits(t *testing.T) {
	w := []float32{
		3, 0, // l2 9, l1 3
		2, 2, // l2 8, l1 4
		0, 0.5,
		-3, 0, // tie with row 0
	}
	if got := keepUnits(w, 4, 2, "l2"); !slices.Equal(got, []int{0, 3}) {
		t.Errorf("l2: kept %v, want [0 3]", got)
	}
	if got := keepUnits(w, 4, 2, "l1"); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("l1: kept %v, want [0 1]", got)
	}
	if got := keepUnits(w, 4, 3, "l1"); !slices.Equal(got, []int{0, 1, 3}) {
		t.Errorf("l1, 3: kept %v, want [0 1 3]", got)
	}
}
