package train

// This file registers the CPU backend: the graph goes through the one
// pipeline of package backend (ir.Optimize, then backend/cpu). A run
// compiles its programs (the step per batch size, the evaluation) into
// one shared arena (cpu.Arena): it runs them one at a time, so it holds
// the largest plan rather than their sum.

import (
	"github.com/encc-lang/encc/backend"
	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/ir"
)

func init() {
	RegisterBackend("cpu", compileCPU, true)
	perRun["cpu"] = func() Backend {
		a := cpu.NewArena()
		return func(g *ir.Graph, threads int) (Executor, error) {
			return backend.Compile(g, "cpu", backend.Options{Threads: threads, CPU: cpu.Options{Arena: a}})
		}
	}
}

func compileCPU(g *ir.Graph, threads int) (Executor, error) {
	return backend.Compile(g, "cpu", backend.Options{Threads: threads})
}
