package main

// ENCC_CPUPROFILE=FILE writes a CPU profile of the whole command to FILE
// (read it with `go tool pprof encc FILE`): how docs/performance.md's
// profiles of `encc run` and `encc bench` are taken.

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile starts the CPU profile that ENCC_CPUPROFILE asks for and
// returns the function that ends it.
func startProfile() (stop func()) {
	path := os.Getenv("ENCC_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "encc: ENCC_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
