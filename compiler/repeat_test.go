package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// repeatPrograms are programs whose repeats the clones must get right: a
// layer passed in from outside (every copy shares it), an untyped
// hyper-parameter holding a model, param members with initializers,
// conditional members, nested repeats, and copies with errors.
var repeatPrograms = map[string]string{
	"shared.enc": `
model Block(d: int, inner) {
    param scale: f32[d] = ones()
    fc = Linear(d, d)
    shared = inner
    forward(x: f32[B, d]) -> f32[B, d] { return shared(fc(x)) * scale }
}
model M(d: int = 8) {
    outer = Linear(d, d)
    blocks = repeat(4, Block(d, outer))
    forward(x: f32[B, d]) -> f32[B, d] { return x |> blocks }
}
`,
	"nested.enc": `
model Inner(d: int, deep: bool = false) {
    if deep { extra = Linear(d, d) } else { extra = LayerNorm(d) }
    param w: f32[d, d] = kaiming_uniform()
    forward(x: f32[B, d]) -> f32[B, d] { return extra(x @ w) }
}
model Outer(d: int) {
    inner = repeat(3, Inner(d, deep: true))
    norm = LayerNorm(d)
    forward(x: f32[B, d]) -> f32[B, d] { return x |> inner |> norm }
}
model M(d: int = 6) {
    stack = repeat(5, Outer(d))
    lin = repeat(3, Linear(d, d))
    forward(x: f32[B, d]) -> f32[B, d] { return x |> stack |> lin }
}
`,
	"error.enc": `
model Block(d: int) {
    fc = Linear(d, d + 1)
    forward(x: f32[B, d]) -> f32[B, d] { return fc(x) }
}
model M(d: int = 4) {
    blocks = repeat(4, Block(d))
    forward(x: f32[B, d]) -> f32[B, d] { return x |> blocks }
}
`,
	"error_hyper.enc": `
model Block(d: int) {
    fc = Linear(d, -d)
    forward(x: f32[B, d]) -> f32[B, d] { return fc(x) }
}
model M(d: int = 4) {
    blocks = repeat(3, Block(d))
    forward(x: f32[B, d]) -> f32[B, d] { return x |> blocks }
}
`,
}

// TestRepeatClones checks that cloning the copies of a repeat gives what
// evaluating every copy gives: the same diagnostics, parameters (paths,
// shapes, initializers, positions), summaries, hover values and lowered
// graphs, over the programs above, the repository's .enc files, the
// diagnostic tests and the stdlib.
func TestRepeatClones(t *testing.T) {
	progs := map[string][]byte{}
	for name, src := range repeatPrograms {
		progs[name] = []byte(src)
	}
	for _, pat := range []string{"testdata/*.enc", "testdata/*/*.enc", "../examples/*.enc", "../bench/*.enc", "../stdlib/*.enc", "../testdata/*/*.enc"} {
		files, _ := filepath.Glob(pat)
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			progs[f] = src
		}
	}
	diags, _ := filepath.Glob("testdata/diag/*.txtar")
	for _, f := range diags {
		ar, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, af := range ar.Files {
			if strings.HasSuffix(af.Name, ".enc") {
				progs[f+"/"+af.Name] = af.Data
			}
		}
	}
	if len(progs) < 40 {
		t.Fatalf("only %d programs found", len(progs))
	}
	before := repeatClones.Load()
	for name, src := range progs {
		// Relative imports resolve against the program's directory.
		path := name
		if _, ok := repeatPrograms[name]; ok {
			path = filepath.Join(t.TempDir(), name)
		}
		cloneRepeats = false
		want := describeCheck(path, src)
		cloneRepeats = true
		got := describeCheck(path, src)
		if got != want {
			t.Errorf("%s: with clones\n%s\nevaluating every copy\n%s", name, got, want)
		}
	}
	if n := repeatClones.Load() - before; n < 20 {
		t.Errorf("only %d clones made: the test compares too little", n)
	}
}

// describeCheck checks a program and prints what a user of the result
// sees of it.
func describeCheck(path string, src []byte) string {
	var sb strings.Builder
	prog, diags := Check(path, src, nil)
	for _, d := range diags {
		fmt.Fprintf(&sb, "diag %s\n", d)
	}
	if prog == nil {
		return sb.String()
	}
	var nodes []string
	for n, v := range prog.Types {
		nodes = append(nodes, fmt.Sprintf("type %v-%v %s %s", n.Pos(), n.End(), v.Kind(), Describe(v)))
	}
	slices.Sort(nodes)
	sb.WriteString(strings.Join(nodes, "\n") + "\n")
	for _, m := range prog.Models {
		if m.Default == nil {
			continue
		}
		describeInstance(&sb, m.Default)
		if s, err := prog.Summarize(m.Name); err != nil {
			fmt.Fprintf(&sb, "summary %s: %v\n", m.Name, err)
		} else {
			fmt.Fprintf(&sb, "summary %s %s -> %s %d %d %s\n", s.Model, s.Input, s.Output, s.Trainable, s.Frozen, s.Flops)
			for _, r := range s.Rows {
				fmt.Fprintf(&sb, "  %+v\n", *r)
			}
		}
		dims := map[string]int{}
		if ins, err := prog.ForwardInputs(m.Default); err == nil {
			for _, in := range ins {
				for _, d := range in.Type.Dims {
					if v, ok := d.Var(); ok {
						dims[v] = 2
					}
				}
			}
		}
		if g, err := prog.LowerForward(m.Default, dims); err != nil {
			fmt.Fprintf(&sb, "lower %s: %v\n", m.Name, err)
		} else {
			sb.WriteString(g.String())
		}
	}
	for _, tr := range prog.Trains {
		describeInstance(&sb, tr.Model)
		for _, p := range tr.Params {
			fmt.Fprintf(&sb, "  train param %s %s init=%s\n", p.Path, p.Type, describeInit(p.Init))
		}
		if sg, err := prog.LowerStep(tr, 0, 2); err != nil {
			fmt.Fprintf(&sb, "step %s: %v\n", tr.Name, err)
		} else {
			sb.WriteString(sg.Graph.String())
		}
	}
	return sb.String()
}

func describeInstance(sb *strings.Builder, in *Instance) {
	fmt.Fprintf(sb, "instance %s %s\n", in.Path, in)
	for _, p := range in.Params() {
		fmt.Fprintf(sb, "  param %s %s buffer=%v init=%s layer=%s pos=%v fan=%d/%d\n",
			p.Path, p.Type, p.Buffer, describeInit(p.Init), p.Layer, p.Pos, p.FanIn, p.FanOut)
	}
}

func describeInit(v Value) string {
	if v == nil {
		return "default"
	}
	return Describe(v)
}
