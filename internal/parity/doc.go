// Package parity holds the numerical parity tests of encc against
// PyTorch (the fixtures of testdata/torch, written by
// scripts/torch_reference.py). They load the PyTorch weights with the
// runtime's own name mapping (runtime/weights, the algorithm behind
// load(..., rename:, split:); see docs/pytorch-weights.md), so the
// mapping they check is the one users write.
package parity
