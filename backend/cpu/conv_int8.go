// This file implements the int8 form of conv2d: when Options.Int8 holds
// the quantized form of a convolution's weight w [O, C, KH, KW] (one
// scale per output channel, rows of C·KH·KW), the convolution quantizes
// x to uint8 with the layer's calibrated activation scale into a copy
// of x with its padding (the padding holds the zero point, the real
// value 0) and multiplies with int32 accumulation; the epilogue
// dequantizes, adds the bias, applies the activation and writes NCHW, in
// float32 or, inside an int8 region, requantized for the next int8 layer
// (int8region.go). Samples are split into chunks spread over the pool;
// each worker has its own buffers, so a run allocates nothing.
//
// Channel-major (relu or no activation, the usual case): per sample,
// C = W·im2col(x) on a gemm.QConv (int8conv.go in gemm), so the output
// is written as whole NCHW rows with no transpose. The patches go
// straight into QConv's pixel panels: with unit dilation along the
// width, each kernel row gives ⌊KW/4⌋ groups of 4 contiguous input bytes
// (words) and the taps left over are gathered 4 to a group, so K is
// padded only to a multiple of 4 overall. With stride 1, 8 pixels of an
// output row are written at once in assembly (im2colHalfAVX2: one
// broadcast load and vpshufb per word; im2colHalf2AVX2 where the 8
// pixels cross a row), the others pixel by pixel in Go.
//
// Row-major (other activations): the patches are rows (im2col
// transposed: [OH·OW, K] per sample) run through a gemm.QJob against wᵀ
// that writes channel-major blocks. The rows are written straight into
// the QJob's packed layout; with unit dilation along the width, each
// kernel row of a channel is given a whole number of 4-byte k groups
// (K = C·KH·⌈KW/4⌉·4, the weights spread to match with zeros in
// between), otherwise taps are gathered one by one (K = C·KH·KW).

package cpu

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// convInt8 is conv2d (+ bias, activation) with an int8 weight.
type convInt8 struct {
	convGeom
	q      *Int8Linear
	conv   *ir.Value // the conv2d value (the step's may be its epilogue's)
	x, out *buffer
	bias   *buffer // per output channel, or nil (fuseInt8Epilogues)
	act    gemm.Activation
	xq     []uint8 // x quantized, N·C·H·W (+ slack)
	xp     []uint8 // xq with the padding: N·C·Hp·Wp (+ slack); xq itself without padding
	hp, wp int     // the padded height and width
	preq   bool    // xq is written by the int8 producer before this step
	toU8   bool    // write outU8 with outQ instead of out (an int8 region)
	outU8  []uint8
	outQ   gemm.QParams
	chunk  int          // samples per task
	tasks  int          // ⌈N/chunk⌉
	seg    int          // > 0: bytes per kernel row in A (a multiple of 4 ≥ KW)
	offs   []int32      // seg: per kernel row (c, kh), else per tap: its offset from a patch's corner in xp
	jobs   []*gemm.QJob // per worker
	// The channel-major path (relu or no activation), instead of jobs:
	qc     *gemm.QConv
	k4     int        // qc's 4-byte k groups
	words  []int32    // groups [0, len(words)): 4 contiguous bytes at this offset
	gather [][4]int32 // the next groups: 4 taps each (−1: a zero tap, left alone)
	reach  int        // bytes past a patch's corner that its reads cover
	flat   []int32    // gather flattened, zero taps at offset 0 (im2colHalf)
	reach8 int        // bytes past pixel 0's corner that im2colHalf reads
	abuf   [][]uint8  // per worker: one sample's patches in qc's A panels
	pool   *parallel.Pool
	quant  quantizeRange
	biasF  []float32 // the bias at this run
	outF   []float32
	planed bool
}

// int8ConvChannelMajor turns the channel-major path on (tests compare
// it with the row-major QJob path).
var int8ConvChannelMajor = true

// int8Im2colVector turns the assembly im2col on where the CPU has it
// (tests compare it with the Go one).
var int8Im2colVector = true

// xSlack is how far past x's end a kernel row's read may go (zeros:
// they meet zero weights).
const xSlack = 8

// int8Conv returns the int8 form of conv2d v's weight, or nil; a form
// that does not fit is an error.
func (c *compileCtx) int8Conv(v *ir.Value, g *convGeom) (*Int8Linear, error) {
	w := v.Args[1]
	if c.opts.Int8 == nil || w.Op != ir.OpInput {
		return nil, nil
	}
	q := c.opts.Int8[w.Name]
	if q == nil {
		return nil, nil
	}
	if g.G != 1 || q.W.K != g.ckk() || q.W.N != g.O {
		return nil, fmt.Errorf("cpu: int8 weight %s (%d×%d) does not fit conv2d %v of %v: the int8 path takes ungrouped convolutions, %d×%d", w.Name, q.W.N, q.W.K, v.Args[0].Type, w.Type, g.O, g.ckk())
	}
	return q, nil
}

func newConvInt8(c *compileCtx, v *ir.Value, g convGeom, q *Int8Linear) *convInt8 {
	k := &convInt8{convGeom: g, q: q, conv: v, x: c.buf(v.Args[0]), out: c.buf(v), pool: c.pool,
		xq: make([]uint8, g.N*g.C*g.H*g.W+xSlack), hp: g.H + 2*g.ph, wp: g.W + 2*g.pw}
	k.xp = k.xq
	if g.ph > 0 || g.pw > 0 {
		// The padding is written once: runs write the interior only.
		k.xp = make([]uint8, g.N*g.C*k.hp*k.wp+xSlack)
		for i := range k.xp[:len(k.xp)-xSlack] {
			k.xp[i] = uint8(q.In.Zero)
		}
	}
	if g.dw == 1 && g.KW <= 8 {
		k.seg = (g.KW + 3) / 4 * 4
	}
	// Chunks of about 64 KiB of packed rows: they stay in L2 from
	// im2col to the micro-kernel, and there are enough of them to
	// balance the pool.
	per := max(1, g.p()*g.ckk())
	k.chunk = max(1, min(g.N, (64<<10)/per))
	if c.pool.Size() > 1 {
		k.chunk = min(k.chunk, max(1, g.N/(2*c.pool.Size())))
	}
	k.tasks = (g.N + k.chunk - 1) / k.chunk
	return k
}

// plan allocates the per-worker buffers once the epilogue is final.
func (k *convInt8) plan() {
	if k.planed {
		return
	}
	k.planed = true
	w := k.q.W
	if k.seg > 0 {
		// Kernel row (c, kh) takes A columns [(c·KH+kh)·seg, +KW).
		w = w.Spread(k.C*k.KH*k.seg, func(p int) int { return p/k.KW*k.seg + p%k.KW })
		k.offs = make([]int32, k.C*k.KH)
		for c := range k.C {
			for kh := range k.KH {
				k.offs[c*k.KH+kh] = int32((c*k.hp + kh*k.dh) * k.wp)
			}
		}
	}
	workers := k.pool.Size()
	P := k.p()
	if k.toU8 && k.outU8 == nil {
		k.outU8 = make([]uint8, k.N*k.O*P)
	}
	if int8ConvChannelMajor && gemm.QConvSupports(k.act) {
		k.planChannelMajor(workers)
		return
	}
	k.jobs = make([]*gemm.QJob, workers)
	for i := range workers {
		j := gemm.NewQJob(k.chunk*P, k.q.In, w, nil, k.act, P)
		j.Serial = true
		k.jobs[i] = j
	}
	if k.seg == 0 {
		k.offs = make([]int32, k.jobs[0].K4()*4)
		for c := range k.C {
			for kh := range k.KH {
				for kw := range k.KW {
					k.offs[(c*k.KH+kh)*k.KW+kw] = int32((c*k.hp+kh*k.dh)*k.wp + kw*k.dw)
				}
			}
		}
	}
}

// planChannelMajor lays the taps out in 4-byte k groups: with unit
// dilation along the width, each kernel row (c, kh) gives ⌊KW/4⌋ groups
// of 4 contiguous input bytes (one 32-bit move per pixel), and the taps
// left over (KW mod 4 per kernel row, all of them otherwise) are
// gathered 4 to a group. K is padded only to a multiple of 4 overall
// (LeNet's 5×5 kernels: 25 taps in 7 groups, 150 in 38), so no product
// is spent on padding inside the kernel rows.
func (k *convInt8) planChannelMajor(workers int) {
	var taps []int // row of the weight per slot, −1: zero
	var offs []int32
	q4 := 0
	if k.dw == 1 {
		q4 = k.KW / 4
	}
	for c := range k.C {
		for kh := range k.KH {
			for q := range q4 {
				k.words = append(k.words, int32((c*k.hp+kh*k.dh)*k.wp+4*q))
				for b := range 4 {
					taps = append(taps, (c*k.KH+kh)*k.KW+4*q+b)
				}
			}
		}
	}
	var rest []int
	for c := range k.C {
		for kh := range k.KH {
			for kw := 4 * q4; kw < k.KW; kw++ {
				rest = append(rest, (c*k.KH+kh)*k.KW+kw)
				offs = append(offs, int32((c*k.hp+kh*k.dh)*k.wp+kw*k.dw))
			}
		}
	}
	for len(rest)%4 != 0 {
		rest = append(rest, -1)
		offs = append(offs, -1)
	}
	for g := range len(rest) / 4 {
		k.gather = append(k.gather, [4]int32(offs[g*4:g*4+4]))
	}
	taps = append(taps, rest...)
	for _, o := range k.words {
		k.reach = max(k.reach, int(o)+4)
	}
	for _, o := range offs {
		k.reach = max(k.reach, int(o)+1)
		k.flat = append(k.flat, max(o, 0))
		k.reach8 = max(k.reach8, int(o)+8)
	}
	for _, o := range k.words {
		k.reach8 = max(k.reach8, int(o)+16)
	}
	k.k4 = len(taps) / 4
	k.qc = gemm.NewQConv(k.q.W, k.k4, func(g, b int) int { return taps[g*4+b] }, k.q.In, k.act, workers)
	k.abuf = make([][]uint8, workers)
	for i := range k.abuf {
		k.abuf[i] = make([]uint8, gemm.QConvALen(k.k4, k.p()))
	}
}

// input is the quantized input a producer writes (int8region.go).
func (k *convInt8) input() ([]uint8, gemm.QParams, bool) {
	return k.xq[:len(k.xq)-xSlack], k.q.In, k.preq
}

func (k *convInt8) run() error {
	k.plan()
	n := len(k.xq) - xSlack
	if !k.preq {
		k.quant = quantizeRange{x: f32s(k.x)[:n], xq: k.xq, q: k.q.In}
		parFor(k.pool, n, 1, &k.quant)
		k.quant.x = nil
	}
	if len(k.xp) != len(k.xq) {
		// Rows into the padded copy.
		for r := range k.N * k.C * k.H {
			pl, h := r/k.H, r%k.H
			copy(k.xp[(pl*k.hp+h+k.ph)*k.wp+k.pw:][:k.W], k.xq[r*k.W:][:k.W])
		}
	}
	k.biasF, k.outF = nil, nil
	if k.bias != nil {
		k.biasF = f32s(k.bias)
	}
	if !k.toU8 {
		k.outF = f32s(k.out)
	}
	if k.qc != nil {
		k.qc.SetBias(k.biasF)
		if k.toU8 {
			k.qc.SetOutput(k.outQ)
		}
	}
	if k.tasks == 1 {
		k.RangeWorker(0, 0, 1)
	} else {
		k.pool.Tasks(k.tasks, k)
	}
	k.biasF, k.outF = nil, nil
	return nil
}

// RangeWorker runs chunk t of the samples on worker w's job: the patch
// rows go straight into the job's packed A.
func (k *convInt8) RangeWorker(w, t, _ int) {
	n0, n1 := t*k.chunk, min(k.N, (t+1)*k.chunk)
	P, CHW, OP := k.p(), k.C*k.hp*k.wp, k.O*k.p()
	if k.qc != nil {
		a := k.abuf[w]
		for n := n0; n < n1; n++ {
			k.im2colChannelMajor(a, k.xp[n*CHW:])
			if k.toU8 {
				k.qc.RunU8(w, P, a, k.outU8[n*OP:(n+1)*OP])
			} else {
				k.qc.RunF32(w, P, a, k.outF[n*OP:(n+1)*OP])
			}
		}
		return
	}
	j := k.jobs[w]
	for n := n0; n < n1; n++ {
		k.im2colPacked(j, (n-n0)*P, k.xp[n*CHW:])
	}
	j.Bias = k.biasF
	m := (n1 - n0) * P
	if k.toU8 {
		j.RunPackedU8(m, k.outQ, k.outU8[n0*OP:n1*OP], 0)
	} else {
		j.RunPackedF32(m, k.outF[n0*OP:n1*OP], 0)
	}
	j.Bias = nil
}

// im2colPacked writes the patches of one sample x (uint8, padded NCHW,
// followed by at least xSlack bytes) as rows i0… of j's packed A (row
// oh·OW+ow). With seg, kernel row r's KW bytes (and the bytes after
// them, which meet zero weights) are seg bytes read from x at offs[r]
// and stored as seg/4 k groups (unaligned 4-byte moves); otherwise each
// k group gathers 4 taps at offs (the k values past C·KH·KW read x's
// first byte, and meet zero weights too).
func (k *convInt8) im2colPacked(j *gemm.QJob, i0 int, x []uint8) {
	dst := j.PackedA()
	offs := k.offs
	// The bounds of every access below, checked once: the last pixel's
	// reads (8 bytes from its last offset) and the last row's k groups.
	lastX := ((k.OH-1)*k.sh*k.wp + (k.OW-1)*k.sw) + int(slices.Max(offs)) + xSlack
	lastD := j.PackedIndex(i0+k.OH*k.OW-1, j.K4()-1) + 4
	if lastX > len(x) || lastD > len(dst) {
		panic(fmt.Sprintf("cpu: int8 im2col out of bounds: x %d of %d, A %d of %d", lastX, len(x), lastD, len(dst)))
	}
	xb, db := unsafe.Pointer(&x[0]), unsafe.Pointer(&dst[0])
	for oh := range k.OH {
		for ow := range k.OW {
			dp := unsafe.Add(db, j.PackedIndex(i0+oh*k.OW+ow, 0))
			xp := unsafe.Add(xb, oh*k.sh*k.wp+ow*k.sw)
			switch k.seg {
			case 4:
				for r, o := range offs {
					*(*uint32)(unsafe.Add(dp, 16*r)) = *(*uint32)(unsafe.Add(xp, o))
				}
			case 8:
				for r, o := range offs {
					// 4-byte moves: byte order does not matter.
					*(*uint32)(unsafe.Add(dp, 32*r)) = *(*uint32)(unsafe.Add(xp, o))
					*(*uint32)(unsafe.Add(dp, 32*r+16)) = *(*uint32)(unsafe.Add(xp, o+4))
				}
			default:
				xc := x[oh*k.sh*k.wp+ow*k.sw:]
				for g := range len(offs) / 4 {
					o := offs[g*4 : g*4+4]
					d := (*[4]uint8)(unsafe.Add(dp, 16*g))
					d[0], d[1], d[2], d[3] = xc[o[0]], xc[o[1]], xc[o[2]], xc[o[3]]
				}
			}
		}
	}
}

// im2colChannelMajor writes the patches of one sample x (uint8, padded
// NCHW) into qc's A panels a: pixel oh·OW+ow, group g at
// QConvIndex(k4, pixel, g); words first, then the gathered taps.
func (k *convInt8) im2colChannelMajor(a []uint8, x []uint8) {
	lastX := (k.OH-1)*k.sh*k.wp + (k.OW-1)*k.sw + k.reach
	if lastX > len(x) || gemm.QConvALen(k.k4, k.p()) > len(a) {
		panic(fmt.Sprintf("cpu: int8 im2col out of bounds: x %d of %d, A %d of %d", lastX, len(x), gemm.QConvALen(k.k4, k.p()), len(a)))
	}
	xb, ab := unsafe.Pointer(&x[0]), unsafe.Pointer(&a[0])
	P := k.p()
	if hasIm2colHalf && int8Im2colVector && k.sw == 1 && k.OW >= 8 && (k.OH-1)*k.sh*k.wp+k.OW-8+k.reach8 <= len(x) {
		// Eight pixels of one output row at a time (stride 1), the
		// rest pixel by pixel.
		for i0 := 0; i0 < P; i0 += 8 {
			oh, ow := i0/k.OW, i0%k.OW
			dst, src := (*uint8)(unsafe.Add(ab, gemm.QConvIndex(k.k4, i0, 0))), unsafe.Add(xb, oh*k.sh*k.wp+ow)
			if ow+8 <= k.OW && i0+8 <= P {
				im2colHalf(dst, (*uint8)(src), k.words, k.flat)
				continue
			}
			if n1 := k.OW - ow; i0+8 <= P && 8-n1 <= k.OW {
				// The first n1 pixels end row oh, the others start
				// row oh+1: pixel p of those is at (oh+1, p−n1).
				src2 := unsafe.Add(xb, (oh+1)*k.sh*k.wp-n1)
				im2colHalf2(dst, (*uint8)(src), (*uint8)(src2), k.words, k.flat, n1)
				continue
			}
			for i := i0; i < min(i0+8, P); i++ {
				k.im2colPixel(ab, xb, i)
			}
		}
		return
	}
	for i := range P {
		k.im2colPixel(ab, xb, i)
	}
}

// im2colPixel writes pixel i's patch: words, then the gathered taps.
func (k *convInt8) im2colPixel(ab, xb unsafe.Pointer, i int) {
	nw := len(k.words)
	oh, ow := i/k.OW, i%k.OW
	dp := unsafe.Add(ab, gemm.QConvIndex(k.k4, i, 0))
	xp := unsafe.Add(xb, oh*k.sh*k.wp+ow*k.sw)
	for g, o := range k.words {
		*(*uint32)(unsafe.Add(dp, 64*g)) = *(*uint32)(unsafe.Add(xp, o))
	}
	for g, t := range k.gather {
		d := (*[4]uint8)(unsafe.Add(dp, 64*(nw+g)))
		for b, o := range t {
			if o >= 0 {
				d[b] = *(*uint8)(unsafe.Add(xp, o))
			}
		}
	}
}
