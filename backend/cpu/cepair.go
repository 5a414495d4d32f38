// This file fuses a softmax cross entropy with its gradient on the same
// logits and labels into one kernel: one pass per row computes the
// exps once for both the loss and the gradient (the two kernels took
// one exp per element each, most of their time), and the rows are split
// over the cores (the loss was one serial loop). The loss's row terms
// are kept and summed in row order afterwards, so both results are the
// bits of the two kernels. The exps of rows of at most ceSmallC classes
// are taken up to ceBlock at a time (expF64, the bits of math.Exp), and
// the logs of their sums a block of rows at a time (logF64):
// one row's ten exps are a chain too short to keep the vector kernel
// busy.

package cpu

import (
	"fmt"
	"math"

	"github.com/encc-lang/encc/ir"
)

// fuseCrossEntropyOn turns the fusion on (tests compare with it off).
var fuseCrossEntropyOn = true

// crossEntropyPair computes fwd's loss and bwd's gradient.
type crossEntropyPair struct {
	fwd, bwd *crossEntropyKernel
	fwdV     *ir.Value // the loss value, which label errors name
	terms    []float64 // per row, its term of the loss
}

// ceBlock is the most exps the pair takes in one expF64 call (rows of at
// most ceSmallC classes, whole rows), on the stack.
const ceBlock = 256

func (k *crossEntropyPair) run() error {
	f := k.fwd
	for n := range f.N {
		if id := idAt(f.labels, n); id < 0 || id >= int64(f.C) {
			return &stepError{fmt.Errorf("cpu: %s = %s: %w", k.fwdV.Ref(), k.fwdV.Op, idError(id, f.C))}
		}
	}
	// An exp costs about as much as 64 elements of a streaming kernel.
	parFor(f.pool, f.N, 64*f.C, k)
	total := 0.0
	for _, t := range k.terms {
		total += t
	}
	f32s(f.out)[0] = float32(total / float64(f.N))
	return nil
}

// Range computes rows [lo, hi): their loss terms as lse does, their
// gradient as crossEntropyKernel.Range does, from the same exps.
func (k *crossEntropyPair) Range(lo, hi int) {
	if lo >= hi {
		return
	}
	if k.fwd.C > ceSmallC {
		k.rows(lo, hi, nil)
		return
	}
	var sc ceScratch
	step := ceBlock / k.fwd.C
	for b := lo; b < hi; b += step {
		k.rows(b, min(hi, b+step), &sc)
	}
}

// ceScratch holds a block's x - max and exps, and its rows' sums and
// logs.
type ceScratch struct {
	xs, ex, sum, log [ceBlock]float64
}

// rows computes rows [lo, hi); rows of at most ceSmallC classes (at most
// ceBlock exps) take their exps in one expF64 call and the logs of their
// sums in one logF64 call, through sc.
func (k *crossEntropyPair) rows(lo, hi int, sc *ceScratch) {
	f, b := k.fwd, k.bwd
	x, o := f32s(f.logits), f32s(b.out)
	scale := float64(scalarF32(b.dl)) / float64(f.N)
	eps, C := f.eps, f.C
	if C <= ceSmallC {
		// Each row's max kept in its loss term's place until the term
		// is computed.
		for n := lo; n < hi; n++ {
			row := x[n*C:][:C]
			m := rowMax(row)
			k.terms[n] = m
			for c, e := range row {
				sc.xs[(n-lo)*C+c] = float64(e) - m
			}
		}
		expF64(sc.ex[:(hi-lo)*C], sc.xs[:(hi-lo)*C])
		for n := lo; n < hi; n++ {
			s := 0.0
			for _, e := range sc.ex[(n-lo)*C:][:C] {
				s += e
			}
			sc.sum[n-lo] = s
		}
		logF64(sc.log[:hi-lo], sc.sum[:hi-lo])
	}
	for n := lo; n < hi; n++ {
		row, orow := x[n*C:][:C], o[n*C:][:C]
		label := int(idAt(f.labels, n))
		mean := 0.0
		for _, e := range row {
			mean += float64(e)
		}
		mean /= float64(C)
		if C <= ceSmallC {
			ex, s := sc.ex[(n-lo)*C:][:C], sc.sum[n-lo]
			t0 := eps / float64(C)
			for c := range orow {
				t := t0
				if c == label {
					t += 1 - eps
				}
				orow[c] = float32((ex[c]/s - t) * scale)
			}
			l := k.terms[n] + sc.log[n-lo]
			k.terms[n] = (1-eps)*(l-float64(row[label])) + eps*(l-mean)
			continue
		}
		m := rowMax(row)
		s := 0.0
		for _, e := range row {
			s += math.Exp(float64(e) - m)
		}
		l := m + math.Log(s)
		k.terms[n] = (1-eps)*(l-float64(row[label])) + eps*(l-mean)
		for c, e := range row {
			t := eps / float64(C)
			if c == label {
				t += 1 - eps
			}
			orow[c] = float32((math.Exp(float64(e)-l) - t) * scale)
		}
	}
}

// fuseCrossEntropy replaces each softmax_cross_entropy whose gradient
// (softmax_cross_entropy_backward of the same logits, labels and label
// smoothing) comes later by one crossEntropyPair at the gradient's
// place, when nothing reads the loss before that place and no step in
// between writes the logits or labels or touches the loss's storage.
func (p *Program) fuseCrossEntropy() {
	if !fuseCrossEntropyOn {
		return
	}
	firstUse := map[*ir.Value]int{} // the first step reading each value
	for i, s := range p.steps {
		for _, a := range s.v.Args {
			if _, ok := firstUse[a]; !ok {
				firstUse[a] = i
			}
		}
	}
	var spanOf func(*buffer) span
	drop := map[int]bool{}
	for i, s := range p.steps {
		b, ok := s.k.(*crossEntropyKernel)
		if !ok || !b.backward {
			continue
		}
		for j := i - 1; j >= 0; j-- {
			f, ok := p.steps[j].k.(*crossEntropyKernel)
			fv := p.steps[j].v
			if !ok || f.backward || drop[j] || fv.Args[0] != s.v.Args[0] || fv.Args[1] != s.v.Args[1] || f.eps != b.eps {
				continue
			}
			if u, used := firstUse[fv]; used && u <= i {
				break
			}
			if spanOf == nil {
				spanOf = p.spanOf()
			}
			fu, _ := p.stageable(p.steps[j], spanOf)
			moves := true
			for q := j + 1; q < i && moves; q++ {
				qu, known := p.stageable(p.steps[q], spanOf)
				moves = known && !conflict(&fu, &qu)
			}
			if moves {
				p.steps[i].k = &crossEntropyPair{fwd: f, bwd: b, fwdV: fv, terms: make([]float64, f.N)}
				drop[j] = true
			}
			break
		}
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
