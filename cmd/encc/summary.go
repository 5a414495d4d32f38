package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/train"
)

var summaryCmd = &command{
	name:     "summary",
	args:     "FILE [MODEL | TRAIN] [--batch N] [--json] [--weights W]",
	synopsis: "print a model's layers, output shapes, parameters, FLOPs and memory",
	doc: `Summary checks FILE and prints a table of the forward pass of one model,
like Keras' model.summary(): one row per layer call with its dotted path
(indented by depth), its kind, its output shape, its trainable and frozen
parameters, and its forward FLOPs per sample (a multiply-add is 2 FLOPs),
then the totals.

The second argument names a model of FILE (built with its default
hyper-parameters) or a train (its model; what the first phase freezes is
counted as frozen). Without it, summary picks the last train of FILE, or
else the last model whose hyper-parameters all have defaults. Buffers
count as frozen parameters.

Memory is counted at the train's batch size (--batch N overrides it; a
model's forward is counted at batch 1 by default). For a train each row
shows the bytes of its parameters, their gradients, their optimizer
state (Adam and AdamW keep exp_avg, exp_avg_sq and a step count per
parameter: about 2× the parameters; SGD with momentum 1×) and the
activations its forward saves for the backward. The totals add the
arenas the memory planner lays out for the optimized training step and
evaluation graphs (one allocation each, holding gradients, activations
and temporaries with slots reused; a run's programs share one arena, the
larger), one batch of inputs, the dataset held in memory (every split,
when the data can be read here) and encc itself (the resident size of
this process with the file checked: code, the Go runtime, the checked
program). The total is what a run holds at its peak (for
examples/spam_transformer.enc, 7-8% below the peak RSS measured), and the
last line compares it with this machine's memory. It leaves out
the compiled programs (a few MiB), the Go heap's spare room and what
reading the data needs for a moment, before the arena is written.

--weights W adds the sparsity of each weight tensor of the checkpoint W
(the fraction of exact zeros; a pruning phase's result), per layer.

  --batch    the batch size to count memory at
  --json     print the summary as one JSON object (for tools)
  --weights  a checkpoint whose per-layer sparsity to print`,
	run: runSummary,
}

func runSummary(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("summary")
	batch := fs.Int("batch", 0, "count memory at this batch size (default: the train's)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	weights := fs.String("weights", "", "a checkpoint whose per-layer sparsity to print")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return usageError("summary", stderr, "no file")
	}
	if len(pos) > 2 {
		return usageError("summary", stderr, "too many arguments")
	}
	if *batch < 0 {
		return usageError("summary", stderr, "--batch must be positive")
	}
	file, name := pos[0], ""
	if len(pos) == 2 {
		name = pos[1]
	}
	prog, diags := compiler.CheckFile(file, nil)
	if len(diags) > 0 {
		printDiags(stderr, diags, prog)
	}
	if diags.HasErrors() || prog == nil {
		return exitFail
	}
	s, err := prog.Summarize(name)
	if err != nil {
		return failf("summary", stderr, "%s", withFile(file, err))
	}
	mem, err := prog.Memory(s, name, *batch)
	if err != nil {
		return failf("summary", stderr, "%s: memory: %v", file, err)
	}
	// encc itself: this process with the file checked, as a run holds it
	// (code, Go runtime, the checked program and the standard library);
	// the garbage of planning is returned first.
	debug.FreeOSMemory()
	machine := readMachineMemory()
	runtime.KeepAlive(prog)
	if *asJSON {
		return writeSummaryJSON(stdout, stderr, prog, name, s, mem, machine)
	}
	writeSummary(stdout, prog, name, s, mem, machine)
	if *weights != "" {
		c, err := train.LoadCheckpoint(*weights)
		if err != nil {
			return failf("summary", stderr, "%s", oneLine(err))
		}
		writeSparsity(stdout, *weights, c.Weights)
	}
	return exitOK
}

// writeSparsity prints the fraction of exact zeros of each tensor.
func writeSparsity(w io.Writer, file string, weights map[string][]float32) {
	names := make([]string, 0, len(weights))
	width := 0
	for n := range weights {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	sp := train.Sparsity(weights)
	fmt.Fprintf(w, "\nSparsity of %s:\n", file)
	zeros, total := 0, 0
	for _, n := range names {
		z := int(math.Round(sp[n] * float64(len(weights[n]))))
		zeros, total = zeros+z, total+len(weights[n])
		fmt.Fprintf(w, "  %-*s  %6.2f%%  (%s of %s zero)\n", width, n, 100*sp[n], compiler.Thousands(int64(z)), compiler.Thousands(int64(len(weights[n]))))
	}
	fmt.Fprintf(w, "  %-*s  %6.2f%%  (%s of %s zero)\n", width, "all", 100*float64(zeros)/float64(max(total, 1)), compiler.Thousands(int64(zeros)), compiler.Thousands(int64(total)))
}

// writeSummary prints s as a table, with the memory columns and totals
// of mem.
func writeSummary(w io.Writer, prog *compiler.Program, name string, s *compiler.Summary, mem *compiler.Memory, machine machineMemory) {
	fmt.Fprintf(w, "Model:  %s\n", s.Model)
	if tr := summaryTrain(prog, name); tr != nil {
		line := "Train:  " + tr.Name
		if len(tr.Phases) > 1 {
			ph := tr.Phases[0]
			line += fmt.Sprintf(", phase %s (epochs 1-%d of %d)", ph.Name, ph.Epochs, tr.Epochs)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "Input:  %s\n", s.Input)
	fmt.Fprintf(w, "Output: %s\n\n", s.Output)

	header := append([]string{"Layer", "Kind", "Output shape", "Trainable", "Frozen", "FLOPs/sample"}, memoryHeader(mem)...)
	rightAligned := make([]bool, len(header)) // the numbers, after the first three columns
	for i := 3; i < len(header); i++ {
		rightAligned[i] = true
	}
	rows := [][]string{}
	for i, r := range s.Rows {
		rows = append(rows, append([]string{
			strings.Repeat("  ", r.Depth) + r.Path,
			r.Kind,
			r.Out,
			compiler.Thousands(r.Trainable),
			compiler.Thousands(r.Frozen),
			dimString(r.Flops),
		}, memoryCells(mem, i)...))
	}
	widths := make([]int, len(header))
	for _, row := range append([][]string{header}, rows...) {
		for i, cell := range row {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	total := 0
	for _, wd := range widths {
		total += wd
	}
	total += 3 * (len(widths) - 1)
	line := func(row []string) {
		var sb strings.Builder
		for i, cell := range row {
			if i > 0 {
				sb.WriteString("   ")
			}
			pad := strings.Repeat(" ", widths[i]-len([]rune(cell)))
			if rightAligned[i] {
				sb.WriteString(pad + cell)
			} else {
				sb.WriteString(cell + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(sb.String(), " "))
	}
	line(header)
	fmt.Fprintln(w, strings.Repeat("=", total))
	for _, row := range rows {
		line(row)
	}
	fmt.Fprintln(w, strings.Repeat("=", total))
	fmt.Fprintf(w, "Total params: %s\n", compiler.Thousands(s.Trainable+s.Frozen))
	fmt.Fprintf(w, "Trainable params: %s\n", compiler.Thousands(s.Trainable))
	fmt.Fprintf(w, "Frozen params: %s\n", compiler.Thousands(s.Frozen))
	fmt.Fprintf(w, "Forward FLOPs per sample: %s\n", dimString(s.Flops))
	writeMemoryTotals(w, mem, machine)
}

// summaryTrain returns the train that Summarize summarized, or nil when
// it summarized a model: the named train, or by default the last one.
func summaryTrain(prog *compiler.Program, name string) *compiler.Train {
	if name == "" {
		if n := len(prog.Trains); n > 0 {
			return prog.Trains[n-1]
		}
		return nil
	}
	return prog.Train(name)
}

// dimString prints a constant dimension with thousands separators and a
// symbolic one as written in the language.
func dimString(d compiler.Dim) string {
	if n, ok := d.Const(); ok {
		return compiler.Thousands(n)
	}
	return d.String()
}
