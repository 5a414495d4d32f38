package cputime

import (
	"runtime"
	"testing"
	"time"
)

// TestClocksAdvance: both clocks grow while the calling thread spins
// (on unix, where they are read), and never run backwards.
func TestClocksAdvance(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p0, t0 := Process(), Thread()
	x := 0.0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		for i := range 1000 {
			x += float64(i)
		}
	}
	p1, t1 := Process(), Thread()
	if x < 0 || p1 < p0 || t1 < t0 {
		t.Fatalf("clocks ran backwards: process %v → %v, thread %v → %v", p0, p1, t0, t1)
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "plan9" && runtime.GOOS != "js" && runtime.GOOS != "wasip1" {
		if p1 == p0 || t1 == t0 {
			t.Fatalf("50 ms of spinning moved neither clock: process %v → %v, thread %v → %v", p0, p1, t0, t1)
		}
	}
}

// TestCore: on linux the calling thread's CPU is read, and is one of
// the machine's.
func TestCore(t *testing.T) {
	c := Core()
	if runtime.GOOS != "linux" {
		if c != -1 {
			t.Fatalf("Core() = %d, want -1", c)
		}
		return
	}
	if c < 0 || c >= max(runtime.NumCPU(), 1024) {
		t.Fatalf("Core() = %d", c)
	}
}
