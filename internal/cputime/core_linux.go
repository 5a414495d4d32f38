package cputime

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Core is the number of the CPU the calling thread is running on (it
// may move right after), or -1 where that is not read.
func Core() int {
	var cpu uint32
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); e != 0 {
		return -1
	}
	return int(cpu)
}
