package main

import (
	"fmt"
	"io"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/train"
)

var mergeCmd = &command{
	name:     "merge",
	args:     "FILE TRAIN -o OUT [--weights W]",
	synopsis: "fold the LoRA adapters of a train's checkpoint into plain weights of its base model",
	doc: `Merge reads the checkpoint of TRAIN (W, or the train's save path), a
train with lora = lora(...) whose checkpoint holds only what it trained,
rebuilds the base weights it was trained on (the train's init, checked
against the SHA-256 the checkpoint records), folds every adapter into
its Linear (W + (alpha/r)·B·A) and writes OUT: a plain checkpoint of the
base model, with no lora_A or lora_B tensors, that encc eval, predict,
export and load(...) read like any other.`,
	run: runMerge,
}

func runMerge(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("merge")
	out := fs.String("o", "", "output path (.safetensors)")
	weights := fs.String("weights", "", "the LoRA checkpoint (default: the train's save path)")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		return usageError("merge", stderr, "want FILE and TRAIN")
	}
	if *out == "" {
		return usageError("merge", stderr, "-o is required")
	}
	file := pos[0]
	prog, ok := checkProgram(file, stderr)
	if !ok {
		return exitFail
	}
	tr := prog.Train(pos[1])
	if tr == nil {
		_, err := pickTrain(prog, pos[1:])
		return failf("merge", stderr, "%s: %v", file, err)
	}
	if tr.LoRA == nil {
		return failf("merge", stderr, "%s: train %s has no lora: nothing to merge", file, tr.Name)
	}
	w := *weights
	if w == "" {
		if tr.Save == "" {
			return failf("merge", stderr, "%s: train %s saves no checkpoint: give --weights", file, tr.Name)
		}
		w = compiler.DataPath(tr.Dir, tr.Save)
	}
	n, err := train.MergeFile(tr, w, *out)
	if err != nil {
		return failf("merge", stderr, "%s", oneLine(err))
	}
	fmt.Fprintf(stdout, "%s: %d tensors of %s, %d adapted layers merged (alpha/r = %g)\n", *out, n, tr.Model.Name(), len(tr.LoRA.Layers), tr.LoRA.Scale())
	return exitOK
}
