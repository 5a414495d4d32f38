// This file runs independent steps side by side: the executor orders the
// steps by dependency level and runs each group of mutually independent,
// mid-sized steps (a stage) as pool tasks, one step per core, instead of
// one after the other, each split over the cores by itself.
//
// The steps of a training step between the large products are small or
// mid-sized and often independent: the three gradient steps of W1's last
// layer, the input and weight gradients of its hidden layer, the bias
// sums and the Adam updates of W4's layers. Split over 2 cores, each
// pays a hand-off, repacks
// the operand its halves share, and runs halves too small to keep the
// micro-kernel busy; the small ones do not split at all and leave the
// other core idle. As a stage, each runs whole on one core, at the same
// time as the others.
//
// A step of the next level that depends on one task's steps only (W1:
// the hidden layer's ReLU gradient after its input gradient, a bias's
// Adam update after its sum) joins that task as a chain, run after them
// on the same core, when that makes the stage longer by less than the
// step would take after it: the small steps that followed a stage one
// after another on one core, each with its own dispatch (and a split
// and a join where it has one), fill the time the shorter tasks leave.
//
// Results are the same bits as one after the other: a step computed by
// one task runs its pool splits inline, in order, with the same chunk
// bounds (parallel.Pool runs a nested job that way), and its products
// on the task's core (gemm gives the same bits whatever the split).
// Which core runs which step depends on timing; what it computes does
// not. Reordering changes which step fails first when several would: a
// stage reports the first of its failing steps in program order, but a
// step of a later level in program order may have run, and failed,
// before one of an earlier level. Errors stop the run either way.
//
// Dependencies are over storage, not values: two steps conflict when one
// writes bytes the other reads or writes (the arena reuses slots, so
// unrelated values can share storage; the fused Adam update writes the
// parameter and its moments in place and reads a gradient that is not
// among the adam value's operands). Only kernels whose reads and writes
// are known here and that keep no scratch shared with other kernels take
// part (stageable); every other step is a barrier that nothing moves
// across.

package cpu

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// stagesOn turns stages on (tests compare with them off); stageChainsOn
// their chains.
var stagesOn, stageChainsOn = true, true

const (
	// stageMinNs: a stage whose steps are estimated to take less in all
	// runs them one after another (the hand-off would cost more than
	// the overlap saves).
	stageMinNs = 5000
	// stageMaxNs: a step estimated to take longer runs alone, split over
	// the cores by itself: its own split cuts it into more tasks than
	// cores, which a disturbed core delays less than one whole step.
	stageMaxNs = 250000
	// stageWakeNs: a stage estimated to take less in all runs its steps
	// one after another when the pool's helpers are parked (waking one
	// takes several µs; parWakeWork for kernels).
	stageWakeNs = 20000
	// stageBalance: how much longer than its share of the stage (the
	// total over the cores) a step may be: split over P cores a step
	// runs at roughly 85% efficiency (a hand-off, operands repacked by
	// each task, smaller tiles), so a stage waiting up to 1/0.85 of the
	// balanced time for its biggest step still wins.
	stageBalance = 1.2
)

// stageKernel runs its chains as pool tasks, one chain per task, the
// biggest first (tasks are claimed in order, so the big ones start
// first). A chain is a step of the stage's level and the steps of the
// next levels that depend on it alone among the stage's steps (chain),
// run one after another on the task's core.
type stageKernel struct {
	steps []step // chain after chain, each in program order
	ends  []int  // per chain, the end of its steps in steps
	pos   []int  // per step, its place in program order
	pool  *parallel.Pool
	errs  []error // per step, its error in the last run
	small bool    // estimated under stageWakeNs in all
}

func (k *stageKernel) run() error {
	clear(k.errs)
	if k.small && k.pool.Parked() {
		k.RangeWorker(0, 0, len(k.ends)) // not worth waking a helper
	} else {
		k.pool.Tasks(len(k.ends), k)
	}
	// The first failing step in program order (the order the steps had
	// before the stage sorted them) reports, whichever core ran it.
	first := -1
	for i, err := range k.errs {
		if err != nil && (first < 0 || k.pos[i] < k.pos[first]) {
			first = i
		}
	}
	if first >= 0 {
		s := k.steps[first]
		return &stepError{fmt.Errorf("cpu: %s = %s: %w", s.v.Ref(), s.v.Op, k.errs[first])}
	}
	return nil
}

// RangeWorker runs chains [lo, hi); a chain stops at its first error
// (what follows in it reads what failed).
func (k *stageKernel) RangeWorker(_, lo, hi int) {
	for c := lo; c < hi; c++ {
		i := 0
		if c > 0 {
			i = k.ends[c-1]
		}
		for ; i < k.ends[c]; i++ {
			s := &k.steps[i]
			if r, ok := s.k.(serialRunner); ok {
				k.errs[i] = r.runSerial()
			} else {
				k.errs[i] = s.k.run()
			}
			if k.errs[i] != nil {
				break
			}
		}
	}
}

// A serialRunner is a kernel that can be told to stay on the calling
// core (a product: gemm's own split would run inline anyway, but would
// repack the operands its tasks share as if they ran in parallel).
type serialRunner interface {
	runSerial() error
}

// A stepError is an error already attributed to its step.
type stepError struct{ err error }

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// stepErr wraps the error of step s, unless a stage already did.
func stepErr(s *step, err error) error {
	var se *stepError
	if errors.As(err, &se) {
		return se.err
	}
	return fmt.Errorf("cpu: %s = %s: %w", s.v.Ref(), s.v.Op, err)
}

// A span is storage a step touches: an input's (identified by its
// buffer, since Bind moves it) or a byte range of the arena.
type span struct {
	b      *buffer
	lo, hi int // arena byte range; hi == 0: not in the arena
}

func (a span) overlaps(b span) bool {
	if a.b.n == 0 || b.b.n == 0 {
		return false
	}
	if a.b == b.b {
		return true
	}
	return a.hi != 0 && b.hi != 0 && a.lo < b.hi && b.lo < a.hi
}

// touches reports whether any of spans overlaps b.
func touches(spans []span, b span) bool {
	for _, a := range spans {
		if a.overlaps(b) {
			return true
		}
	}
	return false
}

// leaveAlone reports whether every step of steps is one whose storage
// stageable knows, writes none of kept (what a step moved or fused
// across them reads) and neither reads nor writes owned (what it
// writes): the condition for moving work across those steps.
func (p *Program) leaveAlone(steps []step, spanOf func(*buffer) span, kept, owned []span) bool {
	for _, t := range steps {
		u, ok := p.stageable(t, spanOf)
		if !ok {
			return false
		}
		for _, k := range kept {
			if touches(u.writes, k) {
				return false
			}
		}
		for _, o := range owned {
			if touches(u.writes, o) || touches(u.reads, o) {
				return false
			}
		}
	}
	return true
}

// spanOf returns the function giving a buffer's span: the arena offsets
// of the buffers compile placed in the arena, the buffer itself for the
// others.
func (p *Program) spanOf() func(*buffer) span {
	arenaOff := map[*buffer]int{}
	for _, v := range p.g.Values {
		// Not in the arena: the inputs, a value sharing another's storage
		// (a view, in place, a ReLU in its product's storage) and the
		// scalars, which compile gives storage of their own.
		if v.Op == ir.OpInput || p.plan.Alias[v] != nil || p.plan.InPlace[v] != nil || p.reluInto[v] != nil || v.Type.NumElements() == 1 {
			continue
		}
		if off, ok := p.plan.Offset[v]; ok {
			arenaOff[p.bufs[v]] = off
		}
	}
	// Nor the results moved out of the arena into storage of their own
	// (shareAttentionProducts' direct products): their plan's slot is
	// other values' alone.
	for _, s := range p.steps {
		if a, ok := s.k.(*attentionProduct); ok && a.direct {
			delete(arenaOff, a.out)
		}
	}
	for b := range p.outOfArena {
		delete(arenaOff, b)
	}
	return func(b *buffer) span {
		if off, ok := arenaOff[b]; ok && b.n > 0 {
			return span{b, off, off + b.n*b.dt.Size()}
		}
		return span{b: b}
	}
}

// stepUse is what one step reads and writes, nil when the step cannot
// take part in a stage.
type stepUse struct {
	reads, writes []span
	est           float64 // estimated ns on one core
}

// stageable returns what s reads and writes and its estimated time on
// one core, or ok false for kernels that may not run concurrently with
// others (they touch storage not listed here, or keep shared scratch).
func (p *Program) stageable(s step, spanOf func(*buffer) span) (u stepUse, ok bool) {
	v := s.v
	args := func() {
		for _, a := range v.Args {
			u.reads = append(u.reads, spanOf(p.bufs[a]))
		}
		u.writes = append(u.writes, spanOf(p.bufs[v]))
	}
	n := float64(v.Type.NumElements())
	switch k := s.k.(type) {
	case *matmulF32:
		if k.bias != nil && k.act != gemm.ActNone && k.act != gemm.ActReLU {
			return u, false
		}
		args()
		// The result: v's storage, or a folded step's (foldGeluProducts).
		u.writes[len(u.writes)-1] = spanOf(k.out)
		if len(k.ps) > 0 && k.ps[0].Beta != 0 { // accumulating (accumulateFolds): reads its result's storage too
			u.reads = append(u.reads, spanOf(k.out))
		}
		u.est = k.estimate()
		if k.ln != nil { // the folded layernorm (foldLayerNormProducts)
			rb, wb := k.ln.foldUse(k.out)
			for _, b := range rb {
				u.reads = append(u.reads, spanOf(b))
			}
			for _, b := range wb {
				u.writes = append(u.writes, spanOf(b))
			}
			u.est += 0.75 * float64(k.ln.x.n)
		}
		if k.sums != nil { // the fused bias gradient (fuseBiasSums)
			u.writes = append(u.writes, spanOf(k.sums.out))
			u.est += 0.1 * float64(k.sums.x.n)
		}
	case *matmulGroup:
		for _, m := range k.ks {
			if m.bias != nil && m.act != gemm.ActNone && m.act != gemm.ActReLU {
				return u, false
			}
			mu := mmUse(m, spanOf)
			u.reads, u.writes = append(u.reads, mu.reads...), append(u.writes, mu.writes...)
			u.est += m.estimate()
		}
	case *adamKernel:
		k.uses(&u, spanOf)
	case *crossEntropyKernel:
		args()
		u.est = 100 + 20*float64(k.N*k.C)
	case *crossEntropyPair:
		for _, b := range []*buffer{k.fwd.logits, k.fwd.labels, k.bwd.dl} {
			u.reads = append(u.reads, spanOf(b))
		}
		u.writes = append(u.writes, spanOf(k.fwd.out), spanOf(k.bwd.out))
		u.est = 100 + 20*float64(k.fwd.N*k.fwd.C)
	case *sumWalk:
		args()
		u.est = 300 + 0.15*float64(k.x.n)
	case *gradF32:
		args()
		u.est = 100 + 0.2*n
		if k.sum != nil { // the fused bias gradient (fuseGeluBiasGrad)
			u.writes = append(u.writes, spanOf(k.sum.out))
			u.est += 0.15 * n
		}
	case *unaryNum[float32], *constKernel, *binaryKernel[int64], *binaryKernel[int32], *binaryKernel[float32]:
		args()
		u.est = 100 + 0.2*n
	default:
		return u, false
	}
	return u, true
}

// estimate is the product's estimated time on one core: multiply-adds
// at 50 per ns and packing at 0.3 ns per element for big products, the
// 30 per ns measured for W1's small ones.
func (k *matmulF32) estimate() float64 {
	macs := float64(k.m) * float64(k.n) * float64(k.k) * float64(len(k.ps))
	if macs > 1<<20 {
		return 200 + macs/50 + 0.3*float64(k.k)*float64(k.m+k.n)*float64(len(k.ps))
	}
	return 200 + macs/30
}

// uses adds the storage the update reads and writes to u, and its time.
func (k *adamKernel) uses(u *stepUse, spanOf func(*buffer) span) {
	for _, b := range []*buffer{k.g, k.lr, k.step} {
		u.reads = append(u.reads, spanOf(b))
	}
	for _, b := range []*buffer{k.p, k.m, k.v} {
		u.reads = append(u.reads, spanOf(b))
		u.writes = append(u.writes, spanOf(b))
	}
	u.est += 100 + 0.6*float64(k.p.n)
}

// conflict reports whether two steps touch the same storage with at
// least one of them writing it.
func conflict(a, b *stepUse) bool {
	for _, w := range a.writes {
		if touches(b.reads, w) || touches(b.writes, w) {
			return true
		}
	}
	for _, w := range b.writes {
		if touches(a.reads, w) {
			return true
		}
	}
	return false
}

// stageWindow bounds how far back a step's conflicts are looked for (the
// pass is quadratic in it): a step is kept after everything that fell
// out of the window, which is always safe.
const stageWindow = 256

// stageSteps reorders p.steps by dependency level and turns each level's
// mid-sized independent steps into one stage. It changes nothing on a
// pool of one core.
func (p *Program) stageSteps(pool *parallel.Pool) {
	if !stagesOn || pool.Size() < 2 || len(p.steps) < 2 {
		return
	}
	spanOf := p.spanOf()
	uses := make([]stepUse, len(p.steps))
	ok := make([]bool, len(p.steps))
	level := make([]int, len(p.steps))
	topTo := make([]int, len(p.steps)) // the highest level of steps [0, i]
	floor := -1                        // the level of the last barrier
	for i, s := range p.steps {
		top := -1
		if i > 0 {
			top = topTo[i-1]
		}
		uses[i], ok[i] = p.stageable(s, spanOf)
		l := floor + 1
		switch {
		case !ok[i]: // a barrier: after everything before it
			l = top + 1
			floor = l
		default:
			if i > stageWindow { // after everything out of the window
				l = max(l, topTo[i-stageWindow-1]+1)
			}
			for j := max(0, i-stageWindow); j < i; j++ {
				if level[j] >= l && ok[j] && conflict(&uses[i], &uses[j]) {
					l = level[j] + 1
				}
			}
		}
		level[i], topTo[i] = l, max(top, l)
	}
	// Steps in level order, program order within a level.
	order := make([]int, len(p.steps))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return level[order[a]] < level[order[b]] })
	var out []step
	var last *stagePlan
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && level[order[hi]] == level[order[lo]] {
			hi++
		}
		out, last = p.emitLevel(out, order[lo:hi], uses, ok, pool, last)
		lo = hi
	}
	p.steps = out
}

// A stagePlan is a stage being built: its chains of step indices and
// their estimated times, and its place in the schedule.
type stagePlan struct {
	chains [][]int
	est    []float64
	at     int
}

// kernel returns the stage's kernel, the chains biggest first.
func (sp *stagePlan) kernel(p *Program, pool *parallel.Pool) *stageKernel {
	ord := make([]int, len(sp.chains))
	for c := range ord {
		ord[c] = c
	}
	sort.SliceStable(ord, func(a, b int) bool { return sp.est[ord[a]] > sp.est[ord[b]] })
	st := &stageKernel{pool: pool}
	total := 0.0
	for _, c := range ord {
		for _, i := range sp.chains[c] {
			st.steps = append(st.steps, p.steps[i])
			st.pos = append(st.pos, i)
		}
		st.ends = append(st.ends, len(st.steps))
		total += sp.est[c]
	}
	st.errs, st.small = make([]error, len(st.steps)), total < stageWakeNs
	return st
}

// join moves into sp's chains the steps of idx (the level after sp's,
// sp's stage the last step of the schedule) that conflict with the steps
// of one chain only and make the stage longer by less than they would
// take after it (est on one core when too small to split, a share of it
// when split); it returns the steps left. A step so moved runs after its
// chain's steps, on their core, and at the same time as the other
// chains, none of which touches its storage; the steps of its own level
// do not touch it either (it would have a higher level), and every step
// after the stage in the schedule still comes after it.
func (p *Program) join(sp *stagePlan, idx []int, uses []stepUse, ok []bool, cores int) []int {
	var left []int
	for _, i := range idx {
		c := -1
		for ch, steps := range sp.chains {
			for _, j := range steps {
				if conflict(&uses[i], &uses[j]) {
					if c >= 0 && c != ch {
						c = -2 // two chains
					} else if c == -1 {
						c = ch
					}
					break
				}
			}
		}
		e := uses[i].est
		if !ok[i] || e > stageMaxNs || c < 0 {
			left = append(left, i)
			continue
		}
		alone := e
		if e >= stageMinNs {
			alone = e / float64(cores)
		}
		span := slices.Max(sp.est)
		if max(span, sp.est[c]+e) > span+alone {
			left = append(left, i)
			continue
		}
		sp.chains[c] = append(sp.chains[c], i)
		sp.est[c] += e
	}
	return left
}

// emitLevel appends the steps of one level (mutually independent) to
// out: those that join the chains of the previous level's stage (prev,
// when that stage ends out), then steps too big or too unbalanced to
// share a stage alone, then the rest as one stage when it is worth a
// hand-off. It returns the stage that ends out, if one does.
func (p *Program) emitLevel(out []step, idx []int, uses []stepUse, ok []bool, pool *parallel.Pool, prev *stagePlan) ([]step, *stagePlan) {
	if prev != nil && stageChainsOn {
		n := len(idx)
		idx = p.join(prev, idx, uses, ok, pool.Size())
		if len(idx) < n {
			out[prev.at].k = prev.kernel(p, pool)
		}
		if len(idx) == 0 {
			return out, prev
		}
	}
	var group []int
	for _, i := range idx {
		if !ok[i] || uses[i].est > stageMaxNs {
			out = append(out, p.steps[i])
			continue
		}
		group = append(group, i)
	}
	// Biggest first. A stage takes as long as its biggest step, or its
	// total over the cores: a step bigger than stageBalance times the
	// latter would make the stage wait for it, where split by itself it
	// would not; it runs alone.
	sort.SliceStable(group, func(a, b int) bool { return uses[group[a]].est > uses[group[b]].est })
	total := 0.0
	for _, i := range group {
		total += uses[i].est
	}
	for len(group) >= 2 && uses[group[0]].est > stageBalance*total/float64(pool.Size()) {
		out = append(out, p.steps[group[0]])
		total -= uses[group[0]].est
		group = group[1:]
	}
	if len(group) < 2 || total < stageMinNs {
		sort.Ints(group) // program order
		for _, i := range group {
			out = append(out, p.steps[i])
		}
		return out, nil
	}
	sp := &stagePlan{at: len(out)}
	for _, i := range group {
		sp.chains = append(sp.chains, []int{i})
		sp.est = append(sp.est, uses[i].est)
	}
	// The stage's step carries the value of its first step in program
	// order (for the op profile); its errors come attributed (stepError).
	return append(out, step{p.steps[slices.Min(group)].v, sp.kernel(p, pool)}), sp
}
