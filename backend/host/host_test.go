package host

import (
	"testing"

	"github.com/encc-lang/encc/ir"
)

func TestSlice(t *testing.T) {
	for _, tc := range []struct {
		data any
		n    int
		dt   ir.DType
	}{
		{make([]float32, 3), 3, ir.F32}, {make([]int32, 2), 2, ir.I32},
		{make([]int64, 1), 1, ir.I64}, {make([]bool, 4), 4, ir.Bool},
	} {
		p, n, dt, ok := Slice(tc.data)
		if !ok || p == nil || n != tc.n || dt != tc.dt {
			t.Errorf("Slice(%T) = %v, %d, %v, %v", tc.data, p, n, dt, ok)
		}
	}
	if _, _, _, ok := Slice([]float64{1}); ok {
		t.Error("[]float64 accepted")
	}
}
