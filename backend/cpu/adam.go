// This file fuses each parameter's Adam update chain, ema(m, g) →
// ema_sq(v, g) → adam(p, m', v', lr, step), into one kernel that reads
// g, p, m and v once and writes p, m and v once (the three ops stay in
// the IR; the executor replaces their three kernels by one). With AVX2
// and FMA the kernel runs 8 lanes of float32 arithmetic (simd_amd64.s),
// taking the quotient in float64 (the same bits) where a lane can be
// subnormal, which the x86 divider does not take at full speed; the
// portable path does what the three separate kernels do, in float64,
// and gives the same bits.
//
// The quotient stays an exact VDIVPS (and √ a VSQRTPS): a reciprocal
// quotient refined by a Newton step, or a divider-free update (VRSQRTPS
// and VRCPPS refined), were measured (docs/performance.md, session 8):
// in a training step fc1's update is bound by its seven streams of data,
// not the divider, and neither was faster there; the divider-free one
// was slower even on data in L2 (its Newton steps load the FMA pipes).

package cpu

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// adamVector says whether the fused update uses the vector kernel (set
// at start-up from the CPU's features; tests turn it off to exercise the
// portable path).
var adamVector = hasAVX2FMA

// adamSmall says which lanes the vector kernel takes the quotient of in
// float64 (in a chunk where it marks): those where 0 < |m'| < adamSmall,
// a subnormal m' or one so small that m'/d is subnormal when d < 64 (a
// larger d or a subnormal one, far from what Adam sees, only costs
// time). Both ways give the same bits; tests set it to +Inf (every lane
// with a nonzero moment).
var adamSmall float32 = 0x1p-120

// adamChunk is the most elements one call of the vector kernel takes
// (its scratch, on the stack, holds a vector number for each 8 and a
// float for each). The kernel keeps for each chunk of the parameter
// whether the last step found a subnormal in it, and marks its lanes
// this step if so: the moments go subnormal and back slowly, the
// marking costs a third more time where there is nothing to mark, and
// it only changes the time.
const adamChunk = 4096

// fuseAdamOn turns the fusion on (tests compare with it off).
var fuseAdamOn = true

// adamKernel is one parameter's fused update.
type adamKernel struct {
	p, m, v, g *buffer
	lr, step   *buffer
	pool       *parallel.Pool
	at         ir.AdamAttr
	b1, b2     float64 // the ema decays

	// Per run.
	mark                   []uint32    // per adamChunk elements: 1 to mark the lanes (atomic: two cores can share a chunk)
	c                      [24]float32 // vector constants: b1, 1-b1, b2, 1-b2, 1/√(1-β2^t), eps, 1-lr·wd, lr/(1-β1^t); 8×adamSmall, 8×abs mask
	stepSize, shrink, rbc2 float64
}

func (k *adamKernel) run() error {
	if err := k.setup(); err != nil {
		return err
	}
	// Split in blocks of adamBlock elements, so that the vector kernel
	// takes the same elements whatever the split, and the portable path
	// only the last n%8 (the two differ in the last bit): the same bits
	// on any number of cores.
	parFor(k.pool, (k.p.n+adamBlock-1)/adamBlock, 16*adamBlock, k)
	return nil
}

// setup sets the run's constants from the learning rate and the step.
func (k *adamKernel) setup() error {
	t := scalarInt(k.step)
	if t < 1 {
		return fmt.Errorf("step %d < 1", t)
	}
	lr := float64(scalarF32(k.lr))
	bc1 := 1 - math.Pow(k.at.Beta1, float64(t))
	bc2 := math.Sqrt(1 - math.Pow(k.at.Beta2, float64(t)))
	k.stepSize, k.shrink, k.rbc2 = lr/bc1, 1-lr*k.at.WeightDecay, 1/bc2
	k.c[0], k.c[1], k.c[2], k.c[3] = float32(k.b1), float32(1-k.b1), float32(k.b2), float32(1-k.b2)
	k.c[4], k.c[5], k.c[6], k.c[7] = float32(k.rbc2), float32(k.at.Eps), float32(k.shrink), float32(k.stepSize)
	for i := 8; i < 16; i++ {
		k.c[i], k.c[i+8] = adamSmall, math.Float32frombits(0x7fffffff)
	}
	return nil
}

// adamBlock is the unit the update is split in: the vector width.
const adamBlock = 8

// Range updates blocks [lo, hi) of adamBlock elements.
func (k *adamKernel) Range(lo, hi int) {
	lo, hi = lo*adamBlock, min(hi*adamBlock, k.p.n)
	p, m, v, g := f32s(k.p)[lo:hi], f32s(k.m)[lo:hi], f32s(k.v)[lo:hi], f32s(k.g)[lo:hi]
	i := 0
	if adamVector {
		i = len(p) &^ 7
		for j := 0; j < i; {
			c := (lo + j) / adamChunk
			e := min(i, (c+1)*adamChunk-lo)
			mark := atomic.LoadUint32(&k.mark[c])
			var found int
			if mark == 0 {
				var mxcsr int32
				found = adamAVX2(&p[j], &m[j], &v[j], &g[j], e-j, &k.c, &mxcsr, nil, 0)
			} else {
				found = adamMarked(&p[j], &m[j], &v[j], &g[j], e-j, &k.c)
			}
			var next uint32
			if found > 0 {
				next = 1
			}
			if next != mark {
				atomic.StoreUint32(&k.mark[c], next)
			}
			j = e
		}
	}
	k.portable(p[i:], m[i:], v[i:], g[i:len(p)])
}

// adamMarked runs the vector kernel's marking loops on n ≤ adamChunk
// elements, with their scratch in its own frame (cleared only here).
//
//go:noinline
func adamMarked(p, m, v, g *float32, n int, c *[24]float32) int {
	var idx [adamChunk / 8]int32
	var ds [adamChunk]float32
	return adamAVX2(p, m, v, g, n, c, &idx[0], &ds[0], 1)
}

// portable is the update of ema, ema_sq and adam's kernels (optim.go),
// element by element.
func (k *adamKernel) portable(p, m, v, g []float32) {
	m, v, g = m[:len(p)], v[:len(p)], g[:len(p)]
	b1, b2 := k.b1, k.b2
	step, shrink, rbc2, eps := k.stepSize, k.shrink, k.rbc2, k.at.Eps
	for i, x := range g {
		gx := float64(x)
		mi := float32(b1*float64(m[i]) + (1-b1)*gx)
		vi := float32(b2*float64(v[i]) + (1-b2)*gx*gx)
		m[i], v[i] = mi, vi
		p[i] = float32(float64(p[i])*shrink - step*float64(mi)/(math.Sqrt(float64(vi))*rbc2+eps))
	}
}

// fuseAdam replaces, in p.steps, each ema/ema_sq/adam chain that can run
// as one kernel at the adam's place: the moments are used by the adam
// only, all three updates are in place, and no step in between writes
// over the gradient's storage.
func (p *Program) fuseAdam(c *compileCtx) {
	if !fuseAdamOn {
		return
	}
	uses := map[*ir.Value]int{}
	for _, v := range p.g.Values {
		for _, a := range v.Args {
			uses[a]++
		}
	}
	for _, o := range p.g.Outputs {
		if o.Updates == nil {
			uses[o.Value] += 2 // a named output: keep it computed
		}
	}
	pos := map[*ir.Value]int{}
	for i, s := range p.steps {
		pos[s.v] = i
	}
	drop := map[int]bool{}
	for i, s := range p.steps {
		a := s.v
		if a.Op != ir.OpAdam || a.Type.DType != ir.F32 {
			continue
		}
		m1, v1 := a.Args[1], a.Args[2]
		if m1.Op != ir.OpEMA || v1.Op != ir.OpEMASq || m1.Args[1] != v1.Args[1] || uses[m1] != 1 || uses[v1] != 1 {
			continue
		}
		if p.plan.InPlace[a] == nil || p.plan.InPlace[m1] == nil || p.plan.InPlace[v1] == nil {
			continue
		}
		im, okm := pos[m1]
		iv, okv := pos[v1]
		if !okm || !okv || im > i || iv > i {
			continue
		}
		g := p.bufs[m1.Args[1]]
		gsz := uintptr(g.n) * uintptr(g.dt.Size())
		clobbered := false
		for j := min(im, iv) + 1; j < i && !clobbered; j++ {
			if j == im || j == iv {
				continue
			}
			b := p.bufs[p.steps[j].v]
			bsz := uintptr(b.n) * uintptr(b.dt.Size())
			lo, hi := uintptr(b.p), uintptr(b.p)+bsz
			clobbered = b.n > 0 && lo < uintptr(g.p)+gsz && uintptr(g.p) < hi
		}
		if clobbered {
			continue
		}
		p.steps[i].k = &adamKernel{
			p: p.bufs[a.Args[0]], m: p.bufs[m1.Args[0]], v: p.bufs[v1.Args[0]], g: g,
			lr: p.bufs[a.Args[3]], step: p.bufs[a.Args[4]], pool: c.pool,
			at: a.Aux.(ir.AdamAttr), b1: m1.Aux.(ir.EMAAttr).Decay, b2: v1.Aux.(ir.EMAAttr).Decay,
			mark: make([]uint32, g.n/adamChunk+1),
		}
		drop[im], drop[iv] = true, true
	}
	if len(drop) == 0 {
		return
	}
	kept := p.steps[:0]
	for i, s := range p.steps {
		if !drop[i] {
			kept = append(kept, s)
		}
	}
	p.steps = kept
}
