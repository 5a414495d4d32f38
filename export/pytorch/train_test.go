package pytorch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/train"
)

const (
	lossTol   = 1e-4 // per step, relative
	weightTol = 1e-3 // per tensor: max |diff| / max |encc|
)

// A trainCase is a train run for a few steps by encc and by train.py
// from the same initial weights, in the same batch order, without
// dropout.
type trainCase struct {
	name  string
	file  string      // .enc file, relative to the package
	train string      // the train to run
	edits [][2]string // source rewrites: no dropout, shorter runs
	steps int
	// frozen: parameters (by prefix) that train.py must leave bit-equal
	// to their start through the first frozenSteps steps.
	frozen      string
	frozenSteps int
	// files: data files beside the .enc file (relative to the package).
	files []string
}

var trainCases = []trainCase{
	{name: "digits_mlp", file: "../../examples/digits_mlp.enc", train: "classify", steps: 20,
		edits: [][2]string{{"p: float = 0.1", "p: float = 0.0"}}},
	{name: "digits_cnn", file: "../../examples/digits_cnn.enc", train: "cnn", steps: 20,
		edits: [][2]string{{"metrics   = [accuracy]", "metrics   = [accuracy]\n    save      = \"runs/cnn.safetensors\""}}},
	// Both phases within 20 steps: 12 batches of 128 in the one head
	// epoch (encoder frozen), then the full phase with its cosine rate
	// and lr_scale; the pretrain runs for one epoch, by encc.
	{name: "digits_finetune", file: "../../examples/digits_finetune.enc", train: "finetune", steps: 20,
		edits: [][2]string{
			{"epochs    = 15\n    save      = \"runs/ae.safetensors\"", "epochs    = 1\n    save      = \"runs/ae.safetensors\""},
			{"batch     = 32\n    metrics   = [accuracy]\n    save      = \"runs/classifier", "batch     = 128\n    metrics   = [accuracy]\n    save      = \"runs/classifier"},
			{"phase head (epochs: 3)", "phase head (epochs: 1)"},
		},
		frozen: "encoder.", frozenSteps: 12},
	{name: "text_classifier", file: "testdata/text_classifier.enc", train: "text", steps: 20},
	// LSTM (2 layers, bidirectional) and GRU on a padding mask: model.py's
	// packed sequences against encc's unrolled, masked steps.
	{name: "recurrent", file: "testdata/recurrent.enc", train: "recurrent", steps: 20,
		files: []string{"testdata/recurrent.jsonl"}},
}

// stepLoss is one line of train.py --log-steps.
type stepLoss struct {
	Step  int
	Phase string
	Loss  float64
	LR    float64
}

// copyEdited writes the case's .enc file with its edits into dir.
func copyEdited(t *testing.T, c trainCase, dir string) string {
	src, err := os.ReadFile(c.file)
	must(t, err)
	s := string(src)
	for _, e := range c.edits {
		if !strings.Contains(s, e[0]) {
			t.Fatalf("%s: edit %q does not apply", c.name, e[0])
		}
		s = strings.Replace(s, e[0], e[1], 1)
	}
	f := filepath.Join(dir, filepath.Base(c.file))
	must(t, os.WriteFile(f, []byte(s), 0o644))
	for _, name := range c.files {
		b, err := os.ReadFile(name)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, filepath.Base(name)), b, 0o644))
	}
	return f
}

// enccSteps runs the train with encc for steps steps and returns the
// loss of every step and the weights after the last.
func enccSteps(t *testing.T, p *compiler.Program, tr *compiler.Train, steps int) ([]float64, map[string][]float32) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var losses []float64
	_, err := train.Run(ctx, p, tr, train.Options{Quiet: true, Threads: 1, OnStep: func(s train.StepInfo) {
		if s.Train != tr.Name {
			return
		}
		losses = append(losses, float64(s.Loss))
		if s.Step >= steps {
			cancel()
		}
	}})
	var ie *train.InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("encc run: %v (want an interruption at step %d)", err, steps)
	}
	c, err := train.LoadCheckpoint(ie.Checkpoint)
	must(t, err)
	return losses, c.Weights
}

// pyTrain runs train.py in dir with args and returns its step losses.
func pyTrain(t *testing.T, py, dir string, env []string, args ...string) []stepLoss {
	t.Helper()
	log := filepath.Join(t.TempDir(), "steps.jsonl")
	cmd := exec.Command(py, append([]string{"train.py", "--device", "cpu", "--threads", "1", "--log-steps", log}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("train.py %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return readSteps(t, log)
}

func readSteps(t *testing.T, file string) []stepLoss {
	f, err := os.Open(file)
	must(t, err)
	defer f.Close()
	var out []stepLoss
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s stepLoss
		must(t, json.Unmarshal(sc.Bytes(), &s))
		out = append(out, s)
	}
	return out
}

func relErr(got, want []float32) float64 {
	scale, worst := 0.0, 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	if scale == 0 {
		scale = 1
	}
	for i := range want {
		d := math.Abs(float64(got[i])-float64(want[i])) / scale
		if d > worst || math.IsNaN(d) {
			worst = d
			if math.IsNaN(d) {
				return math.Inf(1)
			}
		}
	}
	return worst
}

// TestTrainingParity runs 20 steps of train.py and of encc from the same
// weights in the same batch order: the losses agree within 1e-4 relative
// per step and the final weights within 1e-3 per tensor; parameters a
// phase freezes stay bit-equal.
func TestTrainingParity(t *testing.T) {
	t.Parallel() // each runs python3 processes; let them overlap
	py := python(t)
	for _, c := range trainCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := copyEdited(t, c, dir)
			p, diags := compiler.CheckFile(f, nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			tr := p.Train(c.train)
			out := filepath.Join(dir, "torch")
			must(t, Export(p, Options{Name: c.train, Out: out, Version: "test"}))
			wantLoss, wantW := enccSteps(t, p, tr, c.steps)
			if tr.From != nil {
				// encc ran the other train first; train.py starts from the
				// same checkpoint rather than from its own run of it.
				b, err := os.ReadFile(filepath.Join(dir, tr.From.Save))
				must(t, err)
				must(t, os.MkdirAll(filepath.Join(out, filepath.Dir(tr.From.Save)), 0o755))
				must(t, os.WriteFile(filepath.Join(out, tr.From.Save), b, 0o644))
			}
			if c.frozen != "" {
				start := weightsAt(t, py, out, c.frozenSteps, "frozen")
				init, err := train.LoadCheckpoint(filepath.Join(out, tr.From.Save))
				must(t, err)
				n := 0
				for path, w := range start {
					if !strings.HasPrefix(path, c.frozen) {
						continue
					}
					n++
					for i := range w {
						if math.Float32bits(w[i]) != math.Float32bits(init.Weights[path][i]) {
							t.Errorf("%s[%d] changed while frozen: %v, was %v", path, i, w[i], init.Weights[path][i])
							break
						}
					}
				}
				if n == 0 {
					t.Errorf("no parameter under %s", c.frozen)
				}
				t.Logf("%d frozen tensors under %s bit-equal after %d steps", n, c.frozen, c.frozenSteps)
			}
			save := filepath.Join(t.TempDir(), "final.safetensors")
			got := pyTrain(t, py, out, nil, "--max-steps", fmt.Sprint(c.steps), "--save", save)
			if len(got) != c.steps || len(wantLoss) != c.steps {
				t.Fatalf("steps: train.py %d, encc %d, want %d", len(got), len(wantLoss), c.steps)
			}
			worst, phases := 0.0, map[string]bool{}
			for i, s := range got {
				phases[s.Phase] = true
				e := math.Abs(s.Loss-wantLoss[i]) / math.Abs(wantLoss[i])
				worst = math.Max(worst, e)
				if !(e <= lossTol) {
					t.Errorf("step %d: loss %.7g, encc %.7g (rel %.2g)", i+1, s.Loss, wantLoss[i], e)
				}
			}
			ck, err := train.LoadCheckpoint(save)
			must(t, err)
			worstW, at, second := 0.0, "", 0.0
			var paths []string
			for path := range wantW {
				paths = append(paths, path)
			}
			sort.Strings(paths)
			for _, path := range paths {
				e := relErr(ck.Weights[path], wantW[path])
				if e > worstW {
					second = worstW
					worstW, at = e, path
				} else if e > second {
					second = e
				}
				if !(e <= weightTol) {
					t.Errorf("%s after %d steps: rel err %.3g", path, c.steps, e)
				} else if e > 1e-5 {
					t.Logf("%s: rel err %.2e", path, e)
				}
			}
			t.Logf("%s: %d steps (phases %v): loss max rel err %.2e (first %.6f, last %.6f); weights max rel err %.2e (%s; next %.2e)",
				c.name, c.steps, keys(phases), worst, wantLoss[0], wantLoss[len(wantLoss)-1], worstW, at, second)
		})
	}
}

// weightsAt runs train.py for steps steps and returns its weights.
func weightsAt(t *testing.T, py, dir string, steps int, tag string) map[string][]float32 {
	save := filepath.Join(t.TempDir(), tag+".safetensors")
	pyTrain(t, py, dir, nil, "--max-steps", fmt.Sprint(steps), "--save", save)
	c, err := train.LoadCheckpoint(save)
	must(t, err)
	return c.Weights
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestResumeInEncc stops train.py in the middle of an epoch and lets
// encc run --resume finish the train from its checkpoint: the weights
// end within 1e-3 of a run done by encc alone.
func TestResumeInEncc(t *testing.T) {
	t.Parallel() // each runs python3 processes; let them overlap
	py := python(t)
	dir := t.TempDir()
	c := trainCase{name: "digits_mlp", file: "../../examples/digits_mlp.enc", train: "classify",
		edits: [][2]string{{"p: float = 0.1", "p: float = 0.0"}, {"epochs    = 30", "epochs    = 2"}}}
	f := copyEdited(t, c, dir)
	p, diags := compiler.CheckFile(f, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	tr := p.Train(c.train)
	out := filepath.Join(dir, "torch")
	must(t, Export(p, Options{Name: c.train, Out: out, Version: "test"}))
	straight, err := train.Run(t.Context(), p, tr, train.Options{Quiet: true, Threads: 1})
	must(t, err)
	ckpt := filepath.Join(dir, tr.Save)
	pyTrain(t, py, out, nil, "--max-steps", "60", "--save", ckpt)
	resumed, err := train.Run(t.Context(), p, tr, train.Options{Quiet: true, Threads: 1, Resume: true})
	must(t, err)
	if resumed.Steps != straight.Steps || len(resumed.History) != 1 {
		t.Fatalf("resumed run: %d steps, %d epochs run; want %d steps, 1 epoch", resumed.Steps, len(resumed.History), straight.Steps)
	}
	worst := 0.0
	for path, w := range straight.Weights {
		e := relErr(resumed.Weights[path], w)
		worst = math.Max(worst, e)
		if !(e <= weightTol) {
			t.Errorf("%s: rel err %.3g after resuming train.py's checkpoint", path, e)
		}
	}
	t.Logf("train.py 60 steps, encc resumed to %d: weights within %.2e of encc alone; epoch 2 loss %.6f vs %.6f",
		resumed.Steps, worst, resumed.History[0].Loss, straight.History[1].Loss)
}

// TestMLM trains the masked-token loss for an epoch with train.py: its
// test loss and encc eval's on the same checkpoint (each drawing its own
// masks) agree within 2%.
func TestMLM(t *testing.T) {
	t.Parallel() // each runs python3 processes; let them overlap
	py := python(t)
	dir := t.TempDir()
	c := trainCase{name: "mlm", file: "testdata/mlm.enc", train: "pretrain"}
	f := copyEdited(t, c, dir)
	p, diags := compiler.CheckFile(f, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	out := filepath.Join(dir, "torch")
	must(t, Export(p, Options{Name: c.train, Out: out, Version: "test"}))
	ckpt := filepath.Join(dir, "mlm.safetensors")
	cmd := exec.Command(py, "train.py", "--device", "cpu", "--threads", "1", "--save", ckpt)
	cmd.Dir = out
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("train.py: %v\n%s", err, b)
	}
	reps := epochReports(b)
	if len(reps) != 1 {
		t.Fatalf("want one epoch report:\n%s", b)
	}
	torchLoss, _ := reps[0]["test_loss"].(float64)
	res, err := train.Eval(p, p.Train(c.train), ckpt, train.Options{Threads: 1})
	must(t, err)
	e := math.Abs(res.Metrics["loss"]-torchLoss) / res.Metrics["loss"]
	t.Logf("mlm test loss: train.py %.4f, encc eval %.4f (rel %.2e)", torchLoss, res.Metrics["loss"], e)
	if !(e < 0.02) {
		t.Errorf("mlm test loss: train.py %.4f, encc eval %.4f", torchLoss, res.Metrics["loss"])
	}
}

// TestFromRunsFirst runs train.py on a train with init = from(other)
// and no checkpoint of the other: the other train runs first, as in
// encc run, and the final checkpoint evaluates in encc to the accuracy
// train.py printed.
func TestFromRunsFirst(t *testing.T) {
	t.Parallel() // each runs python3 processes; let them overlap
	py := python(t)
	dir := t.TempDir()
	c := trainCase{name: "digits_finetune", file: "../../examples/digits_finetune.enc", train: "finetune",
		edits: [][2]string{
			{"epochs    = 15\n    save      = \"runs/ae.safetensors\"", "epochs    = 1\n    save      = \"runs/ae.safetensors\""},
			{"phase head (epochs: 3)", "phase head (epochs: 1)"},
			{"phase full (epochs: 12)", "phase full (epochs: 1)"},
		}}
	f := copyEdited(t, c, dir)
	p, diags := compiler.CheckFile(f, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	out := filepath.Join(dir, "torch")
	must(t, Export(p, Options{Name: c.train, Out: out, Version: "test"}))
	cmd := exec.Command(py, "train.py", "--device", "cpu", "--threads", "1")
	cmd.Dir = out
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("train.py: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), "finetune: running pretrain first (from)") {
		t.Errorf("pretrain did not run first:\n%s", b)
	}
	reps := epochReports(b)
	if len(reps) != 3 || reps[0]["train"] != "pretrain" || reps[2]["train"] != "finetune" || reps[2]["phase"] != "full" {
		t.Fatalf("want pretrain's epoch, then finetune's head and full:\n%s", b)
	}
	printed, _ := reps[2]["accuracy"].(float64)
	res, err := train.Eval(p, p.Train(c.train), filepath.Join(out, "runs", "classifier.safetensors"), train.Options{Threads: 1})
	must(t, err)
	t.Logf("pretrain then finetune: train.py printed accuracy %.4f, encc eval %.4f", printed, res.Metrics["accuracy"])
	if math.Abs(printed-res.Metrics["accuracy"]) > 1e-9 {
		t.Errorf("encc eval accuracy %.6f, train.py printed %.6f", res.Metrics["accuracy"], printed)
	}
}
