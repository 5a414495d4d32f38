package compiler

// This file implements the data flow between the rows of a summary:
// which layer calls (or model inputs) each layer call reads, which
// `encc graph` draws as edges.
//
// While a traced forward runs, every tensor value carries its sources:
// the layer calls and inputs it was computed from. A layer call's output
// has that call as its only source; any other tensor expression (x + y,
// reshape, a slice, a model call made of raw ops) has the union of the
// sources of the tensors its sub-expressions evaluated to. A call reads from the sources of its
// arguments.

import "sort"

// A source is a summary row (its index, >= 0) or an input of the root
// model (-1 - its index).
type source = int

// traceState is the part of a tracer that follows the data flow.
type traceState struct {
	srcs   map[*TensorV]tensorSources
	frames [][]source // sources collected by each expression being evaluated
	seq    int        // counts assignments to srcs
	inputs []*TensorV
	names  []string
}

type tensorSources struct {
	from []source
	seq  int // when the sources were assigned
}

// A SummaryInput is an input of the root model's forward.
type SummaryInput struct {
	Name string
	Type string // f32[B, T, 128]
}

// traceEval runs eval1 for e, giving its tensor result the union of the
// sources of the tensors its sub-expressions evaluated to, unless the
// result already has sources (a name, a layer call's output).
func (c *checker) traceEval(eval1 func() Value) Value {
	t := c.tr
	t.frames = append(t.frames, nil)
	v := eval1()
	collected := t.frames[len(t.frames)-1]
	t.frames = t.frames[:len(t.frames)-1]
	tv, ok := v.(*TensorV)
	if !ok {
		return v
	}
	s, known := t.srcs[tv]
	if !known {
		s = t.assign(tv, collected)
	}
	if n := len(t.frames); n > 0 {
		t.frames[n-1] = union(t.frames[n-1], s.from)
	}
	return v
}

func (t *traceState) assign(tv *TensorV, from []source) tensorSources {
	if t.srcs == nil {
		t.srcs = map[*TensorV]tensorSources{}
	}
	t.seq++
	s := tensorSources{from: from, seq: t.seq}
	t.srcs[tv] = s
	return s
}

// traceInput records an input of the root model.
func (c *checker) traceInput(name string, tv *TensorV) {
	t := c.tr
	t.inputs = append(t.inputs, tv)
	t.names = append(t.names, name)
	t.assign(tv, []source{-len(t.inputs)})
}

// summaryInputs returns the inputs with the types the forward ran on.
func (t *traceState) summaryInputs() []SummaryInput {
	var out []SummaryInput
	for i, tv := range t.inputs {
		out = append(out, SummaryInput{Name: t.names[i], Type: tv.T.String()})
	}
	return out
}

// finish gives out the row as its only source when the row is a node of
// the data flow: a built-in layer, or a model call with no layer calls
// inside (its output was computed during the call from raw ops).
func (t *traceState) finish(row int, leaf bool, out Value, seq0 int) {
	tv, ok := out.(*TensorV)
	if !ok {
		return
	}
	if s, known := t.srcs[tv]; leaf && (!known || s.seq > seq0) {
		t.assign(tv, []source{row})
	}
}

// A SummaryOutput is an output of the root model's forward: "output",
// or one of its named outputs.
type SummaryOutput struct {
	Name string
	Type string
	From []int // its sources, as SummaryRow.From
}

// summaryOutputs returns the outputs of a forward that returned v.
func (t *traceState) summaryOutputs(v Value) []SummaryOutput {
	if r, ok := v.(*RecordV); ok {
		var out []SummaryOutput
		for _, n := range r.Names {
			out = append(out, SummaryOutput{Name: n, Type: kindOrType(r.Vals[n]), From: t.sourcesOf(r.Vals[n])})
		}
		return out
	}
	return []SummaryOutput{{Name: "output", Type: kindOrType(v), From: t.sourcesOf(v)}}
}

// sourcesOf returns the sources of v, a tensor or a record of tensors.
func (t *traceState) sourcesOf(v Value) []source {
	switch v := v.(type) {
	case *TensorV:
		return t.srcs[v].from
	case *RecordV:
		var out []source
		for _, n := range v.Names {
			out = union(out, t.sourcesOf(v.Vals[n]))
		}
		return out
	}
	return nil
}

// union returns a ∪ b, sorted.
func union(a, b []source) []source {
	out := append([]source(nil), a...)
	for _, x := range b {
		found := false
		for _, y := range out {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	sort.Ints(out)
	return out
}
