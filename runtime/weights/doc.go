// Package weights maps the tensors of a weights file (a PyTorch
// state_dict saved as safetensors, an encc checkpoint) onto the
// parameters of a model: the one rename/split algorithm of encc, used by
// the runtime's load(..., rename:, split:), by encc eval and encc run
// --resume (with the identity mapping), and by the PyTorch parity tests
// of internal/parity. docs/pytorch-weights.md is its user-facing spec.
//
// Where to begin: a [Mapping] holds the renames and splits;
// [Mapping.Plan] turns the file's tensor names and shapes into
// [Piece]s (which parameter takes which tensor, or which slice of a fused
// one); [Check] compares the pieces with the model's parameters and
// returns one [FitError] listing everything missing, unexpected or
// mis-shaped; [Take] cuts a piece's values out of its tensor's data.
//
// The package knows nothing of file formats or of the compiler: it works
// on names, shapes and slices, so the runtime (float32) and the parity
// tests (float64) share it. It lives outside runtime/safetensors because
// the mapping is not part of the file format (encc checkpoints need no
// mapping, and a mapping would apply as well to another format).
package weights
