package main

import (
	"fmt"
	"io"
	"math"

	"github.com/encc-lang/encc/runtime/train"
)

var predictCmd = &command{
	name:     "predict",
	args:     "FILE MODEL|TRAIN --weights W --input F --output PREDS.csv [--device cpu|reference|cuda] [--threads N]",
	synopsis: "run a model with saved weights on the rows of a file and write its predictions",
	doc: `Predict checks FILE, builds MODEL (with its default hyper-parameters) or
the model of TRAIN, loads the weights W and runs the model on every
sample of the input file F, then writes PREDS.csv: a header, and per
sample its row number, the predicted class (argmax) and the softmax
probability of every class (or the raw outputs when the model does not
return class scores).

Numeric models read a CSV file with a header row and numeric feature
columns; the preprocessing saved in the checkpoint (scale, normalize
fitted on the train split) is applied first. Text models read raw text
with the vocabulary saved next to the checkpoint by encc run
(runs/x.safetensors → runs/x.vocab.json), prepared and tokenized as in
training: a .jsonl file (objects with "text"), a .csv file (a "text"
column) or any other file (one text per line); the output names the
class too. When the input has a "label" column (field), the accuracy
against it is printed.`,
	run: runPredict,
}

func runPredict(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("predict")
	weights := fs.String("weights", "", "weights file (safetensors)")
	input := fs.String("input", "", "input file")
	output := fs.String("output", "", "output CSV")
	device := fs.String("device", "", "cpu, reference or cuda")
	threads := fs.Int("threads", 0, "CPU threads (0: every core)")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		return usageError("predict", stderr, "want FILE and a model or train name")
	}
	if *weights == "" || *input == "" || *output == "" {
		return usageError("predict", stderr, "--weights, --input and --output are required")
	}
	if code, ok := checkDevice("predict", *device, stderr); !ok {
		return code
	}
	file := pos[0]
	prog, ok := checkProgram(file, stderr)
	if !ok {
		return exitFail
	}
	res, err := train.Predict(prog, pos[1], *weights, *input, *output, train.Options{Device: *device, Threads: *threads})
	if err != nil {
		return failf("predict", stderr, "%s", oneLine(err))
	}
	line := fmt.Sprintf("%d predictions written to %s", res.Rows, *output)
	if !math.IsNaN(res.Accuracy) {
		line += fmt.Sprintf("; accuracy %.2f%% against the labels of %s", 100*res.Accuracy, *input)
	}
	fmt.Fprintln(stdout, line)
	return exitOK
}
