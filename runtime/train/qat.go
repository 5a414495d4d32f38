package train

// This file connects quantization-aware training (a phase's
// qat = fake_int8(...), compiler/qat.go) to the int8 checkpoint: the
// moving min/max that the fake-quantized steps kept of each product's
// input (optimizer state W:qat_lo, W:qat_hi, W:qat_steps) replaces the
// calibration's range, so the int8 model quantizes its activations as
// the fine-tuning did. The weights are quantized as fake_quant did
// (per output channel, max|W[n, :]|/127, round half to even).

import "github.com/encc-lang/encc/backend/cpu/gemm"

// qatInput returns the input quantization of weight name's product that
// quantization-aware training measured, if it ran.
func (t *trainer) qatInput(name string) (gemm.QParams, bool) {
	lo, hi, n := t.state[name+":qat_lo"], t.state[name+":qat_hi"], t.state[name+":qat_steps"]
	if len(lo) != 1 || len(hi) != 1 || len(n) != 1 || n[0] == 0 {
		return gemm.QParams{}, false
	}
	return gemm.QParamsFor(lo[0], hi[0]), true
}
