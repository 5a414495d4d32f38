//go:build !unix

package cpu

import "time"

// processCPU is 0 where the process CPU time is not read.
func processCPU() time.Duration { return 0 }
