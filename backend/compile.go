package backend

import (
	"fmt"

	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/backend/cuda"
	"github.com/encc-lang/encc/ir"
)

// A Program is a compiled graph: the method set that cpu.Program and
// cuda.Program share and runtime/train drives (see train.Executor).
type Program interface {
	Bind(name string, data any) error
	Float32(name string) []float32
	Int32(name string) []int32
	Int64(name string) []int64
	SetScalar(name string, v float64)
	Run() error
}

// Options says how Compile builds a program.
type Options struct {
	Threads  int                // cpu: cores the kernels split work over; 0: every core
	CUDA     cuda.Options       // cuda: device, GEMM and block size
	Pipeline ir.PipelineOptions // the pass pipeline: passes to print after (encc compile --print-after)
	CPU      cpu.Options        // cpu: int8 weights, calibration hook, a shared arena (Threads above wins)
}

// Optimize runs the pass pipeline that every target compiles from over g,
// in place. It is Compile's first half, on its own for encc compile,
// which prints or emits the optimized graph instead of running it.
func Optimize(g *ir.Graph, o Options) error {
	return ir.Optimize(g, o.Pipeline)
}

// Compile optimizes g in place (Optimize) and compiles it for target:
// "cpu" (backend/cpu) or "cuda" (backend/cuda; cuda.ErrNoCUDA, before
// any work, in a build without the cuda tag).
func Compile(g *ir.Graph, target string, o Options) (Program, error) {
	switch target {
	case "cpu":
	case "cuda":
		if !cuda.Available() {
			return nil, cuda.ErrNoCUDA
		}
	default:
		return nil, fmt.Errorf("unknown target %q (have: cpu, cuda)", target)
	}
	if err := Optimize(g, o); err != nil {
		return nil, err
	}
	if target == "cuda" {
		p, err := cuda.Compile(g, o.CUDA)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	copts := o.CPU
	copts.Threads = o.Threads
	p, err := cpu.Compile(g, copts)
	if err != nil {
		return nil, err
	}
	return p, nil
}
