package cpu

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestScatterAddSplit checks scatter_add split over the result's rows
// on 2 threads against the adds in order of the ids, one by one, bit
// for bit: colliding ids (each row gets several updates of magnitudes
// 2^±20 apart, where the order of float32 adds shows), rows of 37 (the
// vector add and its tail), and an id out of range gives an error on
// every thread count.
func TestScatterAddSplit(t *testing.T) {
	const rows, row, n = 700, 37, 3000
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	ids := must(b.Input("ids", ir.RoleData, ir.TensorOf(ir.I64, n)))
	upd := must(b.Input("upd", ir.RoleData, f32(n, row)))
	g.AddOutput("y", must(b.ScatterAdd(ids, upd, ir.Shape{rows, row})))
	r := rand.New(rand.NewSource(7))
	idv, uv := make([]int64, n), make([]float32, n*row)
	for i := range idv {
		idv[i] = int64(r.Intn(rows)) // about 4 per row
	}
	for i := range uv {
		uv[i] = float32(r.NormFloat64() * math.Exp2(float64(r.Intn(41)-20)))
	}
	want := make([]float32, rows*row)
	for i, id := range idv {
		for j := range row {
			want[int(id)*row+j] += uv[i*row+j]
		}
	}
	for _, threads := range []int{1, 2, 3} {
		p, err := Compile(g, Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Bind("ids", idv); err != nil {
			t.Fatal(err)
		}
		copy(p.Float32("upd"), uv)
		for run := range 2 { // the second run on a result that is not zero
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			for i, e := range p.Float32("y") {
				if math.Float32bits(e) != math.Float32bits(want[i]) {
					t.Fatalf("threads=%d run %d: [%d] = %v, want %v", threads, run, i, e, want[i])
				}
			}
		}
		bad := append([]int64(nil), idv...)
		bad[n-1] = rows
		if err := p.Bind("ids", bad); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("threads=%d: id %d gave %v, want an out-of-range error", threads, rows, err)
		}
	}
}

// TestGatherSplit checks gather split over the ids on 2 and 3 threads
// against the rows copied one by one, and that an id out of range gives
// an error on every thread count.
func TestGatherSplit(t *testing.T) {
	const rows, row, n = 700, 37, 3000
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	table := must(b.Input("table", ir.RoleData, f32(rows, row)))
	ids := must(b.Input("ids", ir.RoleData, ir.TensorOf(ir.I32, n)))
	g.AddOutput("y", must(b.Gather(table, ids)))
	r := rand.New(rand.NewSource(8))
	idv, tv := make([]int32, n), make([]float32, rows*row)
	for i := range idv {
		idv[i] = int32(r.Intn(rows))
	}
	for i := range tv {
		tv[i] = float32(r.NormFloat64())
	}
	for _, threads := range []int{1, 2, 3} {
		p, err := Compile(g, Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Bind("ids", idv); err != nil {
			t.Fatal(err)
		}
		copy(p.Float32("table"), tv)
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		y := p.Float32("y")
		for i, id := range idv {
			for j := range row {
				if math.Float32bits(y[i*row+j]) != math.Float32bits(tv[int(id)*row+j]) {
					t.Fatalf("threads=%d: row %d (id %d) [%d] = %v, want %v", threads, i, id, j, y[i*row+j], tv[int(id)*row+j])
				}
			}
		}
		bad := append([]int32(nil), idv...)
		bad[n/2] = -1
		if err := p.Bind("ids", bad); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("threads=%d: id -1 gave %v, want an out-of-range error", threads, err)
		}
	}
}
