package gemm

import (
	"fmt"
	"unsafe"
)

// Channel-major int8 convolution product: C[o][pixel] = Σ_k W[o][k]·A[k][pixel]
// for one image, written as NCHW rows with no transpose.
//
// Layouts. The weights (int8, the broadcast operand) are packed into panels
// of qcMC = 6 output channels: panel bytes [k/4][6][4], channels past O
// zero. The activation patches (uint8, 7-bit, the wide operand) are packed
// by the caller (a convolution's im2col) into panels of qcNP = 16 pixels:
// [pixel/16][k/4][16][4] (QConvIndex). A micro-kernel step loads two
// registers of 8 pixels × 4 k values and, per channel, broadcasts the
// channel's 4 weights: vpmaddubsw + vpmaddwd (AVX2) leave 8 consecutive
// pixels' partial sums of one channel in one accumulator, so that the
// epilogue (zero-point correction, per-channel scale, bias, relu, and
// requantization to uint8 or float32 output) stores whole rows of an
// output channel. The integer sums are those of QJob, and the epilogue
// performs the same float32 operations in the same order per element, so
// both produce the same bits.
//
// The k order is the caller's: QConvWeights takes, per 4-byte group and
// byte, the row of the weight matrix it holds (or none: a zero weight),
// so a convolution may lay its taps out as it packs them fastest.

const (
	qcMC = 6  // output channels per weight panel (6 × 2 accumulators)
	qcNP = 16 // pixels per activation panel
)

// qConvEp is one channel panel's epilogue (the assembly reads it at
// fixed offsets: zc 0, mult 24, bias 48, relu 72, inv 80, zero 84).
type qConvEp struct {
	zc   [qcMC]int32   // AQ.Zero·ColSum
	mult [qcMC]float32 // AQ.Scale·Scale
	bias [qcMC]float32
	relu int64
	inv  float32 // 1/out.Scale (uint8 output)
	zero int32   // out.Zero
}

// qconvKernel computes one 6-channel × 16-pixel tile and applies the
// epilogue: c points at channel 0, pixel 0 of float32 (u8 == 0) or uint8
// output, channel rows ldc elements apart.
type qconvKernel func(k4 int, a *uint8, w *int8, c unsafe.Pointer, ldc int, ep *qConvEp, u8 int)

// A QConv is a planned channel-major int8 product of an O×K weight and
// K×P activation panels (one image of a convolution); Run allocates
// nothing.
type QConv struct {
	O, K4 int
	AQ    QParams
	Act   Activation // ActNone or ActReLU

	packed []int8 // ⌈O/6⌉ panels of K4·24 bytes
	eps    []qConvEp
	kernel qconvKernel
	// Per-worker scratch tiles for partial tiles.
	tf [][qcMC * qcNP]float32
	tu [][qcMC * qcNP]uint8
}

// QConvSupports reports whether NewQConv takes the activation.
func QConvSupports(act Activation) bool { return act == ActNone || act == ActReLU }

// NewQConv plans the product with w's weights laid out in k4 groups of 4
// bytes: byte b of group g holds weight row tap(g, b) of w (−1: a zero
// weight). The A panels must use the same order. workers is how many
// goroutines may run it at once (one scratch tile each).
func NewQConv(w *QWeights, k4 int, tap func(g, b int) int, aq QParams, act Activation, workers int) *QConv {
	if k4 <= 0 || !QConvSupports(act) || workers <= 0 {
		panic(fmt.Sprintf("gemm: NewQConv: k4=%d act=%v workers=%d", k4, act, workers))
	}
	qInit()
	panels := (w.N + qcMC - 1) / qcMC
	q := &QConv{O: w.N, K4: k4, AQ: aq, Act: act, packed: make([]int8, panels*k4*4*qcMC),
		eps: make([]qConvEp, panels), kernel: qCurrent.conv,
		tf: make([][qcMC * qcNP]float32, workers), tu: make([][qcMC * qcNP]uint8, workers)}
	if q.kernel == nil {
		q.kernel = qconvGeneric
	}
	seen := make([]bool, w.K)
	for g := range k4 {
		for b := range 4 {
			p := tap(g, b)
			if p < 0 {
				continue
			}
			if p >= w.K || seen[p] {
				panic(fmt.Sprintf("gemm: NewQConv: tap(%d, %d) = %d is out of range or repeated (K=%d)", g, b, p, w.K))
			}
			seen[p] = true
			for o := range w.N {
				q.packed[(o/qcMC)*k4*4*qcMC+g*4*qcMC+(o%qcMC)*4+b] = w.At(p, o)
			}
		}
	}
	for p, s := range seen {
		if !s {
			panic(fmt.Sprintf("gemm: NewQConv: weight row %d has no tap", p))
		}
	}
	for o := range w.N {
		e := &q.eps[o/qcMC]
		e.zc[o%qcMC] = aq.Zero * w.ColSum[o]
		e.mult[o%qcMC] = aq.Scale * w.Scale[o]
		if act == ActReLU {
			e.relu = 1
		}
	}
	return q
}

// QConvIndex is where pixel i's k group g starts in an A panel buffer
// of k4 groups.
func QConvIndex(k4, i, g int) int { return (i/qcNP)*k4*4*qcNP + g*4*qcNP + (i%qcNP)*4 }

// QConvALen is the length of the A panels for p pixels.
func QConvALen(k4, p int) int { return (p + qcNP - 1) / qcNP * k4 * 4 * qcNP }

// SetBias sets the per-channel bias (len O, or nil for none) that the
// following runs add; not safe while a run is in progress.
func (q *QConv) SetBias(bias []float32) {
	if bias != nil && len(bias) != q.O {
		panic(fmt.Sprintf("gemm: QConv: %d biases for %d channels", len(bias), q.O))
	}
	for o := range q.O {
		var b float32
		if bias != nil {
			b = bias[o]
		}
		q.eps[o/qcMC].bias[o%qcMC] = b
	}
}

// RunF32 computes one image: a holds the packed patches of p pixels
// (QConvIndex; pixels past p in the last panel are ignored), c the O×p
// float32 output. worker < workers picks the scratch tile.
func (q *QConv) RunF32(worker, p int, a []uint8, c []float32) {
	runQConv(q, p, a, c, q.tf[worker][:], 0)
}

// SetOutput sets the quantization of RunU8's output (the next int8
// layer's input); not safe while a run is in progress.
func (q *QConv) SetOutput(out QParams) {
	inv := 1 / out.Scale
	for i := range q.eps {
		q.eps[i].inv, q.eps[i].zero = inv, out.Zero
	}
}

// RunU8 is RunF32 with the output requantized with SetOutput's
// quantization: out.Quantize of each RunF32 value.
func (q *QConv) RunU8(worker, p int, a []uint8, c []uint8) {
	runQConv(q, p, a, c, q.tu[worker][:], 1)
}

// runQConv is RunF32 (u8 = 0) and RunU8 (u8 = 1): whole 6×16 tiles go
// straight to c, edge tiles through the worker's scratch tile.
func runQConv[T float32 | uint8](q *QConv, p int, a []uint8, c, tile []T, u8 int) {
	q.check(p, a, len(c))
	for ip := 0; ip < p; ip += qcNP {
		ap := &a[QConvIndex(q.K4, ip, 0)]
		np := min(qcNP, p-ip)
		for pan := range q.eps {
			o0 := pan * qcMC
			no := min(qcMC, q.O-o0)
			wp := &q.packed[pan*q.K4*4*qcMC]
			if np == qcNP && no == qcMC {
				q.kernel(q.K4, ap, wp, unsafe.Pointer(&c[o0*p+ip]), p, &q.eps[pan], u8)
				continue
			}
			q.kernel(q.K4, ap, wp, unsafe.Pointer(&tile[0]), qcNP, &q.eps[pan], u8)
			for o := range no {
				copy(c[(o0+o)*p+ip:][:np], tile[o*qcNP:][:np])
			}
		}
	}
}

func (q *QConv) check(p int, a []uint8, nc int) {
	if p <= 0 || len(a) < QConvALen(q.K4, p) || nc < q.O*p {
		panic(fmt.Sprintf("gemm: QConv: %d pixels, A %d bytes (want %d), C %d (want %d)", p, len(a), QConvALen(q.K4, p), nc, q.O*p))
	}
}

// qconvGeneric is the portable kernel: the same integer sums and the
// epilogue of QJob's generic path (emitSpatial) element by element.
func qconvGeneric(k4 int, a *uint8, w *int8, c unsafe.Pointer, ldc int, ep *qConvEp, u8 int) {
	as := unsafe.Slice(a, k4*4*qcNP)
	ws := unsafe.Slice(w, k4*4*qcMC)
	var acc [qcMC][qcNP]int32
	for g := range k4 {
		ag := as[g*4*qcNP : (g+1)*4*qcNP]
		wg := ws[g*4*qcMC : (g+1)*4*qcMC]
		for o := range qcMC {
			w0, w1, w2, w3 := int32(wg[o*4]), int32(wg[o*4+1]), int32(wg[o*4+2]), int32(wg[o*4+3])
			for i := range qcNP {
				acc[o][i] += int32(ag[i*4])*w0 + int32(ag[i*4+1])*w1 + int32(ag[i*4+2])*w2 + int32(ag[i*4+3])*w3
			}
		}
	}
	for o := range qcMC {
		zc, mult, bias := ep.zc[o], ep.mult[o], ep.bias[o]
		var row [qcNP]float32
		for i := range qcNP {
			// The explicit conversion rounds the product (no fused
			// multiply-add), as QJob's epilogues do.
			v := float32(float32(acc[o][i]-zc)*mult) + bias
			if ep.relu != 0 {
				v = max(v, 0) // as Activate
			}
			row[i] = v
		}
		if u8 != 0 {
			d := unsafe.Slice((*uint8)(unsafe.Add(c, o*ldc)), qcNP)
			for i, v := range row {
				d[i] = quantize1(v, ep.inv, ep.zero)
			}
		} else {
			copy(unsafe.Slice((*float32)(unsafe.Add(c, 4*o*ldc)), qcNP), row[:])
		}
	}
}
