package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/encc-lang/encc/runtime/train"
)

var predictCmd = &command{
	name:     "predict",
	args:     "FILE MODEL|TRAIN --weights W --input F --output OUT.csv|OUT.npy|OUT.safetensors [--device cpu|reference|cuda] [--threads N]",
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
against it is printed.

Tensors made by other tools go in without tokenizing (no vocabulary needed):
an .npy file (one array, a row per sample, fed to the model's first
input), a .safetensors file (a tensor per input, by the forward
parameter's name: ids, mask, x), or JSON lines of token ids
({"ids": [101, 2023, ...]}, an optional "mask"; rows are padded with
[PAD] and masked). A bool mask the input does not give is derived from
the ids (true where the id is not [PAD]). The checkpoint's preprocessing
(scale, normalize) applies to f32 inputs as to CSV features: give them
as the dataset holds them, unscaled.

An output ending in .npy (the model's one output) or .safetensors (every
output, by name) holds the raw outputs as f32 [rows, ...] at full
precision, for pipelines; a CSV holds the argmax and the softmax
probabilities (6 digits) of class scores, or the raw outputs (every
digit of the f32). The output may not be a file predict reads (the
weights, the input, the vocabulary) or the program.`,
	run: runPredict,
}

func runPredict(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("predict")
	weights := fs.String("weights", "", "weights file (safetensors)")
	input := fs.String("input", "", "input file")
	output := fs.String("output", "", "output .csv, .npy or .safetensors")
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
	// The output must not replace a file predict reads (or the program).
	protected := []string{*weights, *input, train.VocabPath(*weights), file}
	for name := range prog.Files {
		protected = append(protected, name)
	}
	for _, p := range protected {
		if sameFile(*output, p) {
			return failf("predict", stderr, "--output %s is %s, which predict reads: choose another output file", *output, p)
		}
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

// sameFile reports whether the paths a and b name the same file: the same
// file on disk when both exist (a link, another spelling), else the same
// absolute path.
func sameFile(a, b string) bool {
	ai, aerr := os.Stat(a)
	bi, berr := os.Stat(b)
	if aerr == nil && berr == nil {
		return os.SameFile(ai, bi)
	}
	aa, err1 := filepath.Abs(a)
	ba, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ba
}
