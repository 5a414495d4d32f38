package eval

import (
	"math"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestFakeQuantSTE pins fake_quant's forward to hand-worked values and its
// gradient to the straight-through estimator: d loss/dx = dy where the
// quantized integer lies in the range, 0 outside; lo and hi get none.
func TestFakeQuantSTE(t *testing.T) {
	for _, tc := range []struct {
		name     string
		signed   bool
		x        []float64 // [2, 4]
		lo, hi   []float64 // broadcast: [1] or [2, 1]
		loShape  []int
		want     []float64
		wantMask []float64
	}{
		{
			// 7-bit activations over [-1, 3]: scale 4/127, zero round(31.75) = 32.
			name: "per-tensor", x: []float64{-2, -1, 0, 0.05, 1, 2.9, 3, 4},
			lo: []float64{-1}, hi: []float64{3}, loShape: []int{1},
			want:     fq(false, []float64{-2, -1, 0, 0.05, 1, 2.9, 3, 4}, -1, 3),
			wantMask: []float64{0, 1, 1, 1, 1, 1, 1, 0},
		},
		{
			// symmetric per row: row 0 amax 2 (scale 2/127), row 1 amax 0.5.
			name: "per-channel", signed: true, x: []float64{-2, -1, 0.3, 2, 0.5, -0.5, 0.25, 0.7},
			lo: []float64{-2, -0.5}, hi: []float64{2, 0.5}, loShape: []int{2, 1},
			want: append(fq(true, []float64{-2, -1, 0.3, 2}, -2, 2), fq(true, []float64{0.5, -0.5, 0.25, 0.7}, -0.5, 0.5)...),
			// 0.7/ (0.5/127) = 177.8: outside [-127, 127]
			wantMask: []float64{1, 1, 1, 1, 1, 1, 1, 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := ir.NewGraph()
			b := ir.NewBuilder(g)
			x := must1(b.Input("x", ir.RoleParam, f32(2, 4)))
			lo := must1(b.Input("lo", ir.RoleParam, f32(tc.loShape...)))
			hi := must1(b.Input("hi", ir.RoleParam, f32(tc.loShape...)))
			y := must1(b.Op(ir.OpFakeQuant, ir.Type{}, ir.FakeQuantAttr{Signed: tc.signed}, x, lo, hi))
			dy := []float64{1, 2, 3, 4, 5, 6, 7, 8}
			r := must1(b.Literal(y.Type, dy))
			loss := must1(b.Sum(must1(b.Mul(y, r)), nil, false))
			g.AddOutput("y", y)
			g.AddOutput("loss", loss)
			grads, err := ir.Grad(g, loss, []*ir.Value{x, lo, hi})
			if err != nil {
				t.Fatal(err)
			}
			g.AddOutput("dx", grads[x])
			g.AddOutput("dlo", grads[lo])
			g.AddOutput("dhi", grads[hi])
			res, err := Run(g, map[string]*Tensor{
				"x":  {Type: f32(2, 4), F: tc.x},
				"lo": {Type: f32(tc.loShape...), F: tc.lo},
				"hi": {Type: f32(tc.loShape...), F: tc.hi},
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"dlo", "dhi"} {
				for _, v := range res.Outputs[name].F {
					if v != 0 {
						t.Errorf("%s = %v, want 0: the range gets no gradient", name, res.Outputs[name].F)
						break
					}
				}
			}
			for i, v := range res.Outputs["y"].F {
				if v != tc.want[i] {
					t.Errorf("y[%d] = %v, want %v", i, v, tc.want[i])
				}
				if d := res.Outputs["dx"].F[i]; d != dy[i]*tc.wantMask[i] {
					t.Errorf("dx[%d] = %v, want %v", i, d, dy[i]*tc.wantMask[i])
				}
			}
		})
	}
}

// fq is the fake quantization written out: PyTorch's formula in float32
// with encc's scale and zero point.
func fq(signed bool, xs []float64, lo, hi float32) []float64 {
	var scale, zero, qmin, qmax float32
	if signed {
		scale, zero, qmin, qmax = max(-lo, hi)/127, 0, -127, 127
	} else {
		scale = (hi - min(lo, 0)) / 127
		zero = float32(math.RoundToEven(float64(-min(lo, 0) / scale)))
		qmin, qmax = 0, 127
	}
	out := make([]float64, len(xs))
	for i, x := range xs {
		q := float32(math.RoundToEven(float64(float32(x)*(1/scale)))) + zero
		out[i] = float64((max(qmin, min(qmax, q)) - zero) * scale)
	}
	return out
}
