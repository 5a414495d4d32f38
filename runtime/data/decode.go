package data

import (
	"math"
	"slices"
)

// Decoding bytes into f32 values: IDX images are held as their bytes (a
// quarter of the memory of floats) and decoded as batches gather them.
// Each value is computed as [FieldTransform.ApplyTo] computes it on the
// byte held as a float, float32(float64(b)·mul + add) without a fused
// multiply-add, so that a decoded batch is bit-identical to one gathered
// from floats; the amd64 kernels do the same operations lane for lane.

// convertBytes sets dst[i] = float32(src[i]) for i < len(src).
func convertBytes(dst []float32, src []byte) {
	dst = dst[:len(src)]
	n := 0
	if hasDecodeAVX2 && len(src) >= 8 {
		n = len(src) &^ 7
		convertBytesAVX2(&dst[0], &src[0], n)
	}
	for i := n; i < len(src); i++ {
		dst[i] = float32(src[i])
	}
}

// decodeBytes sets dst[j] = float32(float64(src[j])·mul[j] + add[j]) for
// j < len(src); mul and add hold at least len(src) values.
func decodeBytes(dst []float32, src []byte, mul, add []float64) {
	dst, mul, add = dst[:len(src)], mul[:len(src)], add[:len(src)]
	n := 0
	if hasDecodeAVX2 && len(src) >= 8 {
		n = len(src) &^ 7
		decodeBytesAVX2(&dst[0], &src[0], &mul[0], &add[0], n)
	}
	for j := n; j < len(src); j++ {
		dst[j] = float32(float64(float64(src[j])*mul[j]) + add[j])
	}
}

// A scaler decodes bytes with a uniform map, one multiplier and one
// offset for every value (a plain scale, as images have), in float32
// arithmetic (scaleBytesFMA), about four times faster than decodeBytes.
// newScaler accepts a map only if the kernel gives decodeBytes's value
// for each of the 256 bytes, so a scaler's values are decodeBytes's, bit
// for bit.
type scaler struct {
	of      *FieldTransform // the map checked
	m, d, a float32
}

// newScaler returns the scaler of ft, or ok false.
func newScaler(ft *FieldTransform) (s scaler, ok bool) {
	if !hasDecodeAVX2 || len(ft.Mul) == 0 || len(ft.Add) != len(ft.Mul) || !allEqual(ft.Mul) || !allEqual(ft.Add) {
		return scaler{}, false
	}
	mul, add := ft.Mul[0], ft.Add[0]
	s = scaler{of: ft, m: float32(mul), d: float32(1 / mul), a: float32(add)}
	var src [256]byte
	var got, want [256]float32
	for i := range src {
		src[i] = byte(i)
	}
	scaleBytesFMA(&got[0], &src[0], len(src), s.m, s.d, s.a)
	decodeBytes(want[:], src[:], slices.Repeat(ft.Mul[:1], 256), slices.Repeat(ft.Add[:1], 256))
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return scaler{}, false
		}
	}
	return s, true
}

// decode decodes src into dst (of the same length).
func (s *scaler) decode(dst []float32, src []byte) {
	dst = dst[:len(src)]
	n := len(src) &^ 7
	if n > 0 {
		scaleBytesFMA(&dst[0], &src[0], n, s.m, s.d, s.a)
	}
	if n < len(src) {
		var b [8]byte
		var y [8]float32
		copy(b[:], src[n:])
		scaleBytesFMA(&y[0], &b[0], 8, s.m, s.d, s.a)
		copy(dst[n:], y[:])
	}
}
