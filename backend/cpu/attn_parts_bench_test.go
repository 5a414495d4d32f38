package cpu

import (
	"math/rand"
	"runtime"
	"strings"
	"time"

	"github.com/encc-lang/encc/internal/cputime"
	"github.com/encc-lang/encc/ir"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/gemm"
)

func BenchmarkAttnParts(b *testing.B) {
	if !simdOn {
		b.Skip()
	}
	const tq, tk, dh, ld = 64, 64, 32, 128
	q := make([]float32, tq*ld)
	k := make([]float32, tk*ld)
	for i := range q {
		q[i] = float32(i%17) * 0.01
		k[i] = float32(i%13) * 0.01
	}
	p := make([]float32, tq*tk)
	o := make([]float32, tq*ld)
	ts := make([]attnTiles, 1)
	ts[0] = attnTiles{a: make([]float32, tq*dh), bt: make([]float32, dh*tk), bpad: make([]float32, 64*16), apan: make([]float32, 64*6)}
	t := &ts[0]
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	run := func(name string, f func()) {
		b.Run(name, func(b *testing.B) {
			t0 := cputime.Thread()
			for range b.N {
				f()
			}
			b.ReportMetric(float64((cputime.Thread()-t0).Nanoseconds())/float64(b.N), "cpuns/op")
		})
	}
	run("copyscale", func() {
		for i := range tq {
			copy(t.a[i*dh:][:dh], q[i*ld:][:dh])
		}
		scaleF32(t.a, 0.17)
	})
	run("copyrowsscale", func() {
		copyRowsAVX2(&t.a[0], &q[0], tq, dh, dh, ld)
		scaleF32(t.a, 0.17)
	})
	run("transpose", func() {
		gemm.Transpose(tk, dh, k, ld, t.bt, tk)
	})
	run("qk", func() {
		t.product(tq, tk, dh, t.a, dh, false, t.bt, tk, p, tk)
	})
	run("softmax", func() {
		for i := 0; i+2 <= tq; i += 2 {
			r0, r1 := p[i*tk:][:tk], p[(i+1)*tk:][:tk]
			s0, s1 := expSum2(r0, r0, r1, r1, maxF32(r0), maxF32(r1))
			scaleF32(r0, 1/s0)
			scaleF32(r1, 1/s1)
		}
	})
	run("softmaxrows", func() {
		softmaxRowsAVX2(&p[0], tk, tq, tk, &expConsts, &expConstsVec)
	})
	run("maxonly", func() {
		for i := range tq {
			maxAVX2(&p[i*tk], tk)
		}
	})
	run("exponly", func() {
		for i := 0; i < tq; i += 2 {
			expSum2AVX2(&p[i*tk], &p[i*tk], &p[(i+1)*tk], &p[(i+1)*tk], tk, 1, 1, &expConsts)
		}
	})
	run("scaleonly", func() {
		scaleAVX2(&p[0], tq*tk, 1)
	})
	run("pv", func() {
		t.product(tq, dh, tk, p, tk, false, k, ld, o, ld)
	})
	run("dk_trans", func() {
		t.product(tk, dh, tq, p, tk, true, q, ld, o, ld)
	})
	ds := make([]float32, tq*tk)
	run("ds", func() {
		attnDsAVX2(&p[0], &ds[0], tk, tq, tk, 0.17)
	})
}

func BenchmarkAttnW4(b *testing.B) {
	ins := []in{{t: f32(32, 64, 4, 32)}, {t: f32(32, 64, 4, 32)}, {t: f32(32, 64, 4, 32)}, {t: f32(32, 64, 4, 32)}}
	cases := map[string]func(bb *ir.Builder, x []*ir.Value) (*ir.Value, error){
		"fwd": func(bb *ir.Builder, x []*ir.Value) (*ir.Value, error) {
			return bb.AttentionBTHD(x[0], x[1], x[2], nil, 0.17)
		},
		"bwd": func(bb *ir.Builder, x []*ir.Value) (*ir.Value, error) {
			w, err := bb.AttentionBackward(x[0], x[1], x[2], x[3], nil, ir.AttentionBackwardAttr{Scale: 0.17, BTHD: true})
			if err != nil {
				return nil, err
			}
			return bb.AttentionBackwardProduct(w, x[1], ir.AttentionProductAttr{BTHD: true, Wrt: 0})
		},
	}
	cases["w4"] = func(bb *ir.Builder, x []*ir.Value) (*ir.Value, error) {
		y, err := bb.AttentionBTHD(x[0], x[1], x[2], nil, 0.17)
		if err != nil {
			return nil, err
		}
		dy, err := bb.Mul(y, x[3])
		if err != nil {
			return nil, err
		}
		w, err := bb.AttentionBackward(x[0], x[1], x[2], dy, nil, ir.AttentionBackwardAttr{Scale: 0.17, BTHD: true})
		if err != nil {
			return nil, err
		}
		var sum *ir.Value
		for wrt, op := range []*ir.Value{x[1], x[0], dy} {
			d, err := bb.AttentionBackwardProduct(w, op, ir.AttentionProductAttr{BTHD: true, Wrt: wrt})
			if err != nil {
				return nil, err
			}
			if sum == nil {
				sum = d
			} else if sum, err = bb.Add(sum, d); err != nil {
				return nil, err
			}
		}
		return sum, nil
	}
	for _, name := range []string{"fwd", "bwd", "w4", "w4-nopfops", "w4-nopfsaved", "w4-nopf"} {
		b.Run(name, func(b *testing.B) {
			defer func(o, s bool) { attnPrefetchOps, attnPrefetchSaved = o, s }(attnPrefetchOps, attnPrefetchSaved)
			attnPrefetchOps = !strings.Contains(name, "nopfops") && !strings.HasSuffix(name, "nopf")
			attnPrefetchSaved = !strings.Contains(name, "nopfsaved") && !strings.HasSuffix(name, "nopf")
			if c, ok := cases[name[:min(len(name), 2)]]; ok && name != "fwd" && name != "bwd" {
				cases[name] = c
			}
			g, err := opCase{ins: ins, build: cases[name]}.graph()
			if err != nil {
				b.Fatal(err)
			}
			p, err := Compile(g, Options{Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewSource(1))
			for j, x := range ins {
				bind(b, p, g.Inputs[j].Name, x.t, draw(r, x))
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cpu time.Duration
			steps := map[string]time.Duration{}
			for i := 0; i < b.N; i++ {
				for _, s := range p.steps {
					t0 := cputime.Thread()
					s.k.run()
					d := cputime.Thread() - t0
					steps[s.v.Op.String()] += d
					if _, ok := s.k.(*attentionKernel); ok {
						cpu += d
					}
				}
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e3, "cpuµs/op")
			for op, d := range steps {
				b.ReportMetric(float64(d.Nanoseconds())/float64(b.N)/1e3, op+"-µs")
			}
		})
	}
}
