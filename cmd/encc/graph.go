package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/encc-lang/encc/compiler"
)

var graphCmd = &command{
	name:     "graph",
	args:     "FILE [MODEL | TRAIN] [-o FILE.svg|png|dot] [--unfold]",
	synopsis: "draw a model as a diagram of its layers",
	doc: `Graph checks FILE and draws one model the way a person thinks of it, as
Keras' plot_model or torchview do: one box per layer call (its name and
kind, output shape, parameter count, and "frozen" when the train's first
phase freezes all its parameters), each sub-model (encoder, blocks.0…)
as a labelled cluster around its layers, the inputs and the output with
their shapes (f32[B, T, 128]), and an arrow wherever a layer reads what
another produced, through any tensor operations in between. A stack of n
identical blocks, repeat(n, ...), is drawn once and labelled "×n";
--unfold draws every block.

The second argument picks the model as for summary: a model of FILE
(with its default hyper-parameters) or a train's model; by default the
last train, else the last model whose hyper-parameters have defaults.

Without -o, graph prints the Graphviz source. With -o FILE.svg or
FILE.png it renders it with Graphviz' dot when dot is installed; when it
is not, it writes the source next to FILE (FILE.dot) and says so. With
-o FILE.dot it writes the source. The graph of the optimized IR, for
compiler work, is 'encc compile --emit dot'.`,
	run: runGraph,
}

func runGraph(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("graph")
	out := fs.String("o", "", "write the diagram to this .svg, .png or .dot file")
	unfold := fs.Bool("unfold", false, "draw every block of repeat(...) stacks")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return usageError("graph", stderr, "no file")
	}
	if len(pos) > 2 {
		return usageError("graph", stderr, "too many arguments")
	}
	format := ""
	if *out != "" {
		format = strings.ToLower(strings.TrimPrefix(filepath.Ext(*out), "."))
		switch format {
		case "svg", "png", "dot":
		default:
			return usageError("graph", stderr, "-o %s: unknown extension %q (have: .svg, .png, .dot)", *out, filepath.Ext(*out))
		}
	}
	file, name := pos[0], ""
	if len(pos) == 2 {
		name = pos[1]
	}
	prog, ok := checkProgram(file, stderr)
	if !ok {
		return exitFail
	}
	s, err := prog.Summarize(name)
	if err != nil {
		return failf("graph", stderr, "%s: %v", file, err)
	}
	title := s.Model
	if tr := summaryTrain(prog, name); tr != nil {
		title = "train " + tr.Name + ": " + s.Model
	}
	src := s.Dot(compiler.GraphOptions{Unfold: *unfold, Title: title})
	switch format {
	case "":
		stdout.Write(src)
		return exitOK
	case "dot":
		if err := os.WriteFile(*out, src, 0o644); err != nil {
			return failf("graph", stderr, "%v", err)
		}
		return exitOK
	}
	dot, err := exec.LookPath("dot")
	if err != nil {
		path := strings.TrimSuffix(*out, filepath.Ext(*out)) + ".dot"
		if err := os.WriteFile(path, src, 0o644); err != nil {
			return failf("graph", stderr, "%v", err)
		}
		fmt.Fprintf(stderr, "encc graph: Graphviz dot is not installed; wrote %s (render it with dot -T%s)\n", path, format)
		return exitOK
	}
	var errb bytes.Buffer
	cmd := exec.Command(dot, "-T"+format, "-o", *out)
	cmd.Stdin = bytes.NewReader(src)
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return failf("graph", stderr, "dot -T%s: %v: %s", format, err, strings.TrimSpace(errb.String()))
	}
	return exitOK
}
