package cpu

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// BenchmarkDepthwise times the three depthwise ops of MobileNetSmall's
// blocks at batch 64 on one thread, by the direct kernels and by the
// im2col + GEMM path (depthwiseOn off). Besides the wall time it reports
// the process's CPU time per op (cpu-ns/op), which a machine shared with
// other jobs disturbs less:
//
//	go test ./backend/cpu -run - -bench Depthwise
func BenchmarkDepthwise(b *testing.B) {
	defer func(d bool) { depthwiseOn = d }(depthwiseOn)
	s1 := ir.Conv2DAttr{Padding: [2]int{1, 1}}
	s2 := ir.Conv2DAttr{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}
	for _, cv := range []struct {
		name string
		at   ir.Conv2DAttr
		c, h int
	}{{"block1_s2", s2, 32, 28}, {"block2", s1, 64, 14}, {"block3_s2", s2, 64, 14}, {"block4", s1, 128, 7}} {
		at := cv.at
		at.Groups = cv.c
		x, w := ir.Shape{64, cv.c, cv.h, cv.h}, ir.Shape{cv.c, 1, 3, 3}
		for _, c := range depthwiseOpCasesOf(cv.name, at, x, w) {
			if strings.HasSuffix(c.name, "_bias") {
				continue
			}
			g, err := c.graph()
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewSource(1))
			for _, direct := range []bool{true, false} {
				depthwiseOn = direct
				p, err := compile(g, Options{Threads: 1}, ir.PlanOptions{})
				if err != nil {
					b.Fatal(err)
				}
				for j, x := range c.ins {
					bind(b, p, g.Inputs[j].Name, x.t, draw(r, x))
				}
				path := "gemm"
				if direct {
					path = "direct"
				}
				b.Run(c.op.String()+"/"+c.name+"/"+path, func(b *testing.B) { benchRuns(b, p) })
			}
		}
	}
}
