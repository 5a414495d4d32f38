package gemm

import (
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

const (
	modeGemm = iota
	modeGemv
)

// Cost model used to choose between running on one core and splitting
// the M or N loop over the pool (nanoseconds; Zen 4 at ≈3.6 GHz).
const (
	costMAC     = 1.0 / 50 // one multiply-add in the micro-kernel (≈57.6 GMAC/s peak per core)
	costPack    = 0.3      // packing one element of A or B
	costHandoff = 2000     // waking the pool and joining it, with margin
	gemvMinMACs = 1 << 15  // m == 1 products below this stay on one core
)

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
	return mac + packA + packB
}

func (j *job) gemm() {
	p, k := &j.p, j.kern
	pool := parallel.Default()
	P := pool.Size()
	um, un := ceilDiv(p.M, k.mr), ceilDiv(p.N, k.nr)
	j.mode = modeGemm
	best := j.estimate(um*k.mr, un*k.nr)
	split := 0 // 0 serial, 1 over M, 2 over N
	if P > 1 {
		if um >= 2 {
			if t := j.estimate(ceilDiv(um, P)*k.mr, un*k.nr) + costHandoff; t < best {
				best, split = t, 1
			}
		}
		if un >= 2 {
			if t := j.estimate(um*k.mr, ceilDiv(un, P)*k.nr) + costHandoff; t < best {
				best, split = t, 2
			}
		}
	}
	switch split {
	case 0:
		j.splitM, j.unit = true, k.mr
		j.RangeWorker(0, 0, um)
	case 1:
		j.splitM, j.unit = true, k.mr
		pool.ForWorker(um, 1, j)
	case 2:
		j.splitM, j.unit = false, k.nr
		pool.ForWorker(un, 1, j)
	}
}

func (j *job) gemv() {
	p, k := &j.p, j.kern
	ws := getWorkspace()
	// x = alpha·(row 0 of op(A)), contiguous.
	x := grow(ws.x, p.K)
	ws.x = x
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
	units := ceilDiv(p.N, j.unit)
	pool := parallel.Default()
	if pool.Size() > 1 && p.N*p.K >= gemvMinMACs && units >= 2 {
		pool.ForWorker(units, 1, j)
	} else {
		j.RangeWorker(0, 0, units)
	}
	j.x = nil
	putWorkspace(ws)
}

// RangeWorker runs task units [lo, hi): rows (splitM) or columns of C.
func (j *job) RangeWorker(_, lo, hi int) {
	p := &j.p
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
		return
	}
	ws := getWorkspace()
	if j.splitM {
		j.block(ws, lo*j.unit, min(hi*j.unit, p.M), 0, p.N)
	} else {
		j.block(ws, 0, p.M, lo*j.unit, min(hi*j.unit, p.N))
	}
	putWorkspace(ws)
}

// block is the sequential Goto/BLIS loop nest for C[i0:i1, j0:j1]:
//
//	jc over NC-wide column blocks      (B block kc×nc in L3)
//	  pc over KC-deep slices of K      (pack B block)
//	    ic over MC-high row blocks     (pack A block mc×kc, in L2)
//	      jr over NR-wide micro-panels (B micro-panel kc×nr, in L1)
//	        ir over MR-high micro-panels: micro-kernel on an mr×nr tile
func (j *job) block(ws *workspace, i0, i1, j0, j1 int) {
	p, k := &j.p, j.kern
	mr, nr := k.mr, k.nr
	kcb := blockSize(p.K, k.kc, 1)
	mcb := blockSize(i1-i0, k.mc, mr)
	ncb := blockSize(j1-j0, k.nc, nr)
	ws.a = grow(ws.a, mcb*kcb)
	ws.b = grow(ws.b, ncb*kcb)
	if p.Beta != 0 && p.Beta != 1 {
		p.scaleRows(i0, i1, j0, j1)
	}
	epi := p.hasEpilogue()
	c, ldc := p.C, p.LDC
	tmp := ws.tmp[:mr*nr]
	for jc := j0; jc < j1; jc += ncb {
		nc := min(ncb, j1-jc)
		for pc := 0; pc < p.K; pc += kcb {
			kc := min(kcb, p.K-pc)
			packB(ws.b, p, jc, nc, pc, kc, nr)
			acc := 0
			if pc > 0 || p.Beta != 0 {
				acc = 1
			}
			last := pc+kc >= p.K
			for ic := i0; ic < i1; ic += mcb {
				mc := min(mcb, i1-ic)
				packA(ws.a, p, ic, mc, pc, kc, mr)
				for jr := 0; jr < nc; jr += nr {
					nrr := min(nr, nc-jr)
					bp := &ws.b[(jr/nr)*kc*nr]
					for ir := 0; ir < mc; ir += mr {
						mrr := min(mr, mc-ir)
						ap := &ws.a[(ir/mr)*kc*mr]
						row0 := ic + ir
						ci := row0*ldc + jc + jr
						if mrr == mr && nrr == nr {
							k.micro(kc, ap, bp, &c[ci], ldc, acc)
						} else {
							k.micro(kc, ap, bp, &tmp[0], nr, 0)
							for r := 0; r < mrr; r++ {
								crow := c[ci+r*ldc : ci+r*ldc+nrr]
								trow := tmp[r*nr : r*nr+nrr]
								if acc != 0 {
									for q, v := range trow {
										crow[q] += v
									}
								} else {
									copy(crow, trow)
								}
							}
						}
						if last && epi {
							for r := 0; r < mrr; r++ {
								p.epilogueRow(c[ci+r*ldc:ci+r*ldc+nrr], row0+r, jc+jr)
							}
						}
					}
				}
			}
		}
	}
}

// packA packs rows [i0, i0+mc) × depth [pc, pc+kc) of alpha·op(A) into
// micro-panels of mr rows: panel q holds, for each depth step, the mr
// values of rows i0+q·mr…, zero-padded past mc.
func packA(dst []float32, p *Params, i0, mc, pc, kc, mr int) {
	alpha := p.Alpha
	for ir := 0; ir < mc; ir += mr {
		mrr := min(mr, mc-ir)
		panel := dst[(ir/mr)*kc*mr : (ir/mr+1)*kc*mr]
		if p.TransA {
			// A stored k×m: each depth step is a contiguous run of rows.
			for q := 0; q < kc; q++ {
				src := p.A[(pc+q)*p.LDA+i0+ir : (pc+q)*p.LDA+i0+ir+mrr]
				d := panel[q*mr : q*mr+mr]
				if alpha == 1 {
					copy(d, src)
				} else {
					for r, v := range src {
						d[r] = alpha * v
					}
				}
				clear(d[mrr:])
			}
			continue
		}
		// A stored m×k: gather mr rows, interleaving them.
		for r := 0; r < mrr; r++ {
			src := p.A[(i0+ir+r)*p.LDA+pc : (i0+ir+r)*p.LDA+pc+kc]
			d := panel[r:]
			if alpha == 1 {
				for q, v := range src {
					d[q*mr] = v
				}
			} else {
				for q, v := range src {
					d[q*mr] = alpha * v
				}
			}
		}
		for r := mrr; r < mr; r++ {
			for q := 0; q < kc; q++ {
				panel[q*mr+r] = 0
			}
		}
	}
}

// packB packs depth [pc, pc+kc) × columns [j0, j0+nc) of op(B) into
// micro-panels of nr columns, zero-padded past nc.
func packB(dst []float32, p *Params, j0, nc, pc, kc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		nrr := min(nr, nc-jr)
		panel := dst[(jr/nr)*kc*nr : (jr/nr+1)*kc*nr]
		if !p.TransB {
			// B stored k×n: each depth step is a contiguous run of columns.
			for q := 0; q < kc; q++ {
				off := (pc+q)*p.LDB + j0 + jr
				d := panel[q*nr : q*nr+nr]
				copy(d, p.B[off:off+nrr])
				clear(d[nrr:])
			}
			continue
		}
		// B stored n×k: gather nr rows of the stored matrix.
		for c := 0; c < nrr; c++ {
			src := p.B[(j0+jr+c)*p.LDB+pc : (j0+jr+c)*p.LDB+pc+kc]
			d := panel[c:]
			for q, v := range src {
				d[q*nr] = v
			}
		}
		for c := nrr; c < nr; c++ {
			for q := 0; q < kc; q++ {
				panel[q*nr+c] = 0
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
