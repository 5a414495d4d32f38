package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/encc-lang/encc/runtime/train"
)

var evalCmd = &command{
	name:     "eval",
	args:     "FILE TRAIN --weights W [--json] [--device cpu|reference|cuda] [--threads N]",
	synopsis: "evaluate saved weights with a train's loss and metrics on its test split",
	doc: `Eval checks FILE, reads the data of TRAIN and splits and preprocesses it
exactly as encc run does, loads the weights W (a checkpoint of encc run,
or any safetensors file whose tensors are named by parameter path) into
the train's model and prints the loss and the train's metrics on the
test split (on the train split when the data has none). With --json it
prints them as one JSON object.

A weights file that does not fit the model is one error listing the
missing, unexpected and mis-shaped tensors.`,
	run: runEval,
}

func runEval(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("eval")
	weights := fs.String("weights", "", "weights file (safetensors)")
	jsonOut := fs.Bool("json", false, "print the metrics as JSON")
	device := fs.String("device", "", "cpu, reference or cuda")
	threads := fs.Int("threads", 0, "CPU threads (0: every core)")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		return usageError("eval", stderr, "want FILE and TRAIN")
	}
	if *weights == "" {
		return usageError("eval", stderr, "--weights is required")
	}
	if code, ok := checkDevice("eval", *device, stderr); !ok {
		return code
	}
	file := pos[0]
	prog, ok := checkProgram(file, stderr)
	if !ok {
		return exitFail
	}
	tr, err := pickTrain(prog, pos[1:])
	if err != nil {
		return failf("eval", stderr, "%s", withFile(file, err))
	}
	res, err := train.Eval(prog, tr, *weights, train.Options{Device: *device, Threads: *threads})
	if err != nil {
		return failf("eval", stderr, "%s", oneLine(err))
	}
	if *jsonOut {
		b, _ := json.Marshal(map[string]any{"train": res.Train, "weights": res.Weights, "split": res.Split, "n": res.N, "metrics": res.Metrics})
		fmt.Fprintln(stdout, string(b))
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: %s %s (%d samples, weights %s)\n", res.Train, res.Split, metricsString(res.Metrics), res.N, res.Weights)
	return exitOK
}
