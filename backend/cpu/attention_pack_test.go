package cpu

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestAttentionPackedOperands checks the linked attention_backward that
// copies its products' strided operand rows together (attnPackOn, bthd)
// against the unlinked backward and products reading them in place, bit
// for bit, over two runs: sequence lengths 1, 7 and 65 (queries and keys
// apart too), head sizes 8, 24 and 64 with another value size, and keys
// 64 and 128 (dp in four calls, the saved weights asked for a quarter at
// a time), with and without a key mask, on 1 and 2 threads; and the
// linked program with the copy turned off gives the same bits.
func TestAttentionPackedOperands(t *testing.T) {
	defer func(on, pack bool) { attnProductsOn, attnPackOn = on, pack }(attnProductsOn, attnPackOn)
	r := rand.New(rand.NewSource(17))
	type geom struct{ tq, tk, dh, dv int }
	var geoms []geom
	for _, tt := range [][2]int{{1, 1}, {7, 7}, {65, 65}, {7, 65}, {65, 1}} {
		for _, d := range [][2]int{{8, 8}, {24, 16}, {64, 24}} {
			geoms = append(geoms, geom{tt[0], tt[1], d[0], d[1]})
		}
	}
	// Keys a multiple of 64: dp in four calls, the saved weights asked
	// for a quarter at a time.
	geoms = append(geoms, geom{64, 64, 32, 32}, geom{33, 128, 16, 8})
	for i, gm := range geoms {
		masked, threads := i%2 == 1, 1+i%2
		const b, h = 2, 3
		ins := []in{{t: f32(b, gm.tq, h, gm.dh)}, {t: f32(b, gm.tk, h, gm.dh)}, {t: f32(b, gm.tk, h, gm.dv)}, {t: f32(b, gm.tq, h, gm.dv)}}
		if masked {
			ins = append(ins, in{t: boolT(b, gm.tk), kind: ids, hi: 2})
		}
		g := ir.NewGraph()
		bl := ir.NewBuilder(g)
		x := dataInputs(t, bl, ins)
		var m *ir.Value
		if masked {
			m = x[4]
		}
		y := must(bl.AttentionBTHD(x[0], x[1], x[2], m, 0.3))
		g.AddOutput("y", y)
		dy := must(bl.Mul(y, x[3]))
		w := must(bl.AttentionBackward(x[0], x[1], x[2], dy, m, ir.AttentionBackwardAttr{Scale: 0.3, BTHD: true}))
		g.AddOutput("dq", must(bl.AttentionBackwardProduct(w, x[1], ir.AttentionProductAttr{BTHD: true, Wrt: 0})))
		g.AddOutput("dk", must(bl.AttentionBackwardProduct(w, x[0], ir.AttentionProductAttr{BTHD: true, Wrt: 1})))
		g.AddOutput("dv", must(bl.AttentionBackwardProduct(w, dy, ir.AttentionProductAttr{BTHD: true, Wrt: 2})))
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		outs := []string{"y", "dq", "dk", "dv"}
		var progs [2]*Program
		for i, on := range []bool{true, false} {
			attnProductsOn = on
			var err error
			if progs[i], err = Compile(g, Options{Threads: threads}); err != nil {
				t.Fatal(err)
			}
		}
		if got := linkedProducts(progs[0]); got != 3 {
			t.Fatalf("%v: %d products linked, want 3", gm, got)
		}
		name := fmt.Sprintf("tq %d tk %d dh %d dv %d masked %v", gm.tq, gm.tk, gm.dh, gm.dv, masked)
		attnPackOn = true
		sameBitsLinked(t, name+" packed", r, g, progs, ins, outs)
		attnPackOn = false
		sameBitsLinked(t, name+" in place", r, g, progs, ins, outs)
		attnPackOn = true
	}
}
