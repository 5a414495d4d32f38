package cuda

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestCExprValues compiles the C expression of every elementwise op of
// the table (each sample attribute of elementwiseAttrs, each operand
// dtype its type rule takes) as host C with clang and the C library's
// float math, runs it on sample operands, and compares the results with
// the op's Go arithmetic (ir.Op.Scalar), the one the CPU backend and the
// reference evaluator use: the kernels that the CUDA backend emits
// compute what the other backends compute, checked without a GPU.
func TestCExprValues(t *testing.T) {
	clang := lookClang(t)
	type cas struct {
		name string
		v    *ir.Value
		f    ir.ScalarFunc
	}
	var cases []cas
	var src strings.Builder
	src.WriteString("#include <math.h>\n#include <stdbool.h>\n#include <stdio.h>\n\n")
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	scalar := map[ir.DType]*ir.Value{}
	for _, d := range []ir.DType{ir.F32, ir.I32, ir.I64, ir.Bool} {
		v, err := b.Input("x_"+d.String(), ir.RoleData, ir.Scalar(d))
		if err != nil {
			t.Fatal(err)
		}
		scalar[d] = v
	}
	for _, op := range ir.Ops() {
		if !op.IsElementwise() || op.IsFused() {
			continue
		}
		auxes := []any{nil}
		if at := op.AuxType(); at != nil {
			auxes = append(elementwiseAttrs[at], reflect.Zero(at).Interface())
		}
		for _, aux := range auxes {
			for _, d := range []ir.DType{ir.F32, ir.I32, ir.I64} {
				x := scalar[d]
				args := []*ir.Value{x, x, x}[:op.NumArgs()]
				if op == ir.OpWhere {
					args = []*ir.Value{scalar[ir.Bool], x, x}
				}
				for _, to := range []ir.DType{ir.F32, ir.I32, ir.Bool} {
					v, err := b.Op(op, ir.Scalar(to), aux, args...)
					if err != nil {
						continue // bad attributes, or the op does not take d
					}
					k := len(cases)
					cases = append(cases, cas{fmt.Sprintf("%s {%s} on %v → %v", op, ir.FormatAux(aux), d, v.Type.DType), v, op.Scalar(aux, v.Type.DType)})
					regs := []string{"r0", "r1", "r2"}[:len(args)]
					x, err := scalarExpr(op, v.Type.DType, aux, regs)
					if err != nil {
						t.Fatalf("%s: %v", cases[k].name, err)
					}
					fmt.Fprintf(&src, "static double f%d(double a0, double a1, double a2) {\n", k)
					for i, a := range args {
						if a.Type.DType == ir.Bool {
							fmt.Fprintf(&src, "  const bool r%d = a%d != 0;\n", i, i)
						} else {
							fmt.Fprintf(&src, "  const %s r%d = (%s)a%d;\n", regType(a.Type.DType), i, regType(a.Type.DType), i)
						}
					}
					fmt.Fprintf(&src, "  const %s r = %s;\n  return (double)r;\n}\n\n", regType(v.Type.DType), x)
					if !op.IsTypeCarrying() {
						break // one result dtype: the one the rule gives
					}
				}
			}
		}
	}
	floats := []float64{-2.5, -0.75, 0, 0.5, 1.25, 3, 30}
	ints := []float64{-3, -1, 0, 2, 7}
	// samples returns the operand tuples of case c.
	samples := func(c cas) [][3]float64 {
		var per [][]float64
		for _, a := range c.v.Args {
			switch a.Type.DType {
			case ir.F32:
				per = append(per, floats)
			case ir.Bool:
				per = append(per, []float64{0, 1})
			default:
				per = append(per, ints)
			}
		}
		out := [][3]float64{{}}
		for i, vals := range per {
			var next [][3]float64
			for _, s := range out {
				for _, x := range vals {
					if c.v.Op == ir.OpDiv && i == 1 && x == 0 && c.v.Type.DType.IsInt() {
						continue // undefined in C, an error in the backends
					}
					s[i] = x
					next = append(next, s)
				}
			}
			out = next
		}
		return out
	}
	src.WriteString("int main(void) {\n")
	for k, c := range cases {
		for j, s := range samples(c) {
			fmt.Fprintf(&src, "  printf(\"%d %d %%.9g\\n\", f%d(%s, %s, %s));\n", k, j, k, cnum(s[0]), cnum(s[1]), cnum(s[2]))
		}
	}
	src.WriteString("  return 0;\n}\n")

	dir := t.TempDir()
	file, bin := filepath.Join(dir, "exprs.c"), filepath.Join(dir, "exprs")
	if err := os.WriteFile(file, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(clang, "-std=c11", "-O1", "-Werror", "-Wno-unused-function", "-o", bin, file, "-lm").CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var k, j int
		var got float64
		var g string
		if _, err := fmt.Sscanf(line, "%d %d %s", &k, &j, &g); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		switch g {
		case "nan", "-nan":
			got = math.NaN()
		default:
			if got, err = strconv.ParseFloat(g, 64); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		}
		c := cases[k]
		s := samples(c)[j]
		want, _ := c.f(s[0], s[1], s[2])
		if c.v.Type.DType == ir.F32 {
			want = float64(float32(want))
		}
		if !close32(got, want) {
			t.Errorf("%s at (%g, %g, %g): C gives %g, Go %g", c.name, s[0], s[1], s[2], got, want)
		}
		seen++
	}
	if seen == 0 || len(cases) < 30 {
		t.Fatalf("%d cases, %d values checked", len(cases), seen)
	}
	t.Logf("%d cases, %d values checked", len(cases), seen)
}

// cnum writes x as a C double literal.
func cnum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// close32 reports whether a single-precision computation got close to the
// float64 value want.
func close32(got, want float64) bool {
	switch {
	case math.IsNaN(want) || math.IsNaN(got):
		return math.IsNaN(want) && math.IsNaN(got)
	case math.IsInf(want, 0) || math.IsInf(got, 0):
		return got == want
	}
	return math.Abs(got-want) <= 1e-6+1e-5*math.Abs(want)
}
