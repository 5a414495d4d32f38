package ir

import (
	"path/filepath"
	"testing"

	"github.com/encc-lang/encc/internal/golden"
)

// TestPassGolden runs each pass on the graphs of
// ir/testdata/passes/<pass>/*.txtar (section in.ir) and compares the
// result with section out.ir. The semantics of each rewrite are checked
// by the evaluator in ir/eval (TestPassSemantics) and over the example
// programs in compiler (TestPassSemanticsExamples).
func TestPassGolden(t *testing.T) {
	for _, name := range Passes() {
		files, _ := filepath.Glob(filepath.Join("testdata/passes", name, "*.txtar"))
		if len(files) == 0 && name != "verify" {
			t.Errorf("pass %s has no golden tests", name)
		}
		for _, file := range files {
			t.Run(name+"/"+filepath.Base(file), func(t *testing.T) {
				a := golden.Read(t, file)
				src, _ := a.Get("in.ir")
				g, err := Parse(file, src)
				if err != nil {
					t.Fatal(err)
				}
				if err := RunPass(name, g); err != nil {
					t.Fatal(err)
				}
				out := g.String()
				a.Check(t, "out.ir", []byte(out))
				g2, err := Parse(file, []byte(out))
				if err != nil {
					t.Fatalf("output does not parse: %v", err)
				}
				if g2.String() != out {
					t.Errorf("output does not round-trip")
				}
			})
		}
	}
}

func TestPassOrder(t *testing.T) {
	want := []string{"verify", "canonicalize", "fold", "cse", "dce", "simplify", "fuse"}
	if got := Passes(); len(got) != len(want) {
		t.Fatalf("Passes() = %v", got)
	}
	g, _ := buildMLP(t)
	var ran []string
	err := Optimize(g, PipelineOptions{
		Disable:   []string{"cse", "dce"},
		AfterEach: func(p string, _ *Graph) error { ran = append(ran, p); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ran) != 6 || ran[3] != "dce" {
		t.Errorf("ran %v: want every pass but cse, dce being required", ran)
	}
	if err := Optimize(g, PipelineOptions{PrintAfter: map[string]func(string){"fusion": nil}}); err == nil {
		t.Error("unknown pass accepted")
	}
	printed := ""
	if err := Optimize(g, PipelineOptions{PrintAfter: map[string]func(string){"fuse": func(s string) { printed = s }}}); err != nil || printed != g.String() {
		t.Errorf("PrintAfter: %v, %q", err, printed)
	}
}
