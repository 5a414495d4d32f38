package gemm

import "sync/atomic"

// A segment is the columns [v0, v0+⌈p.N/nr⌉·nr) of the product a job
// computes: they are p's op(B), C and epilogue, column v0 being p's
// column 0. A call has one segment, itself at 0; a group (SgemmGroup)
// one per product, each padded to whole micro-panels so that no tile
// holds columns of two products.
type segment struct {
	p        *Params
	v0       int
	epi      bool // p has an epilogue
	fastBias bool // … the common one: a column bias, then nothing or ReLU (biasAct)
	relu     int  // … with ReLU
}

// set fills the epilogue fields of s from s.p for kernel k.
func (s *segment) set(k *kernel) {
	p := s.p
	s.epi = p.hasEpilogue()
	s.fastBias = s.epi && biasAct != nil && p.ColBias != nil && p.RowBias == nil && (p.Act == ActNone || p.Act == ActReLU) && k.nr%8 == 0
	s.relu = 0
	if p.Act == ActReLU {
		s.relu = 1
	}
}

// setSegs makes the call's own product its one segment, unless it is a
// group (whose segments SgemmGroup set).
func (j *job) setSegs() {
	if j.grouped {
		return
	}
	j.one[0] = segment{p: &j.p}
	j.one[0].set(j.kern)
	j.segs = j.one[:]
}

// packBV packs depth [pc, pc+kc) of columns [j0, j0+nc) of the call's
// op(B) (packB's layout), j0 at a panel boundary: of each segment, its
// own op(B) as stored, each segment's last panel zero-padded.
func (j *job) packBV(dst []float32, j0, nc, pc, kc int) {
	if !j.grouped {
		packB(dst, &j.p, j0, nc, pc, kc, j.kern)
		return
	}
	nr := j.kern.nr
	for i := range j.segs {
		s := &j.segs[i]
		lo, hi := max(j0, s.v0), min(j0+nc, s.v0+ceilDiv(s.p.N, nr)*nr)
		if lo >= hi {
			continue
		}
		packB(dst[(lo-j0)/nr*kc*nr:], s.p, lo-s.v0, min(hi-s.v0, s.p.N)-(lo-s.v0), pc, kc, j.kern)
	}
}

// SgemmGroup computes the products ps as one call: products of one
// op(A) (the same M, K, TransA, Alpha, A and LDA) by several op(B) of
// the same TransB, each into its own C with its own epilogue, all with
// the same Beta (0 or 1): the projections of one input by several
// weights (attention's q, k and v). The call is split over the pool once,
// as one product whose columns are the products' columns one after
// another (each padded to whole micro-panels), so that a task packs its
// block of op(A) once for all of them and the call pays one hand-off.
// Every element of each C gets the operations it gets in the product's
// own call (tiles, K slices and epilogue do not depend on the split), so
// the results are the bits of SgemmEx on each product. Products that
// cannot be grouped (another op(A) or Beta, one row, a swapped, tiny or
// dot-product one, a caller's Tile epilogue or ASums) are computed one
// by one. It panics on inconsistent shapes.
func SgemmGroup(ps []Params) { group(ps, false) }

// SgemmGroupSerial is SgemmGroup on the calling goroutine only (see
// SgemmExSerial).
func SgemmGroupSerial(ps []Params) { group(ps, true) }

// groupCalls counts the calls run as one group (for the tests).
var groupCalls atomic.Uint64

func group(ps []Params, serial bool) {
	for i := range ps {
		check(&ps[i])
	}
	k := active.Load()
	if !groupable(ps, k, serial) {
		for i := range ps {
			run(&ps[i], serial)
		}
		return
	}
	groupCalls.Add(1)
	j := getJob()
	j.kern, j.serial, j.grouped = k, serial, true
	j.gp = append(j.gp[:0], ps...)
	j.gsegs = j.gsegs[:0]
	n := 0
	for i := range j.gp {
		s := segment{p: &j.gp[i], v0: n}
		s.set(k)
		j.gsegs = append(j.gsegs, s)
		n += ceilDiv(ps[i].N, k.nr) * k.nr
	}
	j.segs = j.gsegs
	// The call's own Params: the shared op(A), N the columns of all.
	j.p = Params{TransA: ps[0].TransA, TransB: ps[0].TransB, M: ps[0].M, N: n, K: ps[0].K,
		Alpha: ps[0].Alpha, A: ps[0].A, LDA: ps[0].LDA, Beta: ps[0].Beta}
	j.traceBegin()
	j.gemm()
	j.traceEnd()
	clear(j.gp)
	j.gp = j.gp[:0]
	for i := range j.gsegs {
		j.gsegs[i] = segment{}
	}
	j.grouped, j.segs = false, nil
	putJob(j)
}

// groupable reports whether ps can run as one call (SgemmGroup).
func groupable(ps []Params, k *kernel, serial bool) bool {
	if len(ps) < 2 {
		return false
	}
	p0 := &ps[0]
	n := 0
	for i := range ps {
		p := &ps[i]
		if p.M != p0.M || p.K != p0.K || p.TransA != p0.TransA || p.TransB != p0.TransB ||
			p.Alpha != p0.Alpha || p.LDA != p0.LDA || p.Beta != p0.Beta || len(p.A) != len(p0.A) ||
			len(p.A) > 0 && &p.A[0] != &p0.A[0] || p.N == 0 || p.PackedB != nil || p.Tile != nil || p.ASums != nil || swapWorth(p, k, serial) || dotWorth(p, k) {
			return false
		}
		n += p.N
	}
	return p0.M > 1 && p0.K > 0 && p0.Alpha != 0 && (p0.Beta == 0 || p0.Beta == 1) && p0.M*n*p0.K > smallMACs
}

// A rowSegment is one product of a group stacked by rows
// (SgemmGroupRows): rows [r0, r0+p.M) of the call are p's rows 0….
type rowSegment struct {
	p   *Params
	r0  int
	seg [1]segment // p's columns: its C and epilogue
}

// SgemmGroupRows computes the products ps as one call: products of
// several op(A) (each its own M, A, LDA, C, epilogue and ASums) by one
// op(B) (the same N, K, TransA, TransB, Alpha, B and LDB), all with the
// same Beta (0 or 1): the weight gradients dYᵀ·X of several projections
// of one input X (attention's q, k and v). The call is split over the
// pool once, as one product whose rows are the products' rows one after
// another, so that op(B), where the tasks pack it, is packed once for
// all the products (a shared op(B) of a split over M), and the call pays
// one hand-off and one tail where the products paid one each. Each task
// computes its rows product by product, each with that product's own
// blocks of A. Every element of each C gets the operations it gets in
// the product's own call (tiles, K slices and epilogue do not depend on
// the split; ASums are each column's sums in the order of the rows), so
// the results are the bits of SgemmEx on each product. Products that
// cannot be grouped (another op(B) or Beta, one row, a swapped, tiny or
// dot-product one, op(B) packed before the call, a caller's Tile
// epilogue) are computed one by one. It panics on inconsistent shapes.
func SgemmGroupRows(ps []Params) { groupRows(ps, false) }

// SgemmGroupRowsSerial is SgemmGroupRows on the calling goroutine only
// (see SgemmExSerial).
func SgemmGroupRowsSerial(ps []Params) { groupRows(ps, true) }

// groupRowsCalls counts the calls run as one group stacked by rows (for
// the tests).
var groupRowsCalls atomic.Uint64

func groupRows(ps []Params, serial bool) {
	for i := range ps {
		check(&ps[i])
	}
	k := active.Load()
	if !groupableRows(ps, k, serial) {
		for i := range ps {
			run(&ps[i], serial)
		}
		return
	}
	groupRowsCalls.Add(1)
	j := getJob()
	j.kern, j.serial = k, serial
	j.gp = append(j.gp[:0], ps...)
	j.rsegs = j.rsegs[:0]
	m := 0
	for i := range j.gp {
		s := rowSegment{p: &j.gp[i], r0: m}
		s.seg[0] = segment{p: &j.gp[i]}
		s.seg[0].set(k)
		j.rsegs = append(j.rsegs, s)
		m += ps[i].M
	}
	// The call's own Params: the shared op(B), M the rows of all.
	p0 := &ps[0]
	j.p = Params{TransA: p0.TransA, TransB: p0.TransB, M: m, N: p0.N, K: p0.K,
		Alpha: p0.Alpha, B: p0.B, LDB: p0.LDB, Beta: p0.Beta}
	j.traceBegin()
	j.gemm()
	j.traceEnd()
	clear(j.gp)
	j.gp = j.gp[:0]
	clear(j.rsegs)
	j.rsegs = j.rsegs[:0]
	putJob(j)
}

// groupableRows reports whether ps can run as one call stacked by rows
// (SgemmGroupRows).
func groupableRows(ps []Params, k *kernel, serial bool) bool {
	if len(ps) < 2 {
		return false
	}
	p0 := &ps[0]
	if p0.N == 0 || p0.K == 0 || p0.Alpha == 0 || p0.Beta != 0 && p0.Beta != 1 || len(p0.B) == 0 {
		return false
	}
	for i := range ps {
		p := &ps[i]
		if p.N != p0.N || p.K != p0.K || p.TransA != p0.TransA || p.TransB != p0.TransB ||
			p.Alpha != p0.Alpha || p.LDB != p0.LDB || p.Beta != p0.Beta || len(p.B) != len(p0.B) ||
			&p.B[0] != &p0.B[0] || p.M < 2 || p.M*p.N*p.K <= smallMACs || p.PackedB != nil || p.Tile != nil ||
			swapWorth(p, k, serial) || dotWorth(p, k) {
			return false
		}
	}
	return true
}

// packOnce has the one task of a call stacked by rows (SgemmGroupRows)
// pack op(B) once, into job.pb as one part per KC slice, for all the
// products, where each product's rows would pack it again: the first
// product's blocks pack each slice, the others read it.
func (j *job) packOnce() {
	p, k := &j.p, j.kern
	panels := ceilDiv(p.N, k.nr)
	j.pbuf = grow(j.pbuf, panels*k.nr*p.K)
	j.pb = j.pbuf
	j.packParts = 1
	n := ceilDiv(p.K, blockSize(p.K, k.kc, 1))
	if cap(j.packState) < n {
		j.packState = make([]atomic.Uint32, n)
	}
	j.packState = j.packState[:n]
	for i := range j.packState {
		j.packState[i].Store(partFree)
	}
}
