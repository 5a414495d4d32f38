package train

// This file registers the GPU backend as device "cuda": the graph is
// optimized by the IR pipeline, then compiled by backend/cuda. In a
// build without the cuda tag its Compile returns cuda.ErrNoCUDA, which
// says how to get a build with it.

import (
	"github.com/encc-lang/encc/backend/cuda"
	"github.com/encc-lang/encc/ir"
)

func init() { RegisterBackend("cuda", compileCUDA, false) }

// CUDAAvailable reports whether this build can run graphs on a GPU; when
// it cannot, CUDAError says why.
func CUDAAvailable() bool { return cuda.Available() }

// CUDAError is the error of device "cuda" in a build without the cuda
// tag.
var CUDAError = cuda.ErrNoCUDA

func compileCUDA(g *ir.Graph, _ int) (Executor, error) {
	if !cuda.Available() {
		return nil, cuda.ErrNoCUDA
	}
	if err := ir.Optimize(g, ir.PipelineOptions{}); err != nil {
		return nil, err
	}
	p, err := cuda.Compile(g, cuda.Options{})
	if err != nil {
		return nil, err
	}
	return p, nil
}
