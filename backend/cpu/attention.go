// This file implements the fused attention kernel and the two halves of
// its backward.

package cpu

import (
	"math"
	"slices"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildAttention, ir.OpAttention, ir.OpAttentionBackward)
	register(buildAttentionProduct, ir.OpAttentionBackwardProduct)
}

// attentionKernel computes softmax(q·kᵀ·scale, masked) v (forward), or
// attention_backward's weights and score gradients, one item (one head
// of one sequence) at a time: its Tq×Tk weights stay in cache between
// small GEMMs that read and write the item's rows where they are
// (strided heads with bthd). The forward keeps nothing of size Tq×Tk,
// unless a backward is linked to it (saved).
type attentionKernel struct {
	g             ir.AttentionGeometry
	scale         float32
	backward      bool
	q, k, v, mask *buffer     // mask may be nil
	dy, out       *buffer     // dy: backward only
	scratch       [][]float32 // forward: per worker, tq×tk
	tiles         []attnTiles // per worker
	pool          *parallel.Pool

	// saved, when not nil, holds every item's weights (n·tq·tk floats):
	// the forward writes them there, and the attention_backward linked to
	// it (shareAttentionWeights) reads them instead of computing them.
	saved []float32

	// prods, when not empty (a backward whose every use is one of these
	// products: shareAttentionProducts), are the products this backward
	// computes item by item while the item's weights and score gradients
	// are in cache, into each product's side buffer (from), instead of
	// writing [p | ds]; ds holds one item's score gradients per worker
	// (tq×tk), scratch its weights where they are not saved.
	prods []*attentionProduct
	ds    [][]float32
}

func buildAttention(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, unsupported(v, v.Type)
	}
	a := &attentionKernel{g: ir.AttentionGeometryOf(v),
		q: c.buf(v.Args[0]), k: c.buf(v.Args[1]), v: c.buf(v.Args[2]), out: c.buf(v), pool: c.pool}
	a.tiles = newAttnTiles(&a.g, c.pool.Size())
	masks := v.Args[3:]
	switch at := v.Aux.(type) {
	case ir.AttentionAttr:
		a.scale = float32(at.Scale)
		a.scratch = make([][]float32, c.pool.Size())
		for i := range a.scratch {
			a.scratch[i] = make([]float32, a.g.Tq*a.g.Tk)
		}
	case ir.AttentionBackwardAttr:
		a.scale, a.backward = float32(at.Scale), true
		a.dy = c.buf(v.Args[3])
		masks = v.Args[4:]
		a.packScratch()
	}
	if len(masks) == 1 {
		a.mask = c.buf(masks[0])
	}
	return a, nil
}

func (a *attentionKernel) run() error {
	a.pool.ForWorker(a.g.N, 1, a)
	return nil
}

// weights writes item n's attention weights into p (Tq rows of Tk, ldp
// apart) and returns the item's key mask row (nil without a mask).
//
// With t (simdOn), the products run on attention's own tile kernels.
func (a *attentionKernel) weights(t *attnTiles, n int, q, k []float32, p []float32, ldp int) []uint8 {
	g := &a.g
	tq, tk, dh := g.Tq, g.Tk, g.Dh
	if t != nil {
		// (scale·q)·kᵀ as gemm computes it: q scaled, then the FMA chains.
		sq, kt := t.a[:tq*dh], t.bt[:dh*tk]
		qs, ks := q[g.Row(n, 0, tq, dh):], k[g.Row(n, 0, tk, dh):]
		if dh >= 8 && tq > 0 {
			// One call for the item's rows, copied and scaled (64
			// copies of 32 floats took longer than the scale; a copy
			// then a scale took 0.43 µs at W5's shape, this 0.21:
			// BenchmarkAttentionW5Parts).
			_ = qs[(tq-1)*g.Stride(dh)+dh-1]
			copyScaleRowsAVX2(&sq[0], &qs[0], tq, dh, dh, g.Stride(dh), a.scale)
		} else {
			for i := range tq {
				copy(sq[i*dh:][:dh], qs[i*g.Stride(dh):][:dh])
			}
			scaleF32(sq, a.scale)
		}
		gemm.Transpose(tk, dh, ks, g.Stride(dh), kt, tk)
		t.product(tq, tk, dh, sq, dh, false, kt, tk, p, ldp)
	} else {
		gemm.Sgemm(false, true, tq, tk, dh, a.scale, q[g.Row(n, 0, tq, dh):], g.Stride(dh), k[g.Row(n, 0, tk, dh):], g.Stride(dh), 0, p, ldp)
	}
	m := a.maskRow(n)
	for i := range tq {
		row := p[i*ldp:][:tk]
		for j, keep := range m {
			if keep == 0 {
				row[j] = -1e9
			}
		}
	}
	softmaxRows(p, ldp, tq, tk)
	return m
}

// softmaxRows replaces each of the tq rows of tk scores in p (ldp apart)
// by its softmax: the row's max m, exp(x - m), and the exps times one
// over their float32 sum.
func softmaxRows(p []float32, ldp, tq, tk int) {
	if tq <= 0 || tk <= 0 {
		return
	}
	if simdOn && attnSoftmaxOn && tk%8 == 0 {
		// One call for the item's rows (per-row calls were half of the
		// softmax's time at tk = 64), the bits of the loops below.
		_ = p[(tq-1)*ldp+tk-1]
		softmaxRowsAVX2(&p[0], ldp, tq, tk, &expConsts, &expConstsVec)
		return
	}
	i := 0
	if simdOn && tk >= 8 {
		// Two rows at a time: the exps of a row of 64 alone wait on
		// their own latency (softmax was 29% of the forward).
		for ; i+2 <= tq; i += 2 {
			r0, r1 := p[i*ldp:][:tk], p[(i+1)*ldp:][:tk]
			s0, s1 := expSum2(r0, r0, r1, r1, maxF32(r0), maxF32(r1))
			scaleF32(r0, 1/s0)
			scaleF32(r1, 1/s1)
		}
	}
	for ; i < tq; i++ {
		row := p[i*ldp:][:tk]
		mx := maxF32(row)
		scaleF32(row, 1/expSum(row, row, mx))
	}
}

// expConstsVec holds expConsts broadcast to eight lanes, for the vector
// operands of softmaxRowsAVX2.
var expConstsVec = func() (v [16][8]float32) {
	for i, c := range expConsts {
		for j := range v[i] {
			v[i][j] = c
		}
	}
	return v
}()

// attnSoftmaxOn selects softmaxRowsAVX2 where simdOn (tests turn it off
// to compare with the per-row steps).
var attnSoftmaxOn = true

// maskRow returns item n's key mask row (nil without a mask).
func (a *attentionKernel) maskRow(n int) []uint8 {
	if a.mask == nil {
		return nil
	}
	return view[uint8](a.mask)[(n/a.g.Heads)*a.g.Tk:][:a.g.Tk]
}

func (a *attentionKernel) RangeWorker(w, lo, hi int) {
	q, k, v, o := f32s(a.q), f32s(a.k), f32s(a.v), f32s(a.out)
	g := &a.g
	tq, tk, dv := g.Tq, g.Tk, g.Dv
	var t *attnTiles
	if simdOn && attnTilesOn {
		t = &a.tiles[w]
	}
	for n := lo; n < hi; n++ {
		if n+1 < hi {
			a.prefetch(n + 1)
		}
		if !a.backward {
			p := a.scratch[w]
			if a.saved != nil {
				p = a.saved[n*tq*tk:][:tq*tk]
			}
			a.weights(t, n, q, k, p, tk)
			vs, os := v[g.Row(n, 0, tk, dv):], o[g.Row(n, 0, tq, dv):]
			if t != nil {
				t.product(tq, dv, tk, p, tk, false, vs, g.Stride(dv), os, g.Stride(dv))
			} else {
				gemm.Sgemm(false, false, tq, dv, tk, 1, p, tk, vs, g.Stride(dv), 0, os, g.Stride(dv))
			}
			continue
		}
		if len(a.prods) > 0 {
			// The item's p (saved or computed) and ds in scratch, ld tk,
			// then its linked products, from them.
			var p []float32
			var m []uint8
			if a.saved != nil {
				p, m = a.saved[n*tq*tk:][:tq*tk], a.maskRow(n)
			} else {
				p = a.scratch[w]
				m = a.weights(t, n, q, k, p, tk)
			}
			ds := a.ds[w]
			a.scores(t, n, p, ds, tk, m, a.saved != nil)
			for _, pr := range a.prods {
				xr, d := pr.operandRows()
				xs, ldx := f32s(a.x(pr))[g.Row(n, 0, xr, d):], g.Stride(d)
				if pr.wrt == 2 && t != nil && a.packDy() {
					xs, ldx = t.dy[:xr*d], d // copied by scores
				} else if t != nil && attnPackOn && ldx != d && d >= 8 {
					// Strided head rows (bthd) as B, read once per
					// 16-column tile of every 6 rows of the product: the
					// item's rows of all operands fall in the same few
					// L1 sets (a power-of-two stride), so they are read
					// from L2 unless copied together first.
					_ = xs[(xr-1)*ldx+d-1]
					copyRowsAVX2(&t.x[0], &xs[0], xr, d, d, ldx)
					xs, ldx = t.x[:xr*d], d
				}
				pr.item(t, n, p, ds, tk, xs, ldx, pr.dst())
			}
			continue
		}
		// Rows of [p | ds]: p, then dp = dy vᵀ beside it, then ds = p ⊙
		// (dp − Σ dp ⊙ p)·scale in place of dp, 0 at masked keys.
		wi := o[n*tq*2*tk:][:tq*2*tk]
		var m []uint8
		if a.saved != nil {
			sp := a.saved[n*tq*tk:][:tq*tk]
			for i := range tq {
				copy(wi[i*2*tk:][:tk], sp[i*tk:][:tk])
			}
			m = a.maskRow(n)
		} else {
			m = a.weights(t, n, q, k, wi, 2*tk)
		}
		a.scores(t, n, wi, wi[tk:], 2*tk, m, false)
	}
}

// attnPrefetchOps enables attentionKernel.prefetch (the next item's head
// rows), attnPrefetchSaved the backward's prefetch of an item's saved
// weights, a quarter of them before each quarter of dp (scores);
// benchmarks turn them off to compare. 256 prefetches of the next item's
// weights at the start of an item made the W5-shaped backward ~0.5 µs per
// item slower; spread over dp's product they gain 0–0.4 µs in the median
// of alternated passes (BenchmarkAttentionW5PrefetchSaved, where the
// weights stay in L3; in a step they come from memory).
var attnPrefetchOps, attnPrefetchSaved = true, true

// prefetch asks for item n's operand rows where simdOn.
func (a *attentionKernel) prefetch(n int) {
	g := &a.g
	if !simdOn || g.Tq == 0 || g.Tk == 0 || g.Dh == 0 || g.Dv == 0 {
		return
	}
	if !attnPrefetchOps {
		return
	}
	rows := func(b *buffer, t, d int) {
		x := f32s(b)[g.Row(n, 0, t, d):]
		_ = x[(t-1)*g.Stride(d)+d-1]
		prefetchRows(&x[0], t, g.Stride(d), d)
	}
	rows(a.q, g.Tq, g.Dh)
	rows(a.k, g.Tk, g.Dh)
	rows(a.v, g.Tk, g.Dv)
	if a.backward {
		rows(a.dy, g.Tq, g.Dv)
	}
}

// x returns the operand of the linked product pr: k for dq, q for dk, dy
// for dv (shareAttentionProducts links only these).
func (a *attentionKernel) x(pr *attentionProduct) *buffer {
	switch pr.wrt {
	case 0:
		return a.k
	case 1:
		return a.q
	}
	return a.dy
}

// scores writes item n's score gradients into ds given its weights p
// (both tq rows of tk, ld apart; cold: kept by the forward, not in cache)
// and key mask row m: dp = dy vᵀ, then ds = p ⊙ (dp − Σ dp ⊙ p)·scale in
// place of dp, 0 at masked keys.
func (a *attentionKernel) scores(t *attnTiles, n int, p, ds []float32, ld int, m []uint8, cold bool) {
	g := &a.g
	tq, tk, dv := g.Tq, g.Tk, g.Dv
	dys, vs := f32s(a.dy)[g.Row(n, 0, tq, dv):], f32s(a.v)[g.Row(n, 0, tk, dv):]
	if t != nil {
		vt := t.bt[:dv*tk]
		gemm.Transpose(tk, dv, vs, g.Stride(dv), vt, tk)
		lddy := g.Stride(dv)
		if a.packDy() {
			// dy's rows together (see packDy), read by every column tile
			// here and by a linked dv product after.
			_ = dys[(tq-1)*lddy+dv-1]
			copyRowsAVX2(&t.dy[0], &dys[0], tq, dv, dv, lddy)
			dys, lddy = t.dy[:tq*dv], dv
		}
		if cold && attnPrefetchSaved && tk%(4*attnNR) == 0 {
			// p, from the forward, is not in cache: a quarter of its
			// rows asked for before each quarter of dp's columns (all
			// at once at the start, or an item ahead, took longer).
			q4 := tk / 4
			for c := range 4 {
				if r0, r1 := c*tq/4, (c+1)*tq/4; r1 > r0 {
					prefetchRows(&p[r0*ld], r1-r0, ld, tk)
				}
				t.product(tq, q4, dv, dys, lddy, false, vt[c*q4:], tk, ds[c*q4:], ld)
			}
		} else {
			t.product(tq, tk, dv, dys, lddy, false, vt, tk, ds, ld)
		}
	} else {
		gemm.Sgemm(false, true, tq, tk, dv, 1, dys, g.Stride(dv), vs, g.Stride(dv), 0, ds, ld)
	}
	vec := t != nil && tk%8 == 0
	if vec {
		attnDsAVX2(&p[0], &ds[0], ld, tq, tk, a.scale)
	}
	for i := 0; i < tq; i++ {
		pr, dr := p[i*ld:][:tk], ds[i*ld:][:tk]
		if !vec {
			dot := dotF32(dr, pr)
			for j, e := range dr {
				dr[j] = pr[j] * (e - dot) * a.scale
			}
		}
		for j, keep := range m {
			if keep == 0 {
				dr[j] = 0
			}
		}
	}
}

// attnShareOn enables shareAttentionWeights (tests turn it off to
// compare).
var attnShareOn = true

// attnSaveMax is the most weights (floats) a forward keeps for its
// backward: 32 MiB.
const attnSaveMax = 8 << 20

// shareAttentionWeights links each attention_backward to an attention
// forward on the same q, k, mask, scale and geometry that it depends on
// (its dy is computed from the forward's result, so every schedule runs
// the forward first): the forward then keeps its weights in a buffer of
// their own (n·tq·tk floats, outside the memory plan, so nothing between
// the two overwrites them), and the backward copies them instead of
// computing q·kᵀ and the softmax again. q and k are the backward's
// arguments, so they are live and unchanged until it runs; the weights
// are those the backward would compute, bit for bit. A forward whose
// weights exceed attnSaveMax floats is not linked (long sequences: the
// memory grows with tq·tk per layer, as PyTorch's saved softmax does).
func (p *Program) shareAttentionWeights() {
	if !attnShareOn {
		return
	}
	type key struct {
		q, k, mask *ir.Value
		scale      float32
		g          ir.AttentionGeometry
	}
	type forward struct {
		v *ir.Value
		a *attentionKernel
	}
	fwd := map[key]forward{}
	for _, s := range p.steps {
		a, ok := s.k.(*attentionKernel)
		if !ok {
			continue
		}
		masks := s.v.Args[3:]
		if a.backward {
			masks = s.v.Args[4:]
		}
		kk := key{q: s.v.Args[0], k: s.v.Args[1], scale: a.scale, g: a.g}
		if len(masks) == 1 {
			kk.mask = masks[0]
		}
		if !a.backward {
			fwd[kk] = forward{s.v, a}
			continue
		}
		f, ok := fwd[kk]
		if !ok || a.g.N*a.g.Tq*a.g.Tk > attnSaveMax || !dependsOn(s.v.Args[3], f.v) {
			continue
		}
		if f.a.saved == nil {
			f.a.saved = make([]float32, a.g.N*a.g.Tq*a.g.Tk)
		}
		a.saved = f.a.saved
	}
}

// attnProductsOn enables shareAttentionProducts (tests turn it off to
// compare).
var attnProductsOn = true

// shareAttentionProducts links each attention_backward whose every use
// is an attention_backward_product of it (at most one per gradient, each
// on the backward's own operand: k for dq, q for dk, dy for dv), and
// which is not a graph output, to those products: the backward then
// computes them item by item while the item's weights and score
// gradients are in cache (one pass over the items instead of four, and
// the n·tq·2tk floats of [p | ds] are neither written nor read again),
// each into a buffer of the product's own outside the memory plan, which
// the product copies into its result when it runs. The operands are the
// backward's arguments, live and unchanged until it has run; the
// products are the same tile products on the same values, so the
// results are the unlinked ones, bit for bit.
func (p *Program) shareAttentionProducts() {
	if !attnProductsOn {
		return
	}
	uses := map[*ir.Value]int{}
	for _, v := range p.g.Values {
		for _, a := range v.Args {
			uses[a]++
		}
	}
	for _, o := range p.g.Outputs {
		uses[o.Value]++
	}
	type product struct {
		v *ir.Value
		k *attentionProduct
	}
	prods := map[*ir.Value][]product{}
	for _, s := range p.steps {
		if pr, ok := s.k.(*attentionProduct); ok {
			prods[s.v.Args[0]] = append(prods[s.v.Args[0]], product{s.v, pr})
		}
	}
	for _, s := range p.steps {
		a, ok := s.k.(*attentionKernel)
		if !ok || !a.backward {
			continue
		}
		ps := prods[s.v]
		if len(ps) == 0 || len(ps) != uses[s.v] || a.g.Tq*a.g.Tk == 0 {
			continue
		}
		var wrt [3]bool
		fits := true
		for _, pr := range ps {
			// The operand each gradient needs: k, q or dy (argument 1,
			// 0 or 3 of the backward), with its head size.
			arg, d := [3]int{1, 0, 3}[pr.k.wrt], a.g.Dh
			if pr.k.wrt == 2 {
				d = a.g.Dv
			}
			g := pr.k.g
			if wrt[pr.k.wrt] || pr.v.Args[1] != s.v.Args[arg] || g.N != a.g.N || g.Tq != a.g.Tq || g.Tk != a.g.Tk ||
				g.Heads != a.g.Heads || g.BTHD != a.g.BTHD || g.Dh != d || pr.k.out.n == 0 {
				fits = false
				break
			}
			wrt[pr.k.wrt] = true
		}
		if !fits {
			continue
		}
		a.prods = a.prods[:0]
		for _, pr := range ps {
			pr.k.from = make([]float32, pr.k.out.n)
			a.prods = append(a.prods, pr.k)
			if attnDirectOn && p.ownsBuffer(pr.v) {
				// The product's result lives in from: the backward
				// writes it there and the product has nothing to do.
				pr.k.direct = true
				pr.k.out.p = unsafe.Pointer(&pr.k.from[0])
				p.slots = slices.DeleteFunc(p.slots, func(s arenaSlot) bool { return s.b == pr.k.out })
			}
		}
		a.packScratch()
		a.ds = make([][]float32, len(a.tiles))
		for i := range a.ds {
			a.ds[i] = make([]float32, a.g.Tq*a.g.Tk)
			if a.saved == nil {
				a.scratch = append(a.scratch, make([]float32, a.g.Tq*a.g.Tk))
			}
		}
	}
}

// attnDirectOn lets shareAttentionProducts move a linked product's
// result out of the arena (tests turn it off to compare).
var attnDirectOn = true

// ownsBuffer reports whether v's buffer is its own arena slot: not
// another value's storage (an alias, a result computed in place or a
// fused ReLU's), so that moving it moves v and the values stored in v
// alone. Moving it out of the arena is then safe for a value whose every
// writer runs before its readers within a run (attention's backward and
// its product are barriers to stageSteps, and the product's readers
// depend on it): nothing else holds the new storage, where the arena's
// slot is reused by values whose lifetimes do not meet v's.
func (p *Program) ownsBuffer(v *ir.Value) bool {
	_, placed := p.plan.Offset[v]
	_, inPlace := p.plan.InPlace[v]
	_, relu := p.reluInto[v]
	return placed && !inPlace && !relu && p.plan.Alias[v] == nil && p.bufs[v] != nil && p.bufs[v].n > 0
}

// dependsOn reports whether v is u or computed from it.
func dependsOn(v, u *ir.Value) bool {
	seen := map[*ir.Value]bool{}
	stack := []*ir.Value{v}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x == u {
			return true
		}
		if seen[x] {
			continue
		}
		seen[x] = true
		stack = append(stack, x.Args...)
	}
	return false
}

// attentionProduct computes dq = ds·k, dk = dsᵀ·q or dv = pᵀ·dy from
// attention_backward's w, one small GEMM per item, reading x and writing
// the result in place (strided heads with bthd).
type attentionProduct struct {
	g     ir.AttentionGeometry
	wrt   int
	w, x  *buffer
	out   *buffer
	pool  *parallel.Pool
	tiles []attnTiles // per worker

	// from, when not nil, holds the result, which the attention_backward
	// linked to this product (shareAttentionProducts) computed; the
	// product copies it into its buffer (from is outside the memory plan,
	// so nothing between the two overwrites it), unless direct: then
	// from is the product's buffer (out.p), which the backward writes,
	// and the product does nothing (the copy was ~50 µs of two cores per product in W4/W5).
	from   []float32
	direct bool
}

// dst returns where the linked attention_backward writes the product's
// result: its buffer where direct, else from.
func (a *attentionProduct) dst() []float32 {
	if a.direct {
		return f32s(a.out)
	}
	return a.from
}

func buildAttentionProduct(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, unsupported(v, v.Type)
	}
	a := &attentionProduct{g: ir.AttentionGeometryOf(v), wrt: v.Aux.(ir.AttentionProductAttr).Wrt,
		w: c.buf(v.Args[0]), x: c.buf(v.Args[1]), out: c.buf(v), pool: c.pool}
	a.tiles = newAttnTiles(&a.g, c.pool.Size())
	return a, nil
}

func (a *attentionProduct) run() error {
	if a.direct {
		return nil
	}
	if a.from != nil {
		// Computed by the linked attention_backward: copied in blocks
		// over the pool.
		parFor(a.pool, (a.out.n+attnCopyBlock-1)/attnCopyBlock, attnCopyBlock, a)
		return nil
	}
	// As parFor: a job too small to pay for waking parked helpers runs
	// on the caller (worker 0's scratch: kernels run one at a time).
	if work := a.g.N * a.g.Tq * a.g.Tk * a.g.Dh; a.g.N == 1 || work < parMinWork || work < parWakeWork && a.pool.Parked() {
		a.RangeWorker(0, 0, a.g.N)
		return nil
	}
	a.pool.ForWorker(a.g.N, 1, a)
	return nil
}

// attnCopyBlock is the number of elements of a linked product's result
// one item of its copy moves.
const attnCopyBlock = 4096

// Range copies blocks lo to hi of a linked product's result from its
// side buffer.
func (a *attentionProduct) Range(lo, hi int) {
	lo, hi = lo*attnCopyBlock, min(hi*attnCopyBlock, a.out.n)
	copy(f32s(a.out)[lo:hi], a.from[lo:hi])
}

func (a *attentionProduct) RangeWorker(wk, lo, hi int) {
	w, x, o := f32s(a.w), f32s(a.x), f32s(a.out)
	g := &a.g
	tq, tk := g.Tq, g.Tk
	var t *attnTiles
	if simdOn && attnTilesOn {
		t = &a.tiles[wk]
	}
	xr, d := a.operandRows()
	for n := lo; n < hi; n++ {
		wi := w[n*tq*2*tk:]
		a.item(t, n, wi, wi[tk:], 2*tk, x[g.Row(n, 0, xr, d):], g.Stride(d), o)
	}
}

// operandRows returns the number of rows of one item of the product's
// operand x (tk for dq's k, tq for dk's q and dv's dy) and their size.
func (a *attentionProduct) operandRows() (rows, d int) {
	if a.wrt == 0 {
		return a.g.Tk, a.g.Dh
	}
	return a.g.Tq, a.g.Dh
}

// packDy reports whether scores copies the item's rows of dy together
// before dp = dy·vᵀ reads them (tile kernels on strided heads of at least
// 8): the product reads them once per 16 columns of dp.
func (a *attentionKernel) packDy() bool {
	return simdOn && attnTilesOn && attnPackOn && a.g.BTHD && a.g.Heads > 1 && a.g.Dv >= 8 && a.g.Tq > 0
}

// attnPackOn lets the linked backward copy its products' strided operand
// rows together before the product (tests and benchmarks turn it off to
// compare; the products are the same bits either way).
var attnPackOn = true

// item computes item n's product into o from its weights p and score
// gradients ds (tq rows of tk, ld apart) and the item's rows of x (ldx
// apart), with the tile kernels where t is not nil, else with
// gemm.Sgemm (the same bits for tq, tk ≤ 256).
func (a *attentionProduct) item(t *attnTiles, n int, p, ds []float32, ld int, x []float32, ldx int, o []float32) {
	g := &a.g
	tq, tk, d := g.Tq, g.Tk, g.Dh
	if t != nil {
		switch a.wrt {
		case 0: // dq = ds k
			t.product(tq, d, tk, ds, ld, false, x, ldx, o[g.Row(n, 0, tq, d):], g.Stride(d))
		case 1: // dk = dsᵀ q
			t.product(tk, d, tq, ds, ld, true, x, ldx, o[g.Row(n, 0, tk, d):], g.Stride(d))
		default: // dv = pᵀ dy
			t.product(tk, d, tq, p, ld, true, x, ldx, o[g.Row(n, 0, tk, d):], g.Stride(d))
		}
		return
	}
	switch a.wrt {
	case 0: // dq = ds k
		gemm.Sgemm(false, false, tq, d, tk, 1, ds, ld, x, ldx, 0, o[g.Row(n, 0, tq, d):], g.Stride(d))
	case 1: // dk = dsᵀ q
		gemm.Sgemm(true, false, tk, d, tq, 1, ds, ld, x, ldx, 0, o[g.Row(n, 0, tk, d):], g.Stride(d))
	default: // dv = pᵀ dy
		gemm.Sgemm(true, false, tk, d, tq, 1, p, ld, x, ldx, 0, o[g.Row(n, 0, tk, d):], g.Stride(d))
	}
}

// attnTiles is one worker's scratch for attention's products on the
// tile kernels of attention_amd64.s: they read A in place (row-major, or
// transposed with its six rows of a tile contiguous) and B in place, so
// nothing is packed; only kᵀ and vᵀ are transposed, and q scaled, once
// per item.
type attnTiles struct {
	a    []float32                // scale·q, tq×dh
	x    []float32                // a linked backward's product operand rows, max(tq, tk)×max(dh, dv)
	dy   []float32                // a backward's dy rows, tq×dv (packDy)
	bt   []float32                // kᵀ (dh×tk) or vᵀ (dv×tk)
	bpad []float32                // the last columns of B, padded to 16 (depth × 16)
	apan []float32                // an edge tile's six rows of a transposed A (depth × 6)
	tile [attnMR * attnNR]float32 // an edge tile of C
}

const attnMR, attnNR = 6, 16

// attnTilesOn selects the tile kernels where simdOn (tests turn it off to
// compare with gemm.Sgemm's products).
var attnTilesOn = true

func newAttnTiles(g *ir.AttentionGeometry, workers int) []attnTiles {
	depth := max(g.Tq, g.Tk, g.Dh, g.Dv)
	ts := make([]attnTiles, workers)
	for i := range ts {
		ts[i] = attnTiles{a: make([]float32, g.Tq*g.Dh), bt: make([]float32, max(g.Dh, g.Dv)*g.Tk),
			bpad: make([]float32, depth*attnNR), apan: make([]float32, depth*attnMR)}
	}
	return ts
}

// packScratch gives a backward's tiles room for the rows it copies
// together: dy's (packDy) and, linked to its products, their operands'.
func (a *attentionKernel) packScratch() {
	g := &a.g
	for i := range a.tiles {
		t := &a.tiles[i]
		if t.dy == nil {
			t.dy = make([]float32, g.Tq*g.Dv)
		}
		if t.x == nil && len(a.prods) > 0 {
			t.x = make([]float32, max(g.Tq, g.Tk)*max(g.Dh, g.Dv))
		}
	}
}

// product writes C (m×n, row stride ldc) = op(A)·B: op(A) = A (m×k, row
// stride lda) or, with transA, Aᵀ for A stored k×m; B is k×n, row stride
// ldb. Every element is the FMA chain over k of gemm's AVX2 kernel, so C
// is gemm.Sgemm's (alpha 1, beta 0) for k ≤ 256, where gemm does not cut
// k into blocks. Tiles of fewer than 16 columns read B from a padded copy
// and go through a scratch tile; so do transposed tiles of fewer than 6
// rows other than 4 (64 rows: 10 tiles of 6 and one of 4, which
// attnCols4AVX2 computes in place).
func (t *attnTiles) product(m, n, k int, a []float32, lda int, transA bool, b []float32, ldb int, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		for i := range m {
			clear(c[i*ldc:][:n])
		}
		return
	}
	if transA {
		_ = a[(k-1)*lda+m-1]
	} else {
		_ = a[(m-1)*lda+k-1]
	}
	_, _ = b[(k-1)*ldb+n-1], c[(m-1)*ldc+n-1]
	for j0 := 0; j0 < n; j0 += attnNR {
		nn := min(attnNR, n-j0)
		bp, lb := &b[j0], ldb
		if nn < attnNR {
			pad := t.bpad[:k*attnNR]
			for p := range k {
				row := pad[p*attnNR:][:attnNR]
				copy(row, b[p*ldb+j0:][:nn])
				clear(row[nn:])
			}
			bp, lb = &pad[0], attnNR
		}
		for i0 := 0; i0 < m; i0 += attnMR {
			mm := min(attnMR, m-i0)
			cp, lc := &c[i0*ldc+j0], ldc
			viaTile := nn < attnNR || (transA && mm < attnMR && mm != 4)
			if viaTile {
				cp, lc = &t.tile[0], attnNR
			}
			switch {
			case !transA:
				attnRowsAVX2(k, &a[i0*lda], lda, mm, bp, lb, cp, lc)
			case mm == attnMR:
				attnColsAVX2(k, &a[i0], lda, bp, lb, cp, lc)
			case mm == 4:
				attnCols4AVX2(k, &a[i0], lda, bp, lb, cp, lc)
			default:
				pan := t.apan[:k*attnMR]
				for p := range k {
					row := pan[p*attnMR:][:attnMR]
					copy(row, a[p*lda+i0:][:mm])
					clear(row[mm:])
				}
				attnColsAVX2(k, &pan[0], attnMR, bp, lb, cp, lc)
			}
			if viaTile {
				for r := range mm {
					copy(c[(i0+r)*ldc+j0:][:nn], t.tile[r*attnNR:][:nn])
				}
			}
		}
	}
}

// dotF32 is Σ a·b over len(a) elements, with four independent
// accumulators.
func dotF32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// maxF32 is the largest element of a non-empty x (NaN if any is NaN):
// eight lanes at a time with AVX2, else with four independent running
// maxima.
func maxF32(x []float32) float32 {
	if simdOn && len(x) >= 8 {
		n := len(x) &^ 7
		m, nan := maxAVX2(&x[0], n)
		if nan {
			return float32(math.NaN())
		}
		if m != 0 { // ±0 goes the portable way, which keeps max's +0 over -0
			for _, e := range x[n:] {
				m = max(m, e)
			}
			return m
		}
	}
	m0, m1, m2, m3 := x[0], x[0], x[0], x[0]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		m0, m1 = max(m0, x[i]), max(m1, x[i+1])
		m2, m3 = max(m2, x[i+2]), max(m3, x[i+3])
	}
	for ; i < len(x); i++ {
		m0 = max(m0, x[i])
	}
	return max(max(m0, m1), max(m2, m3))
}

// scaleF32 multiplies x by a, 8 lanes at a time with AVX2.
func scaleF32(x []float32, a float32) {
	i := 0
	if simdOn {
		i = len(x) &^ 7
		if i > 0 {
			scaleAVX2(&x[0], i, a)
		}
	}
	for ; i < len(x); i++ {
		x[i] *= a
	}
}
