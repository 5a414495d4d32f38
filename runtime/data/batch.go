package data

import "fmt"

// BatchOptions configure a Batcher.
type BatchOptions struct {
	// Shuffle draws a new sample order each epoch: the permutation of
	// Permute(seed, StreamEpoch ^ epoch), so epoch e's order is the same
	// whenever it is replayed (resume). Without Shuffle the order is
	// 0..N-1.
	Shuffle bool
	Seed    uint64
	// DropLast skips the last batch when it is short. By default it is
	// yielded with Batch.N < the batch size.
	DropLast bool
	// Parallel, when set, runs the copy of a batch's samples: it calls
	// r.Range on disjoint ranges that cover [0, n), maybe at the same
	// time (a worker pool's ForRanger). The batch is the same whatever
	// the split. It must not allocate if Next is not to.
	Parallel func(n int, r Ranger)
}

// A Ranger handles the samples [lo, hi) of a job (the same method set as
// the CPU worker pool's parallel.Ranger).
type Ranger interface{ Range(lo, hi int) }

// A Batcher cuts a dataset into batches, epoch by epoch. It copies each
// batch into a caller's Batch and allocates nothing per batch.
//
//	b, _ := NewBatcher(train, 32, BatchOptions{Shuffle: true, Seed: 7})
//	batch := b.NewBatch()
//	for epoch := range epochs {
//		b.Reset(epoch, 0)
//		for b.Next(batch) {
//			use(batch.F32[0][:batch.N*64], batch.I32[1][:batch.N])
//		}
//	}
type Batcher struct {
	d     *Dataset
	size  int
	opt   BatchOptions
	perm  []int
	epoch int
	next  int  // index of the next batch in the epoch
	ready bool // perm holds epoch's order
	g     gather
}

// A gather copies the samples rows[lo:hi] of d into dst, decoding the
// fields held as bytes.
type gather struct {
	d    *Dataset
	dst  *Batch
	rows []int
}

func (g *gather) Range(lo, hi int) {
	rows, dst := g.rows[lo:hi], g.dst
	for fi, f := range g.d.Fields {
		k := f.Size()
		if f.DType == F32 && f.U8 != nil {
			// The rows lie anywhere in a dataset the cache does not
			// hold: each is asked for `ahead` rows before its decoding.
			const ahead = 4
			for _, r := range rows[:min(ahead, len(rows))] {
				prefetch(f.U8[r*k : (r+1)*k])
			}
			out := dst.F32[fi][lo*k : hi*k]
			for j, r := range rows {
				if j+ahead < len(rows) {
					r2 := rows[j+ahead]
					prefetch(f.U8[r2*k : (r2+1)*k])
				}
				f.decodeRow(out[j*k:(j+1)*k], f.U8[r*k:(r+1)*k])
			}
			continue
		}
		if f.DType == F32 {
			out := dst.F32[fi][lo*k : hi*k]
			for j, r := range rows {
				copy(out[j*k:(j+1)*k], f.F32[r*k:(r+1)*k])
			}
			continue
		}
		out := dst.I32[fi][lo*k : hi*k]
		if k == 1 {
			for j, r := range rows {
				out[j] = f.I32[r]
			}
			continue
		}
		for j, r := range rows {
			copy(out[j*k:(j+1)*k], f.I32[r*k:(r+1)*k])
		}
	}
}

// A Batch holds one batch. F32[i] and I32[i] are the buffers of
// d.Fields[i] (only the one of the field's dtype is used); each holds at
// least batch size × the field's Size() values. After Next, the first N
// samples are valid; the rest of the buffers is left as it was.
type Batch struct {
	N    int
	Rows []int // dataset index of each sample; capacity the batch size
	F32  [][]float32
	I32  [][]int32
}

// NewBatcher makes a batcher over d positioned at epoch 0, batch 0.
func NewBatcher(d *Dataset, size int, opt BatchOptions) (*Batcher, error) {
	if size <= 0 {
		return nil, fmt.Errorf("batch size %d must be positive", size)
	}
	if d.N == 0 {
		return nil, fmt.Errorf("%s: no samples to batch", d.Source)
	}
	b := &Batcher{d: d, size: size, opt: opt, perm: make([]int, d.N)}
	b.Reset(0, 0)
	return b, nil
}

// BatchSize reports the batch size.
func (b *Batcher) BatchSize() int { return b.size }

// NumBatches reports the number of batches per epoch.
func (b *Batcher) NumBatches() int {
	if b.opt.DropLast {
		return b.d.N / b.size
	}
	return (b.d.N + b.size - 1) / b.size
}

// Sizes reports the sizes of the batches an epoch yields, largest
// first: the batch size, and the size of the short last batch when there
// is one (and DropLast is off). A dataset smaller than the batch yields
// one short batch.
func (b *Batcher) Sizes() []int {
	var s []int
	if b.d.N >= b.size {
		s = append(s, b.size)
	}
	if r := b.d.N % b.size; r != 0 && !b.opt.DropLast {
		s = append(s, r)
	}
	return s
}

// Epoch reports the current epoch.
func (b *Batcher) Epoch() int { return b.epoch }

// Pos reports the index within the epoch of the batch Next yields next.
func (b *Batcher) Pos() int { return b.next }

// Reset starts epoch at its batch number batch: Reset(e, k) followed by
// Next yields the same batches as Reset(e, 0) followed by k+1 calls.
func (b *Batcher) Reset(epoch, batch int) {
	if !b.ready || epoch != b.epoch {
		if b.opt.Shuffle {
			Permute(b.perm, b.opt.Seed, StreamEpoch^uint64(epoch))
		} else {
			for i := range b.perm {
				b.perm[i] = i
			}
		}
		b.ready = true
	}
	b.epoch, b.next = epoch, max(batch, 0)
}

// NewBatch allocates a Batch with buffers for this batcher's dataset.
func (b *Batcher) NewBatch() *Batch {
	bt := &Batch{Rows: make([]int, 0, b.size)}
	for _, f := range b.d.Fields {
		var f32 []float32
		var i32 []int32
		if f.DType == F32 {
			f32 = make([]float32, b.size*f.Size())
		} else {
			i32 = make([]int32, b.size*f.Size())
		}
		bt.F32 = append(bt.F32, f32)
		bt.I32 = append(bt.I32, i32)
	}
	return bt
}

// Next copies the next batch of the epoch into dst and reports whether
// there was one. It panics if dst's buffers are too small for a batch,
// which is a programming error.
func (b *Batcher) Next(dst *Batch) bool {
	start := b.next * b.size
	if start >= b.d.N {
		return false
	}
	n := min(b.size, b.d.N-start)
	if n < b.size && b.opt.DropLast {
		return false
	}
	if len(dst.F32) < len(b.d.Fields) || len(dst.I32) < len(b.d.Fields) || cap(dst.Rows) < n {
		panic("data: Batch does not fit the batcher's dataset; make it with NewBatch")
	}
	rows := b.perm[start : start+n]
	dst.Rows = append(dst.Rows[:0], rows...)
	for fi, f := range b.d.Fields {
		have := len(dst.F32[fi])
		if f.DType != F32 {
			have = len(dst.I32[fi])
		}
		if k := f.Size(); have < n*k {
			panic(fmt.Sprintf("data: batch buffer for %s holds %d values, need %d", f.Name, have, n*k))
		}
	}
	b.g = gather{d: b.d, dst: dst, rows: rows}
	if b.opt.Parallel != nil && n > 1 {
		b.opt.Parallel(n, &b.g)
	} else {
		b.g.Range(0, n)
	}
	b.g = gather{}
	dst.N = n
	b.next++
	return true
}
