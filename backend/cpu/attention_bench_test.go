package cpu

import (
	"fmt"
	"github.com/encc-lang/encc/internal/cputime"
	"math/rand"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// benchAttention builds attention kernels by hand on W4/W5's shape (bthd,
// batch 32, seq 64, 4 heads of 32) on a pool of one worker.
func benchAttention(b *testing.B, backward, saved bool) (*attentionKernel, []*attentionProduct) {
	g := ir.AttentionGeometry{N: 128, Heads: 4, Tq: 64, Tk: 64, Dh: 32, Dv: 32, BTHD: true}
	pool := parallel.New(1)
	r := rand.New(rand.NewSource(1))
	mk := func(n int) *buffer {
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32()*2 - 1
		}
		return &buffer{p: unsafe.Pointer(&x[0]), n: n, dt: ir.F32}
	}
	sz := g.N * g.Tq * g.Dh
	a := &attentionKernel{g: g, scale: 0.177, q: mk(sz), k: mk(sz), v: mk(sz), out: mk(sz), pool: pool}
	a.tiles = newAttnTiles(&a.g, 1)
	a.scratch = [][]float32{make([]float32, g.Tq*g.Tk)}
	if saved || backward {
		a.saved = make([]float32, g.N*g.Tq*g.Tk)
		a.RangeWorker(0, 0, g.N)
	}
	if !backward {
		if !saved {
			a.saved = nil
		}
		return a, nil
	}
	f := a
	a = &attentionKernel{g: g, scale: 0.177, backward: true, q: f.q, k: f.k, v: f.v, dy: mk(sz), out: mk(1), pool: pool, saved: f.saved}
	a.tiles = newAttnTiles(&a.g, 1)
	a.ds = [][]float32{make([]float32, g.Tq*g.Tk)}
	a.scratch = [][]float32{make([]float32, g.Tq*g.Tk)}
	var prods []*attentionProduct
	for wrt := range 3 {
		pr := &attentionProduct{g: g, wrt: wrt, out: mk(sz), pool: pool, direct: true}
		pr.from = f32s(pr.out)
		prods = append(prods, pr)
	}
	a.prods = prods
	a.packScratch()
	if !saved {
		a.saved = nil
	}
	return a, prods
}

func BenchmarkAttentionW5(b *testing.B) {
	for _, c := range []struct {
		name            string
		backward, saved bool
	}{{"forward", false, false}, {"forward-saved", false, true}, {"backward-saved", true, true}, {"backward", true, false}} {
		for _, pack := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/pack=%v", c.name, pack), func(b *testing.B) {
				defer func(on bool) { attnPackOn = on }(attnPackOn)
				attnPackOn = pack
				a, _ := benchAttention(b, c.backward, c.saved)
				b.ResetTimer()
				for range b.N {
					a.RangeWorker(0, 0, a.g.N)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*a.g.N), "ns/item")
			})
		}
	}
}

func BenchmarkAttentionW5Parts(b *testing.B) {
	a, prods := benchAttention(b, true, true)
	g := &a.g
	t := &a.tiles[0]
	q, k, v, dy := f32s(a.q), f32s(a.k), f32s(a.v), f32s(a.dy)
	tq, tk, dh := g.Tq, g.Tk, g.Dh
	p := a.saved[:tq*tk]
	ds := a.ds[0]
	o := make([]float32, len(q))
	parts := []struct {
		name string
		fn   func(n int)
	}{
		{"copyq", func(n int) {
			qs := q[g.Row(n, 0, tq, dh):]
			copyRowsAVX2(&t.a[0], &qs[0], tq, dh, dh, g.Stride(dh))
		}},
		{"scaleq", func(n int) { scaleF32(t.a[:tq*dh], a.scale) }},
		{"copyscaleq", func(n int) {
			qs := q[g.Row(n, 0, tq, dh):]
			copyScaleRowsAVX2(&t.a[0], &qs[0], tq, dh, dh, g.Stride(dh), a.scale)
		}},
		{"transposek", func(n int) {
			gemmTranspose(tk, dh, k[g.Row(n, 0, tk, dh):], g.Stride(dh), t.bt, tk)
		}},
		{"qk", func(n int) { t.product(tq, tk, dh, t.a, dh, false, t.bt, tk, p, tk) }},
		{"softmax", func(n int) { softmaxRows(p, tk, tq, tk) }},
		{"pv", func(n int) {
			t.product(tq, dh, tk, p, tk, false, v[g.Row(n, 0, tk, dh):], g.Stride(dh), o[g.Row(n, 0, tq, dh):], g.Stride(dh))
		}},
		{"pv-packed", func(n int) {
			copyRowsAVX2(&t.bt[0], &v[g.Row(n, 0, tk, dh)], tk, dh, dh, g.Stride(dh))
			t.product(tq, dh, tk, p, tk, false, t.bt, dh, o[g.Row(n, 0, tq, dh):], g.Stride(dh))
		}},
		{"pv-packed-only", func(n int) {
			t.product(tq, dh, tk, p, tk, false, t.bt, dh, o[g.Row(n, 0, tq, dh):], g.Stride(dh))
		}},
		{"pv-packed-c", func(n int) {
			t.product(tq, dh, tk, p, tk, false, t.bt, dh, t.a, dh)
		}},
		{"dp", func(n int) {
			t.product(tq, tk, dh, dy[g.Row(n, 0, tq, dh):], g.Stride(dh), false, t.bt, tk, ds, tk)
		}},
		{"ds", func(n int) { attnDsAVX2(&p[0], &ds[0], tk, tq, tk, a.scale) }},
		{"dq", func(n int) { prods[0].item(t, n, p, ds, tk, k[g.Row(n, 0, tk, dh):], g.Stride(dh), o) }},
		{"dk", func(n int) { prods[1].item(t, n, p, ds, tk, q[g.Row(n, 0, tq, dh):], g.Stride(dh), o) }},
		{"dv", func(n int) { prods[2].item(t, n, p, ds, tk, dy[g.Row(n, 0, tq, dh):], g.Stride(dh), o) }},
	}
	for _, pt := range parts {
		b.Run(pt.name, func(b *testing.B) { cpuLoop(b, 1, func(i int) { pt.fn(i % g.N) }) })
	}
}

var gemmTranspose = gemm.Transpose

// cpuLoop runs fn(i) for i < b.N on a locked thread and reports its CPU
// time per item (items per call): the box is shared, wall time is not.
func cpuLoop(b *testing.B, items int, fn func(i int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	t0 := cputime.Thread()
	for i := range b.N {
		fn(i)
	}
	b.ReportMetric(float64(cputime.Thread()-t0)/float64(b.N*items), "cpu-ns/item")
}

// abLoop alternates passes of fa and fb (each items items) on a locked
// thread and reports the median and the least of each one's CPU time per
// item: both see the same load on a shared box.
func abLoop(b *testing.B, items int, fa, fb func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ta, tb []float64
	b.ResetTimer()
	for range b.N {
		t0 := cputime.Thread()
		fa()
		t1 := cputime.Thread()
		fb()
		t2 := cputime.Thread()
		ta, tb = append(ta, float64(t1-t0)/float64(items)), append(tb, float64(t2-t1)/float64(items))
	}
	slices.Sort(ta)
	slices.Sort(tb)
	b.ReportMetric(ta[len(ta)/2], "A-med-ns/item")
	b.ReportMetric(tb[len(tb)/2], "B-med-ns/item")
	b.ReportMetric(ta[0], "A-min-ns/item")
	b.ReportMetric(tb[0], "B-min-ns/item")
}

// BenchmarkAttentionW5Pack compares the linked backward with its
// products' operands copied together (B) and read in place (A).
func BenchmarkAttentionW5Pack(b *testing.B) {
	a, _ := benchAttention(b, true, true)
	defer func(on bool) { attnPackOn = on }(attnPackOn)
	abLoop(b, a.g.N, func() {
		attnPackOn = false
		a.RangeWorker(0, 0, a.g.N)
	}, func() {
		attnPackOn = true
		a.RangeWorker(0, 0, a.g.N)
	})
}

// BenchmarkAttentionW5Drop compares the linked backward (A) with the
// same without one of its products (B): the difference is what that
// product costs in place.
func BenchmarkAttentionW5Drop(b *testing.B) {
	for drop := range 3 {
		b.Run(fmt.Sprint("wrt", drop), func(b *testing.B) {
			a, prods := benchAttention(b, true, true)
			var less []*attentionProduct
			for _, pr := range prods {
				if pr.wrt != drop {
					less = append(less, pr)
				}
			}
			abLoop(b, a.g.N, func() {
				a.prods = prods
				a.RangeWorker(0, 0, a.g.N)
			}, func() {
				a.prods = less
				a.RangeWorker(0, 0, a.g.N)
			})
		})
	}
}

// BenchmarkAttentionW5Prefetch compares attention with (A) and without (B)
// the prefetch of the next item's head rows, the backward's saved
// weights not prefetched.
func BenchmarkAttentionW5Prefetch(b *testing.B) {
	for _, bw := range []bool{false, true} {
		b.Run(fmt.Sprint("backward=", bw), func(b *testing.B) {
			a, _ := benchAttention(b, bw, bw)
			defer func(o, s bool) { attnPrefetchOps, attnPrefetchSaved = o, s }(attnPrefetchOps, attnPrefetchSaved)
			abLoop(b, a.g.N, func() {
				attnPrefetchOps, attnPrefetchSaved = true, false
				a.RangeWorker(0, 0, a.g.N)
			}, func() {
				attnPrefetchOps, attnPrefetchSaved = false, false
				a.RangeWorker(0, 0, a.g.N)
			})
		})
	}
}

// BenchmarkAttentionW5PrefetchSaved compares the backward with (A) and
// without (B) the prefetch of an item's saved weights during dp.
func BenchmarkAttentionW5PrefetchSaved(b *testing.B) {
	a, _ := benchAttention(b, true, true)
	defer func(o, s bool) { attnPrefetchOps, attnPrefetchSaved = o, s }(attnPrefetchOps, attnPrefetchSaved)
	abLoop(b, a.g.N, func() {
		attnPrefetchOps, attnPrefetchSaved = true, true
		a.RangeWorker(0, 0, a.g.N)
	}, func() {
		attnPrefetchOps, attnPrefetchSaved = true, false
		a.RangeWorker(0, 0, a.g.N)
	})
}
