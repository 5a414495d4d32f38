package train

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/encc-lang/encc/runtime/data"
)

// TestExamples trains the digits examples to the accuracy the project
// promises, on the CPU backend.
func TestExamples(t *testing.T) {
	if _, name, _ := backendFor(""); name != "cpu" {
		t.Skip("the CPU backend is not registered; the reference evaluator is too slow for full runs")
	}
	if testing.Short() {
		t.Skip("full training runs")
	}
	cases := []struct {
		file, train string
		min         float64
	}{
		{"digits_mlp.enc", "classify", 0.96},
		{"custom_layer.enc", "net", 0.93},
		{"digits_cnn.enc", "cnn", 0.96},
		// Pretrain, then finetune (AdamW lr 1e-2, cosine from 1e-2): 96.7%
		// measured.
		{"digits_finetune.enc", "finetune", 0.95},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			p := check(t, example(t, c.file))
			res, err := Run(context.Background(), p, p.Train(c.train), quiet())
			if err != nil {
				t.Fatal(err)
			}
			acc := res.Final["accuracy"]
			t.Logf("%s: %d epochs, accuracy %.4f, %.1fs", c.file, res.Epochs, acc, res.Seconds)
			if acc < c.min {
				t.Errorf("%s: test accuracy %.4f, want >= %.2f", c.file, acc, c.min)
			}
		})
	}
}

// TestBackendsAgree runs the same epochs on the reference evaluator and
// the default backend: the losses agree to float32 rounding.
func TestBackendsAgree(t *testing.T) {
	if _, name, _ := backendFor(""); name == "reference" {
		t.Skip("only the reference backend is registered")
	}
	ref, _ := losses(t, check(t, small), Options{Quiet: true, MaxEpochs: 1, Device: "reference"})
	got, _ := losses(t, check(t, small), Options{Quiet: true, MaxEpochs: 1})
	if len(ref) != len(got) {
		t.Fatalf("%d and %d steps", len(ref), len(got))
	}
	for i := range ref {
		if d := math.Abs(float64(ref[i] - got[i])); d > 1e-3*math.Max(1, math.Abs(float64(ref[i]))) {
			t.Fatalf("step %d: loss %v on the reference, %v on the default backend", i+1, ref[i], got[i])
		}
	}
}

func TestEvalPredict(t *testing.T) {
	p := check(t, small)
	tr := p.Trains[0]
	res, err := Run(context.Background(), p, tr, Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(tr.Dir, tr.Save)
	ev, err := Eval(p, tr, ckpt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Split != "test" || ev.N != 360 {
		t.Errorf("evaluated %d samples of %s, want 360 of test", ev.N, ev.Split)
	}
	for k, v := range res.Final {
		if ev.Metrics[k] != v {
			t.Errorf("eval %s = %v, the run reported %v", k, ev.Metrics[k], v)
		}
	}

	// Predict on raw (unscaled) digits: the checkpoint's preprocessing
	// applies.
	d, err := data.Builtin("digits")
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(tr.Dir, "in.csv")
	var b strings.Builder
	for j := 0; j < 64; j++ {
		fmt.Fprintf(&b, "px%d,", j)
	}
	b.WriteString("label\n")
	const rows = 300
	img, lab := d.Field("image"), d.Field("label")
	for i := 0; i < rows; i++ {
		for j := 0; j < 64; j++ {
			fmt.Fprintf(&b, "%g,", img.F32[i*64+j])
		}
		fmt.Fprintf(&b, "%d\n", lab.I32[i])
	}
	os.WriteFile(in, []byte(b.String()), 0o644)
	outPath := filepath.Join(tr.Dir, "preds.csv")
	pr, err := Predict(p, "t", ckpt, in, outPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Rows != rows || pr.Classes != 10 || pr.Accuracy < 0.7 {
		t.Errorf("predict: %+v", pr)
	}
	f, _ := os.Open(outPath)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != rows+1 || strings.Join(recs[0][:3], ",") != "row,pred,p0" || len(recs[0]) != 12 {
		t.Fatalf("output: %d records, header %v", len(recs), recs[0])
	}
	sum := 0.0
	for _, s := range recs[1][2:] {
		v, _ := strconv.ParseFloat(s, 64)
		sum += v
	}
	if math.Abs(sum-1) > 1e-4 {
		t.Errorf("probabilities of row 0 sum to %v", sum)
	}
	// Predict packs each weight once (the frozen-weights CPU backend):
	// the same bytes as the backend that packs them at every batch.
	if frozen["cpu"] == nil {
		t.Fatal("no frozen-weights variant of the cpu backend")
	}
	want, _ := os.ReadFile(outPath)
	saved := frozen["cpu"]
	delete(frozen, "cpu")
	unfrozen := filepath.Join(tr.Dir, "preds-unfrozen.csv")
	_, err = Predict(p, "t", ckpt, in, unfrozen, Options{})
	frozen["cpu"] = saved
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(unfrozen); string(got) != string(want) {
		t.Error("predict with weights packed once differs from packing them per batch")
	}
	// A model name works too; a bad name lists what there is.
	if _, err := Predict(p, "Net", ckpt, in, outPath, Options{}); err != nil {
		t.Error(err)
	}
	if _, err := Predict(p, "Nope", ckpt, in, outPath, Options{}); err == nil || !strings.Contains(err.Error(), "have: t, Net") {
		t.Errorf("unknown target: %v", err)
	}
}

func TestRandomForward(t *testing.T) {
	p := check(t, example(t, "seed_encoder.enc"))
	in, err := Instance(p, "Encoder")
	if err != nil {
		t.Fatal(err)
	}
	a, err := RandomForward(p, in, 32, 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RandomForward(p, in, 32, 1, Options{Device: "reference"})
	c, _ := RandomForward(p, in, 32, 2, Options{})
	if len(a) != 1 || a[0].Name != "out" || fmt.Sprint(a[0].Shape) != "[32 50]" {
		t.Fatalf("outputs %v", a)
	}
	for i := range a[0].Data {
		if math.Abs(float64(a[0].Data[i]-b[0].Data[i])) > 1e-4 {
			t.Fatalf("element %d: %v on the default backend, %v on the reference", i, a[0].Data[i], b[0].Data[i])
		}
	}
	if sameBits(a[0].Data, c[0].Data) {
		t.Error("another seed gave the same output")
	}
	var buf bytes.Buffer
	a[0].Format(&buf, 3)
	s := buf.String()
	if !strings.HasPrefix(s, "out: f32[32, 50]\n [") || strings.Count(s, "\n") != 8 || !strings.Contains(s, " ...,") {
		t.Errorf("format:\n%s", s)
	}
}
