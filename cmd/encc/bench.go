package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/encc-lang/encc/backend"
	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/train"
)

var benchCmd = &command{
	name:     "bench",
	args:     "FILE [TRAIN | MODEL] [--steps N] [--warmup N] [--reps N] [--infer --batch N] [--threads N] [--json] | --sgemm N,...",
	synopsis: "time training steps or inference on the CPU backend, or SGEMM",
	doc: `Bench measures the CPU backend the way the PyTorch peer scripts of
shared/peers/pytorch measure PyTorch, so the two can be put side by side
(bench/compare.sh does).

For a train (the default: the last train of FILE), it compiles phase 0's
training step exactly as 'encc run' does (the ir pipeline, then the CPU
backend; parameters initialized by the model's initializers under the
train's seed, zero optimizer state, the optimizer's learning rate),
pre-generates a pool of 8 random batches (x ~ N(0, 1), token ids and
labels uniform), and cycles through them: --warmup steps first, then
--reps repetitions of --steps timed steps. It reports samples/s (median,
min, max over the repetitions and their spread), ms per step, the loss
after the warm-up and at the end, and the heap allocations per timed step.

With --infer, FILE's MODEL (the last model with default
hyper-parameters when none is named) runs forward only at --batch
(default 1), its weights held constant (each product packs its weight
once, at the first call: cpu.Options.FrozenWeights); each call is timed
on its own, and at batch 1 the median call latency in µs is reported
too. --weights W runs the weights of a
checkpoint instead of initialized ones; an int8 checkpoint (a train's
quantize = int8(...)) runs its int8 products, reported as workload
MODEL_int8_infer.

--sgemm 256,512,1024,2048 times gemm.Sgemm on square f32 matrices: 3
warm-up calls, then at least --reps (5) calls and at least one second per
size; GFLOP/s median, min and max.

--threads sets the cores the backend uses (default: all). --json prints
one JSON line with the same field names as the peer scripts.`,
	run: runBench,
}

// benchPool is the number of pre-generated batches cycled (as the peer).
const benchPool = 8

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench")
	steps := fs.Int("steps", 0, "timed steps per repetition (default: 300 train, 2000 infer at batch 1, 200 above)")
	warmup := fs.Int("warmup", -1, "untimed steps first (default: 50 train, 500 infer at batch 1, 50 above)")
	reps := fs.Int("reps", 0, "timed repetitions (default 5; 7 for --infer)")
	infer := fs.Bool("infer", false, "time the forward of a model")
	batch := fs.Int("batch", 0, "batch size (default: the train's; 1 with --infer)")
	threads := fs.Int("threads", 0, "cores the backend uses (default: all)")
	asJSON := fs.Bool("json", false, "print one JSON line")
	sgemm := fs.String("sgemm", "", "time gemm.Sgemm at these square sizes (comma-separated)")
	weightsFile := fs.String("weights", "", "with --infer: run these weights (an int8 checkpoint runs its int8 products)")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if *threads > 0 {
		runtime.GOMAXPROCS(*threads)
	}
	if *sgemm != "" {
		if len(pos) != 0 {
			return usageError("bench", stderr, "--sgemm takes no file")
		}
		var sizes []int
		for _, f := range strings.Split(*sgemm, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return usageError("bench", stderr, "--sgemm wants positive sizes, got %q", f)
			}
			sizes = append(sizes, n)
		}
		return benchSgemm(stdout, sizes, max(*reps, 5), *asJSON)
	}
	if len(pos) == 0 || len(pos) > 2 {
		return usageError("bench", stderr, "want FILE and at most one train or model name")
	}
	if *steps < 0 || *reps < 0 || *batch < 0 {
		return usageError("bench", stderr, "--steps, --reps and --batch must not be negative")
	}
	file := pos[0]
	prog, diags := compiler.CheckFile(file, nil)
	if len(diags) > 0 {
		printDiags(stderr, diags, prog)
	}
	if diags.HasErrors() || prog == nil {
		return exitFail
	}
	name := ""
	if len(pos) == 2 {
		name = pos[1]
	}
	var (
		b   *benchRun
		err error
	)
	if *weightsFile != "" && !*infer {
		return usageError("bench", stderr, "--weights needs --infer")
	}
	if *infer {
		b, err = newInferBench(prog, name, max(*batch, 1), *threads, *weightsFile)
	} else {
		b, err = newTrainBench(prog, name, *batch, *threads)
	}
	if err != nil {
		return failf("bench", stderr, "%s", withFile(file, err))
	}
	b.steps, b.warmup, b.reps = *steps, *warmup, *reps
	if b.reps == 0 {
		b.reps = 5
		if *infer {
			b.reps = 7
		}
	}
	if b.steps == 0 {
		b.steps = 300
		if *infer {
			b.steps = 200
			if b.batch == 1 {
				b.steps = 2000
			}
		}
	}
	if b.warmup < 0 {
		b.warmup = 50
		if *infer && b.batch == 1 {
			b.warmup = 500
		}
	}
	res, err := b.run()
	if err != nil {
		return failf("bench", stderr, "%s", withFile(file, err))
	}
	if *asJSON {
		j, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", j)
		return exitOK
	}
	fmt.Fprintf(stdout, "%s batch %d: %.1f samples/s (median of %d × %d steps; min %.1f, max %.1f, spread %.1f%%), %.4f ms/step",
		res.Workload, res.Batch, res.SamplesMedian, res.Reps, res.Steps, res.SamplesMin, res.SamplesMax, res.Spread, res.MsPerStep)
	if res.LatencyMedian != nil {
		fmt.Fprintf(stdout, ", latency %.3f µs (median of %d calls)", *res.LatencyMedian, res.Reps*res.Steps)
	}
	if res.LossAfterWarmup != nil {
		fmt.Fprintf(stdout, ", loss %.4f → %.4f", *res.LossAfterWarmup, *res.LossFinal)
	}
	fmt.Fprintf(stdout, ", %.2f allocs/step\n", res.AllocsPerStep)
	return exitOK
}

// A benchRun is a compiled program with its batches.
type benchRun struct {
	workload string
	batch    int
	prog     backend.Program
	g        *ir.Graph
	feeds    []benchFeed // per data input
	step     bool        // the graph has a "step" scalar
	training bool
	params   int // trainable parameters (training) or all (inference)

	steps, warmup, reps int
}

// A benchFeed is one data input and its pool of batches, boxed once so
// that Bind does not allocate in the timed loop.
type benchFeed struct {
	name string
	pool []any
}

type benchResult struct {
	Workload        string   `json:"workload"`
	Batch           int      `json:"batch"`
	Steps           int      `json:"steps_per_rep"`
	Reps            int      `json:"reps"`
	Threads         int      `json:"threads"`
	Params          int      `json:"trainable_params,omitempty"`
	Ops             int      `json:"ops"`
	SamplesMedian   float64  `json:"samples_per_s_median"`
	SamplesMin      float64  `json:"samples_per_s_min"`
	SamplesMax      float64  `json:"samples_per_s_max"`
	Spread          float64  `json:"spread_pct"`
	MsPerStep       float64  `json:"ms_per_step_median"`
	LatencyMedian   *float64 `json:"latency_us_median,omitempty"`
	LatencyP10      *float64 `json:"latency_us_p10,omitempty"`
	LatencyP90      *float64 `json:"latency_us_p90,omitempty"`
	TokensMedian    float64  `json:"tokens_per_s_median,omitempty"`
	LossAfterWarmup *float64 `json:"loss_after_warmup,omitempty"`
	LossFinal       *float64 `json:"loss_final,omitempty"`
	AllocsPerStep   float64  `json:"allocs_per_step"`
	WallS           float64  `json:"wall_s"`
}

// newTrainBench compiles phase 0 of train name (the last train when
// empty) as encc run does and binds initialized parameters, zero state
// and the first batch.
func newTrainBench(prog *compiler.Program, name string, batch, threads int) (*benchRun, error) {
	if name == "" {
		if n := len(prog.Trains); n > 0 {
			name = prog.Trains[n-1].Name
		}
	}
	tr := prog.Train(name)
	if tr == nil {
		return nil, fmt.Errorf("no train named %q", name)
	}
	if batch == 0 {
		batch = tr.Batch
	}
	sg, err := prog.LowerStep(tr, 0, batch)
	if err != nil {
		return nil, err
	}
	g := sg.Graph
	p, err := backend.Compile(g, "cpu", backend.Options{Threads: threads})
	if err != nil {
		return nil, err
	}
	params := tr.Params
	if tr.Teacher != nil { // its initializers stand in for its checkpoint: the cost is the same
		params = append(append([]*compiler.Param(nil), params...), tr.Teacher.Params...)
	}
	weights, err := train.InitParams(params, uint64(tr.Seed))
	if err != nil {
		return nil, err
	}
	b := &benchRun{workload: tr.Name, batch: batch, prog: p, g: g, training: true}
	classes, vocab := tr.Data.Classes, 0
	if src := tr.Data.Source; src != nil {
		if v, ok := src.Args["classes"].(compiler.IntV); ok && classes == 0 {
			classes = int(v.V)
		}
		if v, ok := src.Args["vocab"].(compiler.IntV); ok {
			vocab = int(v.V)
		}
	}
	for _, path := range sg.Trainable {
		b.params += len(weights[path])
	}
	if err := b.bindInputs(weights, classes, vocab); err != nil {
		return nil, err
	}
	for _, s := range sg.LRScales {
		p.SetScalar(s.Name, s.Scale)
	}
	lr := 1e-3
	if tr.Optimizer != nil {
		switch v := tr.Optimizer.Args["lr"].(type) {
		case compiler.FloatV:
			lr = v.V
		case compiler.IntV:
			lr = float64(v.V)
		}
	}
	for _, in := range g.Inputs {
		if in.Role() != ir.RoleScalar {
			continue
		}
		switch in.Name {
		case "lr":
			p.SetScalar("lr", lr)
		case "seed":
			p.SetScalar("seed", float64(tr.Seed))
		case "step":
			b.step = true
		}
	}
	return b, nil
}

// newInferBench compiles the forward of model name (the default model
// when empty) at batch size batch.
func newInferBench(prog *compiler.Program, name string, batch, threads int, weightsFile string) (*benchRun, error) {
	if name == "" {
		name = prog.DefaultName()
		if prog.Train(name) != nil {
			name = ""
			for _, m := range prog.Models {
				if m.Default != nil {
					name = m.Name
				}
			}
		}
	}
	var in *compiler.Instance
	for _, m := range prog.Models {
		if m.Name == name && m.Default != nil {
			in = m.Default
		}
	}
	if in == nil {
		return nil, fmt.Errorf("no model named %q with default hyper-parameters", name)
	}
	g, err := prog.LowerForward(in, map[string]int{"B": batch})
	if err != nil {
		return nil, err
	}
	var (
		weights map[string][]float32
		copts   cpu.Options
	)
	workload := name + "_infer"
	if weightsFile != "" {
		weights, copts, err = train.InferenceWeights(weightsFile, in.Params(), in.Name())
		if copts.Int8 != nil {
			workload = name + "_int8_infer"
		}
	} else {
		weights, err = train.InitParams(in.Params(), 0)
	}
	if err != nil {
		return nil, err
	}
	// The weights do not change between calls: each product packs its
	// weight once.
	copts.FrozenWeights = true
	p, err := backend.Compile(g, "cpu", backend.Options{Threads: threads, CPU: copts})
	if err != nil {
		return nil, err
	}
	b := &benchRun{workload: workload, batch: batch, prog: p, g: g}
	for _, w := range weights {
		b.params += len(w)
	}
	if err := b.bindInputs(weights, 10, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// bindInputs binds parameters to weights, state to zeros and data inputs
// to the first of benchPool random batches: floats from N(0, 1), labels
// in [0, classes), token ids in [4, vocab), masks all set.
func (b *benchRun) bindInputs(weights map[string][]float32, classes, vocab int) error {
	r := rand.New(rand.NewPCG(1, 2))
	for _, in := range b.g.Inputs {
		n := in.Type.NumElements()
		var err error
		switch in.Role() {
		case ir.RoleParam, ir.RoleConst:
			w, ok := weights[in.Name]
			if !ok {
				return fmt.Errorf("no initial value for %s", in.Name)
			}
			err = b.prog.Bind(in.Name, w)
		case ir.RoleState:
			switch in.Type.DType {
			case ir.I64:
				err = b.prog.Bind(in.Name, make([]int64, n))
			default:
				err = b.prog.Bind(in.Name, make([]float32, n))
			}
		case ir.RoleData:
			f := benchFeed{name: in.Name}
			for range benchPool {
				var d any
				switch in.Type.DType {
				case ir.F32:
					x := make([]float32, n)
					for i := range x {
						x[i] = float32(r.NormFloat64())
					}
					d = x
				case ir.I32, ir.I64:
					x := make([]int64, n)
					for i := range x {
						switch {
						case strings.Contains(in.Name, "mask"):
							x[i] = 1
						case in.Name == "label" || vocab == 0:
							x[i] = int64(r.IntN(max(classes, 1)))
						default:
							x[i] = int64(4 + r.IntN(max(vocab-4, 1)))
						}
					}
					if in.Type.DType == ir.I32 {
						y := make([]int32, n)
						for i, v := range x {
							y[i] = int32(v)
						}
						d = y
					} else {
						d = x
					}
				case ir.Bool:
					x := make([]bool, n)
					for i := range x {
						x[i] = true
					}
					d = x
				default:
					return fmt.Errorf("data input %s is %v", in.Name, in.Type)
				}
				f.pool = append(f.pool, d)
			}
			b.feeds = append(b.feeds, f)
			err = b.prog.Bind(in.Name, f.pool[0])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// one runs step i (0-based) of the benchmark on batch i mod benchPool.
func (b *benchRun) one(i int) error {
	for _, f := range b.feeds {
		if err := b.prog.Bind(f.name, f.pool[i%benchPool]); err != nil {
			return err
		}
	}
	if b.step {
		b.prog.SetScalar("step", float64(i+1))
	}
	return b.prog.Run()
}

func (b *benchRun) loss() *float64 {
	if !b.training {
		return nil
	}
	l := b.prog.Float32("loss")
	if len(l) == 0 {
		return nil
	}
	v := math.Round(float64(l[0])*1e4) / 1e4
	return &v
}

func (b *benchRun) run() (*benchResult, error) {
	start := time.Now()
	i := 0
	for range b.warmup {
		if err := b.one(i); err != nil {
			return nil, err
		}
		i++
	}
	res := &benchResult{Workload: b.workload, Batch: b.batch, Steps: b.steps, Reps: b.reps,
		Threads: runtime.GOMAXPROCS(0), Params: b.params, Ops: len(b.g.Values) - len(b.g.Inputs)}
	res.LossAfterWarmup = b.loss()
	perCall := b.batch == 1 && !b.training
	var lat []float64
	if perCall {
		lat = make([]float64, 0, b.reps*b.steps)
	}
	sps := make([]float64, 0, b.reps)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	for range b.reps {
		t0 := time.Now()
		for range b.steps {
			if perCall {
				c0 := time.Now()
				if err := b.one(i); err != nil {
					return nil, err
				}
				lat = append(lat, float64(time.Since(c0).Nanoseconds())/1e3)
			} else if err := b.one(i); err != nil {
				return nil, err
			}
			i++
		}
		sps = append(sps, float64(b.steps*b.batch)/time.Since(t0).Seconds())
	}
	runtime.ReadMemStats(&ms1)
	res.AllocsPerStep = float64(ms1.Mallocs-ms0.Mallocs) / float64(b.reps*b.steps)
	res.LossFinal = b.loss()
	med, lo, hi := summarize(sps)
	res.SamplesMedian, res.SamplesMin, res.SamplesMax = round(med, 1), round(lo, 1), round(hi, 1)
	res.Spread = round(100*(hi-lo)/med, 2)
	res.MsPerStep = round(1000*float64(b.batch)/med, 4)
	if perCall {
		slices.Sort(lat)
		m, p10, p90 := round(median(lat), 3), round(lat[len(lat)/10], 3), round(lat[9*len(lat)/10], 3)
		res.LatencyMedian, res.LatencyP10, res.LatencyP90 = &m, &p10, &p90
	}
	if strings.HasPrefix(b.workload, "transformer") {
		for _, f := range b.feeds {
			if f.name == "ids" {
				res.TokensMedian = round(med*float64(b.g.Input("ids").Type.NumElements()/b.batch), 1)
			}
		}
	}
	res.WallS = round(time.Since(start).Seconds(), 3)
	return res, nil
}

// benchSgemm times gemm.Sgemm on square matrices like bench_sgemm.py.
func benchSgemm(stdout io.Writer, sizes []int, minReps int, asJSON bool) int {
	type entry struct {
		N       int     `json:"n"`
		Median  float64 `json:"gflops_median"`
		Min     float64 `json:"gflops_min"`
		Max     float64 `json:"gflops_max"`
		Spread  float64 `json:"spread_pct"`
		MsMed   float64 `json:"ms_median"`
		Reps    int     `json:"reps"`
		Kernel  string  `json:"kernel"`
		Threads int     `json:"threads"`
	}
	var out []entry
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range sizes {
		a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		call := func() { gemm.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n) }
		for range 3 {
			call()
		}
		flops := 2 * float64(n) * float64(n) * float64(n)
		var gf []float64
		t0 := time.Now()
		for len(gf) < minReps || (time.Since(t0) < time.Second && len(gf) < 200) {
			c0 := time.Now()
			call()
			gf = append(gf, flops/time.Since(c0).Seconds()/1e9)
		}
		med, lo, hi := summarize(gf)
		out = append(out, entry{N: n, Median: round(med, 2), Min: round(lo, 2), Max: round(hi, 2),
			Spread: round(100*(hi-lo)/med, 2), MsMed: round(1e3*flops/(med*1e9), 4), Reps: len(gf),
			Kernel: gemm.Kernel(), Threads: runtime.GOMAXPROCS(0)})
	}
	if asJSON {
		j, _ := json.Marshal(struct {
			Workload string  `json:"workload"`
			Sgemm    []entry `json:"encc_sgemm"`
		}{"sgemm", out})
		fmt.Fprintf(stdout, "%s\n", j)
		return exitOK
	}
	for _, e := range out {
		fmt.Fprintf(stdout, "sgemm n=%d: %.2f GFLOP/s (median of %d; min %.2f, max %.2f), %s kernel, %d threads\n",
			e.N, e.Median, e.Reps, e.Min, e.Max, e.Kernel, e.Threads)
	}
	return exitOK
}

// summarize returns the median, minimum and maximum of xs.
func summarize(xs []float64) (med, lo, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	return median(s), s[0], s[len(s)-1]
}

// median of sorted xs.
func median(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
