package backend

import (
	"errors"
	"strings"
	"testing"

	"github.com/encc-lang/encc/backend/cuda"
	"github.com/encc-lang/encc/ir"
)

// graph is y = relu(x) + relu(x): the pipeline's cse merges the two relus.
func graph(t *testing.T) *ir.Graph {
	t.Helper()
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x, err := b.Input("x", ir.RoleData, ir.TensorOf(ir.F32, 4))
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := b.Relu(x)
	r2, _ := b.Relu(x)
	y, err := b.Op(ir.OpAdd, ir.Type{}, nil, r1, r2)
	if err != nil {
		t.Fatal(err)
	}
	g.AddOutput("y", y)
	return g
}

func TestCompileCPU(t *testing.T) {
	g := graph(t)
	var after string
	p, err := Compile(g, "cpu", Options{Threads: 1, Pipeline: ir.PipelineOptions{PrintAfter: map[string]func(string){"cse": func(s string) { after = s }}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(after, "relu") != 1 {
		t.Errorf("the pipeline did not run (cse leaves one relu):\n%s", after)
	}
	if err := p.Bind("x", []float32{-1, 2, -3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if got := p.Float32("y"); len(got) != 4 || got[0] != 0 || got[1] != 4 || got[3] != 8 {
		t.Errorf("y = %v, want [0 4 0 8]", got)
	}
}

func TestCompileTargets(t *testing.T) {
	if _, err := Compile(graph(t), "tpu", Options{}); err == nil || err.Error() != `unknown target "tpu" (have: cpu, cuda)` {
		t.Errorf("unknown target: %v", err)
	}
	if !cuda.Available() {
		if _, err := Compile(graph(t), "cuda", Options{}); !errors.Is(err, cuda.ErrNoCUDA) {
			t.Errorf("cuda without the cuda tag: %v", err)
		}
	}
}
