package train

// This file connects quantization-aware training (a phase's
// qat = fake_int8(...), compiler/qat.go) to the int8 checkpoint: the
// moving min/max that the fake-quantized steps kept of each product's
// input (optimizer state W:qat_lo, W:qat_hi, W:qat_steps) replaces the
// calibration's range, so the int8 model quantizes its activations as
// the fine-tuning did. The weights are quantized as fake_quant did
// (per output channel, max|W[n, :]|/127, round half to even).

import (
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/runtime/safetensors"
)

// qatInput returns the input quantization of weight name's product that
// quantization-aware training measured, if it ran.
func (t *trainer) qatInput(name string) (gemm.QParams, bool) {
	lo, hi, n := t.state[name+":qat_lo"], t.state[name+":qat_hi"], t.state[name+":qat_steps"]
	if len(lo) != 1 || len(hi) != 1 || len(n) != 1 || n[0] == 0 {
		return gemm.QParams{}, false
	}
	return gemm.QParamsFor(lo[0], hi[0]), true
}

// An Int8Tensor is a quantized weight of an int8 checkpoint as stored:
// Q [N, K], a scale per output channel and its product's input
// quantization (for exporters: export/onnx writes it as QDQ).
type Int8Tensor struct {
	Shape      []int
	Q          []int8
	Scale      []float32
	InputScale float32
	InputZero  int32
}

// Int8Tensors returns the int8 weights of the checkpoint at path by
// parameter path (none for an f32 checkpoint), checked as eval checks them.
func Int8Tensors(path string) (map[string]*Int8Tensor, error) {
	c, err := LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	tab, err := decodeInt8(path, c) // the checks
	if err != nil || tab == nil {
		return nil, err
	}
	f, err := safetensors.Read(path)
	if err != nil {
		return nil, err
	}
	out := map[string]*Int8Tensor{}
	for name, l := range tab {
		t := f.Get(name)
		q := make([]int8, len(t.Data))
		for i, b := range t.Data {
			q[i] = int8(b)
		}
		s, err := f.Get(name + ":weight_scale").Float32()
		if err != nil {
			return nil, err
		}
		out[name] = &Int8Tensor{Shape: t.Shape, Q: q, Scale: s, InputScale: l.In.Scale, InputZero: l.In.Zero}
	}
	return out, nil
}
