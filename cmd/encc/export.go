package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// This file implements `encc export`: the command line and the table of
// targets. Each target lives in its own file (export_onnx.go, …) and
// registers itself in exportTargets from an init function.

var exportCmd = &command{
	name:     "export",
	args:     "FILE [TRAIN|MODEL] --to TARGET -o OUT [--weights W]",
	synopsis: "write a model for another engine (--to onnx)",
	doc: `Export checks FILE and writes the model of TRAIN (or MODEL, with its
default hyper-parameters; by default the file's last train, else its
last model with defaults) in the format of TARGET to OUT. The weights
are W (a checkpoint of encc run, or any safetensors file whose tensors
are named by parameter path); without --weights, a train's saved
checkpoint. The output is written to a temporary file and renamed, so a
failed export leaves nothing behind.

Targets:

	onnx   the inference forward (eval mode: no dropout) as an ONNX model,
	       opset 17, dynamic batch and sequence dimensions, initializers
	       named by parameter path (docs/export.md)

An op with no form in the target is one error at the .enc line that
produced it.`,
	run: runExport,
}

// exportOptions is what every export target is given.
type exportOptions struct {
	File           string // the .enc file
	Name           string // TRAIN or MODEL name ("" = the file's default)
	Out            string // -o
	Weights        string // --weights ("" = the train's saved checkpoint, if any)
	Stdout, Stderr io.Writer
}

// exportTargets maps a --to value to the function that writes it.
var exportTargets = map[string]func(o *exportOptions) error{}

func runExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("export")
	to := fs.String("to", "", "target format: "+strings.Join(exportTargetNames(), ", "))
	out := fs.String("o", "", "output path")
	weights := fs.String("weights", "", "weights file (safetensors)")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usageError("export", stderr, "want FILE and an optional train or model name")
	}
	target, ok := exportTargets[*to]
	if !ok {
		if *to == "" {
			return usageError("export", stderr, "--to is required (one of %s)", strings.Join(exportTargetNames(), ", "))
		}
		return usageError("export", stderr, "unknown target %q (have: %s)", *to, strings.Join(exportTargetNames(), ", "))
	}
	if *out == "" {
		return usageError("export", stderr, "-o is required")
	}
	o := &exportOptions{File: pos[0], Out: *out, Weights: *weights, Stdout: stdout, Stderr: stderr}
	if len(pos) == 2 {
		o.Name = pos[1]
	}
	if err := target(o); err != nil {
		if err == errReported {
			return exitFail
		}
		return failf("export", stderr, "%s", oneLine(err))
	}
	return exitOK
}

// errReported is returned by a target that has already printed its
// errors (diagnostics of the .enc file).
var errReported = fmt.Errorf("errors reported")

func exportTargetNames() []string {
	var names []string
	for n := range exportTargets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
