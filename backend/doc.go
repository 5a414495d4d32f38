// Package backend is the one pipeline from a lowered graph to a program:
// [Compile] runs the IR pass pipeline ([Optimize]: ir.Optimize) and then
// the target's compiler (backend/cpu or backend/cuda). encc run, eval,
// predict (through runtime/train) and encc bench compile with it; encc
// compile calls Optimize, so the graph it prints or emits is the one that
// runs. A change to the pipeline (a pass option, a target-specific pass)
// is made here, once.
//
// The targets themselves live in the subpackages: backend/cpu (kernels,
// the executor), backend/cuda (CUDA emission and, with the cuda build
// tag, the GPU runtime), and backend/host (the binding code they share).
package backend
