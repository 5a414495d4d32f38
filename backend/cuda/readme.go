// This file implements the README.md written beside kernels.cu and
// plan.json.

package cuda

import (
	"fmt"
	"strings"

	"github.com/encc-lang/encc/ir"
)

// readme describes the module m of g: the files, the arena, the inputs
// and how a host runs the steps.
func readme(g *ir.Graph, m *Module, opts EmitOptions, noReuse int) string {
	p := m.Plan
	var b strings.Builder
	fmt.Fprintf(&b, "# CUDA module of graph %s\n\n", g.Name)
	if opts.Source != "" {
		fmt.Fprintf(&b, "Compiled by encc from %s.\n\n", opts.Source)
	}
	kinds := map[string]int{}
	for _, s := range p.Steps {
		kinds[s.Kind]++
	}
	fmt.Fprintf(&b, "- `kernels.cu`: %d kernels, one per value of the optimized graph (extern \"C\", named k<ID>_<op>), with a comment naming the IR and the .enc line of each.\n", strings.Count(m.Kernels, "__global__ void"))
	fmt.Fprintf(&b, "- `plan.json`: the arena, the inputs, every buffer and %d steps in order (%d launches, %d GEMMs, %d copies, %d memsets).\n\n",
		len(p.Steps), kinds["launch"], kinds["gemm"], kinds["copy"], kinds["memset"])
	fmt.Fprintf(&b, "## Memory\n\nOne device arena of %d bytes holds every intermediate value at the byte offset its buffer gives "+
		"(64-byte aligned, reused once a value is dead: %d bytes without reuse). Reshapes alias their operand; optimizer "+
		"updates write in place into the parameter or state buffer they update. The host owns one device buffer per input:\n\n", p.ArenaBytes, noReuse)
	b.WriteString("| input | role | type | bytes |\n| --- | --- | --- | --- |\n")
	for _, in := range p.Inputs {
		fmt.Fprintf(&b, "| %s | %s | %s%s | %d |\n", in.Name, in.Role, in.DType, ir.Shape(in.Shape), in.Bytes)
	}
	b.WriteString(`
Scalars (lr, step, seed) are device buffers too, read by the kernels, so a
step's launches never change. bool is one byte; i64 is long long.

## Running a step

For each step in order, on one stream:

- ` + "`launch`" + `: launch ` + "`kernel`" + ` with ` + "`grid`" + `, ` + "`block`" + ` and ` + "`args`" + `; a pointer argument is
  arena base + offset (kind arena) or the input's buffer + offset (kind
  input); i32, i64 and f32 arguments are passed by value.
- ` + "`gemm`" + `: cublasSgemmStridedBatched with the fields as given (column-major;
  cuBLAS's A is the IR's right operand, see below), or the ` + "`fallback`" + `
  launch of encc_sgemm; then the ` + "`epilogue`" + ` launch, if any.
- ` + "`copy`" + `: copy ` + "`out.bytes`" + ` bytes from ` + "`src`" + ` to ` + "`out`" + ` (reshapes not aliased; updates
  not computed in place, copied into their input at the end).
- ` + "`memset`" + `: zero ` + "`out.bytes`" + ` bytes (before kernels that add with atomicAdd).

Outputs (loss, pred) are read where ` + "`outputs[].at`" + ` says after the step.

## GEMMs: row-major IR, column-major cuBLAS

The IR's C[rows,cols] = op(x)·op(w) is row-major. Read column-major, a
row-major matrix is its transpose, so each GEMM computes C^T = op(w)^T·op(x)^T:
m = cols, n = rows, A = w (transa T when the IR transposes w, lda = inner or
cols), B = x (transb T when the IR transposes x, ldb = rows or inner),
ldc = cols. ` + "`rows`, `cols`, `inner`, `trans_x`, `trans_w`" + ` restate each call in
the IR's terms.
`)
	return b.String()
}
