// Package cuda is encc's GPU backend. Emit turns an optimized, planned
// graph into a Module: kernels.cu, one CUDA kernel per value; plan.json,
// the arena, the inputs, every buffer and the ordered steps (kernel
// launches, cuBLAS GEMMs, copies, memsets); and a README of the layout.
// Emitting needs no GPU and no CUDA toolkit, and neither do its checks:
// the tests compile every example's kernels.cu to PTX with clang and
// check every plan's invariants in Go. Running needs both: the runtime
// (Compile, Program) is built only with the cuda tag.
//
// Where to begin:
//
//   - emit.go: Emit, Module and WriteDir; the emitter walks the graph in
//     order and calls the generator registered for each value's op, which
//     writes its kernel and appends its steps. Arguments are resolved
//     through ir.Plan to a byte offset in the arena, or in an input's
//     buffer for inputs, in-place updates and reshapes of inputs.
//   - plan.go: Plan, the content of plan.json, with the row-major to
//     column-major mapping of GEMMs (GEMM's doc). check.go: Plan.Check.
//   - render.go: the header of kernels.cu (block reductions, the dropout
//     hash, integer powers), kernel signatures with the comment naming
//     the IR and the .enc line, C types, literals and index arithmetic.
//   - the generators, one file per family: elementwise.go (fused bodies
//     and every op the table flags elementwise as straight-line code per
//     element, each op the C expression of its table row (ir.Op.C);
//     constants, dropout, optimizer updates), reduce.go (reductions,
//     softmax, layer norm, cross entropy), movement.go, conv.go (direct
//     convolution and pooling) and gemm.go (cuBLAS calls, the fallback
//     encc_sgemm kernel, the matmul_bias epilogue).
//   - prelude.h: what clang needs to compile kernels.cu without the CUDA
//     toolkit (see below). NVRTC and nvcc never see it.
//   - runtime_cuda.go and cublas_cuda.go (tag cuda): Compile and Program
//     on gorgonia.org/cu: NVRTC, one arena, launches and cuBLAS in plan
//     order, with backend/cpu's Program method set (Bind, Float32, Int32,
//     Int64, SetScalar, Run) so runtime/train can drive it.
//     runtime_nocuda.go is the same API in other builds, whose Compile
//     returns ErrNoCUDA.
//
// # Kernels
//
// Shapes are constants in the code: a kernel is specialized to its
// value, so its only parameters are pointers (the output first, then the
// operands); scalars such as lr, step and seed are read from their
// device buffers, so a step's launches never change. Elementwise kernels
// run one thread per element; reductions one block per output (or one
// thread when it reduces fewer than 32 elements); softmax, layer norm
// and cross entropy one block per row. f32 math is in float, optimizer
// updates in double like the CPU backend; i32 is int, i64 long long,
// bool one byte. Dropout reproduces ir.DropoutKeep bit for bit. Kernels
// that accumulate with atomicAdd (scatter_add, maxpool2d_backward,
// layernorm_backward_weight) follow a memset step.
//
// # Checking without a GPU
//
//	go test ./backend/cuda
//
// emits the training steps and evaluation graphs of every example, checks
// their plans (Plan.Check: buffers inside the arena, simultaneously live
// buffers disjoint, no read before a write, arguments in bounds, grids
// covering their work), compiles their kernels.cu to PTX with
//
//	clang -x cuda --cuda-device-only --cuda-gpu-arch=sm_80 -nocudainc -nocudalib -include prelude.h
//
// (skipped with a message when clang is missing), and compares the
// digits MLP's module with testdata/digits_mlp (go test -update rewrites
// it).
//
// # Running on a GPU
//
// On a machine with the CUDA toolkit, go build -tags cuda builds the
// runtime (go vet -tags cuda ./backend/cuda/... needs the CUDA headers;
// Debian's nvidia-cuda-dev, from non-free, is enough to vet and build
// it). Such a binary needs a CUDA device even to start: gorgonia.org/cu
// initializes the driver in its package init and exits without one.
// On a machine with a GPU, CuPy and no Go, scripts/gpu-check.sh runs the
// bundles written by
//
//	go test ./backend/cuda -run ExportGPUCheck -gpucheck DIR
//
// and compares each output and updated weight with the CPU backend's.
package cuda
