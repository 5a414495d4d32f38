package cpu

import (
	"math"
	"math/rand"
	"testing"
)

// TestFrozenWeights: W2 (the MLP's forward at batch 256, and 100)
// compiled with Options.FrozenWeights, each product reading its weight
// packed once, has the bits of the plain program on one, two and three
// cores and allocates nothing per run once packed; a weight written in
// place is read again only after WeightsChanged (until then the packing
// is what is read), and a weight bound to new storage is packed again by
// itself. On two and three cores the three products run as one chain
// (chain.go), with the same bits.
func TestFrozenWeights(t *testing.T) {
	for _, c := range []struct{ batch, threads int }{{256, 1}, {256, 2}, {100, 2}, {100, 3}} {
		threads := c.threads
		plain, err := Compile(mlpForward(c.batch), Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		frozen, err := Compile(mlpForward(c.batch), Options{Threads: threads, FrozenWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(frozen.frozen) != 3 || len(plain.frozen) != 0 {
			t.Fatalf("%d products by a frozen weight (want 3), %d in the plain program", len(frozen.frozen), len(plain.frozen))
		}
		// On two cores the three products are one chain.
		chains := 0
		for _, s := range frozen.steps {
			if c, ok := s.k.(*chainKernel); ok {
				chains++
				if n := c.pool.Split(c.units, c.grain()); n != threads {
					t.Fatalf("%d threads: the chain's rows cut into %d tasks", threads, n)
				}
				if len(c.ks) != 3 || overlaps(c.ks[2].out, c.ks[0].x) {
					t.Fatalf("a chain of %d products, its output over its x %v; want 3, apart", len(c.ks), overlaps(c.ks[2].out, c.ks[0].x))
				}
			}
		}
		if want := min(threads-1, 1); chains != want {
			t.Fatalf("%d threads: %d chains of products, want %d", threads, chains, want)
		}
		r := rand.New(rand.NewSource(3))
		for _, v := range plain.Inputs() {
			x, y := plain.Float32(v.Name), frozen.Float32(v.Name)
			for i := range x {
				x[i] = float32(0.1 * r.NormFloat64())
				y[i] = x[i]
			}
		}
		same := func(what string, want bool) {
			t.Helper()
			if err := plain.Run(); err != nil {
				t.Fatal(err)
			}
			if err := frozen.Run(); err != nil {
				t.Fatal(err)
			}
			a, b := plain.Float32("out"), frozen.Float32("out")
			eq := true
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					eq = false
					if want {
						t.Fatalf("%d threads, %s: out[%d] = %v frozen, %v plain", threads, what, i, b[i], a[i])
					}
				}
			}
			if !want && eq {
				t.Fatalf("%d threads, %s: the frozen program read the new weight", threads, what)
			}
		}
		same("first run", true)
		if n := testing.AllocsPerRun(20, func() { _ = frozen.Run() }); n != 0 {
			t.Errorf("%d threads: %v allocations per run", threads, n)
		}
		for _, name := range []string{"fc1.weight", "fc3.weight"} {
			x, y := plain.Float32(name), frozen.Float32(name)
			for i := range x {
				x[i] *= -1.5
				y[i] = x[i]
			}
		}
		same("weights written, WeightsChanged not called", false)
		frozen.WeightsChanged()
		same("weights written, WeightsChanged called", true)
		w := make([]float32, len(plain.Float32("fc2.weight")))
		for i := range w {
			w[i] = float32(0.1 * r.NormFloat64())
		}
		if err := plain.Bind("fc2.weight", w); err != nil {
			t.Fatal(err)
		}
		if err := frozen.Bind("fc2.weight", append([]float32(nil), w...)); err != nil {
			t.Fatal(err)
		}
		same("fc2.weight bound to new storage", true)
	}
}
