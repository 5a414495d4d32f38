// Package cputime reads the CPU time that the process and the calling
// OS thread have used. On a shared machine CPU time says more about a
// benchmark than the wall time does; gemm's trace records each task's
// thread time with it. Where the system gives no such clock (not unix),
// both read 0. Core says which CPU the calling thread is on (linux; -1
// elsewhere): gemm's trace records it at each task's start and end, to
// tell tasks that ran in parallel from tasks whose threads shared one
// CPU.
package cputime
