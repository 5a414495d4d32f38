package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"unsafe"

	"github.com/encc-lang/encc/ir"
)

// flatSteps lists p's steps with each stage's steps in its place.
func flatSteps(p *Program) []step {
	var out []step
	for _, s := range p.steps {
		if st, ok := s.k.(*stageKernel); ok {
			out = append(out, st.steps...)
			continue
		}
		out = append(out, s)
	}
	return out
}

// stageCases are training steps with independent mid-sized steps.
func stageCases(t *testing.T) []struct {
	name string
	g    func() *ir.Graph
} {
	return []struct {
		name string
		g    func() *ir.Graph
	}{
		{"w1", func() *ir.Graph { return mlpGraph(64) }},
		{"w1_b8", func() *ir.Graph { return mlpGraph(8) }},
		{"lenet", func() *ir.Graph { return lenetGraph(16) }},
		{"digits_mlp", func() *ir.Graph { return stepGraph(t, "digits_mlp", 0, 0, 32, true) }},
		{"digits_finetune", func() *ir.Graph { return stepGraph(t, "digits_finetune", 1, 1, 32, true) }},
		{"custom_layer", func() *ir.Graph { return stepGraph(t, "custom_layer", 0, 0, 32, false) }},
		{"w4", func() *ir.Graph { return stepGraph(t, "bench/w4_transformer.enc", 0, 0, 4, true) }},
	}
}

// onOffSteps runs 2 steps of g on two threads with a pass turned off
// (set(false)) and on (set(true), left on), fails unless every output
// has the same bits both ways (what names the case in the message), and
// returns the program compiled with the pass on.
func onOffSteps(t *testing.T, g *ir.Graph, what string, set func(bool)) *Program {
	t.Helper()
	set(false)
	want, _ := runStepsOn(t, g, 2, 2)
	set(true)
	got, p := runStepsOn(t, g, 2, 2)
	sameBits(t, what, want, got)
	return p
}

// sameBits fails unless every result in got has the bits of the one of
// that name in want (results without the change under test, got with
// it; what names the case in the message).
func sameBits(t *testing.T, what string, want, got map[string][]float64) {
	t.Helper()
	for name, w := range want {
		for i := range w {
			if math.Float64bits(w[i]) != math.Float64bits(got[name][i]) {
				t.Fatalf("%s: %s[%d] = %v with the change, %v without", what, name, i, got[name][i], w[i])
			}
		}
	}
}

// runStepsOn runs steps training steps of g on threads cores and
// returns every f32 input (parameters, optimizer state) and named output
// afterwards.
func runStepsOn(t *testing.T, g *ir.Graph, steps, threads int) (map[string][]float64, *Program) {
	p, err := Compile(g, Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(11))
	vals := initInputs(g, r)
	for _, v := range g.Inputs {
		if v.Role() == ir.RoleData && v.Type.DType.IsInt() {
			for i := range vals[v.Name] {
				vals[v.Name][i] = float64(int(vals[v.Name][i]) % 2) // labels and ids valid for W4 too
			}
		}
	}
	bindAll(t, p, g, vals)
	out := map[string][]float64{}
	for step := 1; step <= steps; step++ {
		p.SetScalar("step", float64(step))
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		for _, o := range g.Outputs {
			if o.Updates == nil {
				out[fmt.Sprint(o.Name, "@", step)] = values(p.outputs[o.Name])
			}
		}
	}
	for _, v := range g.Inputs {
		if v.Type.DType == ir.F32 {
			out[v.Name] = values(p.inputs[v.Name])
		}
	}
	return out, p
}

// bitIdentical runs 3 training steps of every stageCases graph on
// threads cores with a pass off (set(false)) and on, and wants the same
// bits in every parameter, optimizer state and output; count tells how
// many of its kernels a program has, and w1 is how many W1 must have.
func bitIdentical(t *testing.T, threads int, set func(bool), count func(*Program) int, w1 int) {
	for _, c := range stageCases(t) {
		t.Run(fmt.Sprint(c.name, "/threads=", threads), func(t *testing.T) {
			defer set(true)
			set(false)
			want, _ := runStepsOn(t, c.g(), 3, threads)
			set(true)
			got, p := runStepsOn(t, c.g(), 3, threads)
			n := count(p)
			t.Logf("%d", n)
			if c.name == "w1" && n != w1 {
				t.Errorf("w1: %d, want %d", n, w1)
			}
			for name, w := range want {
				g := got[name]
				for i := range w {
					if math.Float64bits(w[i]) != math.Float64bits(g[i]) {
						t.Fatalf("%s[%d] = %v with the pass, %v without", name, i, g[i], w[i])
					}
				}
			}
		})
	}
}

// TestStagesBitIdentical: a stage runs each of its steps whole on one
// core, with the splits and products it would have run split, so
// nothing may change. W1 has two stages: the last layer's input, weight
// and bias gradients, and the hidden layer's.
func TestStagesBitIdentical(t *testing.T) {
	bitIdentical(t, 2, func(on bool) { stagesOn = on }, func(p *Program) int {
		n := 0
		for _, s := range p.steps {
			if _, ok := s.k.(*stageKernel); ok {
				n++
			}
		}
		return n
	}, 2)
}

// TestCrossEntropyPairBitIdentical: the fused loss and gradient are the
// bits of the two kernels, on one core and split over two.
func TestCrossEntropyPairBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { fuseCrossEntropyOn = on }, func(p *Program) int {
			n := 0
			for _, s := range flatSteps(p) {
				if _, ok := s.k.(*crossEntropyPair); ok {
					n++
				}
			}
			return n
		}, 1)
	}
}

// TestStageOrder checks the schedule against the storage each step
// touches: two steps that conflict (one writes what the other reads or
// writes) keep their program order and share a stage only as steps of
// one chain, in that order, and every step that cannot take part in a
// stage keeps its place relative to all others. The stages of W1, the
// LeNet and the fine-tune have chains of more than one step.
func TestStageOrder(t *testing.T) {
	defer func(on bool) { stagesOn = on }(stagesOn)
	for _, c := range stageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			g := c.g()
			stagesOn = false
			p0, err := Compile(g, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			stagesOn = true
			p, err := Compile(g, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			// Where each value's step runs: slot in the schedule, and the
			// stage (or -1).
			// In a stage, its chain and its place in the stage.
			at, stage := map[*ir.Value]int{}, map[*ir.Value]int{}
			chain, inStage := map[*ir.Value]int{}, map[*ir.Value]int{}
			chained := 0
			for i, s := range p.steps {
				if st, ok := s.k.(*stageKernel); ok {
					c := 0
					for j, s := range st.steps {
						for j >= st.ends[c] {
							c++
						}
						at[s.v], stage[s.v], chain[s.v], inStage[s.v] = i, i, c, j
					}
					chained += len(st.steps) - len(st.ends)
					continue
				}
				at[s.v], stage[s.v] = i, -1
			}
			if (c.name == "w1" || c.name == "lenet" || c.name == "digits_finetune") && chained == 0 {
				t.Errorf("no chain of more than one step")
			}
			if len(at) != len(p0.steps) {
				t.Fatalf("%d steps scheduled, %d in the program", len(at), len(p0.steps))
			}
			// A buffer's span: its bytes in the arena by its address (not
			// by the plan's offsets, which the program may not follow: a
			// scalar has storage of its own, a ReLU its product's).
			lo := uintptr(unsafe.Pointer(&p.arena[0]))
			hi := lo + uintptr(len(p.arena)*8)
			spanOf := func(b *buffer) span {
				if a := uintptr(b.p); b.n > 0 && a >= lo && a < hi {
					off := int(a - lo)
					return span{b, off, off + b.n*b.dt.Size()}
				}
				return span{b: b}
			}
			flat := flatSteps(p)
			kern := map[*ir.Value]step{}
			for _, s := range flat {
				kern[s.v] = s
			}
			pairs := 0
			for i, a := range p0.steps {
				ua, oka := p.stageable(kern[a.v], spanOf)
				for _, b := range p0.steps[i+1:] {
					ub, okb := p.stageable(kern[b.v], spanOf)
					if oka && okb && !conflict(&ua, &ub) {
						continue
					}
					pairs++
					if at[a.v] == at[b.v] && stage[a.v] >= 0 && chain[a.v] == chain[b.v] && inStage[a.v] < inStage[b.v] {
						continue // one chain, in order
					}
					if at[a.v] >= at[b.v] { // out of order, or in one stage
						t.Fatalf("%s runs at %d, %s at %d (stage %d): they conflict", a.v.Ref(), at[a.v], b.v.Ref(), at[b.v], stage[b.v])
					}
				}
			}
			t.Logf("%d steps, %d conflicting pairs checked", len(p0.steps), pairs)
		})
	}
}

// TestStageError: when steps fail, the error names the first of them in
// program order, whether they run in a stage or fused, as without: here
// a label out of range, which both cross-entropy steps check.
func TestStageError(t *testing.T) {
	defer func(on, ce bool) { stagesOn, fuseCrossEntropyOn = on, ce }(stagesOn, fuseCrossEntropyOn)
	var msgs []string
	for _, on := range []bool{false, true} {
		for _, ce := range []bool{false, true} {
			stagesOn, fuseCrossEntropyOn = on, ce
			g := mlpGraph(64)
			p, err := Compile(g, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			bindAll(t, p, g, initInputs(g, rand.New(rand.NewSource(1))))
			p.SetScalar("step", 1)
			p.Int32("label")[5] = 10
			err = p.Run()
			if err == nil {
				t.Fatal("no error for a label out of range")
			}
			msgs = append(msgs, err.Error())
		}
	}
	for _, m := range msgs[1:] {
		if m != msgs[0] || !strings.Contains(m, "softmax_cross_entropy:") {
			t.Errorf("messages differ or name another step: %q", msgs)
		}
	}
}

// TestScalarsOffArena: a scalar has storage of its own, so the step
// counters and the small optimizer updates that read them are not held
// behind the last reader of an arena slot the planner reused for them:
// W1's last two layers are updated before the first layer's weight
// gradient runs (in the arena, the step-counter fill went to a slot of
// that gradient's input and every update came after it).
func TestScalarsOffArena(t *testing.T) {
	p, err := Compile(mlpGraph(64), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]int{}
	for i, s := range flatSteps(p) {
		v := s.v
		switch {
		case v.Op == ir.OpMatMul && v.Args[1].Name == "image":
			at["dW1"] = i
		case v.Op == ir.OpAdam:
			at[v.Args[0].Name] = i
		}
	}
	for _, w := range []string{"fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"} {
		if at[w] > at["dW1"] {
			t.Errorf("the update of %s runs at %d, after the first layer's weight gradient (%d)", w, at[w], at["dW1"])
		}
	}
}
