package main

// This file implements the memory part of `encc summary`: the memory
// columns, the totals, the comparison with this machine, and --json.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/compiler"
)

// memoryHeader returns the memory columns: a train's parameters,
// gradients, optimizer state and saved activations; a model's
// parameters.
func memoryHeader(mem *compiler.Memory) []string {
	if mem.Train == "" {
		return []string{"Param mem"}
	}
	return []string{"Param mem", "Grad mem", "Optim mem", "Saved act"}
}

// memoryCells returns the memory columns of row i.
func memoryCells(mem *compiler.Memory, i int) []string {
	r := mem.Rows[i]
	if mem.Train == "" {
		return []string{bytesString(r.Params)}
	}
	return []string{bytesString(r.Params), bytesString(r.Grads), bytesString(r.State), bytesString(r.Saved)}
}

// writeMemoryTotals prints the memory totals and the comparison with
// this machine's memory.
func writeMemoryTotals(w io.Writer, mem *compiler.Memory, machine machineMemory) {
	type line struct{ label, value, note string }
	var lines []line
	if mem.Train == "" {
		fmt.Fprintf(w, "\nMemory of the forward at batch %d:\n", mem.Batch)
		lines = []line{
			{"Parameters", bytesString(mem.Params), ""},
			{"Forward arena (planned)", bytesString(mem.StepArena), "activations and temporaries, slots reused"},
			{"Batch inputs", bytesString(mem.Inputs), ""},
			{"Total", bytesString(mem.Total), "parameters + arena + inputs"},
		}
		if mem.Unplanned != "" {
			lines = []line{
				{"Parameters", bytesString(mem.Params), ""},
				{"Forward arena", "?", "not planned: " + mem.Unplanned},
				{"Total", bytesString(mem.Total), "parameters only; summarize a train of this model for the rest"},
			}
		}
	} else {
		fmt.Fprintf(w, "\nMemory of train %s at batch %d (%s):\n", mem.Train, mem.Batch, mem.Optimizer)
		state := "none"
		if len(mem.StateKinds) > 0 {
			state = strings.Join(mem.StateKinds, ", ") + " per trained parameter"
		}
		lines = []line{
			{"Parameters", bytesString(mem.Params), "parameters and buffers"},
			{"Gradients", bytesString(mem.Grads), "of the trained parameters; in the step arena"},
			{"Optimizer state", bytesString(mem.State), state},
			{"Activations saved for backward", bytesString(mem.Saved), "in the step arena"},
			{"Training step arena (planned)", bytesString(mem.StepArena), "gradients, activations and temporaries, slots reused"},
			{"Evaluation arena (planned)", bytesString(mem.EvalArena), ""},
			{"Arena of the run", bytesString(mem.Arena), "the larger: a run's programs share one arena"},
			{"Batch inputs", bytesString(mem.Inputs), ""},
		}
		if mem.Samples > 0 {
			lines = append(lines, line{"Dataset", bytesString(mem.Dataset), fmt.Sprintf("%s samples × %s, every split, held by a run", compiler.Thousands(mem.Samples), bytesString(mem.Sample))})
		} else if mem.Sample > 0 {
			lines = append(lines, line{"Dataset", "?", fmt.Sprintf("%s a sample; not counted: %s", bytesString(mem.Sample), mem.SamplesWhy)})
		}
		total, note := mem.Total, "parameters + optimizer state + arena + inputs + dataset"
		if machine.Process > 0 {
			lines = append(lines, line{"encc itself", bytesString(machine.Process), "resident size of this process with the file checked (code, Go runtime, the checked program)"})
			total += machine.Process
			note += " + encc itself"
		}
		lines = append(lines, line{"Total", bytesString(total), note})
	}
	lw, vw := 0, 0
	for _, l := range lines {
		lw, vw = max(lw, len(l.label)), max(vw, len(l.value))
	}
	for _, l := range lines {
		s := fmt.Sprintf("  %-*s  %*s", lw+1, l.label+":", vw, l.value)
		if l.note != "" {
			s += "   " + l.note
		}
		fmt.Fprintln(w, s)
	}
	if mem.Train != "" {
		fmt.Fprintln(w, "Not counted: the compiled programs, the Go heap's spare room, what reading the data")
		fmt.Fprintln(w, "needs for a moment.")
		fmt.Fprintln(w, machine.compare(mem.Total+machine.Process))
		return
	}
	fmt.Fprintln(w, machine.compare(mem.Total))
}

// bytesString prints a byte count in binary units: 512 B, 16.0 KiB,
// 5.5 MiB, 1.2 GiB.
func bytesString(n int64) string {
	switch {
	case n == 0:
		return "0"
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}

// A machineMemory is this machine's memory in bytes, 0 when unknown,
// and the resident size of this process (Process, from selfStatusPath).
type machineMemory struct {
	Total, Available int64
	Process          int64
}

// meminfoPath is where readMachineMemory reads the memory of the
// machine (tests point it at a fixed file).
var meminfoPath = "/proc/meminfo"

// selfStatusPath is where readMachineMemory reads this process's
// resident size, VmRSS (tests point it at a fixed file).
var selfStatusPath = "/proc/self/status"

// readMachineMemory reads MemTotal and MemAvailable from /proc/meminfo
// and this process's VmRSS from /proc/self/status (Linux); elsewhere the
// memory is unknown.
func readMachineMemory() machineMemory {
	var m machineMemory
	if b, err := os.ReadFile(selfStatusPath); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						m.Process = kb << 10
					}
				}
			}
		}
	}
	f, err := os.Open(meminfoPath)
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			m.Total = kb << 10
		case "MemAvailable:":
			m.Available = kb << 10
		}
	}
	return m
}

// compare is the line that compares total with the machine's memory.
func (m machineMemory) compare(total int64) string {
	if m.Total == 0 {
		return "This machine's memory is unknown (no /proc/meminfo)."
	}
	s := fmt.Sprintf("This machine has %s of memory", bytesString(m.Total))
	if m.Available > 0 {
		s += fmt.Sprintf(" (%s available)", bytesString(m.Available))
	}
	s += fmt.Sprintf(": the total is %s of it", percent(total, m.Total))
	if m.Available > 0 {
		s += fmt.Sprintf(", %s of what is available", percent(total, m.Available))
		if total > m.Available {
			s += "; it does not fit"
		}
	}
	return s + "."
}

func percent(a, b int64) string {
	p := 100 * float64(a) / float64(b)
	if p < 0.1 {
		return "under 0.1%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// writeSummaryJSON prints the summary as one JSON object.
func writeSummaryJSON(stdout, stderr io.Writer, prog *compiler.Program, name string, s *compiler.Summary, mem *compiler.Memory, machine machineMemory) int {
	type layerMemory struct {
		Params    int64 `json:"params"`
		Grads     int64 `json:"grads"`
		Optimizer int64 `json:"optimizer_state"`
		Saved     int64 `json:"saved_activations"`
	}
	type layer struct {
		Path      string      `json:"path"`
		Kind      string      `json:"kind"`
		Depth     int         `json:"depth"`
		Output    string      `json:"output"`
		Trainable int64       `json:"trainable"`
		Frozen    int64       `json:"frozen"`
		Flops     any         `json:"flops_per_sample"`
		Memory    layerMemory `json:"memory"`
	}
	type input struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	type memory struct {
		Batch            int      `json:"batch"`
		Optimizer        string   `json:"optimizer,omitempty"`
		StateKinds       []string `json:"state_kinds,omitempty"`
		Params           int64    `json:"params"`
		Grads            int64    `json:"grads"`
		Optimizer_       int64    `json:"optimizer_state"`
		Saved            int64    `json:"saved_activations"`
		StepArena        int64    `json:"step_arena,omitempty"`
		ForwardArena     int64    `json:"forward_arena,omitempty"`
		EvalArena        int64    `json:"eval_arena,omitempty"`
		Inputs           int64    `json:"inputs"`
		Arena            int64    `json:"arena,omitempty"`
		Sample           int64    `json:"dataset_sample,omitempty"`
		Samples          int64    `json:"dataset_samples,omitempty"`
		Dataset          int64    `json:"dataset,omitempty"`
		SamplesWhy       string   `json:"dataset_unknown,omitempty"`
		Process          int64    `json:"process,omitempty"`
		Total            int64    `json:"total"`
		Unplanned        string   `json:"unplanned,omitempty"`
		MachineTotal     int64    `json:"machine_total,omitempty"`
		MachineAvailable int64    `json:"machine_available,omitempty"`
	}
	out := struct {
		Model     string  `json:"model"`
		Train     string  `json:"train,omitempty"`
		Inputs    []input `json:"inputs"`
		Output    string  `json:"output"`
		Layers    []layer `json:"layers"`
		Total     int64   `json:"total_params"`
		Trainable int64   `json:"trainable_params"`
		Frozen    int64   `json:"frozen_params"`
		Flops     any     `json:"flops_per_sample"`
		Memory    memory  `json:"memory"`
	}{
		Model: s.Model, Output: s.Output, Total: s.Trainable + s.Frozen, Trainable: s.Trainable, Frozen: s.Frozen,
		Flops: dimJSON(s.Flops), Inputs: []input{}, Layers: []layer{},
		Memory: memory{Batch: mem.Batch, Optimizer: mem.Optimizer, StateKinds: mem.StateKinds, Params: mem.Params, Grads: mem.Grads,
			Optimizer_: mem.State, Saved: mem.Saved, StepArena: mem.StepArena, EvalArena: mem.EvalArena, Inputs: mem.Inputs, Sample: mem.Sample,
			Arena: mem.Arena, Samples: mem.Samples, Dataset: mem.Dataset, SamplesWhy: mem.SamplesWhy,
			Total: mem.Total, Unplanned: mem.Unplanned, MachineTotal: machine.Total, MachineAvailable: machine.Available},
	}
	if mem.Train == "" { // a model: its forward's arena
		out.Memory.StepArena, out.Memory.ForwardArena, out.Memory.Arena = 0, mem.StepArena, 0
	} else { // a train's total counts encc itself, as the table's
		out.Memory.Process = machine.Process
		out.Memory.Total += machine.Process
	}
	if tr := summaryTrain(prog, name); tr != nil {
		out.Train = tr.Name
	}
	for _, in := range s.Inputs {
		out.Inputs = append(out.Inputs, input{in.Name, in.Type})
	}
	for i, r := range s.Rows {
		m := mem.Rows[i]
		out.Layers = append(out.Layers, layer{Path: r.Path, Kind: r.Kind, Depth: r.Depth, Output: r.Out, Trainable: r.Trainable,
			Frozen: r.Frozen, Flops: dimJSON(r.Flops), Memory: layerMemory{m.Params, m.Grads, m.State, m.Saved}})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return failf("summary", stderr, "%v", err)
	}
	stdout.Write(append(b, '\n'))
	return exitOK
}

// dimJSON is a constant dimension as a number, a symbolic one as text.
func dimJSON(d compiler.Dim) any {
	if n, ok := d.Const(); ok {
		return n
	}
	return d.String()
}
