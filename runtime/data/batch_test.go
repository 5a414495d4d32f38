package data

import (
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// seqDataset has n samples: x = [i, 10i] (f32[2]), y = i mod 3.
func seqDataset(n int) *Dataset {
	d := &Dataset{Source: "seq", N: n, Fields: []*Field{
		{Name: "x", DType: F32, Shape: []int{2}, F32: make([]float32, 2*n)},
		{Name: "y", DType: I32, Role: Label, Classes: 3, I32: make([]int32, n)},
	}}
	for i := range n {
		d.Fields[0].F32[2*i], d.Fields[0].F32[2*i+1] = float32(i), float32(10*i)
		d.Fields[1].I32[i] = int32(i % 3)
	}
	return d
}

// epochRows runs one epoch and returns the rows of each batch, checking
// that the copied values match the rows.
func epochRows(t *testing.T, b *Batcher, d *Dataset, epoch, start int) [][]int {
	t.Helper()
	b.Reset(epoch, start)
	bt := b.NewBatch()
	var out [][]int
	for b.Next(bt) {
		if len(bt.Rows) != bt.N {
			t.Fatalf("len(Rows) %d != N %d", len(bt.Rows), bt.N)
		}
		for j, r := range bt.Rows {
			if bt.F32[0][2*j] != float32(r) || bt.F32[0][2*j+1] != float32(10*r) || bt.I32[1][j] != int32(r%3) {
				t.Fatalf("batch row %d holds x=%v y=%d, want sample %d", j, bt.F32[0][2*j:2*j+2], bt.I32[1][j], r)
			}
		}
		out = append(out, slices.Clone(bt.Rows))
	}
	return out
}

func TestBatcherSequential(t *testing.T) {
	d := seqDataset(10)
	b, err := NewBatcher(d, 4, BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.NumBatches() != 3 {
		t.Errorf("NumBatches %d, want 3", b.NumBatches())
	}
	got := epochRows(t, b, d, 0, 0)
	want := [][]int{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	b, _ = NewBatcher(d, 4, BatchOptions{DropLast: true})
	if b.NumBatches() != 2 {
		t.Errorf("NumBatches with DropLast %d, want 2", b.NumBatches())
	}
	if diff := cmp.Diff(want[:2], epochRows(t, b, d, 0, 0)); diff != "" {
		t.Errorf("DropLast batches (-want +got):\n%s", diff)
	}
	// Exact multiple: no empty batch at the end.
	b, _ = NewBatcher(d, 5, BatchOptions{})
	if got := epochRows(t, b, d, 0, 0); len(got) != 2 || len(got[1]) != 5 {
		t.Errorf("batch 5 of 10: %v", got)
	}
	// Batch larger than the dataset.
	b, _ = NewBatcher(d, 64, BatchOptions{DropLast: false})
	if got := epochRows(t, b, d, 0, 0); len(got) != 1 || len(got[0]) != 10 {
		t.Errorf("batch 64 of 10: %v", got)
	}
	if _, err := NewBatcher(d, 0, BatchOptions{}); err == nil {
		t.Error("batch size 0 accepted")
	}
	if _, err := NewBatcher(&Dataset{Source: "e"}, 4, BatchOptions{}); err == nil {
		t.Error("empty dataset accepted")
	}
}

func TestBatcherShuffle(t *testing.T) {
	d := seqDataset(23)
	b, _ := NewBatcher(d, 5, BatchOptions{Shuffle: true, Seed: 42})
	e0 := epochRows(t, b, d, 0, 0)
	e1 := epochRows(t, b, d, 1, 0)
	if len(e0) != 5 || len(e0[4]) != 3 {
		t.Fatalf("epoch shape %v", e0)
	}
	flat := func(bs [][]int) []int { return slices.Concat(bs...) }
	for _, e := range [][][]int{e0, e1} {
		s := slices.Sorted(slices.Values(flat(e)))
		for i, v := range s {
			if v != i {
				t.Fatalf("epoch is not a permutation: %v", e)
			}
		}
	}
	if slices.Equal(flat(e0), flat(e1)) {
		t.Error("epochs 0 and 1 have the same order")
	}
	if slices.IsSorted(flat(e0)) {
		t.Error("shuffled epoch is in order")
	}
	// Reproducible: a new batcher with the same seed, and epoch 0 again
	// after epoch 1, give the same order.
	b2, _ := NewBatcher(d, 5, BatchOptions{Shuffle: true, Seed: 42})
	if diff := cmp.Diff(e1, epochRows(t, b2, d, 1, 0)); diff != "" {
		t.Errorf("epoch 1 from a new batcher (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(e0, epochRows(t, b, d, 0, 0)); diff != "" {
		t.Errorf("epoch 0 replayed (-want +got):\n%s", diff)
	}
	// Resume mid-epoch.
	if diff := cmp.Diff(e1[2:], epochRows(t, b2, d, 1, 2)); diff != "" {
		t.Errorf("resume at epoch 1 batch 2 (-want +got):\n%s", diff)
	}
	b3, _ := NewBatcher(d, 5, BatchOptions{Shuffle: true, Seed: 43})
	if slices.Equal(flat(e0), flat(epochRows(t, b3, d, 0, 0))) {
		t.Error("seeds 42 and 43 give the same order")
	}
	// Epoch order is pinned: Permute(seed, StreamEpoch^epoch).
	p := make([]int, 23)
	Permute(p, 42, StreamEpoch^1)
	if !slices.Equal(p, flat(e1)) {
		t.Error("epoch 1 order is not Permute(42, StreamEpoch^1)")
	}
	if b.Epoch() != 0 || b.Pos() != 5 {
		t.Errorf("Epoch %d Pos %d after epoch 0, want 0 and 5", b.Epoch(), b.Pos())
	}
}

func TestBatcherNoAlloc(t *testing.T) {
	d, _ := Builtin("digits")
	b, _ := NewBatcher(d, 32, BatchOptions{Shuffle: true, Seed: 1})
	bt := b.NewBatch()
	allocs := testing.AllocsPerRun(100, func() {
		if !b.Next(bt) {
			b.Reset(b.Epoch(), 0)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %v times per batch", allocs)
	}
}

func TestBatcherCallerBuffers(t *testing.T) {
	d := seqDataset(6)
	b, _ := NewBatcher(d, 4, BatchOptions{})
	// Caller-owned buffers, e.g. views into an executor's arena.
	x := make([]float32, 8)
	y := make([]int32, 4)
	bt := &Batch{Rows: make([]int, 0, 4), F32: [][]float32{x, nil}, I32: [][]int32{nil, y}}
	if !b.Next(bt) || !cmp.Equal(x, []float32{0, 0, 1, 10, 2, 20, 3, 30}) || !cmp.Equal(y, []int32{0, 1, 2, 0}) {
		t.Fatalf("first batch x=%v y=%v", x, y)
	}
	if !b.Next(bt) || bt.N != 2 || !cmp.Equal(x[:4], []float32{4, 40, 5, 50}) || !cmp.Equal(y[:2], []int32{1, 2}) {
		t.Fatalf("short batch N=%d x=%v y=%v", bt.N, x, y)
	}
	if b.Next(bt) {
		t.Error("Next after the last batch returned true")
	}
	small := &Batch{Rows: make([]int, 0, 4), F32: [][]float32{make([]float32, 3), nil}, I32: [][]int32{nil, y}}
	b.Reset(0, 0)
	defer func() {
		if recover() == nil {
			t.Error("Next with a too-small buffer did not panic")
		}
	}()
	b.Next(small)
}

// TestBatcherParallel checks that a batch copied in pieces (the pieces
// run at the same time, last first) is the serial batch, sample for
// sample, for every field kind, every epoch and the short last batch.
func TestBatcherParallel(t *testing.T) {
	d := seqDataset(37)
	tok := &Field{Name: "tok", DType: I32, Shape: []int{3}, I32: make([]int32, 3*d.N)}
	for i := range tok.I32 {
		tok.I32[i] = int32(7 * i)
	}
	d.Fields = append(d.Fields, tok)
	var calls int
	pieces := func(n int, r Ranger) {
		calls++
		var wg sync.WaitGroup
		for lo := (n - 1) / 3 * 3; lo >= 0; lo -= 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.Range(lo, min(lo+3, n))
			}()
		}
		wg.Wait()
	}
	serial, _ := NewBatcher(d, 8, BatchOptions{Shuffle: true, Seed: 9})
	par, _ := NewBatcher(d, 8, BatchOptions{Shuffle: true, Seed: 9, Parallel: pieces})
	want, got := serial.NewBatch(), par.NewBatch()
	for e := range 3 {
		serial.Reset(e, 0)
		par.Reset(e, 0)
		for serial.Next(want) {
			if !par.Next(got) {
				t.Fatalf("epoch %d: the parallel batcher stopped early", e)
			}
			n := want.N
			if got.N != n || !slices.Equal(got.Rows, want.Rows) || !slices.Equal(got.F32[0][:2*n], want.F32[0][:2*n]) ||
				!slices.Equal(got.I32[1][:n], want.I32[1][:n]) || !slices.Equal(got.I32[2][:3*n], want.I32[2][:3*n]) {
				t.Fatalf("epoch %d: parallel batch %v differs from the serial %v", e, got, want)
			}
		}
		if par.Next(got) {
			t.Fatalf("epoch %d: the parallel batcher yields more batches", e)
		}
	}
	if calls != 15 {
		t.Errorf("Parallel called %d times, want once per batch (15)", calls)
	}
}

// nextAllocs is the allocations per Next of shuffled batches of 32 of
// d, gathered in two pieces through BatchOptions.Parallel.
func nextAllocs(d *Dataset) float64 {
	inline := func(n int, r Ranger) { r.Range(0, n/2); r.Range(n/2, n) }
	b, _ := NewBatcher(d, 32, BatchOptions{Shuffle: true, Seed: 1, Parallel: inline})
	bt := b.NewBatch()
	return testing.AllocsPerRun(100, func() {
		if !b.Next(bt) {
			b.Reset(b.Epoch(), 0)
		}
	})
}

func TestBatcherParallelNoAlloc(t *testing.T) {
	d, _ := Builtin("digits")
	if allocs := nextAllocs(d); allocs != 0 {
		t.Errorf("Next with Parallel allocates %v times per batch", allocs)
	}
}

// TestApplyParallel checks that the transform, cut into pieces on a
// large field, gives what the serial loop gives, value for value (with a
// partial sample at the end).
func TestApplyParallel(t *testing.T) {
	const k = 784
	n := 3<<20 + 5
	got := make([]float32, n)
	for i := range got {
		got[i] = float32(byte(i*31 + i>>9))
	}
	want := slices.Clone(got)
	ft := &FieldTransform{Name: "image", Mul: make([]float64, k), Add: make([]float64, k)}
	for j := range k {
		ft.Mul[j], ft.Add[j] = 1/255.0+float64(j)*1e-7, float64(j%5)*0.1
	}
	applyParallel(ft, got)
	ft.ApplyTo(want)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("value %d: parallel %v, serial %v", i, got[i], want[i])
		}
	}
}
