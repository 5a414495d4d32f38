package ir

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/encc-lang/encc/internal/golden"
)

// TestDot draws a small optimized and planned graph, compares it with a
// golden file and, where Graphviz is installed, renders it with dot.
func TestDot(t *testing.T) {
	a := golden.Read(t, "testdata/passes/fuse/mlp.txtar")
	src, _ := a.Get("in.ir")
	g, err := Parse("mlp", src)
	if err != nil {
		t.Fatal(err)
	}
	if err := Optimize(g, PipelineOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := PlanMemory(g, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := Dot(g, p)
	golden.Check(t, "testdata/passes/dot/mlp.dot", out)
	renderDot(t, out)
	renderDot(t, Dot(g, nil))
	g2, _ := buildMLP(t)
	renderDot(t, Dot(g2, nil))
}

// renderDot runs Graphviz's dot on src when it is installed.
func renderDot(t *testing.T, src []byte) {
	t.Helper()
	path, err := exec.LookPath("dot")
	if err != nil {
		t.Log("dot not installed: not rendering")
		return
	}
	cmd := exec.Command(path, "-Tsvg")
	cmd.Stdin = bytes.NewReader(src)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	svg, err := cmd.Output()
	if err != nil || stderr.Len() > 0 || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("dot -Tsvg: %v: %s\n%s", err, stderr.String(), src)
	}
}
