package train

// This file registers the CPU backend: the graph goes through the one
// pipeline of package backend (ir.Optimize, then backend/cpu). A run
// compiles its programs (the step per batch size, the evaluation) into
// one shared arena (cpu.Arena): it runs them one at a time, so it holds
// the largest plan rather than their sum.

import (
	"runtime"

	"github.com/encc-lang/encc/backend"
	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/data"
)

func init() {
	RegisterBackend("cpu", compileCPU, true)
	perRun["cpu"] = func() Backend {
		a := cpu.NewArena()
		return func(g *ir.Graph, threads int) (Executor, error) {
			return backend.Compile(g, "cpu", backend.Options{Threads: threads, CPU: cpu.Options{Arena: a}})
		}
	}
	frozen["cpu"] = func(g *ir.Graph, threads int) (Executor, error) {
		return backend.Compile(g, "cpu", backend.Options{Threads: threads, CPU: cpu.Options{FrozenWeights: true}})
	}
}

func compileCPU(g *ir.Graph, threads int) (Executor, error) {
	return backend.Compile(g, "cpu", backend.Options{Threads: threads})
}

// serialBatches turns batchCopier off, and batchPiece is the least a
// piece copies, in bytes (tests change them).
var (
	serialBatches = false
	batchPiece    = 16 << 10
)

// batchCopier returns the BatchOptions.Parallel of a run's training
// batches: the copy of a batch's samples cut over the worker pool the CPU
// steps run on (the default pool: threads 0 or its size), at least
// 16 KiB of samples a piece; nil (a serial copy) on another backend or
// pool. A step leaves the pool's helpers spinning, so the copy before
// the next step finds them awake. The batch is the same either way.
func batchCopier(backendName string, threads int, d *data.Dataset) func(int, data.Ranger) {
	if backendName != "cpu" || serialBatches || (threads != 0 && threads != runtime.GOMAXPROCS(0)) {
		return nil // (checked before Default() starts the pool's helpers)
	}
	pool := parallel.Default()
	if pool.Size() < 2 || (threads != 0 && threads != pool.Size()) {
		return nil
	}
	bytes := 0
	for _, f := range d.Fields {
		bytes += 4 * f.Size()
	}
	grain := max(1, batchPiece/max(bytes, 1))
	return func(n int, r data.Ranger) { pool.ForRangerSmall(n, grain, r) }
}
