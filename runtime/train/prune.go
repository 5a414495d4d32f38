package train

// This file implements unstructured magnitude pruning, a phase's
// prune = magnitude(...) (compiler/prune.go): a mask per pruned
// parameter, kept as optimizer state PATH:prune_mask (1 kept, 0 pruned)
// so that checkpoints and resumed runs carry it, updated on the cubic
// schedule of Zhu & Gupta during the phase, and applied after every
// optimizer step of the run from then on: a pruned weight and every
// optimizer state tensor of its parameter (Adam's moments, momentum)
// are set to exactly zero.

import (
	"math"
	"slices"
	"strings"
)

const pruneMaskSuffix = ":prune_mask"

// pruneStep runs after optimizer step (1-based over the run) of phase ph.
func (t *trainer) pruneStep(ph, step int) {
	if pr := t.tr.Phases[ph].Prune; pr != nil && pr.Kind == "structured" {
		if step-t.ranges[ph].start*t.spe == 1 {
			t.structuredStep()
		}
	} else if pr != nil {
		total := t.tr.Phases[ph].Epochs * t.spe
		local := step - t.ranges[ph].start*t.spe // 1 … total
		end := max(1, int(math.Ceil(pr.End*float64(total))))
		if local >= 1 && local <= end && ((local-1)%pr.Every == 0 || local == end) {
			frac := float64(local) / float64(end)
			s := pr.Sparsity + (pr.Initial-pr.Sparsity)*math.Pow(1-frac, 3)
			for _, path := range pr.Params {
				t.updateMask(path, s)
			}
		}
	}
	t.applyMasks()
}

// updateMask zeroes the mask of the round(s·n) smallest-magnitude
// weights of path (already pruned ones first, so masks only grow; ties
// by index).
func (t *trainer) updateMask(path string, s float64) {
	w := t.weights[path]
	name := path + pruneMaskSuffix
	mask, ok := t.state[name]
	if !ok {
		mask = make([]float32, len(w))
		for i := range mask {
			mask[i] = 1
		}
		t.state[name] = mask
		t.shapes[name] = append([]int(nil), t.shapes[path]...)
	}
	k := int(math.Round(s * float64(len(w))))
	idx := make([]int32, len(w))
	for i := range idx {
		idx[i] = int32(i)
	}
	key := func(i int32) float64 {
		if mask[i] == 0 {
			return -1
		}
		return math.Abs(float64(w[i]))
	}
	slices.SortFunc(idx, func(a, b int32) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return int(a - b)
	})
	for _, i := range idx[:k] {
		mask[i] = 0
	}
}

// applyMasks zeroes every pruned weight and its optimizer state.
func (t *trainer) applyMasks() {
	for name, mask := range t.state {
		path, ok := strings.CutSuffix(name, pruneMaskSuffix)
		if !ok {
			continue
		}
		zero := func(v []float32) {
			if len(v) != len(mask) {
				return
			}
			for i, m := range mask {
				if m == 0 {
					v[i] = 0
				}
			}
		}
		zero(t.weights[path])
		for sn, sv := range t.state {
			if sn != name && strings.HasPrefix(sn, path+":") {
				zero(sv)
			}
		}
	}
}

// Sparsity returns the fraction of exact zeros in each tensor of
// weights, for reports (encc summary --weights).
func Sparsity(weights map[string][]float32) map[string]float64 {
	out := map[string]float64{}
	for name, w := range weights {
		z := 0
		for _, v := range w {
			if v == 0 {
				z++
			}
		}
		if len(w) > 0 {
			out[name] = float64(z) / float64(len(w))
		}
	}
	return out
}
