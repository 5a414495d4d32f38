//go:build !amd64

package gemm

func qArchKernels() []*qkernel { return nil }

func quantizeVec(dst []uint8, x []float32, inv float32, zero int32) int { return 0 }

var packQA4 func(dst *uint8, a *uint8, lda int, nb int)
