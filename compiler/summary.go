package compiler

import (
	"fmt"
	"strings"

	"github.com/encc-lang/encc/ir"
)

// This file implements the data behind `encc summary`: one row per layer
// call of a model's forward, like Keras' model.summary().

// A SummaryRow is one layer or model call in a forward pass.
type SummaryRow struct {
	Path      string // dotted path: encoder.fc1
	Kind      string // Linear, Conv2d, or the model's name
	Depth     int    // nesting depth, 0 for direct children of the root
	Out       string // output type: f32[B, 128]
	Trainable int64  // parameters under Path that are trained
	Frozen    int64  // parameters under Path that are frozen or buffers
	Flops     Dim    // forward FLOPs per sample (B = 1)
	From      []int  // what it reads: rows (their index in Summary.Rows) or inputs (-1 - index in Summary.Inputs)
	Leaf      bool   // a node of the data flow: a built-in layer, or a model call without layer calls inside
}

// A Summary is the table of a model and its totals.
type Summary struct {
	Model     string // the instance, as a call
	Input     string // input types
	Output    string
	Inputs    []SummaryInput  // the root forward's inputs, with the types the summary ran on
	Outputs   []SummaryOutput // the root forward's output, or its named outputs
	Rows      []*SummaryRow
	Trainable int64
	Frozen    int64
	Flops     Dim // per sample
}

// Summarize traces the forward of a model or of a train's model. name is
// a model of the root file (with default hyper-parameters) or a train
// (whose first phase decides what is frozen); "" picks the last train,
// else the last model with defaults.
func (p *Program) Summarize(name string) (*Summary, error) {
	var in *Instance
	frozen := map[string]bool{}
	if name == "" {
		if name = p.DefaultName(); name == "" {
			return nil, fmt.Errorf("no train and no model with default hyper-parameters to summarize")
		}
	}
	var data *Dataset
	var adapters []*Param // a LoRA train's (lora.go): counted under their layer
	if tr := p.Train(name); tr != nil {
		in = tr.Model
		frozen = tr.Phases[0].Frozen
		data = tr.Data
		for _, q := range tr.Params {
			if q.IsAdapter() {
				adapters = append(adapters, q)
			}
		}
	} else {
		for _, m := range p.Models {
			if m.Name == name {
				if m.Default == nil {
					return nil, fmt.Errorf("model %s has hyper-parameters without defaults; summarize a train or a model that instantiates it", name)
				}
				in = m.Default
			}
		}
	}
	if in == nil {
		return nil, fmt.Errorf("no model or train named %q (have: %s)", name, strings.Join(p.names(), ", "))
	}
	c := p.c
	t := &tracer{}
	c.tr = t
	defer func() { c.tr = nil }()
	root := &SummaryRow{Depth: -1}
	t.stack = []*SummaryRow{root}
	var total Dim
	c.flops = &total
	if in.forward == nil {
		c.flops = nil
		return nil, fmt.Errorf("model %s has no forward to summarize", in.Model.name)
	}
	out, err := c.runOn(in, data)
	c.flops = nil
	if err != nil {
		return nil, fmt.Errorf("the forward of %s does not check", in.Model.name)
	}
	s := &Summary{Model: in.String(), Output: kindOrType(out), Rows: t.rows, Inputs: t.summaryInputs(), Outputs: t.summaryOutputs(out)}
	s.groupSources()
	var ins []string
	for _, prm := range in.forward.Params {
		ins = append(ins, c.text(prm))
	}
	s.Input = strings.Join(ins, ", ")
	params := append(in.Params(), adapters...)
	count := func(prefix string) (tr, fr int64) {
		for _, q := range params {
			if prefix != "" && q.Path != prefix && !strings.HasPrefix(q.Path, prefix+".") {
				continue
			}
			if q.Buffer || frozen[q.Path] {
				fr += q.Elements()
			} else {
				tr += q.Elements()
			}
		}
		return
	}
	for _, r := range s.Rows {
		r.Trainable, r.Frozen = count(r.Path)
		r.Flops = r.Flops.Subst(map[string]Dim{"B": ConstDim(1)})
	}
	s.Trainable, s.Frozen = count("")
	s.Flops = total.Subst(map[string]Dim{"B": ConstDim(1)})
	return s, nil
}

// DefaultName is what commands act on when no name is given: the last
// train of the root file, else its last model whose hyper-parameters all
// have defaults, else "".
func (p *Program) DefaultName() string {
	if n := len(p.Trains); n > 0 {
		return p.Trains[n-1].Name
	}
	name := ""
	for _, m := range p.Models {
		if m.Default != nil {
			name = m.Name
		}
	}
	return name
}

func (p *Program) names() []string {
	var out []string
	for _, t := range p.Trains {
		out = append(out, t.Name)
	}
	for _, m := range p.Models {
		out = append(out, m.Name)
	}
	return out
}

// A tracer collects summary rows while a forward runs.
type tracer struct {
	rows  []*SummaryRow
	stack []*SummaryRow
	traceState
	owner map[*ir.Value]int // while lowering with Program.Memory: the row that emitted each IR value
}

// traceEnter starts a row for a layer or model call; the returned
// function finishes it with the output.
func (c *checker) traceEnter(path, kind string, args []*argVal) func(out Value) {
	if c.tr == nil {
		return func(Value) {}
	}
	t := c.tr
	row := &SummaryRow{Path: path, Kind: kind, Depth: len(t.stack) - 1}
	for _, a := range args {
		if a != nil {
			row.From = union(row.From, t.sourcesOf(a.v))
		}
	}
	idx, seq0, mark := len(t.rows), t.seq, c.irMark()
	t.rows = append(t.rows, row)
	t.stack = append(t.stack, row)
	outer := c.flops
	var own Dim
	c.flops = &own
	return func(out Value) {
		row.Out = kindOrType(out)
		row.Flops = own
		row.Leaf = len(t.rows) == idx+1
		t.finish(idx, row.Leaf, out, seq0)
		c.claimIR(idx, mark)
		t.stack = t.stack[:len(t.stack)-1]
		c.flops = outer
		if outer != nil {
			*outer = outer.Add(own)
		}
	}
}

// groupSources sets the sources of each row that is not a leaf to what
// the leaves under it read from outside it.
func (s *Summary) groupSources() {
	for i, r := range s.Rows {
		if r.Leaf {
			continue
		}
		end := i + 1
		for end < len(s.Rows) && s.Rows[end].Depth > r.Depth {
			end++
		}
		r.From = nil
		for _, q := range s.Rows[i+1 : end] {
			if !q.Leaf {
				continue
			}
			for _, f := range q.From {
				if f < i || f >= end {
					r.From = union(r.From, []int{f})
				}
			}
		}
	}
}
