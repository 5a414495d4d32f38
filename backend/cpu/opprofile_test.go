package cpu

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/encc-lang/encc/internal/cputime"
	"github.com/encc-lang/encc/ir"
)

// TestOpProfile prints, with ENCC_OPPROFILE=1, the time each step of the
// W1 and W3 training steps takes (median over runs), heaviest first
// (ENCC_OPPROFILE_ROWS of them, default 25).
func TestOpProfile(t *testing.T) {
	if os.Getenv("ENCC_OPPROFILE") == "" {
		t.Skip("set ENCC_OPPROFILE=1")
	}
	cases := []struct {
		name string
		g    *ir.Graph
	}{{"w1", mlpGraph(64)}, {"w3", lenetGraph(64)}}
	if os.Getenv("ENCC_OPPROFILE") == "w4" {
		cases = cases[:0]
		for tr := range 2 {
			g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 32, true)
			cases = append(cases, struct {
				name string
				g    *ir.Graph
			}{fmt.Sprintf("w4 train %d", tr), g})
		}
	}
	for _, c := range cases {
		cpu := os.Getenv("ENCC_OPPROFILE_CPU") != ""
		opt := Options{}
		clock := time.Now
		if cpu {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			opt.Threads = 1
		}
		p, err := Compile(c.g, opt)
		if err != nil {
			t.Fatal(err)
		}
		p.SetScalar("lr", 1e-3)
		for _, v := range c.g.Inputs {
			if v.Name == "step" || (v.Type.DType == ir.I64 && v.Role() == ir.RoleState) {
				x := p.Int64(v.Name)
				for i := range x {
					x[i] = 1
				}
			}
		}
		runs := 50
		if cpu {
			runs = 200
		}
		if len(c.g.Values) > 200 {
			runs = 6
		}
		times := make([][]time.Duration, len(p.steps))
		for r := range runs {
			for i := range p.steps {
				var t0 time.Duration
				var w0 time.Time
				if cpu {
					t0 = cputime.Thread()
				} else {
					w0 = clock()
				}
				if err := p.steps[i].k.run(); err != nil {
					t.Fatal(err)
				}
				d := time.Since(w0)
				if cpu {
					d = cputime.Thread() - t0
				}
				if r > 0 {
					times[i] = append(times[i], d)
				}
			}
		}
		type row struct {
			d time.Duration
			s string
		}
		var rows []row
		var total time.Duration
		for i, ts := range times {
			sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
			d := ts[len(ts)/2]
			total += d
			name := p.steps[i].v.LongString()
			if st, ok := p.steps[i].k.(*stageKernel); ok {
				name = fmt.Sprintf("stage of %d from %s", len(st.steps), name)
			}
			rows = append(rows, row{d, name})
		}
		sort.Slice(rows, func(a, b int) bool { return rows[a].d > rows[b].d })
		fmt.Printf("== %s: %d steps, sum of medians %v\n", c.name, len(rows), total)
		for _, r := range rows[:min(opProfileRows(), len(rows))] {
			s := r.s
			if len(s) > 150 {
				s = s[:150]
			}
			fmt.Printf("%8.1fµs %s\n", float64(r.d.Nanoseconds())/1e3, s)
		}
	}
}

// opProfileRows is how many of the heaviest steps TestOpProfile prints:
// ENCC_OPPROFILE_ROWS, else 25.
func opProfileRows() int {
	if n, err := strconv.Atoi(os.Getenv("ENCC_OPPROFILE_ROWS")); err == nil && n > 0 {
		return n
	}
	return 25
}
