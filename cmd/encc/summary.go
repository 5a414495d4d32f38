package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/encc-lang/encc/compiler"
)

var summaryCmd = &command{
	name:     "summary",
	args:     "FILE [MODEL | TRAIN]",
	synopsis: "print a model's layers, output shapes, parameters and FLOPs",
	doc: `Summary checks FILE and prints a table of the forward pass of one model,
like Keras' model.summary(): one row per layer call with its dotted path
(indented by depth), its kind, its output shape, its trainable and frozen
parameters, and its forward FLOPs per sample (a multiply-add is 2 FLOPs),
then the totals.

The second argument names a model of FILE (built with its default
hyper-parameters) or a train (its model; what the first phase freezes is
counted as frozen). Without it, summary picks the last train of FILE, or
else the last model whose hyper-parameters all have defaults. Buffers
count as frozen parameters.`,
	run: runSummary,
}

func runSummary(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("summary")
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
	writeSummary(stdout, prog, name, s)
	return exitOK
}

// writeSummary prints s as a table.
func writeSummary(w io.Writer, prog *compiler.Program, name string, s *compiler.Summary) {
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

	header := []string{"Layer", "Kind", "Output shape", "Trainable", "Frozen", "FLOPs/sample"}
	rightAligned := []bool{false, false, false, true, true, true}
	rows := [][]string{}
	for _, r := range s.Rows {
		rows = append(rows, []string{
			strings.Repeat("  ", r.Depth) + r.Path,
			r.Kind,
			r.Out,
			compiler.Thousands(r.Trainable),
			compiler.Thousands(r.Frozen),
			dimString(r.Flops),
		})
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
