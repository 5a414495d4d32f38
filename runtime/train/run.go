package train

// This file implements Run: the training loop of one train, its phases,
// evaluation, checkpoints, interruption and fine-tuning from another
// train.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/data"
)

// Options configure Run.
type Options struct {
	JSON      bool      // one JSON line per epoch, even on a terminal
	Out       io.Writer // progress and epoch reports; nil: os.Stderr
	Log       io.Writer // notes (resuming, running another train first); nil: Out
	Quiet     bool      // report nothing
	Resume    bool      // continue from the train's checkpoint when there is one
	Device    string    // backend: "" (the default), "cpu", "reference"
	Threads   int       // threads of the CPU backend; 0: every core
	MaxEpochs int       // stop after this many epochs of the run (0: all); schedules still span the declared epochs

	// OnStep, when set, is called after every optimizer step.
	OnStep func(StepInfo)
	// OnEpoch, when set, is called after every epoch with its report
	// and the current weights by path (owned by the run: copy to keep).
	OnEpoch func(EpochStats, map[string][]float32)
}

// A StepInfo describes one optimizer step.
type StepInfo struct {
	Train string
	Phase string
	Epoch int     // 0-based
	Batch int     // 0-based within the epoch
	Step  int     // 1-based over the run
	LR    float64 // the scheduled rate (before lr_scale)
	Loss  float32 // the batch's mean loss
}

// EpochStats is the report of one epoch.
type EpochStats struct {
	Train         string
	Phase         string
	Epoch         int                // 1-based
	Epochs        int                // declared epochs of the train
	Step          int                // optimizer steps done
	Loss          float64            // mean train loss of the epoch (per sample)
	Test          map[string]float64 // metrics on the test split ("loss" and the train's metrics); nil without a test split
	SamplesPerSec float64            // training throughput
	Seconds       float64            // wall time of the epoch, evaluation included
}

// A Result is what a run did.
type Result struct {
	Train      string
	Backend    string
	History    []EpochStats         // the epochs run by this call
	Final      map[string]float64   // the last test metrics (nil without a test split)
	Steps      int                  // optimizer steps done, resumed ones included
	Epochs     int                  // epochs done, resumed ones included
	Checkpoint string               // the checkpoint written ("" when the train saves none)
	Weights    map[string][]float32 // the final weights by path
	Seconds    float64
	Int8       *Int8Result // quantize = int8(...): the int8 checkpoint and its metrics
	// Structured is the smaller model of a phase's prune = structured(...).
	Structured *StructuredResult
	// Times says where the run's wall time went.
	Times Times
}

// Times is a run's wall time by phase, in seconds. Steps is the
// training loop without Eval and Save (so it includes gathering the
// batches and the progress output); Other is the rest of Seconds
// (planning, a from(...) train run first, initializing the weights,
// quantizing).
type Times struct {
	Load    float64 // reading, splitting and preprocessing the data
	Compile float64 // compiling the step and evaluation programs
	Steps   float64 // the optimizer steps
	Eval    float64 // the test metrics after each epoch
	Save    float64 // writing checkpoints
	Other   float64
}

// String is the breakdown as encc run --times prints it.
func (t Times) String() string {
	return fmt.Sprintf("load %.2fs, compile %.2fs, steps %.2fs, eval %.2fs, save %.2fs, other %.2fs", t.Load, t.Compile, t.Steps, t.Eval, t.Save, t.Other)
}

// ErrInterrupted is returned (wrapped in an *InterruptedError) when the
// context is cancelled during training; the CLI exits with status 130.
var ErrInterrupted = errors.New("training interrupted")

// An InterruptedError says where an interrupted run stopped and where
// its checkpoint is.
type InterruptedError struct {
	Train      string
	Epoch      int // 0-based epoch of the position
	Batch      int // batches of that epoch done
	Step       int
	Checkpoint string // "" when the train saves none
}

func (e *InterruptedError) Error() string {
	s := fmt.Sprintf("%s: interrupted at epoch %d, batch %d (step %d)", e.Train, e.Epoch+1, e.Batch, e.Step)
	if e.Checkpoint != "" {
		s += "; checkpoint saved to " + e.Checkpoint + " (continue with --resume)"
	}
	return s
}

// Unwrap makes errors.Is(err, ErrInterrupted) hold.
func (e *InterruptedError) Unwrap() error { return ErrInterrupted }

// A NonFiniteError says which step produced a NaN or an infinity and the
// first tensor (loss, then parameters, then optimizer state, in graph
// order) that holds one.
type NonFiniteError struct {
	Train  string
	Epoch  int // 0-based
	Batch  int
	Step   int
	Tensor string
	Value  float64
	LR     float64
	// Since, when not 0, is the first step after the last scan of the
	// weights: the tensor became non-finite at one of the steps Since to
	// Step (the loss, checked every step, stayed finite).
	Since int
}

func (e *NonFiniteError) Error() string {
	if e.Since > 0 && e.Since < e.Step {
		return fmt.Sprintf("%s: steps %d to %d (epoch %d, lr %g at step %d): %s became %v; stopping (try a lower learning rate or clip_grad_norm)",
			e.Train, e.Since, e.Step, e.Epoch+1, e.LR, e.Step, e.Tensor, e.Value)
	}
	return fmt.Sprintf("%s: step %d (epoch %d, batch %d, lr %g): %s became %v; stopping (try a lower learning rate or clip_grad_norm)",
		e.Train, e.Step, e.Epoch+1, e.Batch+1, e.LR, e.Tensor, e.Value)
}

// Run trains tr, a train of p: it reads and splits the data, initializes
// the weights (or loads them: init = from(...) runs the other train
// first when its checkpoint is missing or stale; load(...) reads a
// file), trains phase by phase, evaluates on the test split after every
// epoch, reports progress and saves a checkpoint after every epoch. With
// Options.Resume it continues from the checkpoint bit-exactly. When ctx
// is cancelled it finishes the current step, saves a checkpoint of the
// exact position and returns an *InterruptedError.
func Run(ctx context.Context, p *compiler.Program, tr *compiler.Train, opts Options) (*Result, error) {
	return run(ctx, p, tr, opts)
}

// A phaseRange is the epochs [start, end) of a phase.
type phaseRange struct{ start, end int }

// A trainer holds one run.
type trainer struct {
	p    *compiler.Program
	tr   *compiler.Train
	opts Options
	out  io.Writer
	rep  *reporter

	base, baseSHA string               // a LoRA train's base weights file and its SHA-256 (lora.go)
	teacher       map[string][]float32 // a distillation's teacher weights, teacher.<path>: not saved

	backend     Backend
	backendName string

	splits    *data.Splits
	transform *data.Transform
	vocab     *data.Vocab // text data: the vocabulary of the train split
	ms        []metric
	classes   int

	weights map[string][]float32
	state   map[string][]float32
	counts  map[string][]int64 // integer optimizer state (step counts)
	shapes  map[string][]int

	ranges     []phaseRange
	spe        int // steps per epoch
	total      int // declared epochs
	baseLR     float64
	hash       string
	ckptPath   string
	resumed    bool        // the run continues from its checkpoint
	saved      bool        // this run has written its checkpoint
	structured *structPlan // a phase's prune = structured(...) (structured.go)
	stepProgs  map[[2]int]*stepProgram
	evalProgs  map[int]Executor
	times      Times

	trainBatcher *data.Batcher
	trainBatch   *data.Batch
	evalBatcher  *data.Batcher
	evalBatch    *data.Batch
}

type stepProgram struct {
	ex  Executor
	sg  *compiler.StepGraph
	has map[string]bool // scalar inputs present
}

func run(ctx context.Context, p *compiler.Program, tr *compiler.Train, opts Options) (*Result, error) {
	start := time.Now()
	t := &trainer{p: p, tr: tr, opts: opts, out: opts.Out, stepProgs: map[[2]int]*stepProgram{}, evalProgs: map[int]Executor{}}
	if t.out == nil {
		t.out = os.Stderr
	}
	if opts.Quiet {
		t.out = io.Discard
	}
	var err error
	if t.backend, t.backendName, err = backendFor(opts.Device); err != nil {
		return nil, err
	}
	t.backend = runBackend(t.backendName, t.backend)
	if err := t.plan(); err != nil {
		return nil, err
	}
	if tr.Save != "" {
		t.ckptPath = compiler.DataPath(tr.Dir, tr.Save)
		// One writer per checkpoint: a second run saving to the same
		// path stops here, before it reads data or trains.
		lk, err := lockCheckpoint(t.ckptPath)
		if err != nil {
			return nil, err
		}
		defer lk.release()
	}
	// Fine-tuning: make sure the other train's checkpoint is there first
	// (a resumed run has its weights already).
	resuming := false
	if opts.Resume && t.ckptPath != "" {
		_, err := os.Stat(t.ckptPath)
		resuming = err == nil
	}
	if tr.Init != nil && tr.Init.E.Name == "from" && !resuming {
		if err := ensureFrom(ctx, p, tr.From, opts); err != nil {
			return nil, err
		}
	}
	if tr.Init != nil && tr.Init.E.Name == "vectors" && !resuming {
		if err := ensureVectors(ctx, p, tr, opts); err != nil {
			return nil, err
		}
	}
	if tr.Teacher != nil {
		if tr.Teacher.From != nil {
			if err := ensureFrom(ctx, p, tr.Teacher.From, opts); err != nil {
				return nil, err
			}
		}
		if t.teacher, err = TeacherWeights(tr); err != nil {
			return nil, err
		}
	}
	loadStart := time.Now()
	ld, err := loadData(p, tr)
	if err != nil {
		return nil, err
	}
	t.times.Load = time.Since(loadStart).Seconds()
	t.splits, t.transform, t.vocab = ld.splits, ld.transform, ld.vocab
	if err := t.setupData(); err != nil {
		return nil, err
	}
	releaseGarbage()
	// Before the weights are allocated: is the memory there?
	if err := t.checkMemory(); err != nil {
		return nil, err
	}
	pos, err := t.initWeights()
	if err != nil {
		return nil, err
	}
	t.rep = newReporter(t.out, opts.JSON, tr.Name)
	res, err := t.loop(ctx, pos)
	if err == nil && t.structured != nil {
		res.Structured, err = t.writeStructured()
	}
	if err == nil && tr.Quantize != nil {
		res.Int8, err = t.quantize()
	}
	if res != nil {
		res.Seconds = time.Since(start).Seconds()
		tm := t.times
		tm.Other = max(res.Seconds-tm.Load-tm.Compile-tm.Steps-tm.Eval-tm.Save, 0)
		res.Times = tm
	}
	return res, err
}

// plan checks what the runtime must support and lays out the epochs.
func (t *trainer) plan() error {
	tr := t.tr
	if err := checkSchedule(tr.LR); err != nil {
		return err
	}
	e := 0
	for _, ph := range tr.Phases {
		if err := checkSchedule(ph.LR); err != nil {
			return err
		}
		t.ranges = append(t.ranges, phaseRange{e, e + ph.Epochs})
		e += ph.Epochs
	}
	t.total = e
	t.baseLR = argF(tr.Optimizer, "lr")
	t.ms = metricsOf(tr)
	file := tr.Decl.Pos().File
	text, ok := t.p.Sources[file]
	if !ok {
		var err error
		if text, err = os.ReadFile(file); err != nil {
			return err
		}
	}
	t.hash = sourceHash(text)
	return t.planStructured()
}

func (t *trainer) setupData() error {
	tr := t.tr
	sp := t.splits
	var err error
	t.trainBatcher, err = data.NewBatcher(sp.Train, tr.Batch, data.BatchOptions{Shuffle: true, Seed: uint64(tr.Seed),
		Parallel: batchCopier(t.backendName, t.opts.Threads, sp.Train)})
	if err != nil {
		return err
	}
	t.trainBatch = t.trainBatcher.NewBatch()
	t.spe = t.trainBatcher.NumBatches()
	if sp.Test != nil {
		if t.evalBatcher, err = data.NewBatcher(sp.Test, tr.Batch, data.BatchOptions{}); err != nil {
			return err
		}
		t.evalBatch = t.evalBatcher.NewBatch()
	}
	if lf := labelField(sp.Train); lf != nil {
		t.classes = lf.Classes
	}
	return nil
}

// checkMemory plans the memory of the largest step program (each phase
// at the full batch) and checks that it is available.
func (t *trainer) checkMemory() error {
	var need memoryNeed
	for ph := range t.tr.Phases {
		sg, err := t.p.LowerStep(t.tr, ph, t.tr.Batch)
		if err != nil {
			return err
		}
		m, err := planMemory(sg.Graph)
		if err != nil {
			return err
		}
		if m.total() > need.total() {
			need = m
		}
	}
	return checkMemory("train "+t.tr.Name, need)
}

// initWeights initializes or loads the weights and returns the position
// to start from.
func (t *trainer) initWeights() (position, error) {
	tr := t.tr
	t.shapes = map[string][]int{}
	for _, prm := range tr.Params {
		s, _ := prm.Type.ConstShape()
		t.shapes[prm.Path] = s
	}
	t.state = map[string][]float32{}
	t.counts = map[string][]int64{}
	if t.opts.Resume && t.ckptPath != "" {
		if _, err := os.Stat(t.ckptPath); err == nil {
			return t.resume()
		}
		fmt.Fprintf(logOf(t.opts), "%s: no checkpoint %s to resume; starting from the beginning\n", tr.Name, t.ckptPath)
	} else if t.opts.Resume {
		return position{}, fmt.Errorf("%s saves no checkpoint, so it cannot resume: add save = \"runs/%s.safetensors\"", tr.Name, tr.Name)
	}
	var err error
	if t.weights, t.base, err = InitialWeights(tr); err != nil {
		return position{}, err
	}
	if tr.Init != nil && tr.Init.E.Name == "vectors" {
		if err := t.initVectors(); err != nil {
			return position{}, err
		}
	}
	if tr.LoRA != nil && t.base != "" {
		if t.baseSHA, err = fileSHA256(t.base); err != nil {
			return position{}, err
		}
	}
	return position{}, nil
}

// A position is where a run stands: in epoch Epoch (0-based), Batch
// batches done, Step optimizer steps done, with the partial epoch's
// loss sums.
type position struct {
	Epoch, Batch, Step int
	LossSum            float64
	LossN              int
	Metrics            map[string]float64
}

func (t *trainer) resume() (position, error) {
	tr := t.tr
	c, err := LoadCheckpoint(t.ckptPath)
	if err != nil {
		return position{}, err
	}
	m := c.Meta
	switch {
	case m.Format != FormatName:
		return position{}, fmt.Errorf("%s: not an encc checkpoint (no format=encc metadata); cannot resume from it", t.ckptPath)
	case m.Train != tr.Name:
		return position{}, fmt.Errorf("%s: checkpoint of train %s, not %s", t.ckptPath, m.Train, tr.Name)
	case m.SourceSHA256 != t.hash:
		return position{}, fmt.Errorf("%s: the checkpoint was made from another version of %s (sha256 %.12s…, now %.12s…); a resumed run must use the same program: remove the checkpoint to start again",
			t.ckptPath, tr.Decl.Pos().File, m.SourceSHA256, t.hash)
	case m.Seed != tr.Seed:
		return position{}, fmt.Errorf("%s: checkpoint seed %d, train seed %d", t.ckptPath, m.Seed, tr.Seed)
	case m.Epoch > t.total || (m.Epoch == t.total && m.Batch > 0) || m.Batch > t.spe:
		return position{}, fmt.Errorf("%s: corrupt checkpoint: position epoch %d batch %d is outside the run (%d epochs of %d batches)", t.ckptPath, m.Epoch, m.Batch, t.total, t.spe)
	}
	if err := t.checkMeta(m); err != nil {
		return position{}, fmt.Errorf("%s: the checkpoint does not fit this run: %v; cannot resume from it (remove it to start again)", t.ckptPath, err)
	}
	if t.weights, err = TrainWeights(tr, c, t.ckptPath); err != nil {
		return position{}, err
	}
	if tr.LoRA != nil {
		if t.base, err = initFile(tr); err != nil {
			return position{}, err
		}
		t.baseSHA = c.Meta.BaseSHA256
	}
	for name, v := range c.State {
		i := strings.LastIndexByte(name, ':')
		shape, ok := t.shapes[name[:i]]
		if !ok || !equalInts(shape, c.Shapes[name]) {
			return position{}, fmt.Errorf("%s: optimizer state %s %s fits no parameter of %s", t.ckptPath, name, shapeString(c.Shapes[name]), tr.Model.Name())
		}
		t.state[name] = v
		t.shapes[name] = c.Shapes[name]
	}
	for name, v := range c.Counts {
		i := strings.LastIndexByte(name, ':')
		if _, ok := t.shapes[name[:i]]; !ok || len(v) != 1 {
			return position{}, fmt.Errorf("%s: optimizer state %s fits no parameter of %s", t.ckptPath, name, tr.Model.Name())
		}
		t.counts[name] = v
		t.shapes[name] = c.Shapes[name]
	}
	t.resumed = true
	fmt.Fprintf(logOf(t.opts), "%s: resuming from %s at epoch %d, batch %d (step %d)\n", tr.Name, t.ckptPath, m.Epoch+1, m.Batch, m.Step)
	return position{Epoch: m.Epoch, Batch: m.Batch, Step: m.Step, LossSum: m.LossSum, LossN: m.LossN, Metrics: m.Metrics}, nil
}

// checkMeta checks the rest of a checkpoint's metadata against the run
// it would resume: a file edited by hand or by another tool is refused,
// not trained on from a wrong position.
func (t *trainer) checkMeta(m Meta) error {
	want := t.tr.Phases[t.phaseOf(min(m.Epoch, t.total-1))].Name
	switch {
	case m.Epochs != t.total:
		return fmt.Errorf("metadata epochs = %d, but the train declares %d", m.Epochs, t.total)
	case m.Phase != want:
		return fmt.Errorf("metadata phase = %q, but epoch %d is in phase %q", m.Phase, m.Epoch+1, want)
	case m.Step != m.Epoch*t.spe+m.Batch:
		return fmt.Errorf("metadata step = %d, but epoch %d batch %d is step %d (%d batches per epoch)", m.Step, m.Epoch+1, m.Batch, m.Epoch*t.spe+m.Batch, t.spe)
	case m.RNG != rngDescription:
		return fmt.Errorf("metadata rng = %q, not this runtime's %q", m.RNG, rngDescription)
	case math.IsNaN(m.LossSum) || math.IsInf(m.LossSum, 0):
		return fmt.Errorf("metadata loss_sum = %v", m.LossSum)
	case m.LossN > m.Batch*int(t.tr.Batch) || (m.Batch > 0) != (m.LossN > 0):
		return fmt.Errorf("metadata loss_n = %d, but %d batches of %d were trained in the epoch", m.LossN, m.Batch, t.tr.Batch)
	}
	if m.Transform != "" && m.Transform != "null" {
		var tf data.Transform
		if err := json.Unmarshal([]byte(m.Transform), &tf); err != nil {
			return fmt.Errorf("metadata transform: %v", err)
		}
	}
	return nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// phaseOf returns the phase index of epoch e.
func (t *trainer) phaseOf(e int) int {
	for i, r := range t.ranges {
		if e < r.end {
			return i
		}
	}
	return len(t.ranges) - 1
}

// schedule returns the schedule of phase ph and the global step at which
// its span begins.
func (t *trainer) schedule(ph int) (Schedule, int) {
	phases := t.tr.Phases
	cfg := phases[ph].LR
	if cfg == nil {
		return Schedule{Config: t.tr.LR, Base: t.baseLR, Steps: t.total * t.spe, StepsPerEpoch: t.spe}, 0
	}
	first, last := ph, ph
	for first > 0 && phases[first-1].LR == cfg {
		first--
	}
	for last+1 < len(phases) && phases[last+1].LR == cfg {
		last++
	}
	epochs := t.ranges[last].end - t.ranges[first].start
	return Schedule{Config: cfg, Base: t.baseLR, Steps: epochs * t.spe, StepsPerEpoch: t.spe}, t.ranges[first].start * t.spe
}

// bind binds every input of g but the scalars: parameters and buffers to
// the weights, state to the optimizer state (zeros when new), data to
// the first n samples of batch.
func (t *trainer) bind(ex Executor, g *ir.Graph, ds *data.Dataset, batch *data.Batch, n int) error {
	for _, in := range g.Inputs {
		var err error
		switch in.Role() {
		case ir.RoleParam, ir.RoleConst:
			w, ok := t.weights[in.Name]
			if !ok {
				w, ok = t.teacher[in.Name]
			}
			if !ok {
				return fmt.Errorf("internal: no weights for %s", in.Name)
			}
			err = ex.Bind(in.Name, w)
		case ir.RoleState:
			if in.Type.DType == ir.I64 { // a parameter's step count
				n, ok := t.counts[in.Name]
				if !ok {
					n = make([]int64, in.Type.NumElements())
					t.counts[in.Name] = n
					t.shapes[in.Name] = append([]int(nil), in.Type.Shape...)
				}
				err = ex.Bind(in.Name, n)
				break
			}
			s, ok := t.state[in.Name]
			if !ok {
				s = make([]float32, in.Type.NumElements())
				t.state[in.Name] = s
				t.shapes[in.Name] = append([]int(nil), in.Type.Shape...)
			}
			err = ex.Bind(in.Name, s)
		case ir.RoleData:
			err = bindData(ex, in, ds, batch, n)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// compile compiles g on the run's backend, wrapped so that bool data
// inputs can be fed from i32 fields.
func (t *trainer) compile(g *ir.Graph) (Executor, error) {
	ex, err := t.backend(g, t.opts.Threads)
	if err != nil {
		return nil, err
	}
	return &convExec{Executor: ex}, nil
}

// A convExec refreshes its bool inputs from the i32 0/1 batch fields
// they stand for (a padding mask) before every Run.
type convExec struct {
	Executor
	convs []boolConv
}

type boolConv struct {
	dst []bool
	src []int32
}

func (c *convExec) Run() error {
	for _, cv := range c.convs {
		for i, x := range cv.src {
			cv.dst[i] = x != 0
		}
	}
	return c.Executor.Run()
}

func bindData(ex Executor, in *ir.Value, ds *data.Dataset, batch *data.Batch, n int) error {
	for fi, f := range ds.Fields {
		if f.Name != in.Name {
			continue
		}
		k := f.Size()
		if in.Type.NumElements() != n*k {
			return fmt.Errorf("internal: data input %s is %v, the batch holds %d × %s", in.Name, in.Type, n, f.Type())
		}
		switch {
		case f.DType == data.F32 && in.Type.DType == ir.F32:
			return ex.Bind(in.Name, batch.F32[fi][:n*k])
		case f.DType == data.I32 && in.Type.DType == ir.I32:
			return ex.Bind(in.Name, batch.I32[fi][:n*k])
		case f.DType == data.I32 && in.Type.DType == ir.Bool:
			ce, ok := ex.(*convExec)
			if !ok {
				return fmt.Errorf("internal: bool input %s on an executor that cannot convert", in.Name)
			}
			dst := make([]bool, n*k)
			ce.convs = append(ce.convs, boolConv{dst: dst, src: batch.I32[fi][:n*k]})
			return ex.Bind(in.Name, dst)
		}
		return fmt.Errorf("data field %s is %s, the graph wants %v", f.Name, f.Type(), in.Type)
	}
	return fmt.Errorf("%s: the program uses data field %s, which the data does not have", ds.Source, in.Name)
}

// stepProgram returns the compiled step of phase ph for batches of n.
func (t *trainer) stepProgram(ph, n int) (*stepProgram, error) {
	key := [2]int{ph, n}
	if sp, ok := t.stepProgs[key]; ok {
		return sp, nil
	}
	defer tightGC()()
	sg, err := t.p.LowerStep(t.tr, ph, n)
	if err != nil {
		return nil, err
	}
	ex, err := t.compile(sg.Graph)
	if err != nil {
		return nil, fmt.Errorf("compiling %s phase %s: %w", t.tr.Name, t.tr.Phases[ph].Name, err)
	}
	if err := t.bind(ex, sg.Graph, t.splits.Train, t.trainBatch, n); err != nil {
		return nil, err
	}
	releaseGarbage()
	sp := &stepProgram{ex: ex, sg: sg, has: map[string]bool{}}
	for _, in := range sg.Graph.Inputs {
		if in.Role() == ir.RoleScalar {
			sp.has[in.Name] = true
		}
	}
	for _, s := range sg.LRScales {
		ex.SetScalar(s.Name, s.Scale)
	}
	if sp.has["seed"] {
		ex.SetScalar("seed", float64(t.tr.Seed))
	}
	t.stepProgs[key] = sp
	return sp, nil
}

// buildPrograms compiles, before the first step, every program that
// epochs [from, to) run: the step of each of their phases for each batch
// size an epoch yields (the full batch and a short last one) and the
// evaluation for each batch size of the test split. The shared arena
// reaches its final size before any step writes it, and, built
// here, their graphs come and go while the arena is still untouched;
// built where they are first needed (the short batch and the evaluation
// at the end of the first epoch) they would come next to a live arena
// and raise the run's peak above what encc summary plans.
func (t *trainer) buildPrograms(from, to int) error {
	done := map[int]bool{}
	for e := from; e < to; e++ {
		ph := t.phaseOf(e)
		if done[ph] {
			continue
		}
		done[ph] = true
		for _, n := range t.trainBatcher.Sizes() {
			if _, err := t.stepProgram(ph, n); err != nil {
				return err
			}
		}
	}
	if t.splits.Test != nil && from < to {
		for _, n := range t.evalBatcher.Sizes() {
			if _, err := t.evalProgram(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// evalProgram returns the compiled evaluation graph for batches of n.
func (t *trainer) evalProgram(n int) (Executor, error) {
	if ex, ok := t.evalProgs[n]; ok {
		return ex, nil
	}
	defer tightGC()()
	g, err := t.p.LowerEval(t.tr, n)
	if err != nil {
		return nil, err
	}
	ex, err := t.compile(g)
	if err != nil {
		return nil, fmt.Errorf("compiling the evaluation of %s: %w", t.tr.Name, err)
	}
	if err := t.bind(ex, g, t.splits.Test, t.evalBatch, n); err != nil {
		return nil, err
	}
	releaseGarbage() // as after building a step program; once per batch size of the run
	t.evalProgs[n] = ex
	return ex, nil
}

// evaluate computes the metrics on the test split.
func (t *trainer) evaluate() (map[string]float64, error) {
	if t.splits.Test == nil {
		return nil, nil
	}
	return evaluateSplit(t.evalBatcher, t.evalBatch, t.splits.Test, t.ms, t.classes, t.evalProgram)
}

func evaluateSplit(b *data.Batcher, batch *data.Batch, ds *data.Dataset, ms []metric, classes int, prog func(n int) (Executor, error)) (map[string]float64, error) {
	m := newMeter(ms, classes)
	lf := labelField(ds)
	li := -1
	for i, f := range ds.Fields {
		if f == lf {
			li = i
		}
	}
	b.Reset(0, 0)
	for b.Next(batch) {
		ex, err := prog(batch.N)
		if err != nil {
			return nil, err
		}
		if err := ex.Run(); err != nil {
			return nil, err
		}
		var labels []int32
		pred := ex.Float32("pred")
		if li >= 0 && needsLabels(ms) && len(pred) == batch.N*classes {
			labels = batch.I32[li][:batch.N]
		} else if needsLabels(ms) {
			return nil, fmt.Errorf("metrics %s need class scores [batch, %d] and labels; the loss's first argument is not that", metricNames(ms), classes)
		}
		m.add(batch.N, ex.Float32("loss")[0], pred, labels)
	}
	return m.values(ms), nil
}

func metricNames(ms []metric) string {
	var s []string
	for _, m := range ms {
		if m.Kind != "loss" {
			s = append(s, m.Name)
		}
	}
	return strings.Join(s, ", ")
}

// checkpoint writes the run's checkpoint at pos.
func (t *trainer) checkpoint(pos position) error {
	if t.ckptPath == "" {
		return nil
	}
	if !t.saved {
		// The first save of this run: a fresh run keeps the checkpoint
		// it replaces (the file of a finished run, maybe of another
		// program) as the previous one; then the vocabulary, which
		// predict reads raw text with, goes next to the checkpoint.
		if !t.resumed {
			if err := keepPrevious(t.ckptPath, logOf(t.opts), t.tr.Name); err != nil {
				return err
			}
		}
		if t.vocab != nil {
			if err := os.MkdirAll(filepath.Dir(t.ckptPath), 0o755); err != nil {
				return err
			}
			if err := t.vocab.Save(VocabPath(t.ckptPath)); err != nil {
				return err
			}
		}
		t.saved = true
	}
	tf, _ := json.Marshal(t.transform)
	ph := t.phaseOf(min(pos.Epoch, t.total-1))
	c := &Checkpoint{Weights: t.weights, State: t.state, Counts: t.counts, Shapes: t.shapes, Meta: Meta{
		Format: FormatName, Train: t.tr.Name, Phase: t.tr.Phases[ph].Name,
		Epoch: pos.Epoch, Batch: pos.Batch, Step: pos.Step, Epochs: t.total, Seed: t.tr.Seed,
		RNG: rngDescription, SourceSHA256: t.hash, Metrics: pos.Metrics,
		LossSum: pos.LossSum, LossN: pos.LossN, Transform: string(tf),
	}}
	if t.tr.LoRA != nil {
		// Only what was trained, and where the rest comes from.
		c.Weights = map[string][]float32{}
		for _, path := range t.tr.Trained() {
			c.Weights[path] = t.weights[path]
		}
		c.Meta.Base, c.Meta.BaseSHA256 = relToDir(filepath.Dir(t.ckptPath), t.base), t.baseSHA
		if t.base == "" {
			c.Meta.BaseSHA256 = "none" // the base is the initializers under the seed
		}
	}
	return SaveCheckpoint(t.ckptPath, c)
}

// firstNonFinite returns the first tensor that a step of sp writes
// (trained parameters, their optimizer state) that holds a NaN or an
// infinity. The loop checks the loss after every step, but scans these
// (every weight and both Adam moments: most of the memory a step touches)
// only when the loss is not finite, at the end of each epoch and before
// every checkpoint: a scan after every step cost more than the step
// itself for an MLP. So no checkpoint ever holds a non-finite tensor.
func (t *trainer) firstNonFinite(sp *stepProgram) (string, float64) {
	for _, path := range sp.sg.Trainable {
		if i := firstNonFiniteIndex(t.weights[path]); i >= 0 {
			return "parameter " + path, float64(t.weights[path][i])
		}
	}
	for _, s := range sp.sg.State {
		if i := firstNonFiniteIndex(t.state[s.Name]); i >= 0 {
			return "optimizer state " + s.Name + " (the gradient of " + s.Param + ")", float64(t.state[s.Name][i])
		}
	}
	return "", 0
}

// firstNonFiniteIndex is the index of the first NaN or infinity in xs, or
// -1. It tests the exponent bits, eight elements per iteration.
func firstNonFiniteIndex(xs []float32) int {
	const exp = 0x7f800000
	i := 0
	for ; i+8 <= len(xs); i += 8 {
		b := xs[i : i+8 : i+8]
		if math.Float32bits(b[0])&exp == exp || math.Float32bits(b[1])&exp == exp ||
			math.Float32bits(b[2])&exp == exp || math.Float32bits(b[3])&exp == exp ||
			math.Float32bits(b[4])&exp == exp || math.Float32bits(b[5])&exp == exp ||
			math.Float32bits(b[6])&exp == exp || math.Float32bits(b[7])&exp == exp {
			break
		}
	}
	for ; i < len(xs); i++ {
		if math.Float32bits(xs[i])&exp == exp {
			return i
		}
	}
	return -1
}

func finite(x float32) bool { return math.Float32bits(x)&0x7f800000 != 0x7f800000 }

// loop trains from pos to the end of the run (or MaxEpochs).
func (t *trainer) loop(ctx context.Context, pos position) (*Result, error) {
	tr := t.tr
	res := &Result{Train: tr.Name, Backend: t.backendName, Checkpoint: t.ckptPath, Weights: t.weights, Final: pos.Metrics}
	end := t.total
	if t.opts.MaxEpochs > 0 {
		end = min(end, t.opts.MaxEpochs)
	}
	compileStart := time.Now()
	if err := t.buildPrograms(pos.Epoch, end); err != nil {
		return res, err
	}
	t.times.Compile += time.Since(compileStart).Seconds()
	step := pos.Step
	for e := pos.Epoch; e < end; e++ {
		ph := t.phaseOf(e)
		phase := tr.Phases[ph]
		sched, spanStart := t.schedule(ph)
		epochStart := time.Now()
		lossSum, lossN := 0.0, 0
		first := 0
		if e == pos.Epoch {
			first = pos.Batch
			lossSum, lossN = pos.LossSum, pos.LossN
		}
		trainedHere := 0
		// The weights and optimizer state are scanned for NaN and
		// infinities before the epoch's checkpoint (see firstNonFinite).
		var lastSP *stepProgram
		var lastLR float64
		lastB, since := 0, step+1
		scan := func() error {
			if lastSP == nil {
				return nil
			}
			if name, v := t.firstNonFinite(lastSP); name != "" {
				return &NonFiniteError{Train: tr.Name, Epoch: e, Batch: lastB, Step: step, Since: since, Tensor: name, Value: v, LR: lastLR}
			}
			return nil
		}
		t.trainBatcher.Reset(e, first)
		for b := first; t.trainBatcher.Next(t.trainBatch); b++ {
			n := t.trainBatch.N
			sp, err := t.stepProgram(ph, n)
			if err != nil {
				return res, err
			}
			step++
			lr := sched.LR(step - 1 - spanStart)
			if sp.has["lr"] {
				sp.ex.SetScalar("lr", lr)
			}
			if sp.has["step"] {
				sp.ex.SetScalar("step", float64(step))
			}
			if err := sp.ex.Run(); err != nil {
				return res, fmt.Errorf("%s: step %d: %w", tr.Name, step, err)
			}
			t.pruneStep(ph, step)
			loss := sp.ex.Float32("loss")[0]
			lastSP, lastLR, lastB = sp, lr, b
			if !finite(loss) {
				// A weight that became non-finite earlier is the cause
				// to name; else the loss itself.
				if err := scan(); err != nil {
					return res, err
				}
				return res, &NonFiniteError{Train: tr.Name, Epoch: e, Batch: b, Step: step, Tensor: "the loss", Value: float64(loss), LR: lr}
			}
			lossSum += float64(loss) * float64(n)
			lossN += n
			trainedHere += n
			res.Steps = step
			if t.opts.OnStep != nil {
				t.opts.OnStep(StepInfo{Train: tr.Name, Phase: phase.Name, Epoch: e, Batch: b, Step: step, LR: lr, Loss: loss})
			}
			t.rep.progress(e, end, b+1, t.spe, lossSum/float64(lossN), float64(trainedHere)/time.Since(epochStart).Seconds(), epochStart)
			if ctx.Err() != nil {
				at := position{Epoch: e, Batch: b + 1, Step: step, LossSum: lossSum, LossN: lossN, Metrics: res.Final}
				t.rep.clear()
				if err := scan(); err != nil {
					return res, err
				}
				if err := t.checkpoint(at); err != nil {
					return res, err
				}
				return res, &InterruptedError{Train: tr.Name, Epoch: e, Batch: b + 1, Step: step, Checkpoint: t.ckptPath}
			}
		}
		trainSecs := time.Since(epochStart).Seconds()
		t.times.Steps += trainSecs
		if err := scan(); err != nil {
			return res, err
		}
		evalStart := time.Now()
		test, err := t.evaluate()
		if err != nil {
			return res, err
		}
		t.times.Eval += time.Since(evalStart).Seconds()
		st := EpochStats{Train: tr.Name, Phase: phase.Name, Epoch: e + 1, Epochs: t.total, Step: step,
			Loss: lossSum / float64(max(lossN, 1)), Test: test, SamplesPerSec: float64(trainedHere) / trainSecs,
			Seconds: time.Since(epochStart).Seconds()}
		res.History = append(res.History, st)
		res.Final = test
		res.Epochs = e + 1
		t.rep.epoch(st, len(tr.Phases) > 1)
		saveStart := time.Now()
		if err := t.checkpoint(position{Epoch: e + 1, Step: step, Metrics: test}); err != nil {
			return res, err
		}
		t.times.Save += time.Since(saveStart).Seconds()
		if t.opts.OnEpoch != nil {
			t.opts.OnEpoch(st, t.weights)
		}
	}
	if pos.Epoch >= end {
		res.Epochs = pos.Epoch
		res.Steps = pos.Step
	}
	return res, nil
}

// ensureFrom makes sure the checkpoint of src, the train of a from(...),
// is there and current: it runs src when the checkpoint is missing or
// older than a source file of the program, and resumes it when it
// stopped early.
func ensureFrom(ctx context.Context, p *compiler.Program, src *compiler.Train, opts Options) error {
	path := compiler.DataPath(src.Dir, src.Save)
	want := src.Epochs
	if opts.MaxEpochs > 0 {
		want = min(want, opts.MaxEpochs)
	}
	fi, err := os.Stat(path)
	resume := false
	switch {
	case err != nil:
		fmt.Fprintf(logOf(opts), "%s: no checkpoint %s; running %s first\n", src.Name, path, src.Name)
	case fi.ModTime().Before(newestSource(p)):
		fmt.Fprintf(logOf(opts), "%s: checkpoint %s is older than the program; running %s again\n", src.Name, path, src.Name)
	default:
		c, err := LoadCheckpoint(path)
		if err != nil {
			return err
		}
		if c.Meta.Format != FormatName || c.Meta.Epoch >= want {
			return nil
		}
		fmt.Fprintf(logOf(opts), "%s: checkpoint %s stopped at epoch %d of %d; continuing it\n", src.Name, path, c.Meta.Epoch, want)
		resume = true
	}
	o := opts
	o.Resume = resume
	_, err = run(ctx, p, src, o)
	return err
}

// logOf returns where notes go: Options.Log, else Out.
func logOf(opts Options) io.Writer {
	switch {
	case opts.Quiet:
		return io.Discard
	case opts.Log != nil:
		return opts.Log
	case opts.Out != nil:
		return opts.Out
	}
	return os.Stderr
}

// newestSource returns the latest modification time of the program's
// files on disk (the root and its imports; the embedded stdlib has none).
func newestSource(p *compiler.Program) time.Time {
	var t time.Time
	for name := range p.Files {
		if fi, err := os.Stat(name); err == nil && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	return t
}
