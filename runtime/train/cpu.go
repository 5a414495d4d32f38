package train

// This file registers the CPU backend: the graph is optimized by the IR
// pipeline, then compiled by backend/cpu.

import (
	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/ir"
)

func init() { RegisterBackend("cpu", compileCPU, true) }

func compileCPU(g *ir.Graph, threads int) (Executor, error) {
	if err := ir.Optimize(g, ir.PipelineOptions{}); err != nil {
		return nil, err
	}
	p, err := cpu.Compile(g, cpu.Options{Threads: threads})
	if err != nil {
		return nil, err
	}
	return p, nil
}
