// Package parity holds the numerical parity tests of encc against
// PyTorch (the fixtures of testdata/torch, written by
// scripts/torch_reference.py and, for the recurrent layers,
// scripts/torch_recurrent.py). Each fixture's .enc train loads the
// PyTorch weights with init = load(..., rename:, split:), and the tests
// load them as encc run does (runtime/train.FitWeights, over the one
// mapping algorithm of runtime/weights; see docs/pytorch-weights.md), so
// the mapping they check is the one users write.
package parity
