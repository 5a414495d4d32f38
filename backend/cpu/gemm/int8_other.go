//go:build !amd64

package gemm

func qArchKernels() []*qkernel { return nil }
