//go:build !linux

package parallel

// osYield does nothing where the thread's CPU is not given up.
func osYield() {}
