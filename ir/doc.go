// Package ir is encc's intermediate representation: a typed SSA dataflow
// graph for one forward pass or one whole training step (forward, loss,
// backward, optimizer update), with reverse-mode autodiff on the graph
// itself. It knows nothing of .enc syntax; the compiler lowers checked
// programs into it and the backends compile it.
//
// Where to begin:
//
//   - types.go: DType, Shape and Type (f32[64,256]).
//   - graph.go: Value, the single node type {ID, Op, Type, Args, Aux,
//     Name, Pos}; Graph, its values in topological order with the inputs
//     first, and its outputs and in-place updates.
//   - op.go: Op and the op table, one row per op with its name, arity,
//     flags, attribute struct, type rule, VJP rule and doc, and for an
//     elementwise op its arithmetic in Go and in C (arith.go: ScalarFunc,
//     CExpr), which folding, ir/eval and both backends compute it with.
//     Ask questions of the flags (op.IsElementwise(), op.IsInPlace()).
//   - attrs.go: the attribute structs held in Value.Aux.
//   - typerules.go and vjp.go: the type and VJP rules named by the table.
//   - builder.go: Builder, one method per op, which infers result types
//     and reports shape errors at a source position.
//   - verify.go: Verify, the invariants every pass keeps.
//   - print.go and parse.go: the text form, which round-trips.
//   - vjp.go (Grad) and optim.go (Optimize, ClipByGlobalNorm, TrainStep):
//     from a loss to a training step; gradjoin.go joins the gradients of
//     the slices of one value into a concat.
//   - dropout.go: the definition of the dropout mask that backends share.
//   - pipeline.go: the pass list and Optimize; one file per pass
//     (canon.go, fold.go, cse.go, dce.go, simplify.go, fuse.go); fused.go
//     holds the fused kernels (fused, matmul_bias) that fuse makes.
//   - memplan.go: PlanMemory, the arena plan backends run with; dot.go:
//     Dot, the Graphviz drawing.
//
// The reference evaluator, the oracle for passes and backends, is the
// subpackage ir/eval. See README.md for how to see each stage and how to
// add an op or a pass.
package ir
