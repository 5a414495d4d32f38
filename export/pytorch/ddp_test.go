package pytorch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/train"
)

const ddpTol = 1e-5 // per step, relative: 2 processes against 1

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// epochReports parses train.py's per-epoch JSON lines.
func epochReports(out []byte) []map[string]any {
	var reps []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["epoch"] != nil {
			reps = append(reps, m)
		}
	}
	return reps
}

// TestDistributed trains digits_mlp for an epoch with 2 gloo processes
// (started with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, as
// torchrun would) and with 1: every step's loss of the global batch
// agrees within 1e-5, and the final checkpoint of the 2-process run
// loads in encc eval with the accuracy train.py printed.
func TestDistributed(t *testing.T) {
	t.Parallel() // each runs python3 processes; let them overlap
	py := python(t)
	dir := t.TempDir()
	c := trainCase{name: "digits_mlp", file: "../../examples/digits_mlp.enc", train: "classify",
		edits: [][2]string{{"p: float = 0.1", "p: float = 0.0"}, {"epochs    = 30", "epochs    = 1"}}}
	f := copyEdited(t, c, dir)
	p, diags := compiler.CheckFile(f, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	out := filepath.Join(dir, "torch")
	must(t, Export(p, Options{Name: c.train, Out: out, Version: "test"}))

	one := pyTrain(t, py, out, nil, "--save", filepath.Join(dir, "one.safetensors"))

	port := freePort(t)
	logs := []string{filepath.Join(dir, "rank0.jsonl"), filepath.Join(dir, "rank1.jsonl")}
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(py, "train.py", "--device", "cpu", "--threads", "1", "--log-steps", logs[r],
				"--save", filepath.Join(dir, "two.safetensors"))
			cmd.Dir = out
			cmd.Env = append(cmd.Environ(), fmt.Sprintf("RANK=%d", r), "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", fmt.Sprintf("MASTER_PORT=%d", port))
			outs[r], errs[r] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for r := range errs {
		if errs[r] != nil {
			t.Fatalf("rank %d: %v\n%s", r, errs[r], outs[r])
		}
	}
	two := readSteps(t, logs[0])
	if len(two) != len(one) || len(one) == 0 {
		t.Fatalf("steps: 2 processes %d, 1 process %d", len(two), len(one))
	}
	worst := 0.0
	for i := range one {
		e := math.Abs(two[i].Loss-one[i].Loss) / math.Abs(one[i].Loss)
		worst = math.Max(worst, e)
		if !(e <= ddpTol) {
			t.Errorf("step %d: 2 processes %.7g, 1 process %.7g (rel %.2g)", i+1, two[i].Loss, one[i].Loss, e)
		}
	}
	t.Logf("%d steps: 1 process %.6f → %.6f; 2 processes %.6f → %.6f; max rel diff %.2e",
		len(one), one[0].Loss, one[len(one)-1].Loss, two[0].Loss, two[len(two)-1].Loss, worst)

	reps := epochReports(outs[0])
	if len(reps) == 0 {
		t.Fatalf("rank 0 printed no epoch report:\n%s", outs[0])
	}
	printed, _ := reps[len(reps)-1]["accuracy"].(float64)
	res, err := train.Eval(p, p.Train(c.train), filepath.Join(dir, "two.safetensors"), train.Options{Threads: 1})
	if err != nil {
		t.Fatalf("encc eval of the 2-process checkpoint: %v", err)
	}
	t.Logf("accuracy: train.py printed %.4f, encc eval %.4f (%d test samples)", printed, res.Metrics["accuracy"], res.N)
	if d := math.Abs(res.Metrics["accuracy"] - printed); d > 1e-9 {
		t.Errorf("encc eval accuracy %.6f, train.py printed %.6f", res.Metrics["accuracy"], printed)
	}
	if strings.Contains(string(outs[1]), "\"epoch\"") {
		t.Errorf("rank 1 reported epochs; only rank 0 should:\n%s", outs[1])
	}
}
