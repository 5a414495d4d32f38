package train

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/encc-lang/encc/runtime/safetensors"
)

// oneEpoch runs one epoch of p's train and returns the checkpoint's path
// and bytes.
func oneEpoch(t *testing.T, src string) (string, []byte) {
	t.Helper()
	p := check(t, src)
	tr := p.Trains[0]
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, MaxEpochs: 1}); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(tr.Dir, "runs/t.safetensors")
	return ckpt, readBytes(t, ckpt)
}

// Tampered metadata is refused on resume, naming the key (issue 17,
// case 11); before, phase "nope" and the other keys were not looked at.
func TestResumeValidatesMetadata(t *testing.T) {
	p := check(t, small)
	tr := p.Trains[0]
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, MaxEpochs: 1}); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(tr.Dir, "runs/t.safetensors")
	good := readBytes(t, ckpt)
	for _, tc := range []struct{ key, value, err string }{
		{"phase", "nope", `metadata phase = "nope", but epoch 2 is in phase "a"`},
		{"phase", "b", `metadata phase = "b", but epoch 2 is in phase "a"`},
		{"epochs", "9", "metadata epochs = 9, but the train declares 4"},
		{"step", "5", "metadata step = 5, but epoch 2 batch 0 is step 29"},
		{"rng", "mt19937", `metadata rng = "mt19937"`},
		{"loss_n", "7", "metadata loss_n = 7, but 0 batches of 50 were trained"},
		{"loss_sum", "7ff8000000000001", "metadata loss_sum = NaN"},
		{"transform", "{", "metadata transform:"},
	} {
		f, err := safetensors.Parse(good)
		if err != nil {
			t.Fatal(err)
		}
		f.Metadata[tc.key] = tc.value
		if err := safetensors.Write(ckpt, f.Tensors, f.Metadata); err != nil {
			t.Fatal(err)
		}
		_, err = Run(context.Background(), p, tr, Options{Quiet: true, Resume: true})
		if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "cannot resume") {
			t.Errorf("%s = %q: got %v, want %q", tc.key, tc.value, err, tc.err)
		}
	}
	// The untouched checkpoint still resumes.
	os.WriteFile(ckpt, good, 0o644)
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, Resume: true, MaxEpochs: 2}); err != nil {
		t.Fatalf("a good checkpoint: %v", err)
	}
}

// NaN or Inf in loaded weights is refused, naming the tensor and the
// count (issue 17, case 7): for eval, predict, init = load and resume.
func TestLoadedWeightsMustBeFinite(t *testing.T) {
	ckpt, good := oneEpoch(t, small)
	f, _ := safetensors.Parse(good)
	for _, ts := range f.Tensors {
		if ts.Name == "head.bias" {
			v, _ := ts.Float32()
			v[1] = float32(math.NaN())
			v[3] = float32(math.Inf(-1))
			v[4] = float32(math.NaN())
			*ts = *safetensors.FromFloat32(ts.Name, ts.Shape, v)
		}
	}
	if err := safetensors.Write(ckpt, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
	want := ckpt + ": tensor head.bias holds 2 NaN and 1 infinite of its 10 elements; these weights cannot be used"
	if _, err := LoadCheckpoint(ckpt); err == nil || err.Error() != want {
		t.Fatalf("LoadCheckpoint: %v\nwant %s", err, want)
	}
	p := check(t, small)
	if _, err := Eval(p, p.Trains[0], ckpt, Options{}); err == nil || !strings.Contains(err.Error(), "head.bias holds 2 NaN") {
		t.Errorf("eval: %v", err)
	}
	// init = load(...) of the file.
	src := strings.Replace(small, `save      = "runs/t.safetensors"`, `save      = "runs/u.safetensors"`+"\n    init      = load(\""+ckpt+"\")", 1)
	p = check(t, src)
	if _, err := Run(context.Background(), p, p.Trains[0], Options{Quiet: true, MaxEpochs: 1}); err == nil || !strings.Contains(err.Error(), "head.bias holds 2 NaN") {
		t.Errorf("init = load: %v", err)
	}
}

// A fresh run keeps the checkpoint it replaces as the previous one, even
// when it then fails (issue 17, case 14); before, the finished
// checkpoint was overwritten after the new run's first epoch.
func TestNewRunKeepsPreviousCheckpoint(t *testing.T) {
	p := check(t, small)
	tr := p.Trains[0]
	ckpt := filepath.Join(tr.Dir, "runs/t.safetensors")
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, MaxEpochs: 1}); err != nil {
		t.Fatal(err)
	}
	first := readBytes(t, ckpt)

	// Another program (another seed, so other weights) saving to the same
	// file, then diverging in its second epoch.
	src := strings.Replace(small, "seed      = 11", "seed      = 12", 1)
	q := checkIn(t, tr.Dir, src)
	var log bytes.Buffer
	if _, err := Run(context.Background(), q, q.Trains[0], Options{Out: io.Discard, Log: &log, MaxEpochs: 1}); err != nil {
		t.Fatal(err)
	}
	prev := filepath.Join(tr.Dir, "runs/t.prev.safetensors")
	if got := readBytes(t, prev); !bytes.Equal(got, first) {
		t.Error("the previous checkpoint was not kept as t.prev.safetensors")
	}
	if !strings.Contains(log.String(), "t: a new run replaces "+ckpt+"; the previous checkpoint is kept as "+prev) {
		t.Errorf("no note in %q", log.String())
	}
	// Resuming is not a new run: the previous stays as it is.
	if _, err := Run(context.Background(), q, q.Trains[0], Options{Quiet: true, Resume: true, MaxEpochs: 2}); err != nil {
		t.Fatal(err)
	}
	if got := readBytes(t, prev); !bytes.Equal(got, first) {
		t.Error("a resumed run replaced the previous checkpoint")
	}
	// A run that diverges (in its third epoch, after writing two
	// checkpoints) still leaves the checkpoint it replaced as the
	// previous one.
	bad := checkIn(t, tr.Dir, strings.Replace(small, "Adam(lr: 3e-3)", "SGD(lr: 1e30)", 1))
	before := readBytes(t, ckpt)
	_, err := Run(context.Background(), bad, bad.Trains[0], Options{Quiet: true})
	var nf *NonFiniteError
	if !errors.As(err, &nf) {
		t.Fatalf("the diverging run: %v", err)
	}
	if !bytes.Equal(readBytes(t, prev), before) {
		t.Error("the diverging run did not keep the checkpoint it replaced")
	}
}

// A second run writing the same checkpoint stops with a clear error
// while the first holds the lock; the lock of a dead process does not
// block (issue 17, case 15).
func TestCheckpointLock(t *testing.T) {
	p := check(t, small)
	tr := p.Trains[0]
	ckpt := filepath.Join(tr.Dir, "runs/t.safetensors")
	lk, err := lockCheckpoint(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), p, tr, Options{Quiet: true, MaxEpochs: 1})
	var le *LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), ckpt+" is being written by another encc run (pid ") {
		t.Fatalf("second writer: %v", err)
	}
	if _, serr := os.Stat(ckpt); serr == nil {
		t.Fatal("the second writer wrote the checkpoint")
	}
	lk.release()
	if _, err := os.Stat(LockPath(ckpt)); !os.IsNotExist(err) {
		t.Errorf("lock file left after release: %v", err)
	}
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, MaxEpochs: 1}); err != nil {
		t.Fatalf("after the lock was released: %v", err)
	}
	if _, err := os.Stat(LockPath(ckpt)); !os.IsNotExist(err) {
		t.Errorf("lock file left after the run: %v", err)
	}

	// A lock file left by a process killed while holding it: flock dies
	// with its holder.
	if _, err := exec.LookPath("flock"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no flock(1) (util-linux) to hold a lock from another process")
		}
		t.Skip("no flock(1) (util-linux) to hold a lock from another process")
	}
	os.WriteFile(LockPath(ckpt), []byte("pid 999999 on elsewhere\n"), 0o644)
	holder := exec.Command("flock", LockPath(ckpt), "sleep", "60")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // to kill sleep too
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ { // until it holds the lock
		if l, err := lockCheckpoint(ckpt); err != nil {
			break
		} else {
			unlock(l.f)
			l.f.Close()
		}
		if i == 99 {
			t.Fatal("flock(1) never took the lock")
		}
		sleepBriefly()
	}
	_, err = Run(context.Background(), p, tr, Options{Quiet: true, MaxEpochs: 1})
	if !errors.As(err, &le) {
		t.Fatalf("while another process holds the lock: %v", err)
	}
	syscall.Kill(-holder.Process.Pid, syscall.SIGKILL)
	holder.Wait()
	// The kernel releases the lock as the killed processes exit.
	for i := 0; i < 250; i++ {
		if l, err := lockCheckpoint(ckpt); err == nil {
			l.release()
			break
		}
		sleepBriefly()
	}
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, MaxEpochs: 1}); err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
}

func sleepBriefly() { time.Sleep(20 * time.Millisecond) }

// Absolute paths in save, csv(...) and load(...) are used as written, not
// joined under the .enc folder (issue 17, case 9).
func TestAbsolutePaths(t *testing.T) {
	elsewhere := t.TempDir()
	csv := filepath.Join(elsewhere, "data", "tiny.csv")
	os.MkdirAll(filepath.Dir(csv), 0o755)
	os.WriteFile(csv, []byte("a,b,c,label\n1,0,0,0\n0,1,0,1\n0,0,1,0\n1,1,0,1\n"), 0o644)
	save := filepath.Join(elsewhere, "out", "t.safetensors")
	src := `
model M {
    fc = Linear(3, 2)
    forward(x: f32[B, 3]) -> f32[B, 2] { return fc(x) }
}
dataset d {
    source = csv("` + csv + `")
    split  = { train: 0.5, test: 0.5 }
}
train t {
    model     = M()
    data      = d
    loss      = cross_entropy(model(x), label)
    optimizer = SGD(lr: 0.1)
    batch     = 2
    epochs    = 1
    save      = "` + save + `"
}
train u {
    model     = M()
    data      = d
    loss      = cross_entropy(model(x), label)
    batch     = 2
    epochs    = 1
    init      = load("` + save + `")
}
`
	p := check(t, src)
	res, err := Run(context.Background(), p, p.Train("t"), Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checkpoint != save {
		t.Errorf("checkpoint %s, want %s", res.Checkpoint, save)
	}
	if _, err := os.Stat(save); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), p, p.Train("u"), Options{Quiet: true}); err != nil {
		t.Fatalf("init = load(absolute path): %v", err)
	}
}

// An IDX label outside the loss's classes is an error naming the file
// and the record when the data is read, as for CSV (issue 17, case 8);
// before, it failed at the first step inside a kernel.
func TestIDXLabelOutOfRange(t *testing.T) {
	dir := t.TempDir()
	images := []byte{0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 2}
	images = append(images, make([]byte, 4*2*2)...)
	labels := []byte{0, 0, 8, 1, 0, 0, 0, 4, 1, 0, 12, 3}
	os.WriteFile(filepath.Join(dir, "img.idx"), images, 0o644)
	os.WriteFile(filepath.Join(dir, "lab.idx"), labels, 0o644)
	p := checkIn(t, dir, `
model M {
    fc = Linear(4, 10)
    forward(x: f32[B, 1, 2, 2]) -> f32[B, 10] { return x |> flatten |> fc }
}
dataset d {
    source = idx(images: "img.idx", labels: "lab.idx")
}
train t {
    model = M()
    data  = d
    loss  = cross_entropy(model(image), label)
    batch = 2
}
`)
	_, err := Run(context.Background(), p, p.Trains[0], Options{Quiet: true})
	if err == nil || !strings.Contains(err.Error(), "lab.idx") || !strings.Contains(err.Error(), "label 12 out of range [0, 10)") {
		t.Fatalf("got %v, want the file, the record and the range", err)
	}
	t.Log(err)
}

// An optimizer step count of the wrong dtype is named as such (issue
// 17, case 19); before, it "fit no parameter".
func TestStepCountDType(t *testing.T) {
	p := check(t, small)
	tr := p.Trains[0]
	if _, err := Run(context.Background(), p, tr, Options{Quiet: true, MaxEpochs: 3}); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(tr.Dir, "runs/t.safetensors")
	f, err := safetensors.Parse(readBytes(t, ckpt))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i, ts := range f.Tensors {
		if strings.HasSuffix(ts.Name, ":step") {
			f.Tensors[i] = safetensors.FromFloat32(ts.Name, ts.Shape, []float32{5})
			found = true
			break
		}
	}
	if !found {
		t.Fatal("no step count in the checkpoint")
	}
	safetensors.Write(ckpt, f.Tensors, f.Metadata)
	_, err = Run(context.Background(), p, tr, Options{Quiet: true, Resume: true})
	if err == nil || !strings.Contains(err.Error(), ":step is F32[]; encc writes step counts as I64") {
		t.Fatalf("got %v", err)
	}
}

// A model too large for the machine is one error with the planned and
// the available bytes, before anything is allocated (issue 17, case 3);
// before, Linear(1000000, 1000000) died with "fatal error: runtime: out
// of memory".
func TestMemoryCheckedBeforeAllocating(t *testing.T) {
	avail, ok := availableMemory()
	if !ok {
		t.Skip("cannot read the available memory here")
	}
	p := check(t, strings.Replace(small, "fc1  = Linear(64, 24)\n    drop = Dropout(0.2)\n    head = Linear(24, 10)",
		"fc1  = Linear(64, 1000000)\n    big  = Linear(1000000, 1000000)\n    drop = Dropout(0.2)\n    head = Linear(1000000, 10)", 1))
	if 4*1e12 < float64(avail) {
		t.Skip("this machine has 4 TB of memory")
	}
	_, err := Run(context.Background(), p, p.Trains[0], Options{Quiet: true, MaxEpochs: 1})
	if err == nil || !strings.Contains(err.Error(), "train t needs ") || !strings.Contains(err.Error(), "TiB (arena ") ||
		!strings.Contains(err.Error(), " is available: make the model or the batch smaller") {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
}

func TestBytesString(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 4e12: "3.6 TiB", 5 << 30: "5.0 GiB"} {
		if got := bytesString(n); got != want {
			t.Errorf("bytesString(%d) = %q, want %q", n, got, want)
		}
	}
}
