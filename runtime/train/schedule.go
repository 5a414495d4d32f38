package train

// This file implements learning-rate schedules: the rate of every
// optimizer step of a span of training.

import (
	"fmt"
	"math"

	"github.com/encc-lang/encc/compiler"
)

// A Schedule gives the learning rate of each optimizer step of a span:
// the whole run for the train's lr, or the consecutive phases that share
// a phase's own lr. Steps are counted from 0 within the span.
type Schedule struct {
	Config        *compiler.ConfigV // nil: constant
	Base          float64           // the optimizer's lr
	Steps         int               // optimizer steps in the span
	StepsPerEpoch int               // for step(every, gamma)
}

// LR returns the rate of step t (0-based) of the span:
//
//	constant                      Base
//	step(every, gamma)            Base·gamma^⌊epoch/every⌋, epoch = ⌊t/StepsPerEpoch⌋ (PyTorch StepLR)
//	cosine(from, to, W)           from·(t+1)/W for t < W, then
//	                              to + (from−to)·(1+cos(π·(t−W)/(Steps−W)))/2 (CosineAnnealingLR)
//	linear(from, to, W)           the same warm-up, then from + (to−from)·(t−W)/(Steps−W)
//	warmup(S, then)               then's first rate·(t+1)/S for t < S; then `then` over the
//	                              remaining Steps−S steps, counted from 0
//	one_cycle(max_lr, pct, d, f)  PyTorch OneCycleLR (cos annealing, two phases): from max_lr/d
//	                              up to max_lr at step pct·Steps−1, down to max_lr/(d·f) at Steps−1
//
// from = −1 (the default) means Base.
func (s Schedule) LR(t int) float64 {
	return lrAt(s.Config, s.Base, t, s.Steps, s.StepsPerEpoch)
}

func argF(cv *compiler.ConfigV, name string) float64 {
	switch v := cv.Args[name].(type) {
	case compiler.FloatV:
		return v.V
	case compiler.IntV:
		return float64(v.V)
	}
	return 0
}

func argI(cv *compiler.ConfigV, name string) int {
	switch v := cv.Args[name].(type) {
	case compiler.IntV:
		return int(v.V)
	case compiler.FloatV:
		return int(v.V)
	}
	return 0
}

func lrAt(cv *compiler.ConfigV, base float64, t, steps, spe int) float64 {
	if cv == nil {
		return base
	}
	switch cv.E.Name {
	case "constant":
		return base
	case "step":
		every := max(argI(cv, "every"), 1)
		epoch := t / max(spe, 1)
		return base * math.Pow(argF(cv, "gamma"), float64(epoch/every))
	case "cosine", "linear":
		from, to, w := argF(cv, "from"), argF(cv, "to"), argI(cv, "warmup_steps")
		if from < 0 {
			from = base
		}
		if t < w {
			return from * float64(t+1) / float64(w)
		}
		p := float64(t-w) / float64(max(steps-w, 1))
		if cv.E.Name == "cosine" {
			return to + (from-to)*(1+math.Cos(math.Pi*p))/2
		}
		return from + (to-from)*p
	case "warmup":
		s := argI(cv, "steps")
		then, _ := cv.Args["then"].(*compiler.ConfigV)
		if t < s {
			return lrAt(then, base, 0, max(steps-s, 1), spe) * float64(t+1) / float64(s)
		}
		return lrAt(then, base, t-s, steps-s, spe)
	case "one_cycle":
		maxLR := argF(cv, "max_lr")
		initial := maxLR / argF(cv, "div_factor")
		final := initial / argF(cv, "final_div_factor")
		end1 := argF(cv, "pct_start")*float64(steps) - 1
		end2 := float64(steps - 1)
		x := float64(t)
		anneal := func(a, b, pct float64) float64 { return b + (a-b)/2*(math.Cos(math.Pi*pct)+1) }
		if x <= end1 && end1 > 0 {
			return anneal(initial, maxLR, x/end1)
		}
		if end2 <= end1 {
			return maxLR
		}
		return anneal(maxLR, final, (x-end1)/(end2-end1))
	}
	panic(fmt.Sprintf("train: no schedule %s", cv.E.Name))
}

// checkSchedule reports a schedule the runtime cannot follow.
func checkSchedule(cv *compiler.ConfigV) error {
	if cv == nil {
		return nil
	}
	switch cv.E.Name {
	case "constant", "step", "cosine", "linear", "one_cycle":
		return nil
	case "warmup":
		if argI(cv, "steps") <= 0 {
			return fmt.Errorf("%s: warmup steps must be positive", cv.Pos)
		}
		then, _ := cv.Args["then"].(*compiler.ConfigV)
		return checkSchedule(then)
	}
	return fmt.Errorf("%s: no schedule %s in the runtime", cv.Pos, cv.E.Name)
}
