//go:build !linux

package cputime

// Core is -1 where the calling thread's CPU is not read.
func Core() int { return -1 }
