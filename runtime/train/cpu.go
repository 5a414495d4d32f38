package train

// This file registers the CPU backend: the graph goes through the one
// pipeline of package backend (ir.Optimize, then backend/cpu).

import (
	"github.com/encc-lang/encc/backend"
	"github.com/encc-lang/encc/ir"
)

func init() { RegisterBackend("cpu", compileCPU, true) }

func compileCPU(g *ir.Graph, threads int) (Executor, error) {
	return backend.Compile(g, "cpu", backend.Options{Threads: threads})
}
