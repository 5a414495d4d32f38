package gemm

import (
	"sync/atomic"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/internal/cputime"
)

const (
	modeGemm = iota
	modeGemv
	modeDot
)

// packBParMin: the split model charges the packing of a shared op(B) of
// at least this many elements to the whole pool plus one hand-off, below
// it to one core (see sharedPackEstimate). The tasks themselves pack it
// in parts whatever its size (claimPart), with no hand-off of its own;
// the model is kept as it was so that no product changes its split.
const packBParMin = 1 << 17

// sharedBCalls counts the calls whose tasks shared one packing of op(B)
// (for the tests).
var sharedBCalls atomic.Uint64

// Cost model used to choose between running on one core and splitting
// the M or N loop over the pool (nanoseconds; Zen 4 at ≈3.6 GHz).
const (
	costMAC      = 1.0 / 50 // one multiply-add in the micro-kernel (≈57.6 GMAC/s peak per core)
	costPack     = 0.3      // packing one element of A or B
	costHandoff  = 3000     // handing off to helpers still spinning and joining them, with margin
	costWake     = 15000    // the same when every helper is parked: a wake-up, then the helper's start
	gemvMinMACs  = 1 << 15  // m == 1 products below this stay on one core
	gemvWakeMACs = 1 << 17  // … and below this when the helpers are parked
)

// getPool returns the pool calls run on; tests swap it.
var getPool = parallel.Default

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// blockSize splits total into the fewest blocks of at most max, of equal
// size rounded up to a multiple of unit.
func blockSize(total, max, unit int) int {
	nb := ceilDiv(total, max)
	return ceilDiv(ceilDiv(total, nb), unit) * unit
}

// estimate is the model's time for one task computing rows×cols of C.
func (j *job) estimate(rows, cols int) float64 {
	k := j.kern
	kk := float64(j.p.K)
	mac := float64(rows) * float64(cols) * kk * costMAC
	packA := float64(rows) * kk * costPack * float64(ceilDiv(cols, k.nc))
	packB := float64(cols) * kk * costPack
	if j.bInPlace(rows) || j.pb != nil {
		packB = 0 // B read in place, or packed before the call
	}
	return mac + packA + packB
}

func (j *job) gemm() {
	p, k := &j.p, j.kern
	pool := getPool()
	P := pool.Size()
	um, un := ceilDiv(p.M, k.mr), ceilDiv(p.N, k.nr)
	j.mode = modeGemm
	j.setSegs()
	// op(B) packed before the call (Params.PackedB) is read by every
	// task, whichever way the call is split.
	pre := p.PackedB.fits(k, p.N, p.K)
	j.pre = pre
	if pre {
		j.pb = p.PackedB.data
	}
	best := j.estimate(um*k.mr, un*k.nr)
	split := 0 // 0 serial, 1 over M, 2 over N
	handoff := float64(costHandoff)
	if P > 1 && !j.serial && pool.Parked() {
		handoff = costWake
	}
	if P > 1 && !j.serial {
		if um >= 2 {
			// Tasks that would each pack op(B) share one packing of it
			// (below): the model counts it once.
			t := j.taskEstimate(1, um, P, !pre) + handoff
			if !pre && j.sharesB(ceilDiv(um, P)) {
				t += j.sharedPackEstimate(P)
			}
			if t < best {
				best, split = t, 1
			}
		}
		if un >= 2 {
			if t := j.estimate(um*k.mr, ceilDiv(un, P)*k.nr) + handoff; t < best {
				best, split = t, 2
			}
		}
	}
	units := um
	j.splitM, j.unit = split != 2, k.mr
	if split == 2 {
		units, j.unit = un, k.nr
	}
	j.tasks = 1
	if split != 0 {
		// One task per participant, or more where that costs little: with
		// tasks claimed dynamically, a core taken by another process (or a
		// helper preempted in the middle of a task) then delays the call
		// by a smaller part of it. Every task repacks the operand it shares
		// with the others, except op(B) split over M, packed once for all
		// tasks (below), so the model allows at most 5% more total work
		// and tasks of at least minTaskNs; tasks that share op(B) are not
		// cut so small that they would read it in place instead. (2048²
		// went to 8 tasks per core, of 126–132 rows; 4 per core, of 258
		// rows, one block each (bigSliceMC), stream the shared op(B)
		// from L3 half as often and took 2–3% less CPU per core.)
		j.tasks = P
		shareB := !pre && split == 1 && j.sharesB(ceilDiv(units, P))
		base := float64(P) * j.taskEstimate(split, units, P, shareB)
		for _, f := range []int{2, 4} {
			t := f * P
			// (A deep weight gradient's tasks share op(B) whatever
			// their rows, bInPlace; cut to at most directBRows rows, each
			// streamed all of it again: W4's 512×128×2048 went from 4
			// tasks per core to 8 and took 2–5% more CPU.)
			if units < t || shareB && (!j.sharesB(ceilDiv(units, t)) || j.deepTA() && ceilDiv(units, t)*k.mr <= directBRows) {
				break
			}
			per := j.taskEstimate(split, units, t, shareB)
			if per < minTaskNs || float64(t)*per > 1.05*base {
				break
			}
			j.tasks = t
		}
	}
	j.units = units
	j.traceSplit([...]string{"serial", "M", "N"}[split], best)
	if j.tasks == 1 {
		if len(j.rsegs) > 1 && !pre && j.sharesB(units) {
			j.packOnce() // (a group stacked by rows: op(B) packed once for all its products)
		}
		j.RangeWorker(0, 0, 1)
		j.pb = nil
		return
	}
	// Split over M, every task multiplies all of op(B): where tasks
	// would pack it (transposed, or too many rows to read it in place),
	// it is packed once, and the tasks share the panels instead of each
	// packing its own copy. The tasks pack it themselves, KC slice by KC
	// slice as they reach it, each slice in parts of whole panels that
	// the first tasks to need them claim (claimPart, partReady): no
	// hand-off of its own, the cores pack a slice side by side, and each
	// task multiplies its own part first, then the others' (block). An
	// op(B) packed before the call (pre) is one part, ready.
	if !pre && split == 1 && j.sharesB(ceilDiv(units, j.tasks)) {
		sharedBCalls.Add(1)
		if j.tr != nil {
			j.tr.SharedB = true
		}
		panels := ceilDiv(p.N, k.nr)
		j.pbuf = grow(j.pbuf, panels*k.nr*p.K)
		j.pb = j.pbuf
		j.packParts = min(P, panels)
		n := ceilDiv(p.K, blockSize(p.K, k.kc, 1)) * j.packParts
		if cap(j.packState) < n {
			j.packState = make([]atomic.Uint32, n)
		}
		j.packState = j.packState[:n]
		for i := range j.packState {
			j.packState[i].Store(partFree)
		}
	}
	pool.Tasks(j.tasks, j)
	j.pb = nil
}

// States of a part of a KC slice of the shared op(B) (job.packState).
const (
	partFree    = iota // not claimed
	partClaimed        // being packed by the task that claimed it
	partPacked         // ready
)

// packPart packs part q of j.packParts of the KC slice s (depth pc, kc
// deep) of the shared op(B): a range of whole nr-column panels, at the
// place job.pb's layout gives them.
func (j *job) packPart(s, q, pc, kc int) {
	p, nr := &j.p, j.kern.nr
	panels := ceilDiv(p.N, nr)
	lo, hi := parallel.Chunk(panels, j.packParts, q)
	if lo == hi {
		return
	}
	j0 := lo * nr
	j.packBV(j.pb[pc*panels*nr+lo*kc*nr:], j0, min(hi*nr, p.N)-j0, pc, kc)
}

// claimPart packs part q of the KC slice s (depth pc, kc deep) of the
// shared op(B) if no task has claimed it yet; it reports whether the part
// was free.
func (j *job) claimPart(s, q, pc, kc int) bool {
	if j.pre {
		return false // packed before the call
	}
	st := &j.packState[s*j.packParts+q]
	if st.Load() != partFree || !st.CompareAndSwap(partFree, partClaimed) {
		return false
	}
	j.packPart(s, q, pc, kc)
	st.Store(partPacked)
	return true
}

// partReady reports whether part q of the KC slice s (depth pc, kc deep)
// of the shared op(B) is packed in job.pb, packing it first if no task
// has claimed it. false: another task is packing it right now. The
// caller then packs the part into its own workspace instead of waiting:
// when that task's core was taken away in the middle (another process),
// a wait could last a time slice. Which task packs a part, and whether
// a copy is read instead, changes no value.
func (j *job) partReady(s, q, pc, kc int) bool {
	if j.pre {
		return true
	}
	return j.claimPart(s, q, pc, kc) || !partsBusy && j.packState[s*j.packParts+q].Load() == partPacked
}

// partsBusy (tests) makes partReady report every part it did not claim
// itself as not ready, so that tasks read their own copies.
var partsBusy bool

// minTaskNs: tasks are not cut below this modelled time.
const minTaskNs = 20000

// sharesB reports whether tasks of a call split over M with rowUnits
// register rows each would pack op(B) (transposed, or too many rows to
// read it in place), so that it is packed once and shared by them instead.
func (j *job) sharesB(rowUnits int) bool {
	return !j.bInPlace(rowUnits * j.kern.mr)
}

// sharedPackEstimate is the model's time to pack all of op(B) once for
// the tasks of a call split over M on a pool of P: by the pool (one more
// hand-off) when it is large enough, else by one core. (The tasks now pack
// it themselves in parts, with no hand-off; the model was kept as it
// was, see packBParMin.)
func (j *job) sharedPackEstimate(P int) float64 {
	nr := j.kern.nr
	panels := ceilDiv(j.p.N, nr)
	t := float64(panels*nr) * float64(j.p.K) * costPack
	if n := min(P, panels); n > 1 && j.p.N*j.p.K >= packBParMin {
		t = t/float64(n) + costHandoff
	}
	return t
}

// taskEstimate is the model's time for one of tasks tasks when units are
// split along M (split 1) or N (split 2); sharedB leaves out the packing
// of op(B) where the tasks share one (split over M).
func (j *job) taskEstimate(split, units, tasks int, sharedB bool) float64 {
	k := j.kern
	per := ceilDiv(units, tasks)
	if split == 1 {
		cols := ceilDiv(j.p.N, k.nr) * k.nr
		t := j.estimate(per*k.mr, cols)
		if sharedB && j.sharesB(per) {
			t -= float64(cols) * float64(j.p.K) * costPack
		}
		return t
	}
	return j.estimate(ceilDiv(j.p.M, k.mr)*k.mr, per*k.nr)
}

func (j *job) gemv() {
	p, k := &j.p, j.kern
	ws := getWorkspace()
	// x = alpha·(row 0 of op(A)), contiguous.
	x := wsNeed(&ws.x, &wsHigh.x, p.K)
	if p.TransA {
		for q := range x {
			x[q] = p.Alpha * p.A[q*p.LDA]
		}
	} else if p.Alpha == 1 {
		copy(x, p.A[:p.K])
	} else {
		for q, v := range p.A[:p.K] {
			x[q] = p.Alpha * v
		}
	}
	j.x = x
	j.mode = modeGemv
	j.unit = 64
	if p.TransB {
		j.unit = 4
	}
	_ = k
	j.units = ceilDiv(p.N, j.unit)
	pool := getPool()
	j.tasks = 1
	if pool.Size() > 1 && !j.serial && p.N*p.K >= gemvMinMACs && j.units >= 2 &&
		(p.N*p.K >= gemvWakeMACs || !pool.Parked()) {
		j.tasks = min(pool.Size(), j.units)
	}
	j.traceSplit("gemv", 0)
	if j.tasks == 1 {
		j.RangeWorker(0, 0, 1)
	} else {
		pool.Tasks(j.tasks, j)
	}
	j.x = nil
	putWorkspace(ws)
}

// RangeWorker runs task t of j.tasks (lo == t, hi == t+1): a range of
// j.units units of j.unit rows (splitM) or columns of C, cut by
// parallel.Chunk so that the ranges depend only on the shape.
func (j *job) RangeWorker(w, t, _ int) {
	p := &j.p
	lo, hi := parallel.Chunk(j.units, j.tasks, t)
	if j.tr != nil {
		defer j.traceTask(w, t, lo, hi, traceNow(), cputime.Thread(), cputime.Core())
	}
	if j.mode == modeDot {
		ws := getWorkspace()
		j.dotCols(lo*dotCols, min(hi*dotCols, p.N), ws.tmp[:])
		putWorkspace(ws)
		return
	}
	if j.mode == modeGemv {
		j0, j1 := lo*j.unit, min(hi*j.unit, p.N)
		c := p.C[j0:j1]
		if p.Beta != 0 && p.Beta != 1 {
			for i := range c {
				c[i] *= p.Beta
			}
		}
		acc := p.Beta != 0
		if p.TransB {
			j.kern.gemvT(p.K, j1-j0, j.x, p.B[j0*p.LDB:], p.LDB, c, acc)
		} else {
			j.kern.gemvN(p.K, j1-j0, j.x, p.B[j0:], p.LDB, c, acc)
		}
		if p.hasEpilogue() {
			p.epilogueRow(c, 0, j0)
		}
		if p.Tile != nil && j0 < j1 {
			p.Tile.Tile(c, p.LDC, 0, j0, 1, j1-j0)
		}
		return
	}
	ws := getWorkspace()
	i0, i1, j0, j1 := 0, p.M, 0, p.N
	if j.splitM && j.evenRows() {
		i0, i1 = parallel.Chunk(p.M, j.tasks, t)
		evenRowsTasks.Add(1)
	} else if j.splitM {
		i0, i1 = lo*j.unit, min(hi*j.unit, p.M)
	} else {
		j0, j1 = lo*j.unit, min(hi*j.unit, p.N)
	}
	if len(j.rsegs) > 0 {
		// A group of products stacked by rows (SgemmGroupRows): each
		// product's rows of the task's range, in its own operands.
		for r := range j.rsegs {
			s := &j.rsegs[r]
			if lo, hi := max(i0, s.r0), min(i1, s.r0+s.p.M); lo < hi {
				j.block(ws, t, s.p, s.seg[:], lo-s.r0, hi-s.r0, j0, j1)
			}
		}
	} else {
		j.block(ws, t, &j.p, j.segs, i0, i1, j0, j1)
	}
	putWorkspace(ws)
	if j.swapped {
		j.unswap(i0, i1, j0, j1)
	}
}

// evenRows reports whether a weight gradient split over M (deepTA) cuts
// its rows into equal parts instead of whole tiles of mr: the tasks' rows
// go as whole tiles and tiles of 5 (fives) with no edge tile where each
// task has at least 25 rows, and a split at whole tiles leaves the last
// task a partial one (W4/W5's 128 rows in two tasks: 66 and 62, the
// second with 4 tiles of 5; now 64 and 64, 9 whole tiles and 2 of 5
// each). Tiles do not change an element's chain: the same bits.
func (j *job) evenRows() bool {
	k := j.kern
	return !noEvenRows && j.tasks > 1 && j.deepTA() && k.mr == 6 && k.micro5 != nil && !noFives && j.p.M/j.tasks >= 30
}

// noEvenRows (tests) splits deep weight gradients at whole tiles;
// evenRowsTasks counts the tasks given equal rows.
var (
	noEvenRows    bool
	evenRowsTasks atomic.Uint64
)

// directBRows: when a task has at most this many rows of C, B (if not
// transposed) is read in place instead of packed. Packing B costs about
// as much as the multiply-adds of a few dozen rows of A against it, so for
// the small batches of the workloads it does not pay for itself.
const directBRows = 96

// bInPlace reports whether a task of rows rows of C reads B in place
// (B not transposed, at most directBRows rows) instead of packing it.
// Not for a weight gradient op(A) = Aᵀ several KC slices deep (dYᵀ·X
// over the 2048 tokens of W4): there B is X, whose rows (d or ffn
// floats, a power of two) are 512 bytes or more apart, so a micro-panel
// read in place (kc rows of 64 bytes) falls into a few L1 sets and is
// fetched from L2 again for every tile, and each of the many slices
// reads its own part of B, so packing it (once, shared by the tasks of
// a split over M) costs little against the multiply-adds of the rows:
// the two tasks of W4's 128×128×2048, each reading B in place, ran at
// 49–55 GFLOP/s of their thread's CPU where one core packing it ran at
// 80–90.
func (j *job) bInPlace(rows int) bool {
	if j.p.TransB || rows > directBRows {
		return false
	}
	return !j.deepTA() || noPackBDeep
}

// bInPlaceTA reports whether a task of a weight gradient one KC slice
// deep (op(A) = Aᵀ, K ≤ kc, B stored k×n: dYᵀ·X over a batch) reads B in
// place whatever its rows, where B's rows are not a multiple of 512
// bytes apart: a micro-panel read in place (K rows of 64 bytes) then
// falls into at least 16 L1 sets and stays there while the task's tiles
// go down the rows of C. W1's dW1 (256×784×64, X's rows 3136 bytes
// apart) split over N packed 64 × 400 floats of X per task; read in
// place, its tasks took 4–8 µs less of their 143–152 µs (TestGemmTrace,
// thread CPU per task, 4 alternated runs). Rows 1 KiB apart (W1's dW2,
// 128×256×64) were 4–5 µs slower of 50 read in place, so those stay
// packed (the rows of a power-of-two width share a few L1 sets, as
// bInPlace's note says of the deep ones). Only the task reads B in
// place: the split model still counts B's packing, so no product
// changes its split (over M, W1's dW1 would go in 4 tasks of 64 rows,
// the split taken back in session 8). The bits are those of B packed
// (TestBInPlaceTA).
func (j *job) bInPlaceTA() bool {
	p := &j.p
	return !noBInPlaceTA && p.TransA && !p.TransB && p.K <= j.kern.kc && p.LDB*4%512 != 0
}

// noBInPlaceTA (tests) packs B where bInPlaceTA would read it in place;
// bInPlaceTABlocks counts the tasks that read it in place by that rule.
var (
	noBInPlaceTA     bool
	bInPlaceTABlocks atomic.Uint64
)

// deepTA reports whether the call is a weight gradient: op(A) = Aᵀ, more
// than one KC slice deep.
func (j *job) deepTA() bool {
	return j.p.TransA && j.p.K > j.kern.kc
}

// noPackBDeep (tests) reads B in place in the deep weight-gradient
// products too, as before bInPlace; packedDeepB counts the tasks that
// packed B (their own or the shared one) where they read it in place
// before.
var (
	noPackBDeep bool
	packedDeepB atomic.Uint64
)

// block is the sequential Goto/BLIS loop nest for C[i0:i1, j0:j1]:
//
//	jc over NC-wide column blocks      (B block kc×nc in L3)
//	  pc over KC-deep slices of K      (pack B block)
//	    ic over MC-high row blocks     (pack A block mc×kc, in L2)
//	      jr over NR-wide micro-panels (B micro-panel kc×nr, in L1)
//	        ir over MR-high micro-panels: micro-kernel on an mr×nr tile
//
// t is the task's index (the part of a shared op(B) it packs first); p
// is the product whose op(A), C, epilogue and ASums the rows are (the
// call's own, or one of a group stacked by rows: job.rsegs), segs its
// column segments (job.segs, or the row product's own).
func (j *job) block(ws *workspace, t int, p *Params, segs []segment, i0, i1, j0, j1 int) {
	k := j.kern
	mr, nr := k.mr, k.nr
	kcb := blockSize(p.K, k.kc, 1)
	mcb := blockSize(i1-i0, k.mc, mr)
	// Where the KC slice of packed B is more than L2 holds (bigSlice),
	// it streams from L3 once per block of A: a task of up to bigSliceMC
	// rows makes them one block (at 2048² on two cores, tasks of 258
	// rows: two blocks of 132 streamed it twice).
	bCols := j1 - j0
	if j.pb != nil {
		bCols = ceilDiv(p.N, nr) * nr
	}
	bigSlice := kcb*bCols*4 > bigSliceBytes
	if j.pb != nil && !j.pre && j.deepTA() && kcb*bCols*4 >= bigSliceBytes {
		// A weight gradient's shared op(B) of a whole L2 (W4's
		// 128×512×2048: 512 KiB slices, half of each packed by the
		// other core) streams too: prefetching its panels took 4–6%
		// less CPU on two cores than prefetching the next slice's
		// rows (pfNext); on one core, packing its own, it did not pay.
		bigSlice = true
	}
	if bigSlice && i1-i0 <= bigSliceMC {
		mcb = ceilDiv(i1-i0, mr) * mr
	}
	ncb := blockSize(j1-j0, k.nc, nr)
	shared := j.pb != nil // op(B) packed for the whole call (all N columns)
	parts, panels := 1, ceilDiv(p.N, nr)
	if shared && !j.pre {
		parts = j.packParts
	}
	direct := !shared && j.bInPlace(i1-i0)
	if !direct && !shared && j.bInPlaceTA() {
		direct = true
		bInPlaceTABlocks.Add(1)
	}
	if !direct && !p.TransB && i1-i0 <= directBRows && !j.pre {
		packedDeepB.Add(1)
	}
	dirA := j.directA(j1 - j0)
	if dirA {
		directABlocks.Add(1)
	}
	ws.a = wsNeed(&ws.a, &wsHigh.a, mcb*kcb)
	switch {
	case shared:
		ws.b = wsNeed(&ws.b, &wsHigh.b, ceilDiv(panels, parts)*nr*kcb) // a part, if not ready (partReady)
	case direct:
		ws.b = wsNeed(&ws.b, &wsHigh.b, nr*kcb)
	default:
		ws.b = wsNeed(&ws.b, &wsHigh.b, ncb*kcb)
	}
	if p.Beta != 0 && p.Beta != 1 {
		p.scaleRows(i0, i1, j0, j1)
	}
	// The columns of C, its epilogue and op(B) as stored are the
	// segment's (segs: the call's own, or one product's of a group).
	tmp := ws.tmp[:mr*nr]
	colUsed, fiveUsed, edgeBiasUsed := false, false, false
	// The packed B micro-panels of a KC slice lie one after another;
	// in a bigSlice each one comes from L3 when its first tile needs it,
	// unless it was prefetched during the tiles of the panel before
	// (below).
	pfOn := k.prefetch != nil && !noPrefetchB && bigSlice
	if pfOn {
		prefetchBlocks.Add(1)
	}
	// A weight gradient (op(A) = Aᵀ, several KC slices, B not read in
	// place) instead prefetches, over the tiles of each KC slice, what
	// the next slice will pack: its rows of A and of B (see nextSlice).
	pfNext := k.prefetch != nil && !noPrefetchNext && !pfOn && j.deepTA() && !direct && !j.pre && !j.grouped
	if pfNext {
		prefetchNextBlocks.Add(1)
	}
	// A stored m×k and packed, no other prefetch: over the tiles of a
	// block of A, the next block's rows of this slice (where they are
	// one run of memory, or nearly) come into cache a share before each
	// tile, for its packing (pfA).
	pfAOn := k.prefetch != nil && !noPrefetchA && !pfOn && !pfNext && !p.TransA && !dirA && (i1-i0 > mcb || p.K > kcb)
	if pfAOn {
		prefetchABlocks.Add(1)
	}
	var pfA uintptr // the next line of the next block's rows
	pfALeft, pfAPer := 0, 0
	// The column sums of A (Params.ASums) of the task's rows, added block
	// by block after each is packed, in the order of the KC slices: by
	// the one task whose columns start at 0 (every task of a split over
	// M; the first of a split over N, whose tasks all pack every row).
	sumA := p.ASums != nil && j0 == 0
	if sumA {
		clear(p.ASums[i0:i1])
	}
	var nx nextSlice
	for jc := j0; jc < j1; jc += ncb {
		nc := min(ncb, j1-jc)
		for pc := 0; pc < p.K; pc += kcb {
			kc := min(kcb, p.K-pc)
			switch {
			case shared:
				// Our part of this slice of the shared op(B) first (if
				// no task has taken it), then the first block of A.
				j.claimPart(pc/kcb, t%parts, pc, kc)
			case !direct:
				j.packBV(ws.b, jc, nc, pc, kc)
			}
			acc := 0
			if pc > 0 || p.Beta != 0 {
				acc = 1
			}
			last := pc+kc >= p.K
			nx = nextSlice{}
			if pfNext && !last {
				c0, c1 := jc, jc+nc
				if shared {
					lo, hi := parallel.Chunk(panels, parts, t%parts)
					c0, c1 = lo*nr, min(hi*nr, p.N)
				}
				nx.plan(p, pc+kc, min(kcb, p.K-pc-kc), i0, i1, c0, c1, ceilDiv(i1-i0, mcb)*ceilDiv(nc, nr), ceilDiv(min(mcb, i1-i0), mr))
			}
			for ic := i0; ic < i1; ic += mcb {
				mc := min(mcb, i1-ic)
				pfA, pfALeft = 0, 0
				if pfAOn {
					// The next block: below this one in the slice, or
					// the task's first in the next slice.
					next, npc, nkc := ic+mc, pc, kc
					if next >= i1 {
						next, npc, nkc = i0, pc+kc, min(kcb, p.K-pc-kc)
					}
					if next < i1 && npc < p.K && p.LDA <= 2*nkc {
						rows := min(mcb, i1-next)
						lo := uintptr(unsafe.Pointer(&p.A[next*p.LDA+npc])) &^ 63
						hi := uintptr(unsafe.Pointer(&p.A[(next+rows-1)*p.LDA+npc+nkc-1]))
						pfA, pfALeft = lo, int((hi-lo)/64)+1
						pfAPer = ceilDiv(pfALeft, ceilDiv(nc, nr)*ceilDiv(mc, mr))
					}
				}
				// Rows [0, six) in whole tiles, then nf tiles of 5 rows
				// (fives), or an edge tile where nf is 0.
				nf := k.fives(mc, dirA)
				six := mc - 5*nf
				fiveUsed = fiveUsed || nf > 0
				full := mc // rows read in place (dirA); the rest packed at ws.a[0:]
				switch {
				case dirA && nf > 0:
					full = six // the tiles of 5 rows are read in place too
				case dirA:
					full = mc / mr * mr
					if full < mc {
						packA(ws.a, p, ic+full, mc-full, pc, kc, mr, k.pack6)
					}
				case nf > 0:
					// Each tile of 5 rows in a whole panel of its own,
					// after the whole tiles' (fiveLane).
					packA(ws.a, p, ic, six, pc, kc, mr, k.pack6)
					for f := 0; f < nf; f++ {
						r0 := six + 5*f
						d := fiveLane(r0, mc)
						if r0+mr <= mc || d == 1 {
							packA(ws.a[(six/mr+f)*kc*mr:], p, ic+r0-d, mr, pc, kc, mr, k.pack6)
						} else {
							packA(ws.a[(six/mr+f)*kc*mr:], p, ic+r0, 5, pc, kc, mr, k.pack6)
						}
					}
				default:
					packA(ws.a, p, ic, mc, pc, kc, mr, k.pack6)
				}
				if sumA && jc == j0 {
					colSums(p.ASums[ic:ic+mc], p.A[pc*p.LDA+ic:], kc, mc, p.LDA)
				}
				// With a shared op(B), the columns go part by part,
				// ours first: the others' parts are packed meanwhile.
				// (Tiles are independent: the order changes no bit.)
				for qi := 0; qi < parts; qi++ {
					jr0, jr1 := 0, nc
					own := -1 // first panel of a part packed into ws.b
					if shared {
						q := (t + qi) % parts
						lo, hi := parallel.Chunk(panels, parts, q)
						jr0, jr1 = max(lo*nr-jc, 0), min(hi*nr-jc, nc)
						if jr0 >= jr1 {
							continue
						}
						if !j.partReady(pc/kcb, q, pc, kc) {
							own = lo
							j.packBV(ws.b, lo*nr, min(hi*nr, p.N)-lo*nr, pc, kc)
						}
					}
					for jr := jr0; jr < jr1; jr += nr {
						sg := &segs[0]
						for si := 1; si < len(segs) && segs[si].v0 <= jc+jr; si++ {
							sg = &segs[si]
						}
						sp, col := sg.p, jc+jr-sg.v0 // the segment and its column
						nrr := min(nr, nc-jr, sp.N-col)
						c, ldc := sp.C, sp.LDC
						epi, fastBias, relu := sg.epi, sg.fastBias, sg.relu
						var bp *float32
						ldb := nr
						switch {
						case own >= 0:
							bp = &ws.b[((jc+jr)/nr-own)*kc*nr]
						case shared:
							bp = &j.pb[pc*panels*nr+((jc+jr)/nr)*kc*nr]
						case !direct:
							bp = &ws.b[(jr/nr)*kc*nr]
						case nrr == nr:
							bp, ldb = &sp.B[pc*sp.LDB+col], sp.LDB
						default:
							packB(ws.b, sp, col, nrr, pc, kc, k)
							bp = &ws.b[0]
						}
						// Prefetch the next panel, which follows this
						// one in the packed buffer (or lies past the
						// slice: the prefetch reads nothing), a share
						// per tile.
						var pfB uintptr
						pfLines := 0
						if pfOn && ldb == nr {
							pfB = uintptr(unsafe.Pointer(bp)) + uintptr(kc*nr*4)
							pfLines = ceilDiv(kc*nr*4/64, ceilDiv(mc, mr))
						} else if pfNext {
							pfB, pfLines = nx.next(ceilDiv(mc, mr))
						} else if pfALeft > 0 {
							pfB, pfLines = pfA, min(pfAPer, ceilDiv(pfALeft, ceilDiv(mc, mr)))
							n := min(pfLines*ceilDiv(mc, mr), pfALeft)
							pfA += uintptr(n * 64)
							pfALeft -= n
						}
						// Whole tiles of packed A with no epilogue to
						// apply: one call for the column (microCol).
						// Where the epilogue is a column bias alone, the
						// last slice's tiles add it as they store
						// (microColBias).
						ir0 := 0
						colBias := last && fastBias && relu == 0 && k.microColBias != nil && !noMicroColBias
						if tiles := six / mr; k.microCol != nil && !noMicroCol && !dirA && nrr == nr && (!(last && epi) || colBias) && tiles > 0 {
							ci := ic*ldc + col
							_ = c[ci+(tiles*mr-1)*ldc+nr-1]
							_ = ws.a[tiles*kc*mr-1]
							if last && epi {
								_ = sp.ColBias[col+nr-1]
								k.microColBias(kc, &ws.a[0], bp, ldb, &c[ci], ldc, acc, tiles, pfB, pfLines, &sp.ColBias[col])
								colBiasBlocks.Add(1)
							} else {
								k.microCol(kc, &ws.a[0], bp, ldb, &c[ci], ldc, acc, tiles, pfB, pfLines)
							}
							if pfB != 0 {
								pfB += uintptr(tiles * pfLines * 64)
							}
							ir0 = tiles * mr
							colUsed = true
						}
						for ir := ir0; ir < mc; {
							mrr := min(mr, mc-ir)
							pi := ir / mr // the tile's packed A panel
							if ir >= six {
								mrr, pi = 5, six/mr+(ir-six)/5
							}
							if pfB != 0 {
								k.prefetch(pfB, pfLines)
								pfB += uintptr(pfLines * 64)
							}
							row0 := ic + ir
							ci := row0*ldc + col
							// A tile of fewer than nr columns goes
							// through the scratch tile: with the common
							// epilogue, addTile applies it as it stores.
							var eb []float32
							if last && fastBias && nrr < nr {
								eb = sp.ColBias[col : col+nrr]
								edgeBiasUsed = true
							}
							var ap *float32
							switch {
							case !dirA && ir >= six:
								ap = &ws.a[pi*kc*mr+fiveLane(ir, mc)]
							case !dirA:
								ap = &ws.a[pi*kc*mr]
							case ir < full:
								// Rows row0… of A in place (bounds
								// checked once: the last element read).
								ar := row0*p.LDA + pc
								_ = p.A[ar+(mr-1)*p.LDA+kc-1]
								if nrr == nr {
									k.microA(kc, &p.A[ar], p.LDA, bp, ldb, &c[ci], ldc, acc)
								} else {
									k.microA(kc, &p.A[ar], p.LDA, bp, ldb, &tmp[0], nr, 0)
									addTile(c[ci:], ldc, tmp, nr, mrr, nrr, acc, eb, relu)
								}
								goto epilogue
							case nf > 0:
								// 5 rows of A in place.
								ar := row0*p.LDA + pc
								_ = p.A[ar+4*p.LDA+kc-1]
								if nrr == nr {
									k.micro5A(kc, &p.A[ar], p.LDA, bp, ldb, &c[ci], ldc, acc)
								} else {
									k.micro5A(kc, &p.A[ar], p.LDA, bp, ldb, &tmp[0], nr, 0)
									addTile(c[ci:], ldc, tmp, nr, mrr, nrr, acc, eb, relu)
								}
								goto epilogue
							default:
								ap = &ws.a[0] // the edge panel
							}
							if mrr == mr && nrr == nr {
								k.micro(kc, ap, bp, ldb, &c[ci], ldc, acc)
							} else if mrr == 5 && k.micro5 != nil && ir >= six {
								// (ap may start at lane 1 of its panel:
								// micro, reading 6 lanes, would read past.)
								if nrr == nr {
									k.micro5(kc, ap, bp, ldb, &c[ci], ldc, acc)
								} else {
									k.micro5(kc, ap, bp, ldb, &tmp[0], nr, 0)
									addTile(c[ci:], ldc, tmp, nr, mrr, nrr, acc, eb, relu)
								}
							} else if mrr == 4 && nrr == nr && k.micro4 != nil {
								k.micro4(kc, ap, bp, ldb, &c[ci], ldc, acc)
							} else {
								k.micro(kc, ap, bp, ldb, &tmp[0], nr, 0)
								addTile(c[ci:], ldc, tmp, nr, mrr, nrr, acc, eb, relu)
							}
						epilogue:
							if last && epi && fastBias && nrr == nr {
								cb := &sp.ColBias[col]
								if nr == 16 && biasTile != nil {
									biasTile(mrr, &c[ci], ldc, cb, relu)
								} else {
									for r := 0; r < mrr; r++ {
										biasAct(nr, &c[ci+r*ldc], cb, relu)
									}
								}
							} else if last && epi && eb == nil {
								for r := 0; r < mrr; r++ {
									sp.epilogueRow(c[ci+r*ldc:ci+r*ldc+nrr], row0+r, col)
								}
							}
							ir += mrr
						}
					}
				}
				if last && p.Tile != nil {
					// The caller's epilogue on the block just made final,
					// rows of nc floats: per tile, each of a tile's short
					// rows far apart, the W5 step's GELU multiply cost more
					// than the pass it replaced. (A group, whose segments
					// are other products, has no Tile: groupable.)
					p.Tile.Tile(p.C[ic*p.LDC+jc:], p.LDC, ic, jc, mc, nc)
				}
			}
		}
	}
	if colUsed {
		microColBlocks.Add(1)
	}
	if fiveUsed {
		fiveBlocks.Add(1)
	}
	if edgeBiasUsed {
		edgeBiasBlocks.Add(1)
	}
}

// edgeBiasBlocks counts the tasks that applied the common epilogue to a
// tile of fewer than nr columns as they stored it (addTile's eb).
var edgeBiasBlocks atomic.Uint64

// bigSliceBytes: where the packed B that a task's tiles read in one KC
// slice is larger than this many bytes (an L2 of Zen 3 is 512 KiB), it
// streams from L3: the tiles of each B micro-panel prefetch the next one
// (for 2048² on two cores, a slice of 2 MiB, shared, the micro-kernel
// waited for each panel's first lines; the prefetch took 2–3% less CPU
// per core at 1024² and 2048², calls alternated on the loaded machine,
// and none at 512², a slice of 512 KiB, where it is off), and a task of
// up to bigSliceMC rows is one block of A (an A block of 264 KiB at KC
// 256, half of that L2).
const (
	bigSliceBytes = 512 << 10
	bigSliceMC    = 264
)

// nextSlice is the prefetch of the rows the next KC slice of a weight
// gradient will pack (block's pfNext), spread over the columns of tiles
// of the current slice, a share before each tile: the columns take
// turns on A's rows and B's. A dY and an X of W4 arrive from memory
// (written long before, in the forward pass or by the layer above):
// packed as they came, a 128×128×2048 product fetched its 2 MiB at
// ≈16 GB/s, 125 µs of the ≈925 µs it took on one core, while the FMA
// units waited. A range is prefetched only where the task's part of a
// row is at least half of the row stride (the ranges are runs of whole
// rows).
type nextSlice struct {
	a, b       uintptr // next line to prefetch of each range
	la, lb     int     // lines left in each range
	perA, perB int     // lines per tile
	col        int
}

// plan sets the ranges for depth [pcn, pcn+kcn) of A's columns [i0, i1)
// (A stored k×m) and op(B)'s columns [c0, c1) (B stored k×n or n×k),
// cols columns of tiles of at most tiles tiles each to come in this
// slice.
func (nx *nextSlice) plan(p *Params, pcn, kcn, i0, i1, c0, c1, cols, tiles int) {
	span := func(x []float32, o, n int) (uintptr, int) {
		lo := uintptr(unsafe.Pointer(&x[o])) &^ 63
		hi := uintptr(unsafe.Pointer(&x[o+n-1]))
		return lo, int((hi-lo)/64) + 1
	}
	if w := i1 - i0; w > 0 && 2*w >= p.LDA {
		nx.a, nx.la = span(p.A, pcn*p.LDA+i0, (kcn-1)*p.LDA+w)
	}
	if w := c1 - c0; w > 0 && !p.TransB && 2*w >= p.LDB {
		nx.b, nx.lb = span(p.B, pcn*p.LDB+c0, (kcn-1)*p.LDB+w)
	} else if w > 0 && p.TransB && 2*kcn >= p.LDB {
		// B stored n×k: the slice is a run of kcn floats of each of
		// the columns' rows.
		nx.b, nx.lb = span(p.B, c0*p.LDB+pcn, (w-1)*p.LDB+kcn)
	}
	ca, cb := ceilDiv(cols, 2), cols/2
	if cb == 0 {
		nx.la += nx.lb
		nx.lb = 0
	}
	nx.perA = ceilDiv(nx.la, max(ca*tiles, 1))
	if cb > 0 {
		nx.perB = ceilDiv(nx.lb, cb*tiles)
	}
}

// next returns the lines a column of tiles tiles prefetches before each
// of its tiles, from where, and moves past them.
func (nx *nextSlice) next(tiles int) (uintptr, int) {
	ptr, left, per := &nx.a, &nx.la, nx.perA
	if nx.col%2 == 1 && nx.lb > 0 || nx.la == 0 {
		ptr, left, per = &nx.b, &nx.lb, nx.perB
	}
	nx.col++
	n := min(per, ceilDiv(*left, max(tiles, 1)))
	if n <= 0 {
		return 0, 0
	}
	at := *ptr
	*ptr += uintptr(n * tiles * 64)
	*left = max(*left-n*tiles, 0)
	return at, n
}

// noPrefetchNext (tests) turns the prefetch of the next slice off;
// prefetchNextBlocks counts the tasks that use it.
var (
	noPrefetchNext     bool
	prefetchNextBlocks atomic.Uint64
)

// noPrefetchB (tests) turns the prefetch of B panels off;
// prefetchBlocks counts the tasks that prefetch them.
var (
	noPrefetchB    bool
	prefetchBlocks atomic.Uint64
)

// noPrefetchA (tests) turns the prefetch of the next block of A off;
// prefetchABlocks counts the tasks that use it.
var (
	noPrefetchA     bool
	prefetchABlocks atomic.Uint64
)

// noMicroColBias (tests) applies a column bias after each tile (as
// before microColBias); colBiasBlocks counts the columns of tiles that
// added it as they stored.
var (
	noMicroColBias bool
	colBiasBlocks  atomic.Uint64
)

// noMicroCol (tests) computes every tile by kernel.micro; microColBlocks
// counts the tasks that used kernel.microCol.
var (
	noMicroCol     bool
	microColBlocks atomic.Uint64
)

// noFives (tests) keeps the edge tile of a block (fives returns 0, and
// 5-row edge tiles go through the scratch tile); fiveBlocks counts the
// blocks computed with tiles of 5 rows.
var (
	noFives    bool
	fiveBlocks atomic.Uint64
)

// fives returns how many tiles of 5 rows (kernel.micro5, micro5A where
// A is read in place) end a block of mc rows: the f ≡ −mc (mod 6), f < 6,
// with 6·whole + 5·f = mc, so that no edge tile is left; 0 where the
// kernel has no 5-row kernels or mc < 5f. An edge tile of 4 rows ran at
// about 65% of the 6-row kernel's rate (its 8 accumulators leave the
// FMA pipes idle), one of 1–3 or 5 rows at the cost of a whole one (a
// scratch tile), while 5 rows keep 10 accumulators: M = 64 goes as 9
// whole tiles and 2 of 5 rows instead of 10 and an edge of 4 (fc1's
// forward and every 64-row product of W1), 256 as 41 and 2. Each
// element keeps its FMA chain, so the bits do not change.
func (k *kernel) fives(mc int, dirA bool) int {
	if k.micro5 == nil || k.mr != 6 || noFives || dirA && k.micro5A == nil {
		return 0
	}
	f := (6 - mc%6) % 6
	if 5*f > mc {
		return 0
	}
	return f
}

// fiveLane returns the lane of its packed panel at which the tile of 5
// rows starting at row r0 of a block of mc rows begins: the panel is a
// whole one of 6 rows of A, packed by the fast paths of packA (pack6, or
// a fixed-size copy per depth step where A is transposed), rows r0… (lane
// 0) where the block has them, else rows r0−1… (lane 1: the last tile).
// A block of 5 rows (r0 = 0, mc = 5) has neither: its panel holds the 5
// rows and a zero lane.
func fiveLane(r0, mc int) int {
	if r0+6 <= mc || r0 == 0 {
		return 0
	}
	return 1
}

// addTile stores (acc == 0) or adds the top-left mrr×nrr of the scratch
// tile tmp (rows nr apart) into c (rows ldc apart). With a column bias
// eb (its nrr values), it then adds the bias and applies ReLU (relu 1)
// after it stores, with the bits of epilogueRow after the store (an edge
// panel of fewer than nr columns with the common epilogue: fc3's
// forward of W1, 10 columns, spent 23% of its CPU in epilogueRow's
// calls per row).
func addTile(c []float32, ldc int, tmp []float32, nr, mrr, nrr, acc int, eb []float32, relu int) {
	n8 := nrr &^ 7
	if eb != nil {
		eb = eb[:nrr]
	}
	for r := 0; r < mrr; r++ {
		crow := c[r*ldc : r*ldc+nrr]
		trow := tmp[r*nr : r*nr+nrr]
		if acc != 0 {
			for q, v := range trow {
				crow[q] += v
			}
		} else {
			copy(crow, trow)
		}
		if eb == nil {
			continue
		}
		// epilogueRow's fast path without its checks and calls per row:
		// biasAct over whole groups of 8 lanes, then the loop.
		if n8 > 0 {
			biasAct(n8, &crow[0], &eb[0], relu)
		}
		for q := n8; q < nrr; q++ {
			v := crow[q] + eb[q]
			if relu != 0 {
				v = max(v, 0)
			}
			crow[q] = v
		}
	}
}

// directAMaxCols, directAMaxLDA, directAMaxRows: a task reads op(A) in
// place (directA) when it multiplies it by at most this many columns of
// op(B), and A's rows are at most this many floats apart or A has at most
// this many rows.
const (
	directAMaxCols = 400
	directAMaxLDA  = 256
	directAMaxRows = 96
)

// noDirectA (tests) packs A everywhere; directABlocks counts the tasks
// that read A in place.
var (
	noDirectA     bool
	directABlocks atomic.Uint64
)

// directA reports whether a task of this call multiplying op(A) by cols
// columns of op(B) reads A in place (kernel.microA) instead of packing
// it: a task of one panel of op(B) (cols ≤ nr, A stored m×k, alpha 1),
// in any split, since packing A there is a copy read only once; a call split over N (every task packed all of A: each core packed
// it again), A stored m×k, alpha 1, one KC slice deep (K ≤ kc), rows at most
// directAMaxLDA apart (an A block is then one run of memory, or nearly),
// and at most directAMaxCols columns. Packing A costs about 0.16 ns per
// element on a Zen 3 core (10.5 µs for 256²), where the kernel reading A
// in place is about 1% slower (A is read again for every nr columns):
// measured on two threads, 128–392 columns per task gained (256²: each
// of the two tasks over 128 columns packed all of A, 10.5 µs of its
// 183), 512 columns did not (0–2% slower), so the limit is 400. Calls
// split over M and serial ones keep packing A: reading it in place there
// made the W4 training step 15% slower on two threads (its 2048-row
// products, measured alone, were not; not understood yet). A of at most
// directAMaxRows rows (a batch of 64) is read in place whatever its
// depth and row stride: a KC slice of it is then at most 96 runs of kc
// floats, which stay in L2 while the task's columns are multiplied.
// W1's first layer (64×784 times Wᵀ, 256 columns: 3 KC slices, rows 784
// floats apart), split over N into two tasks of 128 columns, each of
// which packed all 64 rows (13 µs of the 318 µs the product takes on
// one core), spent 4% less CPU on its longer task (median of 2000
// alternated calls on the loaded 2-core machine: 209.5 → 201.8 µs).
func (j *job) directA(cols int) bool {
	p, k := &j.p, j.kern
	if j.swapped {
		// A is the caller's B, read in place: not packing it is what
		// the swap is for (swapWorth).
		return k.microA != nil && !noDirectA && !p.TransA && p.Alpha == 1
	}
	if k.microA == nil || noDirectA || p.TransA || p.Alpha != 1 || len(j.rsegs) > 0 {
		return false // (a group stacked by rows: the products' A packed)
	}
	if cols <= k.nr {
		// One panel of op(B): every element of A is read once, so
		// packing it is a copy that nothing reuses, in any split
		// (fc3's forward of W1, 64×128 times W3ᵀ of 10 columns, packed
		// all of x: 14% of the call's CPU on one core).
		return true
	}
	return !j.splitM && j.tasks > 1 &&
		(p.K <= k.kc && p.LDA <= directAMaxLDA || p.M <= directAMaxRows) && cols <= directAMaxCols
}

// gather interleaves rows: dst[q*stride+r] = src[off[r]+q] for q < kc
// and r < len(off) ≤ stride. All bounds are checked up front; the copy
// loops then use pointer arithmetic (never past the last element), since
// with bounds checks on every element the strided stores cost 2–3 ns per
// element for short rows.
func gather(dst []float32, stride int, src []float32, off []int, kc int) {
	if kc == 0 || len(off) == 0 {
		return
	}
	if len(off) > stride {
		panic("gemm: gather: more rows than lanes")
	}
	_ = dst[(kc-1)*stride+len(off)-1]
	for _, o := range off {
		_ = src[o : o+kc]
	}
	dp := unsafe.Pointer(unsafe.SliceData(dst))
	sp := unsafe.Pointer(unsafe.SliceData(src))
	ds := uintptr(stride) * 4
	r := 0
	for ; r+4 <= len(off); r += 4 {
		p0 := unsafe.Add(sp, off[r]*4)
		p1 := unsafe.Add(sp, off[r+1]*4)
		p2 := unsafe.Add(sp, off[r+2]*4)
		p3 := unsafe.Add(sp, off[r+3]*4)
		d := unsafe.Add(dp, r*4)
		for q := uintptr(0); q < uintptr(kc); q++ {
			v0 := *(*float32)(unsafe.Add(p0, q*4))
			v1 := *(*float32)(unsafe.Add(p1, q*4))
			v2 := *(*float32)(unsafe.Add(p2, q*4))
			v3 := *(*float32)(unsafe.Add(p3, q*4))
			*(*[4]float32)(unsafe.Add(d, q*ds)) = [4]float32{v0, v1, v2, v3}
		}
	}
	for ; r+2 <= len(off); r += 2 {
		p0 := unsafe.Add(sp, off[r]*4)
		p1 := unsafe.Add(sp, off[r+1]*4)
		d := unsafe.Add(dp, r*4)
		for q := uintptr(0); q < uintptr(kc); q++ {
			v0 := *(*float32)(unsafe.Add(p0, q*4))
			v1 := *(*float32)(unsafe.Add(p1, q*4))
			*(*[2]float32)(unsafe.Add(d, q*ds)) = [2]float32{v0, v1}
		}
	}
	for ; r < len(off); r++ {
		p0 := unsafe.Add(sp, off[r]*4)
		d := unsafe.Add(dp, r*4)
		for q := uintptr(0); q < uintptr(kc); q++ {
			*(*float32)(unsafe.Add(d, q*ds)) = *(*float32)(unsafe.Add(p0, q*4))
		}
	}
}

// zeroLanes clears lanes [from, stride) of every step of a panel. The
// bounds are checked once and the lanes stored one by one: a clear per
// step (a runtime call for a few floats) took 12% of fc3's forward of
// W1, whose panel of 10 of 16 columns has 6 lanes to clear per step.
func zeroLanes(panel []float32, stride, from, kc int) {
	if from >= stride || kc == 0 {
		return
	}
	_ = panel[(kc-1)*stride+stride-1]
	dp := unsafe.Pointer(unsafe.SliceData(panel))
	w := uintptr(stride - from)
	w4 := w &^ 3
	for q := uintptr(0); q < uintptr(kc); q++ {
		d := unsafe.Add(dp, (q*uintptr(stride)+uintptr(from))*4)
		x := uintptr(0)
		for ; x < w4; x += 4 {
			*(*[4]float32)(unsafe.Add(d, x*4)) = [4]float32{}
		}
		for ; x < w; x++ {
			*(*float32)(unsafe.Add(d, x*4)) = 0
		}
	}
}

// packA packs rows [i0, i0+mc) × depth [pc, pc+kc) of alpha·op(A) into
// micro-panels of mr rows: panel q holds, for each depth step, the mr
// values of rows i0+q·mr…, zero-padded past mc. p6, if not nil, packs
// whole 6-row panels of A stored m×k 8 depth steps at a time (by 8×8
// transposes); the rest is gathered.
func packA(dst []float32, p *Params, i0, mc, pc, kc, mr int, p6 func(int, *float32, int, *float32)) {
	if p.TransA && !noPackATRows {
		packATRows(dst, p, i0, mc, pc, kc, mr)
		return
	}
	packAPanels(dst, p, i0, mc, pc, kc, mr, p6)
}

// atRowBlock: packATRows moves this many depth steps of A stored k×m at
// a time, panel by panel.
const atRowBlock = 16

// packAT6, if not nil, moves whole 6-row panels of A stored k×m for
// packATRows: dst[i*pstride + q*6 + c] = src[q*lds + 6*i + c] for q < kc,
// i < np, c < 6 (a plain copy, whichever kernel runs). The caller checks
// bounds.
var packAT6 func(kc int, src *float32, lds int, np int, dst *float32, pstride int)

// noPackATRows (tests) packs A stored k×m panel by panel (packAPanels),
// as before packATRows.
var noPackATRows bool

// packATRows is packA for A stored k×m (op(A) = Aᵀ: a weight gradient
// dYᵀ·X), row by row: each stored row (one depth step, the mc values of
// the block side by side) is read once, front to back, and cut into the
// panels' mr-float runs. Panel by panel (packAPanels) it read 24 bytes
// of each of kc rows, a cache line each, 512 bytes or more apart, and
// went through the kc rows again for the next panel: for the W4 weight
// gradients (dY of 2048×128, 256 rows per KC slice) that cost about
// 0.5 ns per element on a Zen 3 core, 15% of the product on one core.
// The panels hold the same values as packAPanels gives (TestPackATRows).
func packATRows(dst []float32, p *Params, i0, mc, pc, kc, mr int) {
	if mc <= 0 || kc <= 0 {
		return
	}
	whole := mc / mr
	rest := mc - whole*mr
	panels := ceilDiv(mc, mr)
	_ = dst[panels*kc*mr-1]
	o := pc*p.LDA + i0
	_ = p.A[o+(kc-1)*p.LDA+mc-1]
	sp := unsafe.Pointer(&p.A[o])
	dp := unsafe.Pointer(&dst[0])
	ls := uintptr(p.LDA) * 4
	ps := uintptr(kc*mr) * 4 // bytes from one panel to the next
	// Bounds are checked once above: every move below reads within the
	// block's rows and writes within its panels.
	// In blocks of atRowBlock depth steps: the block's rows (8 KiB for
	// 128 floats a row) stay in L1 while each panel gets its run of
	// contiguous lines. Row by row, the panels' stores went to lines
	// kc·mr floats apart (6 KiB at KC 256: two L1 sets), more streams
	// than the ways, and every store missed.
	for q0 := uintptr(0); q0 < uintptr(kc); q0 += atRowBlock {
		q1 := min(q0+atRowBlock, uintptr(kc))
		switch mr {
		case 6:
			if packAT6 != nil {
				packAT6(int(q1-q0), (*float32)(unsafe.Add(sp, q0*ls)), p.LDA, whole, (*float32)(unsafe.Add(dp, q0*24)), kc*mr)
				continue
			}
			for w := uintptr(0); w < uintptr(whole); w++ {
				s0, d0 := unsafe.Add(sp, w*24), unsafe.Add(dp, w*ps)
				for q := q0; q < q1; q++ {
					s, d := unsafe.Add(s0, q*ls), unsafe.Add(d0, q*24)
					*(*[4]float32)(d) = *(*[4]float32)(s)
					*(*[2]float32)(unsafe.Add(d, 16)) = *(*[2]float32)(unsafe.Add(s, 16))
				}
			}
		case 12:
			for w := uintptr(0); w < uintptr(whole); w++ {
				s0, d0 := unsafe.Add(sp, w*48), unsafe.Add(dp, w*ps)
				for q := q0; q < q1; q++ {
					s, d := unsafe.Add(s0, q*ls), unsafe.Add(d0, q*48)
					*(*[4]float32)(d) = *(*[4]float32)(s)
					*(*[4]float32)(unsafe.Add(d, 16)) = *(*[4]float32)(unsafe.Add(s, 16))
					*(*[4]float32)(unsafe.Add(d, 32)) = *(*[4]float32)(unsafe.Add(s, 32))
				}
			}
		default:
			for w := 0; w < whole; w++ {
				for q := int(q0); q < int(q1); q++ {
					so := o + q*p.LDA + w*mr
					do := w*kc*mr + q*mr
					copy(dst[do:do+mr], p.A[so:so+mr])
				}
			}
		}
	}
	if rest > 0 {
		// The edge panel: rest values per depth step, the lanes past
		// them zero.
		// (Element by element: copy and clear per depth step, calls of
		// a few floats each, took 30 µs of a 128×128×2048 product.)
		es := unsafe.Add(sp, whole*mr*4)
		ed := unsafe.Add(dp, whole*kc*mr*4)
		for q := uintptr(0); q < uintptr(kc); q++ {
			s, d := unsafe.Add(es, q*ls), unsafe.Add(ed, q*uintptr(mr)*4)
			for r := 0; r < mr; r++ {
				v := float32(0)
				if r < rest {
					v = *(*float32)(unsafe.Add(s, r*4))
				}
				*(*float32)(unsafe.Add(d, r*4)) = v
			}
		}
	}
	if p.Alpha != 1 {
		for q := range dst[:panels*kc*mr] {
			dst[q] *= p.Alpha
		}
	}
}

// packAPanels packs A panel by panel (A stored m×k always takes this
// path; A stored k×m with noPackATRows, the tests' reference).
func packAPanels(dst []float32, p *Params, i0, mc, pc, kc, mr int, p6 func(int, *float32, int, *float32)) {
	var off [32]int
	for ir := 0; ir < mc; ir += mr {
		mrr := min(mr, mc-ir)
		panel := dst[(ir/mr)*kc*mr : (ir/mr+1)*kc*mr]
		switch {
		case p.TransA && mrr == mr && (mr == 6 || mr == 12):
			// A stored k×m, a whole panel: each depth step is one
			// fixed-size copy.
			o := pc*p.LDA + i0 + ir
			_ = p.A[o+(kc-1)*p.LDA+mr-1]
			// Bounds are checked once above; moves of at most 16 bytes,
			// since the compiler turns a bigger array assignment into a
			// memmove call (which took 7% of W4).
			sp := unsafe.Pointer(&p.A[o])
			dp := unsafe.Pointer(&panel[0])
			ls := uintptr(p.LDA) * 4
			if mr == 6 {
				for q := uintptr(0); q < uintptr(kc); q++ {
					s, d := unsafe.Add(sp, q*ls), unsafe.Add(dp, q*24)
					*(*[4]float32)(d) = *(*[4]float32)(s)
					*(*[2]float32)(unsafe.Add(d, 16)) = *(*[2]float32)(unsafe.Add(s, 16))
				}
			} else {
				for q := uintptr(0); q < uintptr(kc); q++ {
					s, d := unsafe.Add(sp, q*ls), unsafe.Add(dp, q*48)
					*(*[4]float32)(d) = *(*[4]float32)(s)
					*(*[4]float32)(unsafe.Add(d, 16)) = *(*[4]float32)(unsafe.Add(s, 16))
					*(*[4]float32)(unsafe.Add(d, 32)) = *(*[4]float32)(unsafe.Add(s, 32))
				}
			}
		case p.TransA:
			// A stored k×m: each depth step is a contiguous run of rows.
			for q := 0; q < kc; q++ {
				o := (pc+q)*p.LDA + i0 + ir
				copy(panel[q*mr:q*mr+mrr], p.A[o:o+mrr])
			}
		default:
			// A stored m×k: gather mr rows, interleaving them.
			for r := 0; r < mrr; r++ {
				off[r] = (i0+ir+r)*p.LDA + pc
			}
			k8 := 0
			if p6 != nil && mr == 6 && mrr == 6 {
				// The transposes store 2 floats past each 8-step block,
				// overwritten by the next one; the last block needs
				// room for them in dst, or is left to gather.
				k8 = kc &^ 7
				if k8 > 0 && (ir/mr)*kc*mr+k8*6+2 > len(dst) {
					k8 -= 8
				}
			}
			if k8 > 0 {
				_ = p.A[off[5]+k8-1]
				p6(k8/8, &p.A[off[0]], p.LDA, &panel[0])
				for r := 0; r < 6; r++ {
					off[r] += k8
				}
				gather(panel[k8*6:], 6, p.A, off[:6], kc-k8)
			} else {
				gather(panel, mr, p.A, off[:mrr], kc)
			}
		}
		zeroLanes(panel, mr, mrr, kc)
		if p.Alpha != 1 {
			for q := range panel {
				panel[q] *= p.Alpha
			}
		}
	}
}

// packB packs depth [pc, pc+kc) × columns [j0, j0+nc) of op(B) into
// micro-panels of k.nr columns (panel q at q·kc·nr), zero-padded past nc.
// B stored k×n goes row by row through the whole panels where the kernel
// has k.packB16: for a B of 2048×2048 that took packing from about 2 to
// 0.8 ns per element on one Zen 3 core, against panel by panel, which
// reads 64 bytes of a row and moves to the next (a new page each time).
func packB(dst []float32, p *Params, j0, nc, pc, kc int, k *kernel) {
	nr, t8 := k.nr, k.transpose8
	if !p.TransB && nr == 16 && k.packB16 != nil {
		if whole := nc / 16; whole > 0 {
			base := pc*p.LDB + j0
			_ = p.B[base+(kc-1)*p.LDB+whole*16-1]
			_ = dst[whole*kc*16-1]
			k.packB16(kc, &p.B[base], p.LDB, whole, &dst[0], kc*16)
			if whole*16 == nc {
				return
			}
			j0, nc, dst = j0+whole*16, nc-whole*16, dst[whole*kc*16:]
		}
	}
	var off [32]int
	for jr := 0; jr < nc; jr += nr {
		nrr := min(nr, nc-jr)
		panel := dst[(jr/nr)*kc*nr : (jr/nr+1)*kc*nr]
		if p.TransB {
			// B stored n×k: gather nr rows of the stored matrix, by 8×8
			// transposes where the kernel has them.
			for c := 0; c < nrr; c++ {
				off[c] = (j0+jr+c)*p.LDB + pc
			}
			c8, k8 := 0, 0
			if t8 != nil && nr%8 == 0 {
				c8, k8 = nrr&^7, kc&^7
			}
			if k8 > 0 {
				for c := 0; c < c8; c += 8 {
					_ = p.B[off[c+7]+k8-1]
					t8(k8/8, &p.B[off[c]], p.LDB, &panel[c], nr)
				}
				for c := 0; c < c8; c++ {
					off[c] += k8
				}
				gather(panel[k8*nr:], nr, p.B, off[:c8], kc-k8)
				gather(panel[c8:], nr, p.B, off[c8:nrr], kc)
			} else {
				gather(panel, nr, p.B, off[:nrr], kc)
			}
			zeroLanes(panel, nr, nrr, kc)
			continue
		}
		// B stored k×n: each depth step is a contiguous run of columns.
		base := pc*p.LDB + j0 + jr
		switch {
		case nrr == 16 && nr == 16:
			for q := 0; q < kc; q++ {
				o := base + q*p.LDB
				*(*[16]float32)(panel[q*16:]) = [16]float32(p.B[o : o+16])
			}
		case nrr == 32 && nr == 32:
			for q := 0; q < kc; q++ {
				o := base + q*p.LDB
				*(*[32]float32)(panel[q*32:]) = [32]float32(p.B[o : o+32])
			}
		default:
			for q := 0; q < kc; q++ {
				o := base + q*p.LDB
				d := panel[q*nr : q*nr+nr]
				copy(d, p.B[o:o+nrr])
				clear(d[nrr:])
			}
		}
	}
}

// alignedFloats returns n float32s starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	buf := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&buf[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return buf[off : off+n : off+n]
}
