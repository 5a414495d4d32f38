package cpu

import (
	"fmt"
	"math/rand"
	"testing"
	"unsafe"

	"github.com/encc-lang/encc/ir"
)

// linkedProducts counts the attention_backward_product steps of p that
// their attention_backward computes (shareAttentionProducts).
func linkedProducts(p *Program) int {
	n := 0
	for _, s := range p.steps {
		if a, ok := s.k.(*attentionProduct); ok && a.from != nil {
			n++
		}
	}
	return n
}

// TestAttentionSharedProducts checks that an attention_backward linked to
// its products (computing them item by item, shareAttentionProducts)
// gives the bits of the unlinked backward and products: every subset of
// dq, dk, dv, both layouts, edge tiles (9 queries, 11 keys, head sizes 8
// and 16 or 5 and 7), with and without a key mask, with the weights kept
// by a linked forward or computed, on 1 and 2 threads, two runs each;
// with attention's tile kernels and with gemm.Sgemm's products; and
// that no link is made where the backward has another use (a graph
// output, or an op that is not one of its products), where two products
// compute one gradient, or where a product's operand is not the
// backward's own.
func TestAttentionSharedProducts(t *testing.T) {
	defer func(on, tiles bool) { attnProductsOn, attnTilesOn = on, tiles }(attnProductsOn, attnTilesOn)
	r := rand.New(rand.NewSource(11))
	type tcase struct {
		name     string
		bthd     bool
		masked   bool
		forward  bool // an attention forward the backward's dy depends on
		dh, dv   int
		wrt      []int
		other    string // "output", "use", "twice", "operand": an unlinkable graph; "sgemm": the products on gemm.Sgemm
		threads  int
		wantLink bool
	}
	var cases []tcase
	for _, bthd := range []bool{true, false} {
		for _, masked := range []bool{false, true} {
			for _, fwd := range []bool{true, false} {
				for _, wrt := range [][]int{{0, 1, 2}, {2}, {0, 1}, {1}} {
					cases = append(cases, tcase{fmt.Sprintf("bthd %v masked %v forward %v wrt %v", bthd, masked, fwd, wrt),
						bthd, masked, fwd, 8, 16, wrt, "", 1 + len(cases)%2, true})
				}
			}
		}
		cases = append(cases, tcase{fmt.Sprintf("bthd %v odd heads", bthd), bthd, true, true, 5, 7, []int{0, 1, 2}, "", 2, true})
		cases = append(cases, tcase{fmt.Sprintf("bthd %v sgemm", bthd), bthd, true, true, 8, 16, []int{0, 1, 2}, "sgemm", 2, true})
		for _, o := range []string{"output", "use", "twice", "operand"} {
			cases = append(cases, tcase{fmt.Sprintf("bthd %v %s", bthd, o), bthd, false, true, 8, 16, []int{0, 1, 2}, o, 2, false})
		}
	}
	for _, c := range cases {
		const b, h, tq, tk = 2, 3, 9, 11
		shape := func(t, d int) ir.Type {
			if c.bthd {
				return f32(b, t, h, d)
			}
			return f32(b, h, t, d)
		}
		ins := []in{{t: shape(tq, c.dh)}, {t: shape(tk, c.dh)}, {t: shape(tk, c.dv)}, {t: shape(tq, c.dv)}}
		if c.masked {
			ins = append(ins, in{t: boolT(b, tk), kind: ids, hi: 2})
		}
		g := ir.NewGraph()
		bl := ir.NewBuilder(g)
		x := dataInputs(t, bl, ins)
		var m *ir.Value
		if c.masked {
			m = x[4]
		}
		outs := []string{}
		dy := x[3]
		if c.forward {
			var y *ir.Value
			var err error
			if c.bthd {
				y, err = bl.AttentionBTHD(x[0], x[1], x[2], m, 0.3)
			} else {
				y, err = bl.Attention(x[0], x[1], x[2], m, 0.3)
			}
			if err != nil {
				t.Fatal(err)
			}
			g.AddOutput("y", y)
			outs = append(outs, "y")
			dy = must(bl.Mul(y, x[3]))
		}
		w, err := bl.AttentionBackward(x[0], x[1], x[2], dy, m, ir.AttentionBackwardAttr{Scale: 0.3, BTHD: c.bthd})
		if err != nil {
			t.Fatal(err)
		}
		operand := [3]*ir.Value{x[1], x[0], dy}
		wrt := c.wrt
		if c.other == "twice" {
			wrt = append(wrt, 1)
		}
		for i, d := range wrt {
			xd := operand[d]
			if c.other == "operand" && d == 1 {
				xd = must(bl.Neg(x[0]))
			}
			gd, err := bl.AttentionBackwardProduct(w, xd, ir.AttentionProductAttr{BTHD: c.bthd, Wrt: d})
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("d%d_%d", d, i)
			g.AddOutput(name, gd)
			outs = append(outs, name)
		}
		switch c.other {
		case "output":
			g.AddOutput("w", w)
			outs = append(outs, "w")
		case "use":
			g.AddOutput("wneg", must(bl.Neg(w)))
			outs = append(outs, "wneg")
		}
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		attnTilesOn = c.other != "sgemm"
		var progs [2]*Program
		for i, on := range []bool{true, false} {
			attnProductsOn = on
			if progs[i], err = Compile(g, Options{Threads: c.threads}); err != nil {
				t.Fatal(err)
			}
		}
		want := 0
		if c.wantLink {
			want = len(c.wrt)
		}
		if got := linkedProducts(progs[0]); got != want {
			t.Fatalf("%s: %d products linked, want %d", c.name, got, want)
		}
		if got := linkedProducts(progs[1]); got != 0 {
			t.Fatalf("%s: %d products linked with attnProductsOn false", c.name, got)
		}
		sameBitsLinked(t, c.name, r, g, progs, ins, outs)
	}
}

// TestAttentionSharedProductsW4: the three products of each
// attention_backward of the W4 step (both blocks) and of W5's (block 1)
// are computed by it, into their own buffers (direct).
func TestAttentionSharedProductsW4(t *testing.T) {
	for tr, want := range []int{6, 3} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 2, true)
		p, err := Compile(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, direct := linkedProducts(p), directProducts(p); got != want || direct != want {
			t.Errorf("train %d: %d attention_backward_product linked, %d in their own buffer, want %d", tr, got, direct, want)
		}
	}
}

// directProducts counts the linked products of p whose result the
// backward writes into their own buffer (direct).
func directProducts(p *Program) int {
	n := 0
	for _, s := range p.steps {
		if a, ok := s.k.(*attentionProduct); ok && a.direct {
			n++
		}
	}
	return n
}

// TestAttentionDirectProducts checks the linked products whose buffer
// moves out of the arena (direct): the bits of the unlinked program, of
// the linked one with the copy (attnDirectOn false), over two runs, with
// products that other ops read (a negation, a product squared, a
// reshape), two programs sharing an Arena that grows after the first is
// compiled (the moved buffers must stay where they are).
func TestAttentionDirectProducts(t *testing.T) {
	defer func(on, direct bool) { attnProductsOn, attnDirectOn = on, direct }(attnProductsOn, attnDirectOn)
	r := rand.New(rand.NewSource(13))
	graph := func(b int) (*ir.Graph, []in, []string) {
		const h, tq, tk, dh, dv = 3, 9, 11, 8, 16
		ins := []in{{t: f32(b, tq, h, dh)}, {t: f32(b, tk, h, dh)}, {t: f32(b, tk, h, dv)}, {t: f32(b, tq, h, dv)}}
		g := ir.NewGraph()
		bl := ir.NewBuilder(g)
		x := dataInputs(t, bl, ins)
		y := must(bl.AttentionBTHD(x[0], x[1], x[2], nil, 0.3))
		g.AddOutput("y", y)
		dy := must(bl.Mul(y, x[3]))
		w := must(bl.AttentionBackward(x[0], x[1], x[2], dy, nil, ir.AttentionBackwardAttr{Scale: 0.3, BTHD: true}))
		dq := must(bl.AttentionBackwardProduct(w, x[1], ir.AttentionProductAttr{BTHD: true, Wrt: 0}))
		dk := must(bl.AttentionBackwardProduct(w, x[0], ir.AttentionProductAttr{BTHD: true, Wrt: 1}))
		dvv := must(bl.AttentionBackwardProduct(w, dy, ir.AttentionProductAttr{BTHD: true, Wrt: 2}))
		g.AddOutput("dq", dq)
		g.AddOutput("nq", must(bl.Neg(dq)))
		g.AddOutput("kk", must(bl.Mul(dk, dk)))
		g.AddOutput("vr", must(bl.Reshape(dvv, []int{b * tk, h * dv})))
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		return g, ins, []string{"y", "dq", "nq", "kk", "vr"}
	}
	g, ins, outs := graph(2)
	for _, direct := range []bool{true, false} {
		var progs [2]*Program
		for i, on := range []bool{true, false} {
			attnProductsOn, attnDirectOn = on, direct
			var err error
			if progs[i], err = Compile(g, Options{Threads: 2}); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := directProducts(progs[0]), map[bool]int{true: 3, false: 0}[direct]; got != want || linkedProducts(progs[0]) != 3 {
			t.Fatalf("direct %v: %d of %d products direct, want %d of 3", direct, got, linkedProducts(progs[0]), want)
		}
		sameBitsLinked(t, fmt.Sprintf("direct %v", direct), r, g, progs, ins, outs)
	}

	// A shared arena that grows: the first program's direct buffers stay.
	attnDirectOn = true
	arena := NewArena()
	var progs [2]*Program
	var err error
	attnProductsOn = true
	if progs[0], err = Compile(g, Options{Threads: 1, Arena: arena}); err != nil {
		t.Fatal(err)
	}
	g3, ins3, _ := graph(3)
	big, err := Compile(g3, Options{Threads: 1, Arena: arena})
	if err != nil {
		t.Fatal(err)
	}
	attnProductsOn = false
	if progs[1], err = Compile(g, Options{Threads: 1}); err != nil {
		t.Fatal(err)
	}
	if directProducts(progs[0]) != 3 || directProducts(big) != 3 {
		t.Fatalf("shared arena: %d and %d products direct, want 3 and 3", directProducts(progs[0]), directProducts(big))
	}
	for _, s := range progs[0].steps {
		if a, ok := s.k.(*attentionProduct); ok && a.out.p != unsafe.Pointer(&a.from[0]) {
			t.Fatalf("shared arena: %s moved back into the arena when it grew", s.v.Ref())
		}
	}
	for j, s := range ins3 {
		bind(t, big, g3.Inputs[j].Name, s.t, draw(r, s))
	}
	if err := big.Run(); err != nil {
		t.Fatal(err)
	}
	sameBitsLinked(t, "shared arena", r, g, progs, ins, outs)

}
