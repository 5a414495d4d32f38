package main

// ENCC_CPUPROFILE=FILE writes a CPU profile of the whole command to FILE
// (read it with `go tool pprof encc FILE`): how docs/performance.md's
// profiles of `encc run` and `encc bench` are taken.
//
// encc writes no memory profile, so the Go runtime's sampling of
// allocations for one (its default, a sample per 512 KiB, with a hash
// table of call stacks: 1.4 MiB resident in a transformer run) is
// switched off before anything runs.

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

func init() { runtime.MemProfileRate = 0 }

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
