package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Ranger is the allocation-free form of a loop body: Range(lo, hi) handles
// the half-open index range [lo, hi). Passing a pointer to a long-lived
// struct as a Ranger costs no allocation, unlike a capturing closure.
type Ranger interface {
	Range(lo, hi int)
}

// WorkerRanger is a loop body that is also told which participant runs it.
// worker is in [0, Workers()) and no two calls that run at the same time get
// the same worker index during one For, so it can select per-worker
// scratch space. It never affects which ranges are produced.
type WorkerRanger interface {
	RangeWorker(worker, lo, hi int)
}

// Func adapts a plain function to Ranger. A func value is pointer-shaped,
// so the conversion to an interface does not allocate (a capturing
// closure is still heap-allocated by its creator).
type Func func(lo, hi int)

// Range calls f(lo, hi).
func (f Func) Range(lo, hi int) { f(lo, hi) }

// spinFor is how long a worker keeps polling for the next job after
// finishing one before it parks on its channel, and how long the caller
// polls for helpers to finish before it parks. Back-to-back kernels in a
// training step find the helpers still spinning, so the hand-off costs a
// cache-line transfer instead of a futex wake-up. 50 µs was too short:
// a helper that finished its half of a 256³ SGEMM early parked before the
// next call, and woke too late to take part in it (96 against 172 GFLOP/s).
const spinFor = 200 * time.Microsecond

// Pool is a fixed set of goroutines, started once, that run the chunks of
// For calls. The calling goroutine always takes part as worker 0, so a
// Pool of size 1 has no helper goroutines and runs everything inline.
type Pool struct {
	size int

	mu sync.Mutex // held for the whole of a parallel For

	// The current job. Written by the caller before epoch is bumped and
	// read by helpers after they observe the new epoch.
	body    WorkerRanger
	ranger  Ranger
	n       int
	chunks  int
	next    atomic.Int64 // next chunk index to claim
	pending atomic.Int32 // helpers that have not finished the job
	// epoch is job sequence number<<16 | number of helpers taking part,
	// published in one word so a helper that is not part of a job never
	// reads the job's other fields.
	epoch atomic.Uint64

	waiterSleeping atomic.Int32
	done           chan struct{}

	wakeups atomic.Uint64 // parked helpers woken (Wakeups)

	workers []*worker
}

type worker struct {
	id       int
	sleeping atomic.Int32
	// ticket is the epoch of the job this helper is invited to. The
	// helper joins by setting joined on it, the caller withdraws the
	// invitation by setting cancelled; whichever CAS wins decides.
	ticket atomic.Uint64
	wake   chan struct{}
	_      [64]byte // keep workers' hot fields on separate cache lines
}

const (
	joined    = 1 << 63
	cancelled = 1 << 62
)

// New starts a pool of size participants: size-1 helper goroutines plus
// the caller. size < 1 means runtime.GOMAXPROCS(0).
func New(size int) *Pool {
	if size < 1 {
		size = runtime.GOMAXPROCS(0)
	}
	p := &Pool{size: size, done: make(chan struct{}, 1)}
	for i := 1; i < size; i++ {
		w := &worker{id: i, wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go p.loop(w)
	}
	return p
}

var (
	defaultOnce sync.Once
	defaultPool *Pool
)

// Default returns the process-wide pool, sized to GOMAXPROCS at its first
// use.
func Default() *Pool {
	defaultOnce.Do(func() { defaultPool = New(0) })
	return defaultPool
}

// Workers is Default().Size().
func Workers() int { return Default().Size() }

// For runs fn over [0, n) on the default pool. See Pool.For.
func For(n, grain int, fn func(lo, hi int)) { Default().ForRanger(n, grain, Func(fn)) }

// Size is the number of participants, the caller included.
func (p *Pool) Size() int { return p.size }

// Split returns how many chunks For(n, grain, …) cuts [0, n) into, and
// Chunk(i) of them gives chunk i's bounds. The split depends only on n,
// grain and the pool size, never on timing.
func (p *Pool) Split(n, grain int) int {
	if n <= 0 {
		return 0
	}
	if grain < 1 {
		grain = 1
	}
	c := max(n/grain, 1)
	if c > p.size {
		c = p.size
	}
	return c
}

// Chunk returns the bounds of chunk i when [0, n) is cut into chunks
// nearly equal parts (the first n%chunks parts are one longer).
func Chunk(n, chunks, i int) (lo, hi int) {
	q, r := n/chunks, n%chunks
	lo = i*q + min(i, r)
	hi = lo + q
	if i < r {
		hi++
	}
	return
}

// For calls fn on disjoint ranges that cover [0, n), at most Size() of
// them, each at least grain long (except when n < grain), in parallel.
// The ranges depend only on n, grain and Size(). It returns when all
// calls have returned. See ForRanger for the allocation-free form.
func (p *Pool) For(n, grain int, fn func(lo, hi int)) { p.ForRanger(n, grain, Func(fn)) }

// ForRanger is For with an interface body; it does not allocate.
func (p *Pool) ForRanger(n, grain int, r Ranger) {
	p.run(n, p.Split(n, grain), nil, r)
}

// Tasks runs body.RangeWorker(w, i, i+1) for every i in [0, tasks),
// spreading the tasks over the pool; unlike ForWorker, each task is its
// own chunk, claimed dynamically, so more tasks than workers balance load
// when a core is disturbed. Which worker runs a task depends on timing;
// what a task computes must not.
func (p *Pool) Tasks(tasks int, body WorkerRanger) {
	p.run(tasks, tasks, body, nil)
}

// ForRangerSmall is ForRanger for a job too small to pay for waking a
// parked helper (a channel wake-up and the helper's start cost several
// µs): when every helper is parked, the caller runs the chunks itself,
// in order, with the same bounds; otherwise it is ForRanger.
func (p *Pool) ForRangerSmall(n, grain int, r Ranger) {
	chunks := p.Split(n, grain)
	if chunks > 1 && p.Parked() {
		for i := 0; i < chunks; i++ {
			lo, hi := Chunk(n, chunks, i)
			r.Range(lo, hi)
		}
		return
	}
	p.run(n, chunks, nil, r)
}

// Parked reports whether every helper is parked (not spinning for the
// next job), so that a job would have to wake them; false for a pool of
// size 1. A snapshot: a helper may park or wake right after.
func (p *Pool) Parked() bool {
	if len(p.workers) == 0 {
		return false
	}
	for _, w := range p.workers {
		if w.sleeping.Load() == 0 {
			return false
		}
	}
	return true
}

// Wakeups returns how many times a job has woken a parked helper since
// the pool started.
func (p *Pool) Wakeups() uint64 { return p.wakeups.Load() }

// ForWorker is ForRanger with the worker index passed to the body.
// If the pool is already running a job (a nested call from inside a body,
// or a call from another goroutine), the chunks run inline on the calling
// goroutine, in order, with the same bounds; worker is then 0 for all.
func (p *Pool) ForWorker(n, grain int, body WorkerRanger) {
	p.run(n, p.Split(n, grain), body, nil)
}

// run executes the job; exactly one of body and r is non-nil.
func (p *Pool) run(n, chunks int, body WorkerRanger, r Ranger) {
	if chunks <= 0 {
		return
	}
	if chunks == 1 || p.size == 1 || !p.mu.TryLock() {
		for i := 0; i < chunks; i++ {
			lo, hi := Chunk(n, chunks, i)
			if body != nil {
				body.RangeWorker(0, lo, hi)
			} else {
				r.Range(lo, hi)
			}
		}
		return
	}
	helpers := min(chunks, p.size) - 1
	p.body, p.ranger, p.n, p.chunks = body, r, n, chunks
	p.next.Store(0)
	p.pending.Store(int32(helpers))
	e := (p.epoch.Load()>>16+1)<<16 | uint64(helpers)
	for _, w := range p.workers[:helpers] {
		w.ticket.Store(e)
	}
	p.epoch.Store(e)
	for _, w := range p.workers[:helpers] {
		if w.sleeping.Load() != 0 && w.sleeping.CompareAndSwap(1, 0) {
			p.wakeups.Add(1)
			w.wake <- struct{}{}
		}
	}
	p.work(0)
	// Every chunk is claimed. Helpers that have not joined yet (not
	// scheduled, or still waking up) are not waited for: their
	// invitation is withdrawn, so a busy core never delays the caller.
	for _, w := range p.workers[:helpers] {
		if w.ticket.Load() == e && w.ticket.CompareAndSwap(e, e|cancelled) {
			p.pending.Add(-1)
		}
	}
	p.wait()
	p.body, p.ranger = nil, nil
	p.mu.Unlock()
}

// work claims chunks until none is left.
func (p *Pool) work(id int) {
	n, chunks, body, r := p.n, int64(p.chunks), p.body, p.ranger
	for {
		i := p.next.Add(1) - 1
		if i >= chunks {
			return
		}
		lo, hi := Chunk(n, int(chunks), int(i))
		if body != nil {
			body.RangeWorker(id, lo, hi)
		} else {
			r.Range(lo, hi)
		}
	}
}

func (p *Pool) wait() {
	if p.pending.Load() == 0 {
		return
	}
	start := time.Now()
	for spin := 0; ; spin++ {
		if p.pending.Load() == 0 {
			return
		}
		if spin&255 == 255 && time.Since(start) > spinFor {
			break
		}
	}
	p.waiterSleeping.Store(1)
	if p.pending.Load() == 0 && p.waiterSleeping.CompareAndSwap(1, 0) {
		return
	}
	<-p.done
}

func (p *Pool) loop(w *worker) {
	var seen uint64
	for {
		// Wait for a new job: spin, then park.
		e := p.epoch.Load()
		if e == seen {
			start := time.Now()
			for spin := 0; ; spin++ {
				if e = p.epoch.Load(); e != seen {
					break
				}
				if spin&255 == 255 && time.Since(start) > spinFor {
					w.sleeping.Store(1)
					if e = p.epoch.Load(); e != seen {
						if w.sleeping.CompareAndSwap(1, 0) {
							break
						}
					}
					<-w.wake
					e = p.epoch.Load()
					break
				}
			}
		}
		seen = e
		if w.id > int(e&0xffff) || !w.ticket.CompareAndSwap(e, e|joined) {
			continue // not invited to this job, or the invitation was withdrawn
		}
		p.work(w.id)
		if p.pending.Add(-1) == 0 {
			if p.waiterSleeping.Load() != 0 && p.waiterSleeping.CompareAndSwap(1, 0) {
				p.done <- struct{}{}
			}
		}
	}
}
