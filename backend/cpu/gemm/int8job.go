package gemm

import (
	"fmt"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// A QJob is an int8 product of one shape planned once: the packed-A
// buffer, the epilogue's per-column constants and the per-worker tiles
// are allocated by NewQJob, so that RunF32 and RunU8 allocate nothing
// (the CPU backend's int8 kernels run one per step).
//
// Besides Qgemm's row-major output, a QJob writes channel-major blocks
// (Spatial > 0): row i of A·B is pixel i mod Spatial of image
// i / Spatial, and C[i][j] goes to c[(i/Spatial·N + j)·Spatial +
// i mod Spatial], the NCHW layout of a convolution computed as
// im2col(x)ᵀ·Wᵀ. Either output may be float32 or requantized uint8.
type QJob struct {
	M       int // rows of A
	W       *QWeights
	AQ      QParams   // A's quantization
	Bias    []float32 // per column, or nil
	Act     Activation
	Spatial int // > 0: channel-major output blocks of Spatial rows
	// Serial runs on the calling goroutine only (the caller spreads
	// several jobs over its pool).
	Serial bool

	mult   []float32 // AQ.Scale·Scale[j]
	zc     []int32   // AQ.Zero·ColSum[j]
	packed []uint8   // A in micro-panels
	fused  *qFused   // row-major f32 output with a fused-epilogue kernel
	tiles  [][qMR * qNR]int32
	ftiles [][qMR * qNR]float32
	tposed [][qMR * qNR]float32 // channel-major: a tile transposed to [column][row]
	ubufs  [][qMR * qNR]uint8   // and requantized
	mp     int                  // A's micro-panels (this run)
	panels int
	units  int // work units (this run)
	m      int // rows (this run)

	// Per run.
	a    []uint8
	lda  int
	cf   []float32
	cu   []uint8
	ldc  int
	outQ QParams
	pool *parallel.Pool
	next *QJob // RunPackedToPacked's consumer

	qscratch []uint8    // QuantizePackedA: qMR rows of K bytes per worker
	qp       qQuantPack // its loop body
}

// NewQJob plans C = epilogue(A·W) for A m×K quantized with aq, with the
// epilogue's bias (len N, or nil; it is read at each run, so its values
// may change between runs) and activation. spatial > 0 asks for
// channel-major output (see QJob); m must then be a multiple of it.
func NewQJob(m int, aq QParams, w *QWeights, bias []float32, act Activation, spatial int) *QJob {
	if m <= 0 || (spatial > 0 && m%spatial != 0) || (bias != nil && len(bias) != w.N) {
		panic(fmt.Sprintf("gemm: NewQJob: m=%d spatial=%d bias %d for N=%d", m, spatial, len(bias), w.N))
	}
	qInit()
	j := &QJob{M: m, W: w, AQ: aq, Bias: bias, Act: act, Spatial: spatial, pool: getPool()}
	j.mult, j.zc = qMult(aq, w), make([]int32, w.N)
	for c := range j.zc {
		j.zc[c] = aq.Zero * w.ColSum[c]
	}
	j.packed = make([]uint8, (m+qMR-1)/qMR*w.k4*4*qMR)
	j.panels = (w.N + qNR - 1) / qNR
	workers := j.pool.Size()
	j.tiles = make([][qMR * qNR]int32, workers)
	j.ftiles = make([][qMR * qNR]float32, workers)
	j.tposed = make([][qMR * qNR]float32, workers)
	j.ubufs = make([][qMR * qNR]uint8, workers)
	j.qscratch = make([]uint8, workers*qMR*w.K)
	if qCurrent.microF32 != nil && (act == ActNone || act == ActReLU) {
		padded := j.panels * qNR
		f := &qFused{zc: make([]int32, padded), mult: make([]float32, padded), bias: make([]float32, padded),
			eps: make([]qTileEp, j.panels)}
		for p := range f.eps {
			f.eps[p] = qTileEp{zc: &f.zc[p*qNR], mult: &f.mult[p*qNR], bias: &f.bias[p*qNR]}
			if act == ActReLU {
				f.eps[p].relu = 1
			}
		}
		copy(f.zc, j.zc)
		copy(f.mult, j.mult)
		j.fused = f
	}
	return j
}

// PackedLen is the length of A's packed form (see Pack).
func (j *QJob) PackedLen() int { return len(j.packed) }

// RunF32 computes the product of the first m ≤ M rows of A (uint8, row
// stride lda, values ≤ QMax) into c: row-major with row stride ldc, or
// channel-major (Spatial; ldc is unused).
func (j *QJob) RunF32(m int, a []uint8, lda int, c []float32, ldc int) {
	j.cf, j.ldc = c, ldc
	j.run(m, a, lda)
	j.cf = nil
}

// RunU8 is RunF32 with the output requantized with out (the next int8
// layer's input quantization): out.Quantize of each RunF32 value.
func (j *QJob) RunU8(m int, a []uint8, lda int, out QParams, c []uint8, ldc int) {
	j.cu, j.ldc, j.outQ = c, ldc, out
	j.run(m, a, lda)
	j.cu = nil
}

// PackedA returns the buffer that RunPackedF32 and RunPackedU8 read A
// from, for callers that write A packed (an int8 convolution's im2col):
// row i's k values 4g…4g+3 are the 4 bytes at PackedIndex(i, g); k
// values past K must be 0.
func (j *QJob) PackedA() []uint8 { return j.packed }

// K4 is the number of 4-byte k groups of a row of A: ⌈K/4⌉.
func (j *QJob) K4() int { return j.W.k4 }

// PackedIndex is where row i's k group g starts in PackedA.
func (j *QJob) PackedIndex(i, g int) int { return (i/qMR)*j.W.k4*4*qMR + g*4*qMR + (i%qMR)*4 }

// RunPackedF32 is RunF32 on the first m rows of PackedA as written by
// the caller.
func (j *QJob) RunPackedF32(m int, c []float32, ldc int) {
	j.cf, j.ldc = c, ldc
	j.runPacked(m)
	j.cf = nil
}

// RunPackedU8 is RunU8 on the first m rows of PackedA.
func (j *QJob) RunPackedU8(m int, out QParams, c []uint8, ldc int) {
	j.cu, j.ldc, j.outQ = c, ldc, out
	j.runPacked(m)
	j.cu = nil
}

func (j *QJob) run(m int, a []uint8, lda int) {
	j.PackA(m, a, lda)
	j.runPacked(m)
}

func (j *QJob) runPacked(m int) {
	k := j.W.K
	if m <= 0 || m > j.M || (j.Spatial > 0 && m%j.Spatial != 0) {
		panic(fmt.Sprintf("gemm: QJob: %d rows for a job of %d rows (spatial %d)", m, j.M, j.Spatial))
	}
	j.m, j.mp = m, (m+qMR-1)/qMR
	j.units = j.panels * ((j.mp + qRowBlock - 1) / qRowBlock)
	if j.fused != nil {
		for c := range j.W.N {
			j.fused.bias[c] = 0
			if j.Bias != nil {
				j.fused.bias[c] = j.Bias[c]
			}
		}
		j.fused.c, j.fused.ldc = j.cf, j.ldc
	}
	// The work is m·N·K MACs, worth the pool's hand-off above ~64k.
	if !j.Serial && j.pool.Size() > 1 && m*j.W.N*k >= 1<<16 && j.units >= 2 {
		j.pool.ForWorker(j.units, 1, j)
	} else {
		j.RangeWorker(0, 0, j.units)
	}
	if j.fused != nil {
		j.fused.c = nil
	}
}

// RangeWorker runs work units [lo, hi): one column panel × qRowBlock
// micro-panels of rows each.
func (j *QJob) RangeWorker(worker, lo, hi int) {
	k4, w := j.W.k4, j.W
	micro, microF32 := qCurrent.micro, qCurrent.microF32
	tile, ftile := &j.tiles[worker], &j.ftiles[worker]
	for u := lo; u < hi; u++ {
		pan, rb := u%j.panels, u/j.panels
		bp := &w.packed[pan*k4*4*qNR]
		j0 := pan * qNR
		cols := min(qNR, w.N-j0)
		for ip := rb * qRowBlock; ip < min(j.mp, (rb+1)*qRowBlock); ip++ {
			i0, rows := ip*qMR, min(qMR, j.m-ip*qMR)
			ap := &j.packed[ip*k4*4*qMR]
			if f := j.fused; f != nil && (j.Spatial > 0 || j.cu != nil || j.next != nil) {
				// The fused kernel's float32 tile, then transposed
				// and/or requantized 16 lanes at a time.
				microF32(k4, ap, bp, &ftile[0], qNR, &f.eps[pan])
				j.scatter(worker, i0, rows, j0, cols, ftile)
				continue
			}
			if f := j.fused; f != nil {
				ep := &f.eps[pan]
				if rows == qMR && cols == qNR {
					_ = f.c[(i0+qMR-1)*f.ldc+j0+qNR-1]
					microF32(k4, ap, bp, &f.c[i0*f.ldc+j0], f.ldc, ep)
					continue
				}
				microF32(k4, ap, bp, &ftile[0], qNR, ep)
				for r := 0; r < rows; r++ {
					copy(f.c[(i0+r)*f.ldc+j0:(i0+r)*f.ldc+j0+cols], ftile[r*qNR:r*qNR+cols])
				}
				continue
			}
			micro(k4, ap, bp, &tile[0], qNR)
			j.emit(worker, i0, rows, j0, cols, tile, ftile)
		}
	}
}

// scatter writes a float32 tile (the epilogue applied) to the output:
// row-major uint8, or channel-major float32 or uint8.
func (j *QJob) scatter(worker, i0, rows, j0, cols int, ft *[qMR * qNR]float32) {
	if j.next != nil {
		j.scatterPacked(worker, i0, rows, j0, cols, ft)
		return
	}
	S := j.Spatial
	ub := &j.ubufs[worker]
	if S == 0 { // row-major uint8
		for r := range rows {
			j.outQ.QuantizeSlice(j.cu[(i0+r)*j.ldc+j0:][:cols], ft[r*qNR:r*qNR+cols])
		}
		return
	}
	N := j.W.N
	if rows == qMR && i0/S == (i0+qMR-1)/S {
		// Four consecutive pixels of one image: per column, 4
		// contiguous outputs.
		tp := &j.tposed[worker]
		for c := range cols {
			tp[c*4], tp[c*4+1], tp[c*4+2], tp[c*4+3] = ft[c], ft[qNR+c], ft[2*qNR+c], ft[3*qNR+c]
		}
		base := i0/S*N*S + i0%S + j0*S
		if j.cu != nil {
			// Whole vectors of 16 (the lanes past cols·4 are stale
			// values, quantized and dropped).
			j.outQ.QuantizeSlice(ub[:(cols*4+15)&^15], tp[:(cols*4+15)&^15])
			for c := range cols {
				*(*[4]uint8)(j.cu[base+c*S:]) = *(*[4]uint8)(ub[c*4:])
			}
		} else {
			for c := range cols {
				*(*[4]float32)(j.cf[base+c*S:]) = *(*[4]float32)(tp[c*4:])
			}
		}
		return
	}
	inv := 1 / j.outQ.Scale
	for r := range rows {
		i := i0 + r
		o := i/S*N*S + i%S + j0*S
		for c := range cols {
			if j.cu != nil {
				j.cu[o+c*S] = quantize1(ft[r*qNR+c], inv, j.outQ.Zero)
			} else {
				j.cf[o+c*S] = ft[r*qNR+c]
			}
		}
	}
}

// emit applies the epilogue to one int32 tile and writes it out.
func (j *QJob) emit(worker, i0, rows, j0, cols int, tile *[qMR * qNR]int32, buf *[qMR * qNR]float32) {
	S := j.Spatial
	if S > 0 && (j.Act == ActNone || j.Act == ActReLU) {
		j.emitSpatial(i0, rows, j0, cols, tile)
		return
	}
	for r := 0; r < rows; r++ {
		row := buf[r*qNR : r*qNR+cols]
		acc := tile[r*qNR : r*qNR+cols]
		for c := range row {
			// The explicit conversion rounds the product (no fused
			// multiply-add), as Qgemm's epilogues do.
			v := float32(float32(acc[c]-j.zc[j0+c]) * j.mult[j0+c])
			if j.Bias != nil {
				v += j.Bias[j0+c]
			}
			row[c] = v
		}
		ActivateSlice(j.Act, row)
	}
	if j.next != nil {
		j.scatterPacked(worker, i0, rows, j0, cols, buf)
		return
	}
	if S == 0 {
		for r := 0; r < rows; r++ {
			row := buf[r*qNR : r*qNR+cols]
			if j.cu != nil {
				j.outQ.QuantizeSlice(j.cu[(i0+r)*j.ldc+j0:], row)
			} else {
				copy(j.cf[(i0+r)*j.ldc+j0:], row)
			}
		}
		return
	}
	inv := 1 / j.outQ.Scale
	for r := 0; r < rows; r++ {
		i := i0 + r
		base := i/S*j.W.N*S + i%S
		for c := range cols {
			o := base + (j0+c)*S
			if j.cu != nil {
				j.cu[o] = quantize1(buf[r*qNR+c], inv, j.outQ.Zero)
			} else {
				j.cf[o] = buf[r*qNR+c]
			}
		}
	}
}

// emitSpatial is emit for channel-major output without an activation or
// with relu: column by column, the tile's rows are up to qMR consecutive
// pixels, contiguous in the output unless they cross an image boundary.
func (j *QJob) emitSpatial(i0, rows, j0, cols int, tile *[qMR * qNR]int32) {
	S, N := j.Spatial, j.W.N
	relu := j.Act == ActReLU
	var o [qMR]int
	contiguous := i0/S == (i0+rows-1)/S
	for r := range rows {
		i := i0 + r
		o[r] = i/S*N*S + i%S + j0*S
	}
	inv, zero := 1/j.outQ.Scale, j.outQ.Zero
	var v [qMR]float32
	for c := range cols {
		zc, mult := j.zc[j0+c], j.mult[j0+c]
		var bias float32
		if j.Bias != nil {
			bias = j.Bias[j0+c]
		}
		for r := range rows {
			v[r] = float32(float32(tile[r*qNR+c]-zc)*mult) + bias
			if relu {
				v[r] = max(v[r], 0) // as Activate
			}
		}
		if contiguous && rows == qMR {
			at := o[0] + c*S
			if j.cu != nil {
				d := j.cu[at : at+qMR]
				d[0], d[1], d[2], d[3] = quantize1(v[0], inv, zero), quantize1(v[1], inv, zero), quantize1(v[2], inv, zero), quantize1(v[3], inv, zero)
			} else {
				copy(j.cf[at:at+qMR], v[:])
			}
			continue
		}
		for r := range rows {
			if j.cu != nil {
				j.cu[o[r]+c*S] = quantize1(v[r], inv, zero)
			} else {
				j.cf[o[r]+c*S] = v[r]
			}
		}
	}
}

// At returns the int8 weight B[p][j].
func (w *QWeights) At(p, j int) int8 {
	return w.packed[(j/qNR)*w.k4*4*qNR+(p/4)*4*qNR+(j%qNR)*4+p%4]
}

// Spread returns w with its K rows spread out: row p goes to row
// to(p) of a matrix of k rows, the others zero. The scales and column
// sums are w's, so products with the spread weights give the same sums
// when A is spread the same way (what A holds in the zero rows does not
// matter).
func (w *QWeights) Spread(k int, to func(p int) int) *QWeights {
	b := make([]int8, k*w.N)
	for p := range w.K {
		for j := range w.N {
			b[to(p)*w.N+j] = w.At(p, j)
		}
	}
	return PackQWeights(k, w.N, b, w.N, false, w.Scale)
}
