package gemm

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/encc-lang/encc/internal/cputime"
)

// A diagnostic trace of the calls: StartTrace turns it on, StopTrace
// turns it off and returns what it recorded. With it off a call pays
// one atomic load.

// TraceCall is one traced product.
type TraceCall struct {
	M, N, K        int
	TransA, TransB bool
	Serial         bool   // SgemmExSerial (a stage task's product)
	Split          string // "small", "gemv", "serial", "M" or "N"
	Tasks          int
	Units, Unit    int     // the split dimension in units of Unit rows or columns
	SharedB        bool    // the tasks of a split over M share one packing of op(B)
	Swapped        bool    // computed as Cᵀ = B·Aᵀ (job.swapped): M, N and the rest are that product's
	Model          float64 // the model's time for the choice (ns)
	Start, End     time.Duration
	Task           []TraceTask // one per task, in task order
}

// TraceTask is one task of a traced call: the participant that ran it,
// its rows or columns [Lo, Hi) of C, its start and end, and the CPU time
// its thread spent on it (0 where not read), which a core taken away by
// another process does not inflate, and whether it read A in place.
type TraceTask struct {
	Worker, Lo, Hi int
	Start, End     time.Duration
	CPU            time.Duration
	DirectA        bool // it read A in place instead of packing it
	Core0, Core1   int  // the CPU it ran on at its start and end (-1 where not read)
}

var (
	traceOn    atomic.Bool
	traceMu    sync.Mutex
	traceBase  time.Time
	traceCalls []TraceCall
)

// StartTrace starts recording every call (shape, split, tasks and their
// times since StartTrace); it allocates while on.
func StartTrace() {
	traceMu.Lock()
	traceBase, traceCalls = time.Now(), nil
	traceMu.Unlock()
	traceOn.Store(true)
}

// StopTrace stops recording and returns the calls recorded since
// StartTrace, in the order they ended.
func StopTrace() []TraceCall {
	traceOn.Store(false)
	traceMu.Lock()
	defer traceMu.Unlock()
	c := traceCalls
	traceCalls = nil
	return c
}

func traceNow() time.Duration { return time.Since(traceBase) }

// traceBegin starts the record of j's call if tracing is on.
func (j *job) traceBegin() {
	j.tr = nil
	if !traceOn.Load() {
		return
	}
	p := &j.p
	j.tr = &TraceCall{M: p.M, N: p.N, K: p.K, TransA: p.TransA, TransB: p.TransB, Serial: j.serial, Swapped: j.swapped, Start: traceNow()}
}

// traceSplit records j's split (after the model's choice).
func (j *job) traceSplit(split string, model float64) {
	if j.tr == nil {
		return
	}
	j.tr.Split, j.tr.Tasks, j.tr.Units, j.tr.Unit, j.tr.Model = split, j.tasks, j.units, j.unit, model
	j.tr.Task = make([]TraceTask, j.tasks)
}

// traceTask records task t's worker, range and times (start and cpu0:
// its wall and thread CPU clocks when it started).
func (j *job) traceTask(worker, t, lo, hi int, start, cpu0 time.Duration, core0 int) {
	dirA := j.mode == modeGemm && j.directA(min(hi*j.unit, j.p.N)-lo*j.unit)
	j.tr.Task[t] = TraceTask{Worker: worker, Lo: lo, Hi: hi, Start: start, End: traceNow(), CPU: cputime.Thread() - cpu0, DirectA: dirA,
		Core0: core0, Core1: cputime.Core()}
}

// traceEnd files j's record.
func (j *job) traceEnd() {
	if j.tr == nil {
		return
	}
	j.tr.End = traceNow()
	traceMu.Lock()
	traceCalls = append(traceCalls, *j.tr)
	traceMu.Unlock()
	j.tr = nil
}

// traceSmall records a call that took the small-product loop.
func traceSmall(p *Params, serial bool, start time.Duration) {
	traceMu.Lock()
	traceCalls = append(traceCalls, TraceCall{M: p.M, N: p.N, K: p.K, TransA: p.TransA, TransB: p.TransB,
		Serial: serial, Split: "small", Tasks: 1, Start: start, End: traceNow()})
	traceMu.Unlock()
}
