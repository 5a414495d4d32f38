//go:build !unix

package gemm

import "time"

// processCPU is 0 where the CPU time is not read: the benchmarks then
// report no cpu-GFLOP/s.
func processCPU() time.Duration { return 0 }
