package train

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/data"
	"github.com/encc-lang/encc/runtime/safetensors"
)

// check writes src as m.enc in a fresh directory (checkpoints go under
// it) and checks it.
func check(t *testing.T, src string) *compiler.Program {
	t.Helper()
	return checkIn(t, t.TempDir(), src)
}

func checkIn(t *testing.T, dir, src string) *compiler.Program {
	t.Helper()
	path := filepath.Join(dir, "m.enc")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, diags := compiler.CheckFile(path, nil)
	if diags.HasErrors() {
		t.Fatalf("%s", diags)
	}
	return p
}

func example(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// small is a quick program: a narrow MLP with dropout, two phases (the
// second with its own cosine schedule and an lr_scale) and a checkpoint.
const small = `
model Net {
    fc1  = Linear(64, 24)
    drop = Dropout(0.2)
    head = Linear(24, 10)

    forward(x: f32[B, 64]) -> f32[B, 10] {
        return x |> fc1 |> relu |> drop |> head
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
    metrics   = [accuracy, top_k(k: 3), f1]
    seed      = 11
    save      = "runs/t.safetensors"

    phase a (epochs: 2) {
        freeze fc1
    }
    phase b (epochs: 2) {
        unfreeze fc1
        lr = cosine(to: 1e-4, warmup_steps: 5)
        lr_scale fc1 = 0.5
    }
}
`

func quiet() Options { return Options{Quiet: true} }

func losses(t *testing.T, p *compiler.Program, opts Options) ([]float32, *Result) {
	t.Helper()
	var ls []float32
	opts.OnStep = func(s StepInfo) { ls = append(ls, s.Loss) }
	res, err := Run(context.Background(), p, p.Trains[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	return ls, res
}

func TestSameSeedSameLosses(t *testing.T) {
	a, ra := losses(t, check(t, small), Options{Quiet: true, MaxEpochs: 3})
	b, _ := losses(t, check(t, small), Options{Quiet: true, MaxEpochs: 3})
	c, _ := losses(t, check(t, strings.Replace(small, "seed      = 11", "seed      = 12", 1)), Options{Quiet: true, MaxEpochs: 3})
	if len(a) != 3*29 || !sameBits(a, b) {
		t.Fatalf("same seed: %d and %d losses, or they differ", len(a), len(b))
	}
	if sameBits(a, c) {
		t.Error("another seed gave the same losses")
	}
	if ra.Final["accuracy"] < 0.5 {
		t.Errorf("accuracy after 3 epochs %v, want >= 0.5", ra.Final["accuracy"])
	}
	for _, k := range []string{"loss", "accuracy", "top3", "f1"} {
		if _, ok := ra.Final[k]; !ok {
			t.Errorf("no metric %s in %v", k, ra.Final)
		}
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestResumeBitExact: 2 epochs, then resume 2 more, gives the same
// checkpoint (weights, Adam state, metadata), byte for byte, as 4 epochs
// straight; the run crosses a phase boundary with its own schedule.
func TestResumeBitExact(t *testing.T) {
	straight := check(t, small)
	ls4, _ := losses(t, straight, quiet())
	want := readBytes(t, filepath.Join(straight.Trains[0].Dir, "runs/t.safetensors"))

	p := check(t, small)
	ls2, r2 := losses(t, p, Options{Quiet: true, MaxEpochs: 2})
	if r2.Epochs != 2 {
		t.Fatalf("ran %d epochs, want 2", r2.Epochs)
	}
	var out bytes.Buffer
	ls22, r := losses(t, p, Options{Out: &out, Resume: true})
	if r.Epochs != 4 || len(r.History) != 2 {
		t.Fatalf("resumed run: %d epochs, %d reported", r.Epochs, len(r.History))
	}
	if !strings.Contains(out.String(), "resuming from") {
		t.Errorf("no resume note in %q", out.String())
	}
	got := readBytes(t, filepath.Join(p.Trains[0].Dir, "runs/t.safetensors"))
	if !bytes.Equal(got, want) {
		t.Error("2 epochs + resume 2: checkpoint differs from 4 epochs straight")
	}
	if !sameBits(append(ls2, ls22...), ls4) {
		t.Error("2 epochs + resume 2: losses differ from 4 epochs straight")
	}
}

// TestInterruptResume: cancelling mid-epoch saves the exact position;
// resuming finishes with the straight run's checkpoint.
func TestInterruptResume(t *testing.T) {
	straight := check(t, small)
	losses(t, straight, quiet())
	want := readBytes(t, filepath.Join(straight.Trains[0].Dir, "runs/t.safetensors"))

	p := check(t, small)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := quiet()
	opts.OnStep = func(s StepInfo) {
		if s.Epoch == 2 && s.Batch == 4 {
			cancel()
		}
	}
	_, err := Run(ctx, p, p.Trains[0], opts)
	var ie *InterruptedError
	if !errors.As(err, &ie) || !errors.Is(err, ErrInterrupted) {
		t.Fatalf("got %v, want an InterruptedError", err)
	}
	if ie.Epoch != 2 || ie.Batch != 5 || ie.Step != 2*29+5 {
		t.Errorf("stopped at epoch %d batch %d step %d, want 2, 5, 63", ie.Epoch, ie.Batch, ie.Step)
	}
	c, err := LoadCheckpoint(ie.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if c.Meta.Epoch != 2 || c.Meta.Batch != 5 || c.Meta.Phase != "b" || c.Meta.LossN != 250 {
		t.Errorf("checkpoint position %+v", c.Meta)
	}
	if _, err := Run(context.Background(), p, p.Trains[0], Options{Quiet: true, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if got := readBytes(t, ie.Checkpoint); !bytes.Equal(got, want) {
		t.Error("interrupted + resumed: checkpoint differs from the straight run")
	}
}

func TestFinetuneFrozenThenTrained(t *testing.T) {
	dir := t.TempDir()
	p := checkIn(t, dir, example(t, "digits_finetune.enc"))
	ft := p.Train("finetune")
	var enc [][]float32 // encoder.fc1.weight after each finetune epoch
	var head [][]float32
	var out bytes.Buffer
	opts := Options{Out: &out, MaxEpochs: 4}
	opts.OnEpoch = func(st EpochStats, w map[string][]float32) {
		if st.Train == "finetune" {
			enc = append(enc, append([]float32(nil), w["encoder.fc1.weight"]...))
			head = append(head, append([]float32(nil), w["head.weight"]...))
		}
	}
	if _, err := Run(context.Background(), p, ft, opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "running pretrain first") {
		t.Errorf("pretrain did not run first:\n%s", out.String())
	}
	ae, err := LoadCheckpoint(filepath.Join(dir, "runs/ae.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if ae.Meta.Epoch != 4 || ae.Meta.Train != "pretrain" {
		t.Errorf("pretrain checkpoint at epoch %d of %s", ae.Meta.Epoch, ae.Meta.Train)
	}
	if len(enc) != 4 {
		t.Fatalf("%d finetune epochs, want 4", len(enc))
	}
	for e := 0; e < 3; e++ {
		if !sameBits(enc[e], ae.Weights["encoder.fc1.weight"]) {
			t.Errorf("phase head, epoch %d: the frozen encoder changed", e+1)
		}
	}
	if sameBits(head[0], head[1]) {
		t.Error("phase head: the head did not train")
	}
	if sameBits(enc[3], enc[2]) {
		t.Error("phase full: the encoder did not train")
	}

	// A checkpoint older than the program is stale: pretrain runs again.
	ckpt := filepath.Join(dir, "runs/ae.safetensors")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(ckpt, old, old); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	opts.OnEpoch, opts.MaxEpochs = nil, 1
	if _, err := Run(context.Background(), p, ft, opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "older than the program; running pretrain again") {
		t.Errorf("a stale checkpoint did not re-run pretrain:\n%s", out.String())
	}
	if fi, _ := os.Stat(ckpt); !fi.ModTime().After(old) {
		t.Error("the stale checkpoint was not rewritten")
	}
	// A current one is used as it is.
	out.Reset()
	if _, err := Run(context.Background(), p, ft, opts); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"train":"pretrain"`) {
		t.Errorf("pretrain ran again with a current checkpoint:\n%s", out.String())
	}
}

const loadProgram = `
model Net {
    fc   = Linear(64, 16)
    q    = Linear(16, 16, bias: false)
    k    = Linear(16, 16, bias: false)
    head = Linear(16, 10)

    forward(x: f32[B, 64]) -> f32[B, 10] {
        h = relu(fc(x))
        return head(relu(q(h) + k(h)))
    }
}

dataset digits {
    source = builtin("digits")
    scale  = 1.0 / 16.0
    split  = { train: 0.8, test: 0.2 }
}

train t {
    model     = Net()
    data      = digits
    init      = load("w.safetensors", rename: {"bert.": ""}, split: {"in_proj": ["q.weight", "k.weight"]})
    loss      = cross_entropy(model(image), label)
    batch     = 64
    epochs    = 1
}
`

func f32s(n int, base float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = base + float32(i)/1000
	}
	return v
}

func TestLoadRenameSplit(t *testing.T) {
	p := check(t, loadProgram)
	tr := p.Trains[0]
	file := filepath.Join(tr.Dir, "w.safetensors")
	inProj := f32s(32*16, 1)
	err := safetensors.Write(file, []*safetensors.Tensor{
		safetensors.FromFloat32("bert.fc.weight", []int{16, 64}, f32s(16*64, 0)),
		safetensors.FromFloat32("bert.fc.bias", []int{16}, f32s(16, 0)),
		safetensors.FromFloat32("bert.in_proj", []int{32, 16}, inProj),
		safetensors.FromFloat32("bert.head.weight", []int{10, 16}, f32s(160, 0)),
		safetensors.FromFloat32("bert.head.bias", []int{10}, f32s(10, 0)),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(file)
	if err != nil {
		t.Fatal(err)
	}
	w, err := FitWeights(c, tr.Params, LoadSpecOf(tr.Init), file, "Net")
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(w["q.weight"], inProj[:256]) || !sameBits(w["k.weight"], inProj[256:]) {
		t.Error("split: q.weight and k.weight are not the halves of in_proj")
	}
	if len(w) != 6 {
		t.Errorf("loaded %d tensors, want 6", len(w))
	}
	if _, err := Run(context.Background(), p, tr, quiet()); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointDoesNotFit(t *testing.T) {
	p := check(t, strings.Replace(loadProgram, `, rename: {"bert.": ""}, split: {"in_proj": ["q.weight", "k.weight"]}`, "", 1))
	tr := p.Trains[0]
	file := filepath.Join(tr.Dir, "w.safetensors")
	err := safetensors.Write(file, []*safetensors.Tensor{
		safetensors.FromFloat32("fc.weight", []int{16, 64}, f32s(16*64, 0)),
		safetensors.FromFloat32("fc.bias", []int{16}, f32s(16, 0)),
		safetensors.FromFloat32("q.weight", []int{16, 16}, f32s(256, 0)),
		safetensors.FromFloat32("k.weight", []int{16, 8}, f32s(128, 0)), // mis-shaped
		safetensors.FromFloat32("head.weight", []int{10, 16}, f32s(160, 0)),
		// head.bias missing
		safetensors.FromFloat32("extra.weight", []int{3}, f32s(3, 0)), // unexpected
		safetensors.FromInt64("fc.num_batches", []int{}, []int64{1}),  // unexpected, not float
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	opts := quiet()
	opts.OnStep = func(StepInfo) { steps++ }
	_, err = Run(context.Background(), p, tr, opts)
	var fe *FitError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a FitError", err)
	}
	if steps != 0 {
		t.Errorf("%d steps trained before the error", steps)
	}
	msg := err.Error()
	for _, want := range []string{
		"w.safetensors does not fit Net",
		"missing (1): head.bias [10]",
		"unexpected (2): extra.weight [3], fc.num_batches []",
		"mis-shaped (1): k.weight: [16, 8] in the file, [16, 16] in the model",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestBadCheckpointFiles(t *testing.T) {
	p := check(t, small)
	tr := p.Trains[0]
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, MaxEpochs: 1}); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(tr.Dir, "runs/t.safetensors")
	good := readBytes(t, ckpt)

	// Truncated.
	if err := os.WriteFile(ckpt, good[:len(good)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), p, tr, Options{Quiet: true, Resume: true})
	if err == nil || !strings.Contains(err.Error(), ckpt) || !errors.Is(err, safetensors.ErrFormat) {
		t.Errorf("truncated checkpoint: %v", err)
	}
	if _, err := Eval(p, tr, ckpt, Options{}); err == nil || !strings.Contains(err.Error(), ckpt) {
		t.Errorf("eval of a truncated checkpoint: %v", err)
	}
	// Garbage.
	os.WriteFile(ckpt, []byte("not a checkpoint at all"), 0o644)
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, Resume: true}); err == nil || !strings.Contains(err.Error(), "cannot read checkpoint") {
		t.Errorf("garbage checkpoint: %v", err)
	}
	// Corrupt metadata.
	c, _ := safetensors.Parse(good)
	c.Metadata["step"] = "many"
	if err := safetensors.Write(ckpt, c.Tensors, c.Metadata); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, Resume: true}); err == nil || !strings.Contains(err.Error(), `corrupt checkpoint: metadata step = "many"`) {
		t.Errorf("corrupt metadata: %v", err)
	}
	// Another program's checkpoint.
	c.Metadata["step"] = "29"
	c.Metadata["source_sha256"] = strings.Repeat("0", 64)
	safetensors.Write(ckpt, c.Tensors, c.Metadata)
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, Resume: true}); err == nil || !strings.Contains(err.Error(), "another version") {
		t.Errorf("checkpoint of another source: %v", err)
	}
}

func TestNonFiniteStops(t *testing.T) {
	src := strings.Replace(small, "Adam(lr: 3e-3)", "SGD(lr: 1e30)", 1)
	p := check(t, src)
	_, err := Run(context.Background(), p, p.Trains[0], quiet())
	var nf *NonFiniteError
	if !errors.As(err, &nf) {
		t.Fatalf("got %v, want a NonFiniteError", err)
	}
	if nf.Step < 1 || nf.Tensor == "" || !strings.Contains(err.Error(), "step") {
		t.Errorf("error %v does not name the step and the tensor", err)
	}
	t.Log(err)
}

func TestJSONLines(t *testing.T) {
	p := check(t, small)
	var out bytes.Buffer
	if _, err := Run(context.Background(), p, p.Trains[0], Options{Out: &out, MaxEpochs: 1}); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(out.String())
	for _, want := range []string{`{"train":"t","phase":"a","epoch":1,"epochs":4,"step":29,"loss":`, `"test_loss":`, `"accuracy":`, `"f1":`, `"top3":`, `"samples_per_sec":`, `"seconds":`} {
		if !strings.Contains(line, want) {
			t.Errorf("JSON line lacks %s: %s", want, line)
		}
	}
	if strings.Count(line, "\n") != 0 {
		t.Errorf("want one line, got %q", line)
	}
}

// TestWrongRenameSplit: a split into the wrong names, or a rename that
// misses, is the fit report before any step, not a crash.
func TestWrongRenameSplit(t *testing.T) {
	for _, tc := range []struct {
		name, init string
		fit        bool // the error is the FitError report
		want       []string
	}{
		{"split names", `, rename: {"bert.": ""}, split: {"in_proj": ["q.weight", "v.weight"]}`, true,
			[]string{"missing (1): k.weight [16, 16]", "unexpected (1): v.weight [16, 16]"}},
		{"rename", `, rename: {"bart.": ""}`, true,
			[]string{"missing (6)", "unexpected (5): bert.fc.bias"}},
		{"split under a wrong rename", `, rename: {"bart.": ""}, split: {"in_proj": ["q.weight", "k.weight"]}`, true,
			[]string{"missing (6)", "unexpected (6): bert.fc.bias [16], ", "bert.k.weight [16, 16] (part 2 of 2 of bert.in_proj)"}},
		{"split source", `, rename: {"bert.": ""}, split: {"attn.in_proj": ["q.weight", "k.weight"]}`, false,
			[]string{`w.safetensors: mapping the names: split "attn.in_proj" matches no tensor`}},
		{"split parts", `, rename: {"bert.": ""}, split: {"in_proj": ["q.weight", "k.weight", "v.weight"]}`, false,
			[]string{`bert.in_proj [32, 16] cannot be split into 3 equal parts along its first axis (split "in_proj")`}},
		{"collision", `, rename: {"bert.": "", "head.": "fc."}, split: {"in_proj": ["q.weight", "k.weight"]}`, false,
			[]string{"bert.fc.bias and bert.head.bias both map to fc.bias"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := check(t, strings.Replace(loadProgram, `, rename: {"bert.": ""}, split: {"in_proj": ["q.weight", "k.weight"]}`, tc.init, 1))
			tr := p.Trains[0]
			file := filepath.Join(tr.Dir, "w.safetensors")
			err := safetensors.Write(file, []*safetensors.Tensor{
				safetensors.FromFloat32("bert.fc.weight", []int{16, 64}, f32s(16*64, 0)),
				safetensors.FromFloat32("bert.fc.bias", []int{16}, f32s(16, 0)),
				safetensors.FromFloat32("bert.in_proj", []int{32, 16}, f32s(32*16, 1)),
				safetensors.FromFloat32("bert.head.weight", []int{10, 16}, f32s(160, 0)),
				safetensors.FromFloat32("bert.head.bias", []int{10}, f32s(10, 0)),
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			steps := 0
			opts := quiet()
			opts.OnStep = func(StepInfo) { steps++ }
			_, err = Run(context.Background(), p, tr, opts)
			var fe *FitError
			if errors.As(err, &fe) != tc.fit {
				t.Fatalf("got %v: a FitError is the report of missing (and other) tensors, and only that", err)
			}
			if err == nil || steps != 0 {
				t.Errorf("error %v after %d steps, want an error before the first", err, steps)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestParallelBatchesSameLosses: batches copied over the worker pool train
// exactly as batches copied serially, and the run reports where its time
// went.
func TestParallelBatchesSameLosses(t *testing.T) {
	if batchCopier("cpu", 0, &data.Dataset{}) == nil {
		t.Log("one core: both runs copy serially")
	}
	batchPiece = 1 // every batch in as many pieces as the pool has workers
	defer func() { batchPiece = 16 << 10 }()
	par, res := losses(t, check(t, small), Options{Quiet: true, MaxEpochs: 2})
	serialBatches = true
	defer func() { serialBatches = false }()
	ser, _ := losses(t, check(t, small), Options{Quiet: true, MaxEpochs: 2})
	if len(par) != 2*29 || !sameBits(par, ser) {
		t.Fatalf("%d losses with parallel batches, %d serial, or they differ", len(par), len(ser))
	}
	tm := res.Times
	if tm.Load <= 0 || tm.Steps <= 0 || tm.Eval <= 0 || tm.Compile <= 0 || tm.Other < 0 {
		t.Errorf("times %+v: a phase that ran is not counted", tm)
	}
	if sum := tm.Load + tm.Compile + tm.Steps + tm.Eval + tm.Save + tm.Other; sum > res.Seconds*1.0001 || sum < res.Seconds*0.99 {
		t.Errorf("times %+v add up to %v, the run took %v", tm, sum, res.Seconds)
	}
}
