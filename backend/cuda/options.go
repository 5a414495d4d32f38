package cuda

import "errors"

// Options tunes Compile, the GPU runtime.
type Options struct {
	Device       int  // CUDA device ordinal
	FallbackGEMM bool // run GEMMs with encc_sgemm instead of cuBLAS
	Block        int  // as EmitOptions.Block
}

// ErrNoCUDA is Compile's error in an encc built without the cuda tag.
var ErrNoCUDA = errors.New("this encc was built without CUDA support; rebuild with -tags cuda on a machine with the CUDA toolkit")
