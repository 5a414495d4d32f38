package train

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/runtime/data"
)

// textProgram trains a tiny transformer on a JSON-lines corpus where the
// class is told by a word, and pre-trains one with mlm first.
const textProgram = `
dataset reviews {
    source = jsonl("reviews.jsonl", labels: { "pos*": "good", "neg*": "bad" })
    tokens = words(vocab: 40, max_len: 8)
    split  = { train: 0.75, test: 0.25 }
    seed   = 3
}

train pretrain {
    model     = MaskedLM(vocab: 40, max_len: 8, d: 16, layers: 1, heads: 2, ffn: 32)
    data      = reviews
    loss      = mlm(model, ids, mask)
    optimizer = AdamW(lr: 1e-2)
    batch     = 16
    epochs    = 1
    save      = "runs/mlm.safetensors"
}

train classify {
    model     = TextClassifier(vocab: 40, max_len: 8, classes: 2, d: 16, layers: 1, heads: 2, ffn: 32, dropout: 0.0)
    data      = reviews
    init      = from(pretrain, only: "encoder.*")
    loss      = cross_entropy(model(ids, mask), label)
    optimizer = AdamW(lr: 1e-2)
    batch     = 16
    metrics   = [accuracy]
    save      = "runs/text.safetensors"

    phase head (epochs: 1) {
        freeze encoder
    }
    phase full (epochs: 7) {
        unfreeze encoder
        lr_scale encoder = 0.1
    }
}
`

func writeReviews(t *testing.T, dir string) {
	t.Helper()
	var b strings.Builder
	for i := range 160 {
		label, word := "positive", "great"
		if i%2 == 1 {
			label, word = "negative", "awful"
		}
		// Texts of different lengths, so that the mask has padding.
		fmt.Fprintf(&b, "{\"text\": \"the film %d was %s%s\", \"label\": %q}\n", i%7, word, strings.Repeat(" indeed", i%4), label)
	}
	if err := os.WriteFile(filepath.Join(dir, "reviews.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTextTrainPredict trains on text (masked-token pre-training, then a
// frozen-then-unfrozen fine-tune), checks the vocabulary saved next to
// the checkpoint and predicts raw texts with it.
func TestTextTrainPredict(t *testing.T) {
	dir := t.TempDir()
	writeReviews(t, dir)
	p := checkIn(t, dir, textProgram)
	res, err := Run(context.Background(), p, p.Train("classify"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("text: %d epochs, accuracy %.3f", res.Epochs, res.Final["accuracy"])
	if acc := res.Final["accuracy"]; acc < 0.9 {
		t.Errorf("text accuracy %.3f, want >= 0.9", acc)
	}
	for _, f := range []string{"runs/mlm.safetensors", "runs/mlm.vocab.json", "runs/text.safetensors", "runs/text.vocab.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	v, err := data.LoadVocab(filepath.Join(dir, "runs/text.vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(v.Labels, ","); got != "bad,good" {
		t.Errorf("classes %s, want bad,good", got)
	}
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(`{"text": "the film 2 was great", "label": "good"}
{"text": "the film 5 was awful indeed", "label": "bad"}
{"text": "awful", "label": "bad"}
`), 0o644)
	out := filepath.Join(dir, "preds.csv")
	pr, err := Predict(p, "classify", filepath.Join(dir, "runs/text.safetensors"), in, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Rows != 3 || pr.Classes != 2 || math.IsNaN(pr.Accuracy) {
		t.Errorf("predict: %+v", pr)
	}
	b, _ := os.ReadFile(out)
	if !strings.HasPrefix(string(b), "row,pred,class,p_bad,p_good\n0,1,good,") {
		t.Errorf("predictions:\n%s", b)
	}
	// One text per line.
	txt := filepath.Join(dir, "in.txt")
	os.WriteFile(txt, []byte("great\n\nawful film\n"), 0o644)
	if pr, err := Predict(p, "classify", filepath.Join(dir, "runs/text.safetensors"), txt, out, Options{}); err != nil || pr.Rows != 2 || !math.IsNaN(pr.Accuracy) {
		t.Errorf("predict text lines: %+v, %v", pr, err)
	}
	// Eval reads and encodes the data as training did.
	ev, err := Eval(p, p.Train("classify"), filepath.Join(dir, "runs/text.safetensors"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Metrics["accuracy"] != res.Final["accuracy"] {
		t.Errorf("eval accuracy %v, run's %v", ev.Metrics["accuracy"], res.Final["accuracy"])
	}
}

// TestSyntheticSource trains on synthetic ids and a mask for one epoch,
// on the CPU backend and the reference evaluator alike.
func TestSyntheticSource(t *testing.T) {
	p := check(t, `
dataset s {
    source = synthetic(shape: [6], classes: 3, n: 40, vocab: 30)
    split  = { train: 0.5, test: 0.5 }
    seed   = 2
}

train t {
    model     = TextClassifier(vocab: 30, max_len: 6, classes: 3, d: 8, layers: 1, heads: 2, ffn: 16, dropout: 0.0)
    data      = s
    loss      = cross_entropy(model(ids, mask), label)
    optimizer = Adam(lr: 1e-3)
    batch     = 8
    epochs    = 1
    metrics   = [accuracy]
}
`)
	var losses [2][]float32
	for i, dev := range []string{"cpu", "reference"} {
		opts := quiet()
		opts.Device = dev
		opts.OnStep = func(s StepInfo) { losses[i] = append(losses[i], s.Loss) }
		if _, err := Run(context.Background(), p, p.Trains[0], opts); err != nil {
			t.Fatalf("%s: %v", dev, err)
		}
	}
	if len(losses[0]) != 3 || len(losses[1]) != 3 {
		t.Fatalf("steps: %d and %d, want 3", len(losses[0]), len(losses[1]))
	}
	for i := range losses[0] {
		if d := math.Abs(float64(losses[0][i] - losses[1][i])); d > 1e-4 {
			t.Errorf("step %d: cpu loss %v, reference %v", i+1, losses[0][i], losses[1][i])
		}
	}
}
