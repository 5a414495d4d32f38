package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/backend"
	"github.com/encc-lang/encc/backend/cuda"
	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
)

var compileCmd = &command{
	name:     "compile",
	args:     "FILE [TRAIN | MODEL] [--emit ir|opt|plan|dot] [--print-after PASS] [--phase N] [--batch N] [--dim NAME=N] [--target cpu|cuda] [-o DIR]",
	synopsis: "lower a train or model to IR, optimize and plan it, and print a stage",
	doc: `Compile checks FILE, lowers one train (its training step: forward, loss,
backward for the phase's trainable parameters, optimizer update) or one
model (its forward) to the IR, runs the pass pipeline and plans memory.

--emit chooses what is printed:
  ir    the lowered graph, before any pass
  opt   the graph after the pass pipeline (canonicalize, fold, cse, dce,
        simplify, fuse)
  plan  the optimized graph's memory plan: every buffer's offset in one
        arena, and the arena size against the sum of all buffers
  dot   Graphviz input for the optimized graph (dot -Tsvg)
--print-after PASS prints the graph after one pass as well (on stderr
when the emitted stage goes to stdout). --phase picks a phase of a train
(0-based); --batch sets the batch size (default: the train's batch, or 1
for a model); --dim binds another dimension variable of a model's input
(--dim T=64). With -o DIR, the stage is written to DIR/NAME.EXT instead.

--target cuda (with -o DIR) writes the CUDA form of the optimized,
planned graph instead of a stage: DIR/kernels.cu (one kernel per value),
DIR/plan.json (the arena, inputs, buffers and the ordered launches and
cuBLAS GEMMs) and DIR/README.md. It needs no GPU.

The second argument names a train or a model of FILE; without it,
compile picks the last train, else the last model whose hyper-parameters
all have defaults.`,
	run: runCompile,
}

type dimFlags map[string]int

func (d dimFlags) String() string { return fmt.Sprint(map[string]int(d)) }

func (d dimFlags) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	n, err := strconv.Atoi(val)
	if !ok || err != nil || n <= 0 || name == "" {
		return fmt.Errorf("want NAME=N with N > 0, got %q", s)
	}
	d[name] = n
	return nil
}

func runCompile(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("compile")
	emit := fs.String("emit", "opt", "ir, opt, plan or dot")
	printAfter := fs.String("print-after", "", "print the graph after this pass")
	phase := fs.Int("phase", 0, "phase of the train (0-based)")
	batch := fs.Int("batch", 0, "batch size")
	out := fs.String("o", "", "write to this directory")
	target := fs.String("target", "cpu", "cpu or cuda")
	dims := dimFlags{}
	fs.Var(dims, "dim", "bind a dimension variable: NAME=N")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) == 0 || len(pos) > 2 {
		return usageError("compile", stderr, "want FILE and at most one train or model name")
	}
	switch *emit {
	case "ir", "opt", "plan", "dot":
	default:
		return usageError("compile", stderr, "--emit must be ir, opt, plan or dot, not %q", *emit)
	}
	switch *target {
	case "cpu":
	case "cuda":
		if *out == "" {
			return usageError("compile", stderr, "--target cuda writes a directory: give -o DIR")
		}
	default:
		return usageError("compile", stderr, "--target must be cpu or cuda, not %q", *target)
	}
	file := pos[0]
	prog, diags := compiler.CheckFile(file, nil)
	if len(diags) > 0 {
		printDiags(stderr, diags, prog)
	}
	if diags.HasErrors() || prog == nil {
		return exitFail
	}
	name := ""
	if len(pos) == 2 {
		name = pos[1]
	}
	g, gname, err := lowerFor(prog, name, *phase, *batch, dims)
	if err != nil {
		return failf("compile", stderr, "%s", withFile(file, err))
	}
	if *emit == "ir" {
		return emitText(stdout, stderr, *out, gname+".ir", g.String())
	}
	opts := backend.Options{}
	if *printAfter != "" {
		w := stdout
		if *out == "" {
			w = stderr
		}
		opts.Pipeline.PrintAfter = map[string]func(string){*printAfter: func(text string) {
			fmt.Fprintf(w, "// after %s\n%s", *printAfter, text)
		}}
	}
	if err := backend.Optimize(g, opts); err != nil {
		return failf("compile", stderr, "%v", err)
	}
	if *target == "cuda" {
		plan, err := ir.PlanMemory(g, ir.PlanOptions{})
		if err != nil {
			return failf("compile", stderr, "planning memory: %v", err)
		}
		return emitCUDA(stdout, stderr, *out, g, plan, file+" "+gname)
	}
	switch *emit {
	case "opt":
		return emitText(stdout, stderr, *out, gname+".opt.ir", g.String())
	}
	plan, err := ir.PlanMemory(g, ir.PlanOptions{})
	if err != nil {
		return failf("compile", stderr, "planning memory: %v", err)
	}
	if *emit == "plan" {
		return emitText(stdout, stderr, *out, gname+".plan", plan.Format(g))
	}
	return emitText(stdout, stderr, *out, gname+".dot", string(ir.Dot(g, plan)))
}

// emitCUDA writes the CUDA module of the planned graph (kernels.cu,
// plan.json, README.md) into dir and prints the paths.
func emitCUDA(stdout, stderr io.Writer, dir string, g *ir.Graph, plan *ir.Plan, source string) int {
	m, err := cuda.Emit(g, plan, cuda.EmitOptions{Source: filepath.ToSlash(source)})
	if err != nil {
		return failf("compile", stderr, "%v", err)
	}
	if err := m.WriteDir(dir); err != nil {
		return failf("compile", stderr, "%v", err)
	}
	for _, name := range []string{"kernels.cu", "plan.json", "README.md"} {
		fmt.Fprintln(stdout, filepath.Join(dir, name))
	}
	return exitOK
}

// lowerFor lowers the named train (one phase) or model.
func lowerFor(prog *compiler.Program, name string, phase, batch int, dims map[string]int) (*ir.Graph, string, error) {
	if name == "" {
		if name = prog.DefaultName(); name == "" {
			return nil, "", fmt.Errorf("no train and no model with default hyper-parameters to compile")
		}
	}
	if tr := prog.Train(name); tr != nil {
		if phase < 0 || phase >= len(tr.Phases) {
			return nil, "", fmt.Errorf("train %s has %d phases; --phase %d is out of range", name, len(tr.Phases), phase)
		}
		if batch == 0 {
			batch = tr.Batch
		}
		sg, err := prog.LowerStep(tr, phase, batch)
		if err != nil {
			return nil, "", err
		}
		gname := name
		if len(tr.Phases) > 1 {
			gname += "." + tr.Phases[phase].Name
		}
		return sg.Graph, gname, nil
	}
	for _, m := range prog.Models {
		if m.Name != name {
			continue
		}
		if m.Default == nil {
			return nil, "", fmt.Errorf("model %s has hyper-parameters without defaults; compile a train or a model that instantiates it", name)
		}
		if batch == 0 {
			batch = 1
		}
		all := map[string]int{"B": batch}
		for k, v := range dims {
			all[k] = v
		}
		g, err := prog.LowerForward(m.Default, all)
		return g, name, err
	}
	var names []string
	for _, t := range prog.Trains {
		names = append(names, t.Name)
	}
	for _, m := range prog.Models {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	return nil, "", fmt.Errorf("no train or model named %q (have: %s)", name, strings.Join(names, ", "))
}

// emitText prints text, or writes it to dir/name when dir is set.
func emitText(stdout, stderr io.Writer, dir, name, text string) int {
	if dir == "" {
		io.WriteString(stdout, text)
		return exitOK
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return failf("compile", stderr, "%v", err)
	}
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return failf("compile", stderr, "%v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return failf("compile", stderr, "%v", err)
	}
	fmt.Fprintln(stdout, path)
	return exitOK
}
