package gemm

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Params describes C = act(alpha·op(A)·op(B) + beta·C + colBias + rowBias)
// on row-major matrices, op(X) = X or Xᵀ. The zero value of every
// optional field means "absent".
type Params struct {
	// TransA: A is stored k×m (op(A) = Aᵀ); else m×k. Likewise TransB: B
	// stored n×k; else k×n.
	TransA, TransB bool
	M, N, K        int

	Alpha float32
	A     []float32
	LDA   int // row stride of A as stored, ≥ its column count
	B     []float32
	LDB   int
	// Beta scales the old C; Beta == 0 ignores it (C may hold NaN),
	// Beta == 1 accumulates into it (gradient accumulation).
	Beta float32
	C    []float32
	LDC  int // ≥ N

	ColBias []float32  // nil or len ≥ N: ColBias[j] added to column j (a Linear layer's bias)
	RowBias []float32  // nil or len ≥ M: RowBias[i] added to row i
	Act     Activation // applied last, on the final C

	// Tile, if not nil, is applied after the bias and activation to
	// every block of the final C soon after it is computed (a block of
	// rows of a task, or one row); see TileEpilogue. SgemmBatched takes
	// none.
	Tile TileEpilogue

	// PackedB, if not nil, is op(B) as PackB packed it, used instead of
	// packing B at this call (an inference weight, constant between
	// calls: its packing is the caller's to renew when B changes). It
	// is ignored, and B packed as usual, where it was packed for
	// another N, K or kernel. B must be set either way.
	PackedB *PackedB

	// ASums, if not nil (TransA only; len ≥ M), receives the column sums
	// of A as stored (k×m): ASums[i] = Σ_q A[q·LDA+i], each column's
	// elements added in float64 in the order q = 0, 1, …, K−1 whatever
	// the call's split (the bits of one sequential float64 sum); Alpha
	// does not scale them. The task that packs a block of A adds its
	// rows while they are in cache: a bias gradient Σ_tokens dY computed
	// by the weight gradient dYᵀ·X that reads the same dY
	// (backend/cpu's fuseBiasSums), instead of by a pass over dY that
	// has left the caches.
	ASums []float64
}

// ColSums, where set (backend/cpu sets its vector column sums), adds
// x[r·stride+i] into acc[i] for r < rows and i < n, every column its rows
// in order r = 0, 1, …; colSumsGo computes the same bits where it is nil.
var ColSums func(acc []float64, x []float32, rows, n, stride int)

// colSums adds rows×n of x (rows stride apart) into acc, each column in
// row order (ColSums, or colSumsGo).
func colSums(acc []float64, x []float32, rows, n, stride int) {
	if rows <= 0 || n <= 0 {
		return
	}
	if f := ColSums; f != nil {
		f(acc, x, rows, n, stride)
		return
	}
	colSumsGo(acc, x, rows, n, stride)
}

func colSumsGo(acc []float64, x []float32, rows, n, stride int) {
	acc = acc[:n]
	for r := 0; r < rows; r++ {
		for i, e := range x[r*stride:][:n] {
			acc[i] += float64(e)
		}
	}
}

// aSums sets p.ASums[0:M] to the column sums of all of A (the paths that
// do not pack A in blocks: tiny products, M == 1, no product at all).
func aSums(p *Params) {
	s := p.ASums[:p.M]
	clear(s)
	if p.K > 0 {
		colSums(s, p.A, p.K, p.M, p.LDA)
	}
}

// A TileEpilogue is the caller's own last step of the epilogue: Tile is
// called once for each block of rows [i0, i0+m) × columns [j0, j0+n) of
// C, after that block's final values (bias and activation included) are
// stored, with c = C[i0·ldc+j0:] and ldc C's row stride. The blocks of a
// call cover C exactly once; calls on disjoint blocks may run at the same
// time on different cores. How C is cut into blocks depends on the
// kernel, the split and the path, so for a result that does not, Tile
// must compute each element from that element alone (and data at the
// same (i, j)): GELU and its derivative, a product with another matrix
// of C's shape.
type TileEpilogue interface {
	Tile(c []float32, ldc, i0, j0, m, n int)
}

// A PackedB is op(B) of a product packed once for the calls that
// multiply by the same B: all of it in the layout the tasks of a call
// split over M share (see job.pb).
type PackedB struct {
	kern *kernel
	n, k int
	data []float32
}

// PackB packs op(B) of p (its TransB, N, K, B and LDB) for the active
// kernel into dst, reusing dst's storage when it is large enough (nil:
// new storage), and returns it. It is a single core's work.
func PackB(p *Params, dst *PackedB) *PackedB {
	k := active.Load()
	if p.N < 0 || p.K < 0 {
		panic(fmt.Sprintf("gemm: negative dimension n=%d k=%d", p.N, p.K))
	}
	if p.TransB {
		checkOperand("B", p.B, p.N, p.K, p.LDB)
	} else {
		checkOperand("B", p.B, p.K, p.N, p.LDB)
	}
	if dst == nil {
		dst = new(PackedB)
	}
	panels := ceilDiv(p.N, k.nr)
	dst.kern, dst.n, dst.k = k, p.N, p.K
	dst.data = grow(dst.data, panels*k.nr*p.K)
	if p.N == 0 || p.K == 0 {
		return dst
	}
	kcb := blockSize(p.K, k.kc, 1)
	for pc := 0; pc < p.K; pc += kcb {
		kc := min(kcb, p.K-pc)
		packB(dst.data[pc*panels*k.nr:], p, 0, p.N, pc, kc, k)
	}
	return dst
}

// fits reports whether pb was packed for a product of n columns, depth
// k, on kernel kern.
func (pb *PackedB) fits(kern *kernel, n, k int) bool {
	return pb != nil && pb.kern == kern && pb.n == n && pb.k == k
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C with BLAS semantics on
// row-major matrices: op(A) is m×k, op(B) is k×n, C is m×n with row
// stride ldc. With transA, A is stored k×m (row stride lda ≥ m); else m×k
// (lda ≥ k). Likewise B. alpha == 0 does not read A or B; beta == 0 does
// not read C.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := Params{TransA: transA, TransB: transB, M: m, N: n, K: k,
		Alpha: alpha, A: a, LDA: lda, B: b, LDB: ldb, Beta: beta, C: c, LDC: ldc}
	SgemmEx(&p)
}

// SgemmEx computes the GEMM of p with its epilogue: bias and activation
// are applied to each tile of C while it is still in cache, after the
// last slice of K has been accumulated. It panics on inconsistent shapes.
// It allocates nothing once its scratch buffers have grown to the sizes
// in use.
func SgemmEx(p *Params) {
	check(p)
	run(p, false)
}

// SgemmExSerial is SgemmEx on the calling goroutine only, for a caller
// that is itself one of several tasks running at the same time: it
// neither hands work to the pool nor repacks operands for a split.
// The result is the same bits as SgemmEx's.
func SgemmExSerial(p *Params) {
	check(p)
	run(p, true)
}

// run computes a checked product; serial keeps it on the calling
// goroutine.
func run(p *Params, serial bool) {
	if p.ASums != nil && (p.N == 0 || p.K == 0 || p.Alpha == 0 || p.M*p.N*p.K <= smallMACs || p.M == 1) {
		aSums(p) // not packed in blocks below
	}
	if p.M == 0 || p.N == 0 {
		return
	}
	if p.K == 0 || p.Alpha == 0 {
		scaleEpilogue(p, 0, p.M, 0, p.N)
		return
	}
	k := active.Load()
	if p.M*p.N*p.K <= smallMACs {
		if traceOn.Load() {
			t0 := traceNow()
			small(p)
			traceSmall(p, serial, t0)
			return
		}
		small(p)
		return
	}
	j := getJob()
	j.p, j.kern, j.serial = *p, k, serial
	if dotWorth(p, k) {
		j.traceBegin()
		j.dot()
		j.traceEnd()
		putJob(j)
		return
	}
	if swapWorth(p, k, serial) {
		j.swap()
	}
	j.traceBegin()
	if p.M == 1 {
		j.gemv()
	} else {
		j.gemm()
	}
	j.traceEnd()
	putJob(j)
}

// SgemmBatched computes batch independent products of p's shape,
// transposes, scalars and epilogue (attention heads, say): item i reads
// A[i·strideA:] and B[i·strideB:] and writes C[i·strideC:]; a stride of 0
// shares that operand. ColBias and RowBias are shared by all items. Small
// items run in parallel, one item per task on the pool; items large
// enough to use the pool by themselves (about a million multiply-adds)
// run one after another. Shapes are checked for every item before any is
// computed.
func SgemmBatched(p *Params, batch, strideA, strideB, strideC int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("gemm: negative batch %d or stride (%d, %d, %d)", batch, strideA, strideB, strideC))
	}
	if p.Tile != nil {
		panic("gemm: SgemmBatched takes no Tile epilogue")
	}
	if p.ASums != nil {
		panic("gemm: SgemmBatched has no ASums")
	}
	if batch == 0 {
		return
	}
	bj := getBatchJob()
	bj.p, bj.sa, bj.sb, bj.sc = *p, strideA, strideB, strideC
	for i := 0; i < batch; i++ {
		item := bj.item(i)
		check(&item)
	}
	macs := p.M * p.N * p.K
	switch {
	case macs >= batchBigMACs || macs*batch <= batchMinMACs:
		for i := 0; i < batch; i++ {
			item := bj.item(i)
			run(&item, macs < batchBigMACs)
		}
	default:
		getPool().ForRanger(batch, 1, bj)
	}
	putBatchJob(bj)
}

const (
	batchBigMACs = 1 << 20 // an item this big is split over the pool by itself
	batchMinMACs = 1 << 16 // a whole batch this small stays on one core
)

type batchJob struct {
	p          Params
	sa, sb, sc int
}

// item returns the parameters of batch item i.
func (bj *batchJob) item(i int) Params {
	it := bj.p
	if it.Alpha != 0 && it.M > 0 && it.N > 0 && it.K > 0 {
		it.A = it.A[min(i*bj.sa, len(it.A)):]
		it.B = it.B[min(i*bj.sb, len(it.B)):]
	}
	it.C = it.C[min(i*bj.sc, len(it.C)):]
	return it
}

// Range computes items [lo, hi) serially.
func (bj *batchJob) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		item := bj.item(i)
		run(&item, true)
	}
}

var (
	batchMu   sync.Mutex
	batchFree []*batchJob
)

func getBatchJob() *batchJob {
	batchMu.Lock()
	defer batchMu.Unlock()
	if n := len(batchFree); n > 0 {
		bj := batchFree[n-1]
		batchFree = batchFree[:n-1]
		return bj
	}
	return new(batchJob)
}

func putBatchJob(bj *batchJob) {
	bj.p = Params{}
	batchMu.Lock()
	batchFree = append(batchFree, bj)
	batchMu.Unlock()
}

// smallMACs: products up to this many multiply-adds skip packing; above
// it, packing and the micro-kernel win (4×4×4: 0.12 µs in the triple
// loop, 0.16 µs packed; 8×8×8: 0.68 µs against 0.25; 8×16×16: 2.5 µs
// against 0.35).
const smallMACs = 128

func check(p *Params) {
	m, n, k := p.M, p.N, p.K
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	need := checkOperand
	if p.Alpha != 0 && m > 0 && n > 0 { // A and B are read
		if p.TransA {
			need("A", p.A, k, m, p.LDA)
		} else {
			need("A", p.A, m, k, p.LDA)
		}
		if p.TransB {
			need("B", p.B, n, k, p.LDB)
		} else {
			need("B", p.B, k, n, p.LDB)
		}
	}
	need("C", p.C, m, n, p.LDC)
	if p.ColBias != nil && len(p.ColBias) < n {
		panic(fmt.Sprintf("gemm: len(ColBias)=%d < n=%d", len(p.ColBias), n))
	}
	if p.RowBias != nil && len(p.RowBias) < m {
		panic(fmt.Sprintf("gemm: len(RowBias)=%d < m=%d", len(p.RowBias), m))
	}
	if p.Act >= numActivations {
		panic(fmt.Sprintf("gemm: unknown activation %d", p.Act))
	}
	if p.ASums != nil {
		if !p.TransA {
			panic("gemm: ASums needs TransA")
		}
		if len(p.ASums) < m {
			panic(fmt.Sprintf("gemm: len(ASums)=%d < m=%d", len(p.ASums), m))
		}
		need("A", p.A, k, m, p.LDA)
	}
}

// checkOperand panics unless x holds a rows×cols matrix with row stride
// ld.
func checkOperand(name string, x []float32, rows, cols, ld int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("gemm: ld%s=%d < %d", name, ld, cols))
	}
	if len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("gemm: len(%s)=%d < %d for %d×%d with stride %d", name, len(x), (rows-1)*ld+cols, rows, cols, ld))
	}
}

func (p *Params) hasEpilogue() bool {
	return p.ColBias != nil || p.RowBias != nil || p.Act != ActNone
}

// epilogueRow applies bias and activation to one row segment of C whose
// first column is j0, in row i.
func (p *Params) epilogueRow(row []float32, i, j0 int) {
	if biasAct != nil && p.ColBias != nil && p.RowBias == nil && (p.Act == ActNone || p.Act == ActReLU) {
		// The common epilogue (bias, then nothing or ReLU) 8 lanes at a
		// time, with the same float32 results as the loops below.
		cb := p.ColBias[j0 : j0+len(row)]
		if n8 := len(row) &^ 7; n8 > 0 {
			relu := 0
			if p.Act == ActReLU {
				relu = 1
			}
			biasAct(n8, &row[0], &cb[0], relu)
			row, cb = row[n8:], cb[n8:]
		}
		for j := range row {
			row[j] += cb[j]
		}
		ActivateSlice(p.Act, row)
		return
	}
	if p.ColBias != nil {
		cb := p.ColBias[j0 : j0+len(row)]
		for j := range row {
			row[j] += cb[j]
		}
	}
	if p.RowBias != nil {
		rb := p.RowBias[i]
		for j := range row {
			row[j] += rb
		}
	}
	ActivateSlice(p.Act, row)
}

// scaleRows applies C *= beta to rows [i0,i1) × columns [j0,j1), or
// zeroes them when beta == 0.
func (p *Params) scaleRows(i0, i1, j0, j1 int) {
	if p.Beta == 1 {
		return
	}
	for i := i0; i < i1; i++ {
		row := p.C[i*p.LDC+j0 : i*p.LDC+j1]
		if p.Beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= p.Beta
		}
	}
}

// scaleEpilogue handles a product that contributes nothing (k == 0 or
// alpha == 0): C = act(beta·C + bias).
func scaleEpilogue(p *Params, i0, i1, j0, j1 int) {
	p.scaleRows(i0, i1, j0, j1)
	if p.hasEpilogue() {
		for i := i0; i < i1; i++ {
			p.epilogueRow(p.C[i*p.LDC+j0:i*p.LDC+j1], i, j0)
		}
	}
	if p.Tile != nil && i0 < i1 && j0 < j1 {
		p.Tile.Tile(p.C[i0*p.LDC+j0:], p.LDC, i0, j0, i1-i0, j1-j0)
	}
}

// small is the straight triple loop for tiny products.
func small(p *Params) {
	m, n, k := p.M, p.N, p.K
	// Element strides of op(A) (row i, depth q) and op(B) (depth q, column j).
	ai, aq := p.LDA, 1
	if p.TransA {
		ai, aq = 1, p.LDA
	}
	bq, bj := p.LDB, 1
	if p.TransB {
		bq, bj = 1, p.LDB
	}
	for i := 0; i < m; i++ {
		crow := p.C[i*p.LDC : i*p.LDC+n]
		for j := range crow {
			var s float32
			ia, ib := i*ai, j*bj
			for q := 0; q < k; q++ {
				s += p.A[ia] * p.B[ib]
				ia += aq
				ib += bq
			}
			s *= p.Alpha
			if p.Beta != 0 {
				s += p.Beta * crow[j]
			}
			crow[j] = s
		}
		if p.hasEpilogue() {
			p.epilogueRow(crow, i, 0)
		}
		if p.Tile != nil {
			p.Tile.Tile(crow, p.LDC, i, 0, 1, n)
		}
	}
}

// job is one call in flight; it is the parallel body, so handing it to
// the pool allocates nothing.
type job struct {
	p      Params
	kern   *kernel
	mode   int
	serial bool // stay on the calling goroutine (a batch item)
	splitM bool // tasks own row ranges (else column ranges)
	unit   int  // rows or columns per task unit
	units  int  // units to cover
	tasks  int  // tasks the units are cut into
	x      []float32

	// pb, when not nil, holds all of op(B) packed (Params.PackedB's, or
	// packed by the call), shared by the tasks of a call split over M: the KC slice at depth pc starts at pc·np·nr
	// (np = ⌈N/nr⌉ panels), its panel q at q·kc·nr in it (the layout a
	// task's own packing of one slice has, so each slice is packed row by
	// row and read from a block of kc·np·nr floats). The tasks pack it
	// as they reach each slice, in packParts parts of whole panels per
	// slice, whose states (partFree, partClaimed, partPacked) are in
	// packState, slice s's at s·packParts (see claimPart). It is pbuf,
	// the job's own buffer, kept with the job on the free list (calls in
	// sequence reuse one job, so it stops growing after the largest
	// shape).
	pb, pbuf  []float32
	packParts int
	pre       bool // pb is Params.PackedB, packed before the call: every part ready
	packState []atomic.Uint32

	// swapped: the call computes Cᵀ = B·op(A)ᵀ into tbuf (p is that
	// product) and each task writes its part of it, transposed, into
	// orig's C with orig's epilogue (see swapWorth).
	swapped bool
	orig    Params
	tbuf    []float32

	tr *TraceCall // this call's record while tracing (trace.go), else nil

	// segs are the call's products, columns after columns (segment):
	// one, the call's own (one), or a group's (SgemmGroup: grouped,
	// copies of its products in gp, their segments in gsegs).
	segs    []segment
	one     [1]segment
	grouped bool
	gp      []Params
	gsegs   []segment

	// rsegs, when not empty, are the products of a group stacked by
	// rows (SgemmGroupRows: copies in gp), the call's own rows one
	// product's after another's.
	rsegs []rowSegment
}

var (
	jobMu   sync.Mutex
	jobFree []*job
)

func getJob() *job {
	jobMu.Lock()
	defer jobMu.Unlock()
	if n := len(jobFree); n > 0 {
		j := jobFree[n-1]
		jobFree = jobFree[:n-1]
		return j
	}
	return new(job)
}

func putJob(j *job) {
	j.p = Params{} // drop references to the caller's slices
	j.orig, j.swapped = Params{}, false
	j.kern = nil
	jobMu.Lock()
	jobFree = append(jobFree, j)
	jobMu.Unlock()
}

// workspace holds one task's packing buffers; workspaces are reused
// across calls from a free list, so steady-state calls do not allocate.
//
// Which workspace a call gets depends on timing (a nested SgemmExSerial
// of a pool task takes whichever is free), so every workspace is kept at
// the high-water sizes of all of them (wsHigh): a buffer that must grow
// raises the mark and every free workspace grows with it at once, one
// that is out grows when it is put back, and new ones are made at the
// mark, enough of them at once for every core and the caller. Once each
// shape of a program has run, no call allocates whichever workspace it
// gets (TestWorkspaceHighWater); growing each buffer to its own largest
// request instead left a workspace that had served only small calls to
// grow inside a later step.
type workspace struct {
	a, b []float32
	tmp  [16 * 32]float32 // an edge tile, at most mr×nr
	x    []float32
}

// wsSizes are the lengths of a workspace's buffers.
type wsSizes struct{ a, b, x int }

var (
	wsMu    sync.Mutex
	wsFree  []*workspace
	wsHigh  wsSizes // the longest each buffer has been asked to be
	wsMade  int     // workspaces made
	wsGrown int     // buffers (re)allocated, for tests
)

func getWorkspace() *workspace {
	wsMu.Lock()
	defer wsMu.Unlock()
	if len(wsFree) == 0 {
		// As many as can be out at once in one program's step: one per
		// core and the caller's gemv vector, made together so that a
		// step with more tasks at once than the ones before allocates
		// nothing.
		for range max(1, getPool().Size()+1-wsMade) {
			w := new(workspace)
			w.fit()
			wsFree = append(wsFree, w)
			wsMade++
		}
	}
	n := len(wsFree)
	w := wsFree[n-1]
	wsFree = wsFree[:n-1]
	return w
}

func putWorkspace(w *workspace) {
	wsMu.Lock()
	w.fit()
	wsFree = append(wsFree, w)
	wsMu.Unlock()
}

// fit grows w's buffers to the high-water sizes; wsMu is held.
func (w *workspace) fit() {
	w.a = fitTo(w.a, wsHigh.a)
	w.b = fitTo(w.b, wsHigh.b)
	w.x = fitTo(w.x, wsHigh.x)
}

// fitTo returns buf with capacity at least n (its length unchanged),
// reallocated (64-byte aligned) only if its capacity is short; wsMu is
// held.
func fitTo(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf
	}
	wsGrown++
	return alignedFloats(n)[:len(buf)]
}

// wsNeed returns *buf with length n, first raising the high-water mark of
// the buffer it is (high: a field of wsHigh) to n and growing every free
// workspace to the new mark where n is over it.
func wsNeed(buf *[]float32, high *int, n int) []float32 {
	if cap(*buf) < n {
		wsMu.Lock()
		if n > *high {
			*high = n
			for _, w := range wsFree {
				w.fit()
			}
		}
		*buf = fitTo(*buf, n)
		wsMu.Unlock()
	}
	return (*buf)[:n]
}

// grow returns buf with length n, reallocated (64-byte aligned) only if
// its capacity is short.
func grow(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return alignedFloats(n)
}
