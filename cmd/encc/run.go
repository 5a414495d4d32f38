package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/train"
)

var runCmd = &command{
	name:     "run",
	args:     "FILE [TRAIN] [--json] [--resume] [--device cpu|reference|cuda] [--threads N] [--plot FILE.png|svg [--plot-log]] [--epochs N] [--times] | FILE --model M --random N [--seed S]",
	synopsis: "train and fine-tune with checkpoints, or run a model on random input",
	doc: `Run checks FILE and trains one train of it: the named one, or by default
the last train of FILE. A train whose init is from(other) runs the other
train first when its checkpoint is missing, older than FILE or stopped
early. Data paths are relative to FILE. A train with objective =
skipgram(...) (named: encc run FILE NAME) trains word vectors and
writes them in the word2vec text format; a train whose init is
vectors(...) runs the skip-gram train that writes its file first when
the file is missing or older than FILE.

On a terminal, run draws a progress bar (epoch, batch, loss, samples/s,
ETA) and prints a line per epoch; otherwise, or with --json, it prints
one JSON object per epoch on stdout (train, phase, epoch, epochs, step,
loss, test_loss, the metrics, samples_per_sec, seconds). Notes and the
final line ("finetune: test accuracy 97.78% ...") go to stderr.

After every epoch the checkpoint (the train's save) is written; --resume
continues from it bit-exactly. Ctrl-C finishes the current step, saves a
checkpoint of the exact position and exits with status 130.

A new run (without --resume) never destroys a finished checkpoint: before
writing its first one it moves the existing checkpoint to the previous
one (runs/x.safetensors to runs/x.prev.safetensors) and says so. Only one
run may write a checkpoint at a time: a second run saving to the same
file stops with an error while the first holds its lock
(runs/x.safetensors.lock, released when the run exits, even when killed).
Before allocating the weights, run plans the memory of the step program
(arena, parameters, optimizer state) and stops with both numbers when it
is more than the memory available.

  --device    cpu (the default), reference (the exact, slow evaluator of
              the IR) or cuda (an encc built with -tags cuda)
  --threads   threads of the CPU backend (default: every core)
  --plot      draw the loss and metric curves per epoch (a legend per
              series, a dashed line where each later phase begins) to a
              PNG or SVG file, by its extension
  --plot-log  draw the loss on a log scale
  --epochs    stop after N epochs (schedules still span the declared ones);
              N beyond the declared epochs is noted and runs them all
  --times     print where the run's wall time went: loading the data,
              compiling, the steps, evaluating, saving and the rest

With --model M --random N, run builds model M (or the model of train M)
with its initializers, runs its forward on N samples drawn from N(0, 1)
(seeded by --seed) and prints the output tensor.`,
	run: runRun,
}

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run")
	jsonOut := fs.Bool("json", false, "one JSON line per epoch")
	resume := fs.Bool("resume", false, "continue from the checkpoint")
	device := fs.String("device", "", "cpu, reference or cuda")
	threads := fs.Int("threads", 0, "CPU threads (0: every core)")
	plot := fs.String("plot", "", "write loss and metric curves to this PNG or SVG")
	plotLog := fs.Bool("plot-log", false, "--plot the loss on a log scale")
	epochs := fs.Int("epochs", 0, "stop after this many epochs")
	times := fs.Bool("times", false, "print where the run's time went (load, compile, steps, eval, save)")
	model := fs.String("model", "", "model (or train) for --random")
	random := fs.Int("random", 0, "run the model's forward on this many random samples")
	seed := fs.Uint64("seed", 0, "seed of --random")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return usageError("run", stderr, "no file")
	}
	if len(pos) > 2 {
		return usageError("run", stderr, "too many arguments")
	}
	if *threads < 0 || *epochs < 0 || *random < 0 {
		return usageError("run", stderr, "--threads, --epochs and --random must not be negative")
	}
	if (*model != "") != (*random > 0) {
		return usageError("run", stderr, "--model and --random go together")
	}
	if code, ok := checkDevice("run", *device, stderr); !ok {
		return code
	}
	if *plot != "" {
		if err := train.CheckPlotPath(*plot); err != nil {
			return usageError("run", stderr, "--plot: %v", err)
		}
	}
	file := pos[0]
	prog, ok := checkProgram(file, stderr)
	if !ok {
		return exitFail
	}
	if *random > 0 {
		if len(pos) > 1 {
			return usageError("run", stderr, "--model names the model; no train with --random")
		}
		in, err := train.Instance(prog, *model)
		if err != nil {
			return failf("run", stderr, "%s", withFile(file, err))
		}
		outs, err := train.RandomForward(prog, in, *random, *seed, train.Options{Device: *device, Threads: *threads})
		if err != nil {
			return failf("run", stderr, "%s", withFile(file, err))
		}
		for _, t := range outs {
			t.Format(stdout, 3)
		}
		return exitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(pos) > 1 && prog.VectorTrain(pos[1]) != nil {
		return runVectors(ctx, prog, prog.VectorTrain(pos[1]), train.Options{JSON: *jsonOut, Out: stdout, Log: stderr, MaxEpochs: *epochs}, *resume || *plot != "", stderr)
	}
	tr, err := pickTrain(prog, pos[1:])
	if err != nil {
		return failf("run", stderr, "%s", withFile(file, err))
	}
	if *epochs > tr.Epochs {
		fmt.Fprintf(stderr, "encc run: note: --epochs %d is more than the %d epochs train %s declares; it runs %d (to train longer, raise epochs in the train)\n",
			*epochs, tr.Epochs, tr.Name, tr.Epochs)
	}
	res, err := train.Run(ctx, prog, tr, train.Options{
		JSON: *jsonOut, Out: stdout, Log: stderr, Resume: *resume,
		Device: *device, Threads: *threads, MaxEpochs: *epochs,
	})
	var ie *train.InterruptedError
	if errors.As(err, &ie) {
		fmt.Fprintf(stderr, "encc run: %v\n", err)
		return 130
	}
	if err != nil {
		return failf("run", stderr, "%s", oneLine(err))
	}
	if *plot != "" {
		title := fmt.Sprintf("train %s — %s", tr.Name, file)
		if err := train.WritePlot(*plot, res.History, train.PlotOptions{Title: title, LogLoss: *plotLog}); err != nil {
			return failf("run", stderr, "--plot: %v", err)
		}
	}
	fmt.Fprintln(stderr, finalLine(res))
	if *times {
		fmt.Fprintf(stderr, "%s: times: %v\n", res.Train, res.Times)
	}
	return exitOK
}

// checkDevice rejects a device this build cannot run, with the reason.
func checkDevice(cmd, device string, stderr io.Writer) (int, bool) {
	switch device {
	case "", "cpu", "reference":
		return exitOK, true
	case "cuda":
		if !train.CUDAAvailable() {
			return failf(cmd, stderr, "--device cuda: %v", train.CUDAError), false
		}
		return exitOK, true
	}
	return usageError(cmd, stderr, "unknown --device %q (have: cpu, reference, cuda)", device), false
}

// checkProgram checks file and prints its diagnostics.
func checkProgram(file string, stderr io.Writer) (*compiler.Program, bool) {
	prog, diags := compiler.CheckFile(file, nil)
	if len(diags) > 0 {
		printDiags(stderr, diags, prog)
	}
	return prog, prog != nil && !diags.HasErrors()
}

// pickTrain returns the train named by names[0], or the last train.
func pickTrain(prog *compiler.Program, names []string) (*compiler.Train, error) {
	var have []string
	for _, tr := range prog.Trains {
		have = append(have, tr.Name)
	}
	if len(names) == 0 {
		if len(prog.Trains) == 0 {
			return nil, fmt.Errorf("no train to run")
		}
		return prog.Trains[len(prog.Trains)-1], nil
	}
	if tr := prog.Train(names[0]); tr != nil {
		return tr, nil
	}
	if prog.VectorTrain(names[0]) != nil {
		return nil, fmt.Errorf("%s trains word vectors (objective = skipgram(...)), not a model: encc run FILE %s writes them; this command does not apply", names[0], names[0])
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("no train named %s (the file has none)", names[0])
	}
	return nil, fmt.Errorf("no train named %s (have: %s)", names[0], strings.Join(have, ", "))
}

// finalLine is the summary of a run: its last test metrics.
func finalLine(res *train.Result) string {
	var b strings.Builder
	b.WriteString(res.Train + ":")
	if len(res.Final) == 0 {
		b.WriteString(" done")
	} else {
		b.WriteString(" test " + metricsString(res.Final))
	}
	fmt.Fprintf(&b, " (%d epochs, %d steps, %.1fs)", res.Epochs, res.Steps, res.Seconds)
	if res.Checkpoint != "" {
		b.WriteString("; weights in " + res.Checkpoint)
	}
	if s := res.Structured; s != nil {
		b.WriteString("\n" + res.Train + ": pruned")
		if len(s.Metrics) > 0 {
			b.WriteString(" test " + metricsString(s.Metrics))
		}
		fmt.Fprintf(&b, " (%d → %d parameters); weights in %s, model in %s", s.Params[0], s.Params[1], s.Path, s.Enc)
	}
	if q := res.Int8; q != nil {
		b.WriteString("\n" + res.Train + ": int8")
		if len(q.Metrics) > 0 {
			b.WriteString(" test " + metricsString(q.Metrics))
		}
		fmt.Fprintf(&b, " (%d weights quantized; %d bytes, %.2f× the f32 weights); weights in %s", len(q.Quantized), q.Bytes, float64(q.Bytes)/float64(max(q.F32Bytes, 1)), q.Path)
	}
	return b.String()
}

// metricsString prints metrics: the train's metrics as percentages,
// then the loss.
func metricsString(m map[string]float64) string {
	var keys []string
	for k := range m {
		if k != "loss" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f%%", k, 100*m[k]))
	}
	if l, ok := m["loss"]; ok {
		parts = append(parts, fmt.Sprintf("loss %.4f", l))
	}
	return strings.Join(parts, ", ")
}

// oneLine folds a multi-line error (a FitError's lists) into one line.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.ReplaceAll(err.Error(), "\n\t", "; "), "\n", "; ")
}

// withFile prefixes the message of err with file, unless it already
// starts with it (a positioned error "file:2:45: ..."): a file name is
// said once.
func withFile(file string, err error) string {
	msg := oneLine(err)
	if strings.HasPrefix(msg, file+":") {
		return msg
	}
	return file + ": " + msg
}
