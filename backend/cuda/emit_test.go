package cuda

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
)

// A testGraph is one graph of an example, optimized.
type testGraph struct {
	name string // digits_mlp.classify.step0, digits_mlp.classify.eval
	g    *ir.Graph
}

// exampleGraphs lowers every train of every example: each phase's
// training step and the evaluation graph, at batch size batch.
func exampleGraphs(t testing.TB, batch int) []testGraph {
	t.Helper()
	files, err := filepath.Glob("../../examples/*.enc")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	var out []testGraph
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".enc")
		p, diags := compiler.CheckFile(f, nil)
		if p == nil || diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		for _, tr := range p.Trains {
			for ph := range tr.Phases {
				sg, err := p.LowerStep(tr, ph, batch)
				if err != nil {
					t.Fatalf("%s %s phase %d: %v", f, tr.Name, ph, err)
				}
				out = append(out, testGraph{fmt.Sprintf("%s.%s.step%d", base, tr.Name, ph), sg.Graph})
			}
			eg, err := p.LowerEval(tr, batch)
			if err != nil {
				t.Fatalf("%s %s eval: %v", f, tr.Name, err)
			}
			out = append(out, testGraph{fmt.Sprintf("%s.%s.eval", base, tr.Name), eg})
		}
	}
	for _, tg := range out {
		if err := ir.Optimize(tg.g, ir.PipelineOptions{}); err != nil {
			t.Fatalf("%s: %v", tg.name, err)
		}
	}
	return out
}

// emit plans and emits g.
func emit(t testing.TB, g *ir.Graph, popts ir.PlanOptions, source string) *Module {
	t.Helper()
	plan, err := ir.PlanMemory(g, popts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Emit(g, plan, EmitOptions{Source: source})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEmitExamples emits every example's training steps and evaluation
// graphs, with and without slot reuse and aliasing, and checks the plan's
// invariants.
func TestEmitExamples(t *testing.T) {
	for _, tg := range exampleGraphs(t, 4) {
		for _, popts := range []ir.PlanOptions{{}, {NoReuse: true, NoAlias: true}} {
			m := emit(t, tg.g, popts, tg.name)
			if err := m.Plan.Check(); err != nil {
				t.Errorf("%s %+v: %v", tg.name, popts, err)
			}
			// Every kernel the plan launches is defined in kernels.cu.
			for _, s := range m.Plan.Steps {
				for _, l := range []*Launch{s.Launch, gemmFallback(s), gemmEpilogue(s)} {
					if l != nil && !strings.Contains(m.Kernels, "void "+l.Kernel+"(") {
						t.Errorf("%s: step %s launches %s, not in kernels.cu", tg.name, s.Value, l.Kernel)
					}
				}
			}
		}
	}
}

func gemmFallback(s Step) *Launch {
	if s.GEMM == nil {
		return nil
	}
	return s.GEMM.Fallback
}

func gemmEpilogue(s Step) *Launch {
	if s.GEMM == nil {
		return nil
	}
	return s.GEMM.Epilogue
}

// TestEmitDeterministic checks that emitting the same graph twice gives
// the same bytes.
func TestEmitDeterministic(t *testing.T) {
	a := emit(t, digitsMLP(t), ir.PlanOptions{}, "")
	b := emit(t, digitsMLP(t), ir.PlanOptions{}, "")
	if a.Kernels != b.Kernels || string(a.Plan.JSON()) != string(b.Plan.JSON()) || a.README != b.README {
		t.Fatal("two emissions of the same graph differ")
	}
}

// digitsMLP is the training step of examples/digits_mlp.enc at its batch
// size 32, optimized.
func digitsMLP(t testing.TB) *ir.Graph {
	return stepOf(t, "digits_mlp", 32)
}

// stepOf is the first train's first phase of an example, optimized.
func stepOf(t testing.TB, example string, batch int) *ir.Graph {
	t.Helper()
	p, diags := compiler.CheckFile("../../examples/"+example+".enc", nil)
	if p == nil || diags.HasErrors() {
		t.Fatalf("%s: %v", example, diags)
	}
	sg, err := p.LowerStep(p.Trains[0], 0, batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Optimize(sg.Graph, ir.PipelineOptions{}); err != nil {
		t.Fatal(err)
	}
	return sg.Graph
}

// elementwiseAttrs are the attributes that elementwiseGraph tries for an
// op's attribute type, beyond the zero value.
var elementwiseAttrs = map[reflect.Type][]any{
	reflect.TypeFor[ir.GeluAttr]():      {ir.GeluAttr{Approximate: true}},
	reflect.TypeFor[ir.SoftplusAttr]():  {ir.SoftplusAttr{Beta: 1, Threshold: 20}, ir.SoftplusAttr{Beta: -0.5, Threshold: 2}},
	reflect.TypeFor[ir.EluAttr]():       {ir.EluAttr{Alpha: 1}, ir.EluAttr{Alpha: 0.25}},
	reflect.TypeFor[ir.FakeQuantAttr](): {ir.FakeQuantAttr{Signed: true}},
}

// elementwiseGraph applies every elementwise op of the table, with each
// of its sample attributes, to f32 (and, where its type rule accepts
// them, i32 and i64) operands, alone and as a matmul_bias epilogue,
// every result an output: its kernels are every C expression of the
// table.
func elementwiseGraph(t testing.TB) *ir.Graph {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	in := func(name string, d ir.DType, dims ...int) *ir.Value {
		v, err := b.Input(name, ir.RoleData, ir.TensorOf(d, dims...))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cond := in("cond", ir.Bool, 4, 3)
	operands := map[ir.DType][]*ir.Value{}
	for _, d := range []ir.DType{ir.F32, ir.I32, ir.I64} {
		operands[d] = []*ir.Value{in("x_"+d.String(), d, 4, 3), in("y_"+d.String(), d, 3)}
	}
	m, w, bias := in("m", ir.F32, 4, 5), in("w", ir.F32, 5, 3), in("bias", ir.F32, 3)
	n := 0
	out := func(v *ir.Value) {
		g.AddOutput(fmt.Sprintf("out%d", n), v)
		n++
	}
	for _, op := range ir.Ops() {
		if !op.IsElementwise() || op.IsFused() {
			continue
		}
		var auxes []any
		if at := op.AuxType(); at != nil {
			auxes = append(elementwiseAttrs[at], reflect.Zero(at).Interface())
		} else {
			auxes = []any{nil}
		}
		built := false
		for _, aux := range auxes {
			for _, d := range []ir.DType{ir.F32, ir.I32, ir.I64} {
				x := operands[d]
				args := []*ir.Value{x[0], x[1], x[0]}[:op.NumArgs()]
				if op == ir.OpWhere {
					args = []*ir.Value{cond, x[0], x[1]}
				}
				v, err := b.Op(op, ir.TensorOf(ir.I32, 4, 3), aux, args...)
				if err != nil {
					continue // aux invalid, or the op does not take d
				}
				out(v)
				built = true
			}
			if op.IsEpilogue() {
				if v, err := b.MatMulBias(m, w, bias, ir.MatMulBiasAttr{Act: ir.Activation{Op: op, Aux: aux}}); err == nil {
					out(v)
				}
			}
		}
		if !built {
			t.Fatalf("no %s value built", op)
		}
	}
	return g
}

// lookClang returns clang's path; without it the test is skipped, or
// fails in CI (CI=true), whose .ci/run installs it.
func lookClang(t *testing.T) string {
	clang, err := exec.LookPath("clang")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("clang not found; .ci/run installs it")
		}
		t.Skip("clang not found: the CUDA kernels are not compiled (install clang to run this check)")
	}
	return clang
}

// clangArgs compile kernels.cu to PTX without the CUDA toolkit.
var clangArgs = []string{"-x", "cuda", "--cuda-device-only", "--cuda-gpu-arch=sm_80", "-nocudainc", "-nocudalib", "-O2", "-Werror", "-Wno-unknown-cuda-version", "-S"}

// TestClangPTX compiles every example's kernels.cu to PTX with clang and
// the package's prelude.h, and checks that the PTX defines every kernel
// and calls no undefined function.
func TestClangPTX(t *testing.T) {
	clang := lookClang(t)
	prelude, err := filepath.Abs("prelude.h")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	graphs := append(exampleGraphs(t, 4), testGraph{"elementwise_ops", elementwiseGraph(t)})
	for _, tg := range graphs {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			m := emit(t, tg.g, ir.PlanOptions{}, tg.name)
			src := filepath.Join(dir, tg.name+".cu")
			ptx := filepath.Join(dir, tg.name+".ptx")
			if err := os.WriteFile(src, []byte(m.Kernels), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append(append([]string{}, clangArgs...), "-include", prelude, "-o", ptx, src)
			if out, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
				t.Fatalf("clang %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			text, err := os.ReadFile(ptx)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(text), ".extern .func") {
				t.Errorf("PTX calls an undefined function")
			}
			for _, s := range m.Plan.Steps {
				for _, l := range []*Launch{s.Launch, gemmFallback(s), gemmEpilogue(s)} {
					if l != nil && !strings.Contains(string(text), ".entry "+l.Kernel+"(") {
						t.Errorf("PTX has no entry %s", l.Kernel)
					}
				}
			}
		})
	}
}
