package onnx

// This file writes an int8 model (encc's int8 checkpoint, see
// runtime/train/quant.go) in ONNX's QDQ format: every quantized weight W
// [N, K] is an INT8 initializer W_quantized with a FLOAT scale per output
// channel W_scale [N] and INT8 zero points W_zero_point [N] (0: the
// weights are symmetric), dequantized by DequantizeLinear (axis 0) into
// the tensor W that the graph reads; the input x of each product x·Wᵀ
// passes Clip, QuantizeLinear and DequantizeLinear with encc's input
// scale and zero point (UINT8), so that onnxruntime sees every value the
// int8 kernels see. encc quantizes activations to 7 bits (0…127, see
// backend/cpu/gemm/int8.go); QuantizeLinear saturates at 255, so the
// Clip to [−zero·scale, (127 − zero)·scale] before it keeps the codes
// in 0…127. onnxruntime fuses the QDQ pairs into integer kernels
// (QLinearMatMul / MatMulIntegerToFloat) or runs them in float; either
// way it rounds x/scale where encc rounds x·(1/scale), so an activation
// a hair from a rounding boundary may take the neighbouring code.

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/encc-lang/encc/export/onnx/internal/onnxpb"
	"github.com/encc-lang/encc/ir"
)

// An Int8Weight is a quantized weight of an int8 checkpoint: Q [N, K]
// with one scale per output channel, and the quantization of its
// product's input.
type Int8Weight struct {
	Q          []int8
	Scale      []float32 // [N]
	InputScale float32
	InputZero  int32 // 0…127
}

// qdqWeight writes the int8 initializers of weight input v and the
// DequantizeLinear that gives the f32 tensor named v.Name.
func (e *emitter) qdqWeight(v *ir.Value, q Int8Weight) error {
	n := v.Type.Shape[0]
	if v.Type.Rank() != 2 || len(q.Q) != v.Type.NumElements() || len(q.Scale) != n {
		return &Error{Msg: "int8 weights of " + v.Name + " do not match its shape " + v.Type.String()}
	}
	raw := make([]byte, len(q.Q))
	for i, x := range q.Q {
		raw[i] = byte(x)
	}
	scale := make([]byte, 4*n)
	for i, s := range q.Scale {
		binary.LittleEndian.PutUint32(scale[4*i:], math.Float32bits(s))
	}
	e.graph.Initializer = append(e.graph.Initializer,
		&onnxpb.TensorProto{Name: proto.String(v.Name + "_quantized"), DataType: proto.Int32(int32(onnxpb.TensorProto_INT8)),
			Dims: int64s(v.Type.Shape), RawData: raw},
		&onnxpb.TensorProto{Name: proto.String(v.Name + "_scale"), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			Dims: []int64{int64(n)}, RawData: scale},
		&onnxpb.TensorProto{Name: proto.String(v.Name + "_zero_point"), DataType: proto.Int32(int32(onnxpb.TensorProto_INT8)),
			Dims: []int64{int64(n)}, RawData: make([]byte, n)})
	e.node("DequantizeLinear", []string{v.Name + "_quantized", v.Name + "_scale", v.Name + "_zero_point"}, []string{v.Name}, attrInt("axis", 0))
	return nil
}

// qdqInput returns the name of x (the first operand of product v, whose
// second is an int8 weight) quantized and dequantized as the int8
// kernels quantize it, or "" when v's weight is not int8.
func (e *emitter) qdqInput(v *ir.Value) string {
	w := v.Args[1]
	q, ok := e.int8[w.Name]
	if !ok || w.Op != ir.OpInput || v.Args[0].Type.DType != ir.F32 {
		return ""
	}
	pre := w.Name + "_input"
	lo := -float32(q.InputZero) * q.InputScale
	hi := float32(127-q.InputZero) * q.InputScale
	f32 := func(name string, x float32) {
		b := make([]byte, 4)
		binary.LittleEndian.PutUint32(b, math.Float32bits(x))
		e.graph.Initializer = append(e.graph.Initializer, &onnxpb.TensorProto{Name: proto.String(name),
			DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: b})
	}
	if !e.qdq[pre] {
		f32(pre+"_scale", q.InputScale)
		f32(pre+"_min", lo)
		f32(pre+"_max", hi)
		e.graph.Initializer = append(e.graph.Initializer, &onnxpb.TensorProto{Name: proto.String(pre + "_zero_point"),
			DataType: proto.Int32(int32(onnxpb.TensorProto_UINT8)), RawData: []byte{byte(q.InputZero)}})
		e.qdq[pre] = true
	}
	c := e.op("Clip", []string{e.arg(v, 0), pre + "_min", pre + "_max"})
	qx := e.op("QuantizeLinear", []string{c, pre + "_scale", pre + "_zero_point"})
	return e.op("DequantizeLinear", []string{qx, pre + "_scale", pre + "_zero_point"})
}
