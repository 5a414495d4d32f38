package host

import (
	"testing"
	"unsafe"

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

// buf is a host.Buffer over program-owned storage, as a backend's is.
type buf struct {
	p  unsafe.Pointer
	n  int
	dt ir.DType
}

func (b *buf) Host() (unsafe.Pointer, int, ir.DType) { return b.p, b.n, b.dt }
func (b *buf) SetHost(p unsafe.Pointer)              { b.p = p }

func newBuf(dt ir.DType, n int) *buf {
	return &buf{p: unsafe.Pointer(&make([]uint64, n+1)[0]), n: n, dt: dt}
}

func TestIO(t *testing.T) {
	g := ir.NewGraph()
	if _, err := ir.NewBuilder(g).Input("x", ir.RoleData, ir.TensorOf(ir.F32, 3)); err != nil {
		t.Fatal(err)
	}
	io := &IO[*buf]{Backend: "test", Graph: g,
		Inputs:  map[string]*buf{"x": newBuf(ir.F32, 3), "lr": newBuf(ir.F32, 1), "step": newBuf(ir.I64, 1), "on": newBuf(ir.Bool, 1)},
		Outputs: map[string]*buf{"y": newBuf(ir.I32, 2)},
	}
	x := []float32{1, 2, 3}
	if err := io.Bind("x", x); err != nil {
		t.Fatal(err)
	}
	x[1] = 5
	if got := io.Float32("x"); len(got) != 3 || got[1] != 5 {
		t.Errorf("Float32(x) = %v, want the bound slice", got)
	}
	for _, tc := range []struct {
		name string
		data any
		want string
	}{
		{"z", x, `test: no input "z"`},
		{"x", []float64{1, 2, 3}, "test: cannot bind input x to []float64"},
		{"x", []float32{1, 2}, "test: cannot bind input x of type f32[3] to 2 f32 elements"},
		{"x", []int32{1, 2, 3}, "test: cannot bind input x of type f32[3] to 3 i32 elements"},
	} {
		if err := io.Bind(tc.name, tc.data); err == nil || err.Error() != tc.want {
			t.Errorf("Bind(%s, %T) = %v, want %s", tc.name, tc.data, err, tc.want)
		}
	}
	if io.Int32("x") != nil || io.Float32("y") != nil || io.Float32("nope") != nil {
		t.Error("a view of the wrong dtype or name is not nil")
	}
	if got := io.Int32("y"); len(got) != 2 {
		t.Errorf("Int32(y) = %v", got)
	}
	io.SetScalar("lr", 0.25)
	io.SetScalar("step", 2.6)
	io.SetScalar("on", 1)
	if io.Float32("lr")[0] != 0.25 || io.Int64("step")[0] != 3 || !io.Bool("on")[0] {
		t.Errorf("scalars: lr %v, step %v, on %v", io.Float32("lr"), io.Int64("step"), io.Bool("on"))
	}
	defer func() {
		if r := recover(); r == nil || r != `test: SetScalar: no scalar input "x"` {
			t.Errorf("SetScalar(x) panicked with %v", r)
		}
	}()
	io.SetScalar("x", 1)
}
