package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/encc-lang/encc/runtime/train"
)

var embedCmd = &command{
	name:     "embed",
	args:     "FILE MODEL|TRAIN --weights W --input F --output OUT.npy|OUT.safetensors|OUT.csv [--at NAME] [--plot OUT.png] [--device cpu|reference|cuda] [--threads N]",
	synopsis: "write a trained encoder's representation of every sample of a file",
	doc: `Embed checks FILE, builds MODEL (with its default hyper-parameters) or
the model of TRAIN, loads the weights W and runs it on every sample of
the input file F, reading F as predict does (raw text with the
vocabulary saved next to the weights, or a numeric CSV), and writes the
representation of each sample, flattened to one row, to OUT:

  .npy          a float32 array [samples, dim] (numpy.load)
  .safetensors  F32 "embeddings" [samples, dim]; the labels, if any, as a
                JSON list in the metadata under "labels"
  .csv          columns d0 ... d{dim-1}, then label if the input has labels

What is written is the model's output by default, or with --at NAME a
named output of its forward, or the forward of a member that is a model
(--at encoder, --at net.encoder), run on the input with the same weights.

--plot OUT.png draws the samples projected on their first two principal
components, a colour per label (the input's "label" column or field).`,
	run: runEmbed,
}

func runEmbed(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("embed")
	weights := fs.String("weights", "", "weights file (safetensors)")
	input := fs.String("input", "", "input file")
	output := fs.String("output", "", "output .npy, .safetensors or .csv")
	at := fs.String("at", "", "a named output or a model member")
	plotPath := fs.String("plot", "", "write a 2-D PCA scatter plot to this PNG")
	device := fs.String("device", "", "cpu, reference or cuda")
	threads := fs.Int("threads", 0, "CPU threads (0: every core)")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		return usageError("embed", stderr, "want FILE and a model or train name")
	}
	if *weights == "" || *input == "" || *output == "" {
		return usageError("embed", stderr, "--weights, --input and --output are required")
	}
	if err := train.CheckEmbedPath(*output); err != nil {
		return usageError("embed", stderr, "--output: %v", err)
	}
	if *plotPath != "" && !hasExt(*plotPath, ".png") {
		return usageError("embed", stderr, "--plot: the PCA plot is a .png, got %s", *plotPath)
	}
	if code, ok := checkDevice("embed", *device, stderr); !ok {
		return code
	}
	prog, ok := checkProgram(pos[0], stderr)
	if !ok {
		return exitFail
	}
	e, err := train.Embed(prog, pos[1], *at, *weights, *input, train.Options{Device: *device, Threads: *threads})
	if err != nil {
		return failf("embed", stderr, "%s", oneLine(err))
	}
	if err := e.Write(*output); err != nil {
		return failf("embed", stderr, "%s", oneLine(err))
	}
	fmt.Fprintf(stdout, "%d embeddings of dimension %d (%s) written to %s\n", e.Rows, e.Dim, e.Of, *output)
	if *plotPath != "" {
		if err := e.WritePCAPlot(*plotPath); err != nil {
			return failf("embed", stderr, "--plot: %s", oneLine(err))
		}
		fmt.Fprintf(stdout, "PCA plot written to %s\n", *plotPath)
	}
	return exitOK
}

func hasExt(path, ext string) bool {
	return len(path) > len(ext) && strings.EqualFold(path[len(path)-len(ext):], ext)
}
