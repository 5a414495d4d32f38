package parallel

import "golang.org/x/sys/unix"

// osYield gives the calling thread's CPU to another thread that is
// ready to run on it, if any (sched_yield); with none it returns at
// once. A raw system call: the goroutine keeps its P.
func osYield() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
