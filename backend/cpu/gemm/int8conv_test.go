package gemm

import (
	"math"
	"math/rand"
	"testing"
)

// TestQConvExact: the channel-major convolution product equals, bit for
// bit, the reference integer product through QJob's epilogue, in float32
// and requantized uint8, for channel counts below, at and past a panel
// (1, 6, 7, 16), pixel counts not a multiple of 16, a k order scrambled
// with zero taps in it, a bias set and then cleared, and every kernel.
func TestQConvExact(t *testing.T) {
	type tc struct{ p, o, k int }
	cases := []tc{{16, 6, 25}, {23, 1, 9}, {64, 16, 150}, {5, 7, 4}, {49, 16, 75}, {100, 13, 1}}
	forEachQKernel(t, func(t *testing.T) {
		for ci, c := range cases {
			for _, act := range []Activation{ActNone, ActReLU} {
				rng := rand.New(rand.NewSource(int64(ci)))
				a, b := randQ(rng, c.p, c.o, c.k)
				scale := make([]float32, c.o)
				bias := make([]float32, c.o)
				for j := range scale {
					scale[j] = float32(rng.Float64()*0.01 + 1e-3)
					bias[j] = float32(rng.NormFloat64())
				}
				aq := QParams{Scale: 0.02, Zero: int32(rng.Intn(QMax + 1))}
				out := QParams{Scale: 0.05, Zero: 11}
				w := PackQWeights(c.k, c.o, transposeI8(c.k, c.o, b), c.k, true, scale)
				ref := refQgemm(c.p, c.o, c.k, a, b)
				// The taps in a random order with a zero tap every
				// third slot: k4 groups hold them as the caller chose.
				perm := rng.Perm(c.k)
				var slots []int
				for _, p := range perm {
					if len(slots)%3 == 2 {
						slots = append(slots, -1)
					}
					slots = append(slots, p)
				}
				k4 := (len(slots) + 3) / 4
				for len(slots) < 4*k4 {
					slots = append(slots, -1)
				}
				q := NewQConv(w, k4, func(g, b int) int { return slots[g*4+b] }, aq, act, 2)
				ap := make([]uint8, QConvALen(k4, c.p))
				for i := range ap {
					ap[i] = uint8(rng.Intn(QMax + 1)) // zero taps and pixels past p: anything
				}
				for i := range c.p {
					for g := range k4 {
						for bb := range 4 {
							if s := slots[g*4+bb]; s >= 0 {
								ap[QConvIndex(k4, i, g)+bb] = a[i*c.k+s]
							}
						}
					}
				}
				f := make([]float32, c.o*c.p)
				u := make([]uint8, c.o*c.p)
				for run := range 2 {
					bs := bias
					if run == 1 {
						bs = nil
					}
					q.SetBias(bs)
					q.RunF32(run, c.p, ap, f)
					q.SetOutput(out)
					q.RunU8(run, c.p, ap, u)
					for i := range c.p {
						for j := range c.o {
							want := refQEpilogue(ref[i*c.o+j], j, aq, w, bs, act)
							o := j*c.p + i
							if math.Float32bits(f[o]) != math.Float32bits(want) {
								t.Fatalf("case %v act %v run %d: C[%d][%d] = %v, want %v", c, act, run, j, i, f[o], want)
							}
							if u[o] != out.Quantize(want) {
								t.Fatalf("case %v act %v run %d: uint8 C[%d][%d] = %d, want %d", c, act, run, j, i, u[o], out.Quantize(want))
							}
						}
					}
				}
			}
		}
	})
}
