//go:build !unix

package data

import "time"

// processCPU is 0 where the process CPU time is not read.
func processCPU() time.Duration { return 0 }

// threadCPU is 0 where the thread CPU time is not read.
func threadCPU() time.Duration { return 0 }
