package cpu

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/ir"
)

// TestGemmTrace prints, with ENCC_GEMMTRACE=1, every product of the W1
// training step (ENCC_GEMMTRACE=w2: W2's forward at batch 256, without
// the frozen-weight chain; w3: W3's training step) as gemm runs it on
// the pool of GOMAXPROCS: its shape, the split the model chose (serial,
// over M or N, the number of tasks, whether the tasks share one packing
// of op(B); swapped: computed as Cᵀ = B·Aᵀ, the shape shown), the call's
// time and each task's, and when the call started
// after the step's first product (medians over the traced steps; a
// task's CPU time is its thread's), then
// the step's wall time and the sum of the products' times.
func TestGemmTrace(t *testing.T) {
	mode := os.Getenv("ENCC_GEMMTRACE")
	if mode == "" {
		t.Skip("set ENCC_GEMMTRACE=1 (W1), w2 (W2's forward at batch 256) or w3 (W3)")
	}
	g := mlpGraph(64)
	switch mode {
	case "w2":
		g = mlpForward(256)
	case "w3":
		g = lenetGraph(64)
	case "w4", "w5":
		g = stepGraph(t, "bench/w4_transformer.enc", map[string]int{"w4": 0, "w5": 1}[mode], 0, 32, true)
	}
	p, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if mode == "w4" || mode == "w5" {
		p.SetScalar("lr", 1e-3)
		for _, v := range g.Inputs {
			if v.Name == "step" || (v.Type.DType == ir.I64 && v.Role() == ir.RoleState) {
				x := p.Int64(v.Name)
				for i := range x {
					x[i] = 1
				}
			}
		}
	} else {
		fillInputs(p, g, 10)
	}
	if mode != "w2" {
		p.SetScalar("lr", 1e-3)
	}
	steps := 300
	if n, err := strconv.Atoi(os.Getenv("ENCC_GEMMTRACE_STEPS")); err == nil && n > 0 {
		steps = n
	}
	run := func(i int) {
		if mode != "w2" {
			p.SetScalar("step", float64(i+1))
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		run(i)
	}
	// Each step's calls, ordered by start.
	per := make([][]gemm.TraceCall, steps)
	wall := make([]time.Duration, steps)
	for i := range steps {
		gemm.StartTrace()
		t0 := time.Now()
		run(50 + i)
		wall[i] = time.Since(t0)
		c := gemm.StopTrace()
		slices.SortFunc(c, func(a, b gemm.TraceCall) int { return int(a.Start - b.Start) })
		per[i] = c
	}
	n := len(per[0])
	med := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	fmt.Printf("== %s, GOMAXPROCS %d, %d steps: wall %v (median)\n", mode, runtime.GOMAXPROCS(0), steps, med(slices.Clone(wall)))
	var sum time.Duration
	for c := range n {
		var calls, starts []time.Duration
		tasks, cpus := map[int][]time.Duration{}, map[int][]time.Duration{}
		workers := map[int]map[int]int{}
		var first gemm.TraceCall
		for _, s := range per {
			if len(s) != n {
				continue
			}
			x := s[c]
			if first.Split == "" {
				first = x
			}
			calls = append(calls, x.End-x.Start)
			starts = append(starts, x.Start-s[0].Start)
			for ti, tk := range x.Task {
				tasks[ti] = append(tasks[ti], tk.End-tk.Start)
				cpus[ti] = append(cpus[ti], tk.CPU)
				if workers[ti] == nil {
					workers[ti] = map[int]int{}
				}
				workers[ti][tk.Worker]++
			}
		}
		d := med(calls)
		sum += d
		tr := func(b bool) string {
			if b {
				return "T"
			}
			return "N"
		}
		sw := ""
		if first.Swapped {
			sw = " swapped"
		}
		fmt.Printf("%2d %4d×%4d×%4d %s%s%s %-6s serial=%-5v tasks=%d units=%d×%d sharedB=%-5v model=%6.1fµs call=%6.1fµs at=%6.1fµs tasks:",
			c, first.M, first.N, first.K, tr(first.TransA), tr(first.TransB), sw, first.Split, first.Serial,
			first.Tasks, first.Units, first.Unit, first.SharedB, first.Model/1e3, us(d), us(med(starts)))
		for ti := range len(first.Task) {
			lo, hi := first.Task[ti].Lo, first.Task[ti].Hi
			fmt.Printf(" [%d:%d) %.1fµs (cpu %.1fµs) directA=%v w%v", lo, hi, us(med(tasks[ti])), us(med(cpus[ti])), first.Task[ti].DirectA, workers[ti])
		}
		fmt.Println()
	}
	fmt.Printf("sum of the products' medians %v\n", sum)
	coresSummary(per)
}

// coresSummary prints, for the split calls whose tasks ran on both
// workers in equal numbers, how often the two workers' threads were on
// one CPU (their tasks then run one after the other, or one nested in
// the other, not in parallel) and on two, and the median ratio of the
// caller's (worker 0's) task CPU to the helper's in each case.
func coresSummary(per [][]gemm.TraceCall) {
	var one, two []float64
	for _, s := range per {
		for _, c := range s {
			if c.Tasks < 2 {
				continue
			}
			var n [2]int
			var cpu [2]time.Duration
			core := [2]int{-1, -1}
			ok := true
			for _, t := range c.Task {
				w := min(t.Worker, 1)
				n[w]++
				cpu[w] += t.CPU
				if t.Core0 != t.Core1 || t.CPU <= 0 || core[w] >= 0 && core[w] != t.Core0 {
					ok = false // moved, or a thread clock read on two threads
				}
				core[w] = t.Core0
			}
			if !ok || n[0] != n[1] || core[0] < 0 {
				continue
			}
			r := float64(cpu[0]) / float64(cpu[1])
			if core[0] == core[1] {
				one = append(one, r)
			} else {
				two = append(two, r)
			}
		}
	}
	m := func(x []float64) float64 {
		if len(x) == 0 {
			return 0
		}
		slices.Sort(x)
		return x[len(x)/2]
	}
	fmt.Printf("split calls on both workers: threads on one CPU %d (caller/helper task CPU, median %.3f), on two CPUs %d (%.3f)\n",
		len(one), m(one), len(two), m(two))
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
