package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/encc-lang/encc/export/pytorch"
)

var exportCmd = &command{
	name:     "export",
	args:     "FILE [TRAIN | MODEL] --to pytorch|onnx -o OUT [--weights W]",
	synopsis: "write a model or train for another framework: a PyTorch folder, an ONNX file",
	doc: `Export checks FILE and writes TRAIN (or MODEL; by default the last
train) for another framework.

--to pytorch writes the folder OUT: model.py (one nn.Module per .enc
model, state_dict keys are encc's parameter paths), train.py (the train
as written, in one process or DistributedDataParallel under torchrun),
the data as encc prepares it (sharded safetensors files, the vocabulary),
the initial weights encc draws, and a README.md with the commands. See
docs/export.md.

--weights W exports weights from anywhere (safetensors by parameter
path) with the model; for a train its saved checkpoint is the default.

A model that uses a built-in with no form in the target is one error at
its line. OUT is written under a temporary name beside it and renamed,
so a failed export leaves nothing half-written.`,
	run: runExport,
}

// exportOptions is what every export target gets.
type exportOptions struct {
	File           string // the .enc file
	Name           string // TRAIN or MODEL name ("" = the file's default)
	Out            string // -o
	Weights        string // --weights ("" = the train's saved checkpoint, if any)
	Stdout, Stderr io.Writer
}

// exportTargets maps --to to its writer; a target registers itself in init.
var exportTargets = map[string]func(o *exportOptions) error{}

// errReported is returned by a target that has printed its own
// diagnostics (exit 1, nothing more printed). Any other error is one
// line: a *pytorch.Error (an .enc position and a message) as is, the
// rest as "encc export: ERR".
var errReported = errors.New("reported")

func init() {
	exportTargets["pytorch"] = exportPyTorch
}

func runExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("export")
	to := fs.String("to", "", "target: "+strings.Join(targetNames(), " or "))
	out := fs.String("o", "", "output (a folder for pytorch, a file for onnx)")
	weights := fs.String("weights", "", "weights file (safetensors by parameter path)")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usageError("export", stderr, "want FILE and at most one TRAIN or MODEL")
	}
	if *to == "" {
		return usageError("export", stderr, "--to is required (%s)", strings.Join(targetNames(), ", "))
	}
	target, found := exportTargets[*to]
	if !found {
		return usageError("export", stderr, "unknown target %q (have: %s)", *to, strings.Join(targetNames(), ", "))
	}
	if *out == "" {
		return usageError("export", stderr, "-o is required")
	}
	o := &exportOptions{File: pos[0], Out: *out, Weights: *weights, Stdout: stdout, Stderr: stderr}
	if len(pos) == 2 {
		o.Name = pos[1]
	}
	if err := target(o); err != nil {
		var pe *pytorch.Error
		switch {
		case err == errReported:
		case errors.As(err, &pe):
			fmt.Fprintln(stderr, pe.Error()) // a positioned diagnostic, as encc check prints
		default:
			return failf("export", stderr, "%s", oneLine(err))
		}
		return exitFail
	}
	return exitOK
}

func targetNames() []string {
	var names []string
	for n := range exportTargets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func exportPyTorch(o *exportOptions) error {
	prog, ok := checkProgram(o.File, o.Stderr)
	if !ok {
		return errReported
	}
	err := pytorch.Export(prog, pytorch.Options{Name: o.Name, Out: o.Out, Weights: o.Weights, Version: moduleVersion()})
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(o.Out, "train.py")); err == nil {
		fmt.Fprintf(o.Stdout, "wrote %s (python3 %s/train.py, or see %s/README.md)\n", o.Out, o.Out, o.Out)
	} else { // a model alone: model.py and its weights, no train.py
		fmt.Fprintf(o.Stdout, "wrote %s (the model in %s/model.py; see %s/README.md)\n", o.Out, o.Out, o.Out)
	}
	return nil
}

// moduleVersion is encc's module version, "(devel)" in a checkout.
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
