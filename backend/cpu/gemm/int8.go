package gemm

import (
	"fmt"
	"math"
	"os"
	"sync"
	"unsafe"
)

// int8 GEMM: C = A·B with A uint8 activations (m×k, 7-bit: 0…127, an
// affine zero point), B int8 weights (k×n, symmetric: −127…127, one scale
// per column, i.e. per output channel), int32 accumulation, and an
// epilogue that subtracts the zero point's contribution, rescales, adds
// the bias, applies the activation and writes float32 or requantized
// uint8.
//
// Why 7-bit activations: the AVX2 kernel multiplies with vpmaddubsw,
// which adds two u8·s8 products into a saturating int16. With a ≤ 127 and
// |b| ≤ 127 the pair sum is at most 2·127·127 = 32258 < 32767, so it never
// saturates and every kernel (AVX2, AVX-512 VNNI, generic Go) computes
// the exact integer product: the results are bit-identical across
// machines. PyTorch's x86 backends make the same choice (reduce_range).
//
// Layouts. Weights are packed once (PackQWeights) into panels of
// qNR = 16 columns; within a panel, each group of 4 consecutive k values
// of a column is one 32-bit lane: panel bytes [k/4][16][4]. K is padded
// with zeros to a multiple of 4. Activations are packed per call into
// micro-panels of mr rows with the same 4-byte k groups: [k/4][mr][4].
// A micro-kernel step broadcasts one row's 4 bytes to all lanes and
// multiplies them with the 16 columns' 4 bytes: vpmaddubsw + vpmaddwd
// (AVX2) or one vpdpbusd (VNNI) per 8 or 16 columns.

const (
	qNR = 16 // columns per weight panel
	qMR = 4  // rows per activation micro-panel (all kernels)

	qRowBlock = 16 // activation micro-panels per work unit (64 rows)
)

// QMax is the largest quantized activation value (7 bits).
const QMax = 127

// QParams is an affine quantization of activations:
// real = Scale·(q − Zero), q in [0, QMax].
type QParams struct {
	Scale float32
	Zero  int32
}

// Quantize returns x's quantized value:
//
//	r = x·(1/Scale) in float32, clamped to [−256, 256] (NaN → 256)
//	q = clamp(round-half-even(r) + Zero, 0, QMax)
//
// The reciprocal, the clamp and the rounding are those of the vector
// form (vmulps, vminps, vmaxps, vcvtps2dq), so both give the same bytes.
func (q QParams) Quantize(x float32) uint8 {
	return quantize1(x, 1/q.Scale, q.Zero)
}

func quantize1(x, inv float32, zero int32) uint8 {
	r := x * inv
	if !(r < 256) {
		r = 256
	}
	if !(r > -256) {
		r = -256
	}
	// Round half to even: adding and subtracting 1.5·2²³ leaves the
	// nearest integer (|r| ≤ 256 ≪ 2²²).
	r = (r + 12582912) - 12582912
	v := int32(r) + zero
	return uint8(max(0, min(QMax, v)))
}

// QuantizeSlice quantizes x into dst (len(dst) ≥ len(x)).
func (q QParams) QuantizeSlice(dst []uint8, x []float32) {
	dst = dst[:len(x)]
	inv := 1 / q.Scale
	i := quantizeVec(dst, x, inv, q.Zero)
	for ; i < len(x); i++ {
		dst[i] = quantize1(x[i], inv, q.Zero)
	}
}

// QParamsFor returns the quantization that maps [lo, hi] (widened to
// contain 0, so that 0 is exact) onto [0, QMax].
func QParamsFor(lo, hi float32) QParams {
	lo, hi = min(lo, 0), max(hi, 0)
	if hi-lo < 1e-8 {
		return QParams{Scale: 1, Zero: 0}
	}
	s := (hi - lo) / QMax
	z := int32(math.RoundToEven(float64(-lo / s)))
	return QParams{Scale: s, Zero: max(0, min(QMax, z))}
}

// QWeights is a prepacked int8 weight matrix B (K×N) with per-column
// scales: real B[p][j] = Scale[j]·q[p][j].
type QWeights struct {
	K, N   int
	Scale  []float32 // per column
	ColSum []int32   // Σ_p q[p][j], for the zero-point correction
	k4     int       // K rounded up to a multiple of 4, divided by 4
	packed []int8    // ceil(N/16) panels of k4·64 bytes
}

// PackQWeights packs the int8 matrix B (K×N, row stride ldb; with transB,
// B is given as its transpose, N×K, row stride ldb, the layout of a
// Linear layer's [out, in] weight) with per-column scales.
func PackQWeights(k, n int, b []int8, ldb int, transB bool, scale []float32) *QWeights {
	if k <= 0 || n <= 0 || len(scale) != n {
		panic(fmt.Sprintf("gemm: PackQWeights: bad shape k=%d n=%d scales=%d", k, n, len(scale)))
	}
	at := func(p, j int) int8 { return b[p*ldb+j] }
	if transB {
		at = func(p, j int) int8 { return b[j*ldb+p] }
	}
	k4 := (k + 3) / 4
	panels := (n + qNR - 1) / qNR
	w := &QWeights{K: k, N: n, Scale: append([]float32(nil), scale...), ColSum: make([]int32, n), k4: k4,
		packed: make([]int8, panels*k4*4*qNR)}
	for j := 0; j < n; j++ {
		pan, jj := j/qNR, j%qNR
		base := pan * k4 * 4 * qNR
		var s int32
		for p := 0; p < k; p++ {
			v := at(p, j)
			if v < -127 {
				panic("gemm: PackQWeights: weight -128 is outside the symmetric range")
			}
			s += int32(v)
			w.packed[base+(p/4)*4*qNR+jj*4+p%4] = v
		}
		w.ColSum[j] = s
	}
	return w
}

// QEpilogue is what Qgemm does with each int32 accumulator acc[i][j]:
//
//	y = float32(acc − aZero·ColSum[j]) · (aScale·Scale[j]) + Bias[j]
//	y = Act(y)
//
// then writes y (float32 output) or Out.Quantize(y) (uint8 output).
type QEpilogue struct {
	Bias []float32 // len N, or nil
	Act  Activation
}

// qkernel computes one qMR×qNR int32 tile: c[r*ldc+j] = Σ_g a·b over k4
// groups (overwrites c).
type qkernel struct {
	name  string
	micro func(k4 int, a *uint8, b *int8, c *int32, ldc int)
	// microF32, when there is one, fuses the float32 epilogue (no
	// activation or relu) into the tile's write-back: it computes the
	// formula of QEpilogue with the same float32 operations in the
	// same order, so its results equal the Go epilogue's bit for bit.
	microF32 func(k4 int, a *uint8, b *int8, c *float32, ldc int, ep *qTileEp)
	// conv is the channel-major convolution kernel (int8conv.go); nil:
	// the generic one.
	conv qconvKernel
}

// qTileEp is the epilogue of one column panel for microF32: 16 entries
// each of Zero·ColSum (int32), aScale·Scale and the bias (0 without).
type qTileEp struct {
	zc   *int32
	mult *float32
	bias *float32
	relu int64
}

// qFused is a Qgemm's fused epilogue, padded to whole panels.
type qFused struct {
	zc         []int32
	mult, bias []float32
	eps        []qTileEp // per panel, into the slices above
	c          []float32
	ldc        int
}

var (
	qOnce    sync.Once
	qKernels []*qkernel
	qCurrent *qkernel
)

func qInit() {
	qOnce.Do(func() {
		qKernels = append([]*qkernel{{name: "generic", micro: qmicroGeneric}}, qArchKernels()...)
		qCurrent = qKernels[len(qKernels)-1]
		if v := os.Getenv("ENCC_QGEMM"); v != "" && v != "auto" {
			for _, k := range qKernels {
				if k.name == v {
					qCurrent = k
				}
			}
		}
	})
}

// QKernels lists the int8 micro-kernels this machine can run ("generic"
// always; "avx2" with AVX2; "vnni" with AVX-512 VNNI and VL). The last
// is the default; ENCC_QGEMM names another at start-up.
func QKernels() []string {
	qInit()
	var s []string
	for _, k := range qKernels {
		s = append(s, k.name)
	}
	return s
}

// QKernel is the name of the int8 micro-kernel in use.
func QKernel() string { qInit(); return qCurrent.name }

// SetQKernel selects an int8 micro-kernel by name; it reports whether
// the machine has it. Not safe to call while a Qgemm runs.
func SetQKernel(name string) bool {
	qInit()
	for _, k := range qKernels {
		if k.name == name {
			qCurrent = k
			return true
		}
	}
	return false
}

func qmicroGeneric(k4 int, a *uint8, b *int8, c *int32, ldc int) {
	as := unsafeSliceU8(a, k4*4*qMR)
	bs := unsafeSliceI8(b, k4*4*qNR)
	cs := unsafeSliceI32(c, (qMR-1)*ldc+qNR)
	var acc [qMR][qNR]int32
	for g := 0; g < k4; g++ {
		ag := as[g*4*qMR : (g+1)*4*qMR]
		bg := bs[g*4*qNR : (g+1)*4*qNR]
		for r := 0; r < qMR; r++ {
			a0, a1, a2, a3 := int32(ag[r*4]), int32(ag[r*4+1]), int32(ag[r*4+2]), int32(ag[r*4+3])
			for j := 0; j < qNR; j++ {
				acc[r][j] += a0*int32(bg[j*4]) + a1*int32(bg[j*4+1]) + a2*int32(bg[j*4+2]) + a3*int32(bg[j*4+3])
			}
		}
	}
	for r := 0; r < qMR; r++ {
		copy(cs[r*ldc:r*ldc+qNR], acc[r][:])
	}
}

// QgemmInt32 computes the raw accumulators C (m×N int32, row stride ldc)
// = A·B for A m×K uint8 (row stride lda, values ≤ QMax).
func QgemmInt32(m int, a []uint8, lda int, w *QWeights, c []int32, ldc int) {
	qgemm(m, a, lda, w, func(i0, rows, j0, cols int, tile []int32) {
		for r := 0; r < rows; r++ {
			copy(c[(i0+r)*ldc+j0:(i0+r)*ldc+j0+cols], tile[r*qNR:r*qNR+cols])
		}
	})
}

// Qgemm computes C = epilogue(A·B) in float32 (m×N, row stride ldc) for
// activations A quantized with aq.
func Qgemm(m int, a []uint8, lda int, aq QParams, w *QWeights, ep *QEpilogue, c []float32, ldc int) {
	mult := qMult(aq, w)
	qInit()
	if qCurrent.microF32 != nil && (ep.Act == ActNone || ep.Act == ActReLU) {
		padded := (w.N + qNR - 1) / qNR * qNR
		f := &qFused{zc: make([]int32, padded), mult: make([]float32, padded), bias: make([]float32, padded),
			eps: make([]qTileEp, padded/qNR), c: c, ldc: ldc}
		for p := range f.eps {
			f.eps[p] = qTileEp{zc: &f.zc[p*qNR], mult: &f.mult[p*qNR], bias: &f.bias[p*qNR]}
			if ep.Act == ActReLU {
				f.eps[p].relu = 1
			}
		}
		for j := 0; j < w.N; j++ {
			f.zc[j] = aq.Zero * w.ColSum[j]
			f.mult[j] = mult[j]
			if ep.Bias != nil {
				f.bias[j] = ep.Bias[j]
			}
		}
		qgemmRun(m, a, lda, w, f, nil)
		return
	}
	qgemm(m, a, lda, w, func(i0, rows, j0, cols int, tile []int32) {
		for r := 0; r < rows; r++ {
			row := c[(i0+r)*ldc+j0 : (i0+r)*ldc+j0+cols]
			qEpilogueRow(row, tile[r*qNR:], aq.Zero, w, mult, ep, j0)
			ActivateSlice(ep.Act, row)
		}
	})
}

// QgemmU8 is Qgemm with the output requantized with out (the next int8
// layer's input quantization), so that consecutive int8 layers never
// materialise float32 activations.
func QgemmU8(m int, a []uint8, lda int, aq QParams, w *QWeights, ep *QEpilogue, out QParams, c []uint8, ldc int) {
	mult := qMult(aq, w)
	qgemm(m, a, lda, w, func(i0, rows, j0, cols int, tile []int32) {
		var buf [qNR]float32
		for r := 0; r < rows; r++ {
			row := buf[:cols]
			qEpilogueRow(row, tile[r*qNR:], aq.Zero, w, mult, ep, j0)
			ActivateSlice(ep.Act, row)
			out.QuantizeSlice(c[(i0+r)*ldc+j0:], row)
		}
	})
}

func qMult(aq QParams, w *QWeights) []float32 {
	mult := make([]float32, w.N)
	for j, s := range w.Scale {
		mult[j] = aq.Scale * s
	}
	return mult
}

func qEpilogueRow(row []float32, acc []int32, zero int32, w *QWeights, mult []float32, ep *QEpilogue, j0 int) {
	for j := range row {
		// The explicit conversion rounds the product (no fused
		// multiply-add), as the vector epilogue does.
		v := float32(float32(acc[j]-zero*w.ColSum[j0+j]) * mult[j0+j])
		if ep.Bias != nil {
			v += ep.Bias[j0+j]
		}
		row[j] = v
	}
}

// qPackPool recycles packed-A buffers.
var qPackPool sync.Pool

// qgemm packs A, runs the micro-kernel over every qMR×qNR tile (column
// panels spread over the pool) and hands each finished tile to emit.
func qgemm(m int, a []uint8, lda int, w *QWeights, emit func(i0, rows, j0, cols int, tile []int32)) {
	qgemmRun(m, a, lda, w, nil, emit)
}

// qgemmRun is qgemm; with f, tiles go through the kernel's microF32
// straight into f.c instead of to emit.
func qgemmRun(m int, a []uint8, lda int, w *QWeights, f *qFused, emit func(i0, rows, j0, cols int, tile []int32)) {
	if m <= 0 {
		return
	}
	qInit()
	k, k4 := w.K, w.k4
	if lda < k || len(a) < (m-1)*lda+k {
		panic(fmt.Sprintf("gemm: Qgemm: A has %d elements, want (m-1)·lda+K = %d", len(a), (m-1)*lda+k))
	}
	mp := (m + qMR - 1) / qMR
	need := mp * k4 * 4 * qMR
	var ap []uint8
	if p, ok := qPackPool.Get().(*[]uint8); ok && cap(*p) >= need {
		ap = (*p)[:need]
	} else {
		ap = make([]uint8, need)
	}
	packQA(ap, m, k, k4, a, lda)
	micro, microF32 := qCurrent.micro, qCurrent.microF32
	panels := (w.N + qNR - 1) / qNR
	// Work units: one column panel × qRowBlock row micro-panels, so that
	// both tall-thin and short-wide products spread over the pool.
	rowBlocks := (mp + qRowBlock - 1) / qRowBlock
	units := panels * rowBlocks
	work := func(lo, hi int) {
		var tile [qMR * qNR]int32
		var ftile [qMR * qNR]float32
		for u := lo; u < hi; u++ {
			pan, rb := u%panels, u/panels
			bp := &w.packed[pan*k4*4*qNR]
			j0 := pan * qNR
			cols := min(qNR, w.N-j0)
			var ep *qTileEp
			if f != nil {
				ep = &f.eps[pan]
			}
			for ip := rb * qRowBlock; ip < min(mp, (rb+1)*qRowBlock); ip++ {
				i0, rows := ip*qMR, min(qMR, m-ip*qMR)
				if f == nil {
					micro(k4, &ap[ip*k4*4*qMR], bp, &tile[0], qNR)
					emit(i0, rows, j0, cols, tile[:])
					continue
				}
				if rows == qMR && cols == qNR {
					_ = f.c[(i0+qMR-1)*f.ldc+j0+qNR-1]
					microF32(k4, &ap[ip*k4*4*qMR], bp, &f.c[i0*f.ldc+j0], f.ldc, ep)
					continue
				}
				microF32(k4, &ap[ip*k4*4*qMR], bp, &ftile[0], qNR, ep)
				for r := 0; r < rows; r++ {
					copy(f.c[(i0+r)*f.ldc+j0:(i0+r)*f.ldc+j0+cols], ftile[r*qNR:r*qNR+cols])
				}
			}
		}
	}
	// The work is m·N·K MACs, worth the pool's hand-off above ~64k.
	if pool := getPool(); pool.Size() > 1 && m*w.N*k >= 1<<16 && units >= 2 {
		pool.For(units, 1, work)
	} else {
		work(0, units)
	}
	qPackPool.Put(&ap)
}

func unsafeSliceU8(p *uint8, n int) []uint8  { return unsafe.Slice(p, n) }
func unsafeSliceI8(p *int8, n int) []int8    { return unsafe.Slice(p, n) }
func unsafeSliceI32(p *int32, n int) []int32 { return unsafe.Slice(p, n) }

// QuantizeWeightsPerColumn quantizes the float32 matrix B (K×N,
// row-major) symmetrically per column: scale[j] = max_p |B[p][j]| / 127,
// q = round-half-even(B/scale) in [−127, 127]. An all-zero column gets
// scale 1.
func QuantizeWeightsPerColumn(k, n int, b []float32) (q []int8, scale []float32) {
	q = make([]int8, k*n)
	scale = make([]float32, n)
	for j := 0; j < n; j++ {
		var amax float32
		for p := 0; p < k; p++ {
			amax = max(amax, float32(math.Abs(float64(b[p*n+j]))))
		}
		s := amax / 127
		if s == 0 {
			s = 1
		}
		scale[j] = s
		for p := 0; p < k; p++ {
			r := math.RoundToEven(float64(b[p*n+j] / s))
			q[p*n+j] = int8(max(-127, min(127, r)))
		}
	}
	return q, scale
}
