package cpu

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/encc-lang/encc/internal/cputime"
)

// TestShareAB (ENCC_SHARE_AB=1) compares W4 and W5 training steps with
// the layernorm-statistics and GELU-Φ links off and on (with
// ENCC_SHARE_AB=attn: attention_backward computing its products,
// shareAttentionProducts; with ENCC_SHARE_AB=group: the q/k/v
// projections as one product, groupProducts), in-process, in alternated blocks of steps, by
// process CPU per step (for a loaded machine, where separate processes
// are disturbed differently).
func TestShareAB(t *testing.T) {
	which := os.Getenv("ENCC_SHARE_AB")
	if which == "" {
		t.Skip("set ENCC_SHARE_AB=1 (or attn, group)")
	}
	defer func(a, b, c, d bool) { lnShareOn, geluShareOn, attnProductsOn, groupProductsOn = a, b, c, d }(lnShareOn, geluShareOn, attnProductsOn, groupProductsOn)
	for tr, name := range []string{"w4", "w5"} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 32, true)
		var progs [2]*Program
		for i, on := range []bool{false, true} {
			switch which {
			case "attn":
				attnProductsOn = on
			case "group":
				groupProductsOn = on
			default:
				lnShareOn, geluShareOn = on, on
			}
			p, err := Compile(g, Options{})
			if err != nil {
				t.Fatal(err)
			}
			fillInputs(p, g, 2)
			p.SetScalar("lr", 1e-3)
			p.SetScalar("step", 1)
			progs[i] = p
		}
		const blocks, steps = 16, 5
		var cpu, wall [2][]float64
		for b := range blocks {
			for j := range 2 {
				i := j ^ b&1
				c0, w0 := cputime.Process(), time.Now()
				for range steps {
					if err := progs[i].Run(); err != nil {
						t.Fatal(err)
					}
				}
				if b > 0 {
					cpu[i] = append(cpu[i], float64(cputime.Process()-c0)/float64(time.Millisecond)/steps)
					wall[i] = append(wall[i], float64(time.Since(w0))/float64(time.Millisecond)/steps)
				}
			}
		}
		for i := range cpu {
			slices.Sort(cpu[i])
			slices.Sort(wall[i])
		}
		q := func(x []float64, f float64) float64 { return x[int(f*float64(len(x)-1))] }
		fmt.Printf("%s CPU ms/step off: p25 %.1f median %.1f | on: p25 %.1f median %.1f; wall ms/step off: min %.1f p25 %.1f | on: min %.1f p25 %.1f\n", name,
			q(cpu[0], .25), q(cpu[0], .5), q(cpu[1], .25), q(cpu[1], .5),
			wall[0][0], q(wall[0], .25), wall[1][0], q(wall[1], .25))
	}
}
