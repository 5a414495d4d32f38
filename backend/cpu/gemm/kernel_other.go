//go:build !amd64

package gemm

// archKernels: only the portable kernel outside amd64.
func archKernels() []*kernel { return nil }
