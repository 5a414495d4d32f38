package eval

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/internal/golden"
	"github.com/encc-lang/encc/ir"
)

// TestPassSemantics runs each pass's golden input graphs
// (ir/testdata/passes/<pass>/*.txtar) before and after the pass on the
// same random inputs and compares every output and update.
func TestPassSemantics(t *testing.T) {
	files, _ := filepath.Glob("../testdata/passes/*/*.txtar")
	for _, file := range files {
		pass := filepath.Base(filepath.Dir(file))
		if pass == "memplan" {
			continue
		}
		t.Run(pass+"/"+filepath.Base(file), func(t *testing.T) {
			a := golden.Read(t, file)
			src, _ := a.Get("in.ir")
			g, err := ir.Parse(file, src)
			if err != nil {
				t.Fatal(err)
			}
			in := randomInputs(g, 1)
			want, err := Run(g, in)
			if err != nil {
				t.Fatal(err)
			}
			if err := ir.RunPass(pass, g); err != nil {
				t.Fatal(err)
			}
			got, err := Run(g, in)
			if err != nil {
				t.Fatal(err)
			}
			if err := compareResults(got, want, 1e-12); err != nil {
				t.Error(err)
			}
		})
	}
}

// randomInputs returns a tensor for every input of g: floats uniform in
// [-1, 1), integers in [0, 3), bools 0 or 1, from a fixed seed.
func randomInputs(g *ir.Graph, seed uint64) map[string]*Tensor {
	r := rand.New(rand.NewPCG(seed, 99))
	in := map[string]*Tensor{}
	for _, v := range g.Inputs {
		x := Zeros(v.Type)
		for i := range x.F {
			switch {
			case v.Type.DType.IsFloat():
				x.F[i] = 2*r.Float64() - 1
			case v.Type.DType == ir.Bool:
				x.F[i] = float64(r.IntN(2))
			default:
				x.F[i] = float64(r.IntN(3))
			}
		}
		in[v.Name] = x
	}
	return in
}

// compareResults reports the first output or update of got that differs
// from want's by more than tol relative to max(1, |want|).
func compareResults(got, want *Result, tol float64) error {
	var errs []string
	cmp := func(kind, name string, g, w *Tensor) {
		if g == nil || !g.Type.Equal(w.Type) {
			errs = append(errs, kind+" "+name+": missing or of another type")
			return
		}
		for i := range w.F {
			d := math.Abs(g.F[i] - w.F[i])
			if !(d <= tol*max(1, math.Abs(w.F[i]))) && !(math.IsNaN(g.F[i]) && math.IsNaN(w.F[i])) {
				errs = append(errs, fmt.Sprintf("%s %s: element %d: %v ≠ %v", kind, name, i, g.F[i], w.F[i]))
				return
			}
		}
	}
	for n, w := range want.Outputs {
		cmp("output", n, got.Outputs[n], w)
	}
	for n, w := range want.Updates {
		cmp("update", n, got.Updates[n], w)
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "\n"))
}
