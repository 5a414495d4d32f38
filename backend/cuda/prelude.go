package cuda

import _ "embed"

// Prelude is prelude.h: the declarations clang needs to compile
// kernels.cu to PTX without the CUDA toolkit (-nocudainc -nocudalib).
// NVRTC and nvcc do not use it.
//
//go:embed prelude.h
var Prelude string
