package train

// This file registers the GPU backend as device "cuda": the graph goes
// through the one pipeline of package backend (ir.Optimize, then
// backend/cuda). In a build without the cuda tag it fails with
// cuda.ErrNoCUDA, which says how to get a build with it.

import (
	"github.com/encc-lang/encc/backend"
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
	return backend.Compile(g, "cuda", backend.Options{})
}
