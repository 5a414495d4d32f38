// This file implements the pass pipeline: the list of passes, their
// ordering constraints, Optimize, and the rewriting helpers that passes
// share.
//
// Memory planning is not in the list: it does not rewrite the graph but
// computes a Plan from it (PlanMemory), after Optimize.

package ir

import (
	"fmt"
	"slices"
	"strings"
)

// A pass rewrites a graph in place, preserving its outputs and updates.
type pass struct {
	name     string
	fn       func(*Graph) error
	required bool // run even when disabled: later passes or backends rely on it
}

// passes is the pipeline, in order.
var passes = [...]pass{
	{name: "verify", fn: Verify, required: true},
	{name: "canonicalize", fn: canonicalize},
	{name: "fold", fn: fold},
	{name: "cse", fn: cse},
	{name: "dce", fn: dce, required: true},
	{name: "simplify", fn: simplify},
	{name: "fuse", fn: fuse},
}

// passOrder lists pairs of passes where the first must run before the
// second; init checks the pipeline against them.
var passOrder = [...][2]string{
	{"verify", "canonicalize"}, // passes may assume a valid graph
	{"canonicalize", "fold"},   // fold and simplify see constants on the right, sub as add
	{"canonicalize", "simplify"},
	{"fold", "cse"},      // folded constants become equal and merge
	{"cse", "dce"},       // cse leaves dead duplicates
	{"dce", "fuse"},      // the single-consumer rule counts live uses only
	{"simplify", "fuse"}, // fusion sees the simplified primitive ops
}

func init() {
	pos := map[string]int{}
	for i, p := range passes {
		if _, dup := pos[p.name]; dup {
			panic("ir: pass " + p.name + " listed twice")
		}
		pos[p.name] = i
	}
	for _, c := range passOrder {
		a, okA := pos[c[0]]
		b, okB := pos[c[1]]
		if !okA || !okB || a >= b {
			panic(fmt.Sprintf("ir: pass %s must run before %s", c[0], c[1]))
		}
	}
}

// Passes returns the names of the passes of the pipeline, in order.
func Passes() []string {
	names := make([]string, len(passes))
	for i, p := range passes {
		names[i] = p.name
	}
	return names
}

// PipelineOptions tunes Optimize.
type PipelineOptions struct {
	Disable    []string                          // optional passes to skip; required ones run anyway
	Until      string                            // stop after this pass; "" runs them all
	PrintAfter map[string]func(graph string)     // called with the text form of the graph after the named pass
	AfterEach  func(pass string, g *Graph) error // called after every pass that ran (tests)
}

// Optimize runs the pipeline on g, verifying the graph after every pass.
// An internal error (a panic) in a pass is returned as an error naming
// the pass.
func Optimize(g *Graph, opts PipelineOptions) error {
	for name := range opts.PrintAfter {
		if !slices.Contains(Passes(), name) {
			return fmt.Errorf("no pass %q (passes: %s)", name, strings.Join(Passes(), ", "))
		}
	}
	if opts.Until != "" && !slices.Contains(Passes(), opts.Until) {
		return fmt.Errorf("no pass %q (passes: %s)", opts.Until, strings.Join(Passes(), ", "))
	}
	for _, p := range passes {
		if !p.required && slices.Contains(opts.Disable, p.name) {
			continue
		}
		if err := runPass(p, g); err != nil {
			return err
		}
		if err := Verify(g); err != nil {
			return fmt.Errorf("internal error: graph does not verify after pass %q: %w", p.name, err)
		}
		if f := opts.PrintAfter[p.name]; f != nil {
			f(g.String())
		}
		if opts.AfterEach != nil {
			if err := opts.AfterEach(p.name, g); err != nil {
				return err
			}
		}
		if p.name == opts.Until {
			break
		}
	}
	return nil
}

// RunPass runs the one pass named name on g and verifies the result, for
// tests and tools.
func RunPass(name string, g *Graph) error {
	for _, p := range passes {
		if p.name == name {
			if err := runPass(p, g); err != nil {
				return err
			}
			if err := Verify(g); err != nil {
				return fmt.Errorf("internal error: graph does not verify after pass %q: %w", p.name, err)
			}
			return nil
		}
	}
	return fmt.Errorf("no pass %q", name)
}

func runPass(p pass, g *Graph) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in pass %q: %v", p.name, r)
		}
	}()
	if err := p.fn(g); err != nil {
		return fmt.Errorf("pass %s: %w", p.name, err)
	}
	g.Renumber()
	return nil
}

// rewrite visits g's values in order, with their args already replaced
// by their replacements, and calls f on each non-input value. f may
// append new values with b (they go right after v) and returns v's
// replacement, or nil (or v) to keep it. Outputs and updates are
// redirected to replacements, and values left dead are removed.
func rewrite(g *Graph, f func(b *Builder, v *Value) (*Value, error)) error {
	old := g.Values
	g.Values = make([]*Value, 0, len(old))
	repl := map[*Value]*Value{}
	b := NewBuilder(g)
	for _, v := range old {
		for i, a := range v.Args {
			if r, ok := repl[a]; ok {
				v.Args[i] = r
			}
		}
		g.Values = append(g.Values, v)
		if v.Op == OpInput {
			continue
		}
		b.Pos = v.Pos
		nv, err := f(b, v)
		if err != nil {
			return fmt.Errorf("%s: %w", v.Ref(), err)
		}
		if nv != nil && nv != v {
			repl[v] = nv
		}
	}
	for i, o := range g.Outputs {
		if r, ok := repl[o.Value]; ok {
			g.Outputs[i].Value = r
		}
	}
	removeDead(g)
	return nil
}

// removeDead removes the values that no output, update or in-place op
// needs. Inputs always stay.
func removeDead(g *Graph) {
	live := map[*Value]bool{}
	var stack []*Value
	mark := func(v *Value) {
		if !live[v] {
			live[v] = true
			stack = append(stack, v)
		}
	}
	for _, o := range g.Outputs {
		mark(o.Value)
	}
	for _, v := range g.Values {
		if v.Op == OpInput || v.Op.IsInPlace() {
			mark(v)
		}
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, a := range v.Args {
			mark(a)
		}
	}
	g.Values = slices.DeleteFunc(g.Values, func(v *Value) bool { return !live[v] })
}

// fillValue returns the value of every element of v if v is a fill.
func fillValue(v *Value) (float64, bool) {
	if v.Op == OpFill {
		return v.Aux.(FillAttr).Value, true
	}
	return 0, false
}

// isFill reports whether v is a fill of value c.
func isFill(v *Value, c float64) bool {
	f, ok := fillValue(v)
	return ok && f == c
}
