package parallel

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cover records how often each index was visited.
type cover struct {
	hits []atomic.Int32
}

func (c *cover) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
	}
}

func checkCover(t *testing.T, c *cover, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if h := c.hits[i].Load(); h != 1 {
			t.Fatalf("n=%d: index %d visited %d times", n, i, h)
		}
	}
}

func TestForCoversEachIndexOnce(t *testing.T) {
	for _, size := range []int{1, 2, 3, 5} {
		p := New(size)
		for _, n := range []int{0, 1, 2, 3, 7, 64, 1000} {
			for _, grain := range []int{0, 1, 3, 100} {
				for rep := 0; rep < 20; rep++ {
					c := &cover{hits: make([]atomic.Int32, n)}
					p.ForRanger(n, grain, c)
					checkCover(t, c, n)
				}
			}
		}
	}
}

func TestSplitIsDeterministic(t *testing.T) {
	p := New(4)
	for _, n := range []int{1, 5, 17, 1000} {
		for _, grain := range []int{1, 4, 300} {
			chunks := p.Split(n, grain)
			if chunks < 1 || chunks > 4 {
				t.Fatalf("n=%d grain=%d: %d chunks", n, grain, chunks)
			}
			if n >= grain && chunks > 1 && n/chunks < grain {
				t.Fatalf("n=%d grain=%d: chunks of %d are below the grain", n, grain, n/chunks)
			}
			var mu sync.Mutex
			got := map[[2]int]bool{}
			for rep := 0; rep < 50; rep++ {
				p.For(n, grain, func(lo, hi int) {
					mu.Lock()
					got[[2]int{lo, hi}] = true
					mu.Unlock()
				})
			}
			if len(got) != chunks {
				t.Fatalf("n=%d grain=%d: saw %d distinct ranges over 50 runs, want %d: %v", n, grain, len(got), chunks, got)
			}
			for i := 0; i < chunks; i++ {
				lo, hi := Chunk(n, chunks, i)
				if !got[[2]int{lo, hi}] {
					t.Fatalf("n=%d grain=%d: chunk %d [%d,%d) never ran", n, grain, i, lo, hi)
				}
			}
		}
	}
}

func TestNestedAndConcurrentCalls(t *testing.T) {
	p := New(3)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 200; rep++ {
				outer := &cover{hits: make([]atomic.Int32, 6)}
				inner := &cover{hits: make([]atomic.Int32, 6*50)}
				p.For(6, 1, func(lo, hi int) {
					outer.Range(lo, hi)
					for i := lo; i < hi; i++ {
						// A nested call runs inline; it must still cover its range.
						sub := &cover{hits: inner.hits[i*50 : (i+1)*50]}
						p.ForRanger(50, 1, sub)
					}
				})
				checkCover(t, outer, 6)
				checkCover(t, inner, 300)
			}
		}()
	}
	wg.Wait()
}

type workerSeen struct {
	busy [8]atomic.Int32
	bad  atomic.Int32
}

func (w *workerSeen) RangeWorker(id, lo, hi int) {
	if w.busy[id].Add(1) != 1 {
		w.bad.Add(1)
	}
	for i := 0; i < 1000; i++ {
		_ = i
	}
	w.busy[id].Add(-1)
}

func TestWorkerIndexExclusive(t *testing.T) {
	p := New(4)
	w := &workerSeen{}
	for rep := 0; rep < 500; rep++ {
		p.Tasks(13, w)
		p.ForWorker(100, 1, w)
	}
	if w.bad.Load() != 0 {
		t.Fatalf("a worker index ran twice at once %d times", w.bad.Load())
	}
}

type sum struct{ parts [64]int64 }

func (s *sum) Range(lo, hi int) {
	var t int64
	for i := lo; i < hi; i++ {
		t += int64(i)
	}
	s.parts[lo%64] += t
}

func TestZeroAllocs(t *testing.T) {
	p := New(2)
	s := &sum{}
	allocs := testing.AllocsPerRun(1000, func() { p.ForRanger(1000, 1, s) })
	if allocs != 0 {
		t.Fatalf("ForRanger allocates %.1f times per call", allocs)
	}
	fn := func(lo, hi int) {} // a non-capturing closure is static
	allocs = testing.AllocsPerRun(1000, func() { p.For(1000, 1, fn) })
	if allocs != 0 {
		t.Fatalf("For allocates %.1f times per call", allocs)
	}
}

type nop struct{}

func (nop) Range(lo, hi int) {}

type spinWork struct{ sink [2]float64 }

//go:noinline
func (s *spinWork) Range(lo, hi int) {
	x := 1.0
	for i := 0; i < 1000*(hi-lo); i++ { // ≈ 1.6 µs per index of dependent operations
		x = x*1.0000001 + 1e-9
	}
	s.sink[lo&1] += x
}

// BenchmarkSplit2us: two indices of ≈1.6 µs each. Serially that is
// ≈3.3 µs; with a helper that joins in time, ≈1.6 µs plus the hand-off.
func BenchmarkSplit2us(b *testing.B) {
	for _, size := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", size), func(b *testing.B) {
			p := New(size)
			w := &spinWork{}
			for i := 0; i < b.N; i++ {
				p.ForRanger(2, 1, w)
			}
		})
	}
}

// BenchmarkHandoff measures the round trip of a parallel For with an empty
// body: publish, run, and join. With bodies this short the caller usually
// claims both chunks before the helper joins, and withdraws its invitation.
func BenchmarkHandoff(b *testing.B) {
	p := New(2)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.ForRanger(2, 1, nop{})
	}
}

// BenchmarkHandoffInline is the same call on a one-participant pool: the
// floor that the parallel hand-off is compared with.
func BenchmarkHandoffInline(b *testing.B) {
	p := New(1)
	for i := 0; i < b.N; i++ {
		p.ForRanger(2, 1, nop{})
	}
}

// waitParked waits until every helper of p has parked (after spinFor).
func waitParked(t *testing.T, p *Pool) {
	t.Helper()
	for i := 0; i < 2000 && !p.Parked(); i++ {
		time.Sleep(time.Millisecond)
	}
	if !p.Parked() {
		t.Skip("the helper did not park within 2 s (machine too busy)")
	}
}

// TestForRangerSmall: with the helpers parked, a small job runs on the
// caller with ForRanger's chunk bounds and wakes nobody; with a helper
// awake, or through ForRanger, it is shared as before.
func TestForRangerSmall(t *testing.T) {
	p := New(2)
	waitParked(t, p)
	var mu sync.Mutex
	var got [][2]int
	rec := Func(func(lo, hi int) {
		mu.Lock()
		got = append(got, [2]int{lo, hi})
		mu.Unlock()
	})
	w0 := p.Wakeups()
	p.ForRangerSmall(100, 10, rec)
	if p.Wakeups() != w0 {
		t.Fatalf("ForRangerSmall woke a parked helper")
	}
	chunks := p.Split(100, 10)
	if len(got) != chunks {
		t.Fatalf("%d chunks, want %d", len(got), chunks)
	}
	for i, g := range got {
		if lo, hi := Chunk(100, chunks, i); g != [2]int{lo, hi} {
			t.Fatalf("chunk %d = %v, want [%d %d] in order", i, g, lo, hi)
		}
	}
	if !p.Parked() {
		t.Fatal("the helper is awake after an inline job")
	}
	p.ForRanger(100, 10, rec)
	if p.Wakeups() != w0+1 {
		t.Fatalf("ForRanger woke %d helpers, want 1", p.Wakeups()-w0)
	}
	if New(1).Parked() {
		t.Fatal("a pool without helpers reports parked helpers")
	}
}
