// Package onnx writes the inference forward of an encc model as an ONNX
// model: `encc export FILE [TRAIN|MODEL] --to onnx -o model.onnx`.
//
// # Where to begin
//
// Export takes a checked program, a model instance and its weights and
// returns an onnxpb.ModelProto; Encode gives the bytes of the .onnx file.
// The protobuf types are generated from the official onnx.proto
// (internal/onnxpb, with its go:generate command); nothing here encodes
// protobuf by hand.
//
//   - export.go: Export, the emitter and its building blocks (constants,
//     shape tensors computed at run time).
//   - dims.go: dynamic dimensions, fitted from lowerings at several sizes.
//   - ops.go: the op table, one entry per IR op: the ONNX operators it
//     becomes, or the reason it has none.
//
// # From the lowered IR, not from the model tree
//
// Export translates the IR graph that compiler.LowerForward makes (eval
// mode: no dropout), unoptimized, rather than the checked model tree.
// The IR is what encc's CPU backend runs, so the file computes what encc
// computes, op for op, and the parity test compares the same computation;
// compile-time `if`, optional inputs, `repeat` stacks, named outputs and
// every built-in are already resolved into about 40 primitive ops with a
// documented semantics (ir/op.go), where the tree would need a second
// interpreter of every built-in layer and function.
//
// The IR has concrete shapes, so the dynamic dimensions are recovered by
// lowering the forward once per corner of a grid: each dimension variable
// of the forward's inputs (B, T) takes two consecutive sizes, and every
// dimension of every value (and every slice bound) is fitted by the
// multilinear polynomial through its sizes (dims.go). Export refuses a
// forward whose graph changes structure with the sizes, or that uses a
// size as a number (it would be frozen). A reshape with one dynamic
// dimension writes -1 there; with more, its shape is computed at run
// time from Shape of the inputs that declare the variables (a Reshape
// built at a concrete batch never freezes it). Fill, iota and
// broadcast_to of dynamic shapes become ConstantOfShape, Range and
// Expand over such shapes.
//
// # The file
//
// Opset 17 (default domain), IR version 8, so Debian's python3-onnx 1.12
// checker accepts it. Graph inputs are the forward's inputs by name (an
// optional input the forward declares is a required input of the file),
// with dim_param B, T for dynamic dimensions; outputs are "out" or the
// forward's named outputs; initializers are the parameters and buffers
// the forward reads, named by their paths (encoder.fc1.weight), f32 raw
// data; each node's doc_string is the .enc position it came from.
// Metadata (encc version, source SHA-256, model, weights) is what
// Options.Metadata holds. Internal tensor names start with "/", which no
// .enc name has.
//
// # Tests
//
// TestEveryOpHasForm keeps testdata/forms.txt, every IR op with its ONNX
// form or the reason it has none. TestParity exports every example model
// and the models of testdata/models.enc, checks each file with
// onnx.checker.check_model (full_check), runs it with onnxruntime (npm
// onnxruntime-node, installed with `npm install --ignore-scripts` in
// ort/, driven by ort/run.js) at two batch sizes and sequence lengths,
// and compares the outputs with encc's CPU backend. A missing node, onnxruntime or python3-onnx skips
// the test, and fails it in CI (CI=true).
package onnx
