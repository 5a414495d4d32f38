package compiler

import (
	"fmt"
	"slices"

	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
)

// This file implements the shape rules of tensor operators, each with
// its lowering: broadcasting arithmetic, comparisons, matmul, permute,
// indexing and slicing; and emit, through which every tensor operation
// of the checker (operators and built-ins) is made and lowered.

// emit makes the result of a tensor operation, of type out. While
// lowering, lower emits its IR from the lowered ins (see lowerer.lower).
func (c *checker) emit(n lang.Node, out TensorType, lower lowerFunc, ins ...*TensorV) *TensorV {
	t := &TensorV{T: out}
	if c.lw != nil {
		t.Node = c.lw.lower(n, out, lower, ins)
	}
	return t
}

// broadcast returns the NumPy broadcast of two shapes.
func broadcast(a, b []Dim) ([]Dim, bool) {
	n := max(len(a), len(b))
	out := make([]Dim, n)
	one := ConstDim(1)
	for i := 0; i < n; i++ {
		var x, y Dim = one, one
		if j := len(a) - n + i; j >= 0 {
			x = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			y = b[j]
		}
		switch {
		case x.Equal(y):
			out[i] = x
		case x.Equal(one):
			out[i] = y
		case y.Equal(one):
			out[i] = x
		default:
			return nil, false
		}
	}
	return out, true
}

// scalarTensor gives a number the dtype it takes next to a tensor.
func scalarTensor(v Value, dt string) (*TensorV, bool) {
	switch v := v.(type) {
	case *TensorV:
		return v, true
	case IntV, FloatV, DimV:
		if !isFloat(dt) && !isInt(dt) {
			dt = "f32"
		}
		if _, isF := v.(FloatV); isF && isInt(dt) {
			dt = "f32"
		}
		return &TensorV{T: TensorType{DType: dt}, Num: v}, true
	case BoolV:
		return &TensorV{T: TensorType{DType: "bool"}, Num: v}, true
	}
	return nil, false
}

// arithOp is the IR op of each operator on tensors; and, or on bool
// tensors (0 or 1) are min and max.
var arithOp = map[string]ir.Op{"+": ir.OpAdd, "-": ir.OpSub, "*": ir.OpMul, "/": ir.OpDiv, "**": ir.OpPow,
	"==": ir.OpEq, "!=": ir.OpNe, "<": ir.OpLt, "<=": ir.OpLe, ">": ir.OpGt, ">=": ir.OpGe, "and": ir.OpMin, "or": ir.OpMax}

// tensorBinary applies an operator where at least one side is a tensor.
func (c *checker) tensorBinary(n lang.Node, op string, x, y Value) Value {
	if op == "@" {
		xt, ok1 := x.(*TensorV)
		yt, ok2 := y.(*TensorV)
		if !ok1 || !ok2 {
			c.errorAt(n, "both operands of @ must be tensors, got %s and %s", kindOrType(x), kindOrType(y))
			return InvalidV{}
		}
		return c.matmul(n, xt, yt)
	}
	dt := "f32"
	if t, ok := x.(*TensorV); ok {
		dt = t.T.DType
	} else if t, ok := y.(*TensorV); ok {
		dt = t.T.DType
	}
	xt, ok1 := scalarTensor(x, dt)
	yt, ok2 := scalarTensor(y, dt)
	if !ok1 || !ok2 {
		c.errorAt(n, "cannot apply %s to %s and %s", op, kindOrType(x), kindOrType(y))
		return InvalidV{}
	}
	irOp, ok := arithOp[op]
	if !ok {
		c.errorAt(n, "operator %s does not apply to tensors", op)
		return InvalidV{}
	}
	if xt.T.DType != yt.T.DType {
		c.errorAt(n, "mismatched dtypes in %s: %s and %s", op, xt.T, yt.T)
		return InvalidV{}
	}
	outDT := xt.T.DType
	switch op {
	case "==", "!=", "<", "<=", ">", ">=":
		outDT = "bool"
	case "and", "or":
		if xt.T.DType != "bool" {
			c.errorAt(n, "operands of %s must be bool tensors, got %s", op, xt.T)
			return InvalidV{}
		}
	default:
		if xt.T.DType == "bool" {
			c.errorAt(n, "cannot do arithmetic on %s", xt.T)
			return InvalidV{}
		}
	}
	dims, ok := broadcast(xt.T.Dims, yt.T.Dims)
	if !ok {
		c.errorAt(n, "cannot broadcast %s with %s in %s", xt.T, yt.T, op)
		return InvalidV{}
	}
	return c.emit(n, TensorType{DType: outDT, Dims: dims}, lowerOp(irOp, nil), xt, yt)
}

// neg types -x.
func (c *checker) neg(n lang.Node, x *TensorV) Value {
	return c.emit(n, x.T, lowerOp(ir.OpNeg, nil), x)
}

// not types `not x` of a bool tensor: x == false.
func (c *checker) not(n lang.Node, x *TensorV) Value {
	return c.emit(n, x.T, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		return l.b.Eq(in[0], l.must(l.b.Const(ir.Bool, 0)))
	}, x)
}

// matmul types a @ b with NumPy's rules: vectors are promoted, batch
// dimensions broadcast.
func (c *checker) matmul(n lang.Node, a, b *TensorV) Value {
	if !isFloat(a.T.DType) || a.T.DType != b.T.DType {
		c.errorAt(n, "cannot matmul %s by %s: need the same float dtype", a.T, b.T)
		return InvalidV{}
	}
	ad, bd := a.T.Dims, b.T.Dims
	if len(ad) == 0 || len(bd) == 0 {
		c.errorAt(n, "cannot matmul %s by %s: scalars have no inner dimension (use *)", a.T, b.T)
		return InvalidV{}
	}
	var out []Dim
	var k1, k2 Dim
	switch {
	case len(ad) == 1 && len(bd) == 1:
		k1, k2 = ad[0], bd[0]
	case len(ad) == 1:
		k1, k2 = ad[0], bd[len(bd)-2]
		out = append(append(out, bd[:len(bd)-2]...), bd[len(bd)-1])
	case len(bd) == 1:
		k1, k2 = ad[len(ad)-1], bd[0]
		out = append(out, ad[:len(ad)-1]...)
	default:
		k1, k2 = ad[len(ad)-1], bd[len(bd)-2]
		batch, ok := broadcast(ad[:len(ad)-2], bd[:len(bd)-2])
		if !ok {
			c.errorAt(n, "cannot matmul %s by %s: batch dimensions do not broadcast", a.T, b.T)
			return InvalidV{}
		}
		out = append(append(batch, ad[len(ad)-2]), bd[len(bd)-1])
	}
	if !k1.Equal(k2) {
		c.errorAt(n, "cannot matmul %s by %s: inner dims %s ≠ %s", a.T, b.T, k1, k2)
		return InvalidV{}
	}
	t := c.emit(n, TensorType{DType: a.T.DType, Dims: out}, lowerMatMul, a, b)
	c.countFlops(ConstDim(2).Mul(k1).Mul(TensorType{Dims: out}.NumElements()))
	return t
}

// lowerMatMul lowers a @ b, promoting vectors to matrices as NumPy does.
func lowerMatMul(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
	bd := l.b
	a, b := in[0], in[1]
	if a.Type.Rank() == 1 {
		a = l.must(bd.Reshape(a, ir.Shape{1, a.Type.Shape[0]}))
	}
	if b.Type.Rank() == 1 {
		b = l.must(bd.Reshape(b, ir.Shape{b.Type.Shape[0], 1}))
	}
	r := l.must(bd.MatMul(a, b, ir.MatMulAttr{}))
	if r != nil && !r.Type.Shape.Equal(t.Shape) {
		r = l.must(bd.Reshape(r, t.Shape))
	}
	return r, nil
}

// transpose swaps the last two dimensions.
func (c *checker) transpose(n lang.Node, x *TensorV) Value {
	r := x.T.Rank()
	if r < 2 {
		c.errorAt(n, "cannot transpose %s: need at least 2 dimensions", x.T)
		return InvalidV{}
	}
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	perm[r-2], perm[r-1] = r-1, r-2
	return c.permute(n, x, perm)
}

func (c *checker) permute(n lang.Node, x *TensorV, perm []int) Value {
	dims := make([]Dim, len(perm))
	for i, p := range perm {
		dims[i] = x.T.Dims[p]
	}
	return c.emit(n, TensorType{DType: x.T.DType, Dims: dims}, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		return l.b.Permute(in[0], perm...)
	}, x)
}

// indexTensor types x[i, lo:hi, :]: an int index drops its dimension, a
// slice keeps it with the sliced size.
func (c *checker) indexTensor(e *lang.IndexExpr, x *TensorV, en *env) Value {
	if len(e.Indices) > x.T.Rank() {
		c.errorAt(e, "too many indices for %s: %d", x.T, len(e.Indices))
		return InvalidV{}
	}
	var starts, stops []Dim
	var keep []bool
	var outDims []Dim
	for i, ix := range e.Indices {
		size := x.T.Dims[i]
		if s, ok := ix.(*lang.SliceExpr); ok {
			lo, hi := ConstDim(0), size
			if s.Lo != nil {
				d, ok := c.sliceBound(s.Lo, size, en)
				if !ok {
					return InvalidV{}
				}
				lo = d
			}
			if s.Hi != nil {
				d, ok := c.sliceBound(s.Hi, size, en)
				if !ok {
					return InvalidV{}
				}
				hi = d
			}
			ext := hi.Sub(lo)
			if k, isC := ext.Const(); isC && k <= 0 {
				c.errorAt(s, "empty slice %s of a dimension of size %s", c.text(s), size)
				return InvalidV{}
			}
			if bad := c.sliceOutOfRange(s, hi, size); bad {
				return InvalidV{}
			}
			starts, stops, keep = append(starts, lo), append(stops, hi), append(keep, true)
			outDims = append(outDims, ext)
			continue
		}
		d, ok := c.sliceBound(ix, size, en)
		if !ok {
			return InvalidV{}
		}
		if k, isC := d.Const(); isC {
			if s, sc := size.Const(); sc && k >= s {
				c.errorAt(ix, "index %d out of range for a dimension of size %d", k, s)
				return InvalidV{}
			}
		}
		starts, stops, keep = append(starts, d), append(stops, d.Add(ConstDim(1))), append(keep, false)
	}
	for i := len(e.Indices); i < x.T.Rank(); i++ {
		starts, stops, keep = append(starts, ConstDim(0)), append(stops, x.T.Dims[i]), append(keep, true)
		outDims = append(outDims, x.T.Dims[i])
	}
	return c.emit(e, TensorType{DType: x.T.DType, Dims: outDims}, func(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
		return lowerSlice(l, t, in[0], starts, stops, keep)
	}, x)
}

// lowerSlice lowers x[starts:stops] with the constant bounds of a
// lowering, dropping the dimensions of integer indices (keep false).
func lowerSlice(l *lowerer, t ir.Type, x *ir.Value, starts, stops []Dim, keep []bool) (*ir.Value, error) {
	a := ir.SliceAttr{}
	for i := range starts {
		s, ok1 := starts[i].Const()
		e, ok2 := stops[i].Const()
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("cannot lower a slice with symbolic bounds")
		}
		a.Start, a.Stop, a.Step = append(a.Start, int(s)), append(a.Stop, int(e)), append(a.Step, 1)
	}
	r := l.must(l.b.Slice(x, a))
	if slices.Contains(keep, false) && r != nil {
		r = l.must(l.b.Reshape(r, t.Shape))
	}
	return r, nil
}

func (c *checker) sliceOutOfRange(s *lang.SliceExpr, hi, size Dim) bool {
	if h, ok := hi.Const(); ok {
		if n, ok := size.Const(); ok && h > n {
			c.errorAt(s, "slice %s out of range for a dimension of size %d", c.text(s), n)
			return true
		}
	}
	return false
}

// sliceBound evaluates an index; negative constants count from the end.
func (c *checker) sliceBound(e lang.Expr, size Dim, en *env) (Dim, bool) {
	v := c.eval(e, en)
	d, ok := dimOf(v)
	if !ok {
		if _, bad := v.(InvalidV); !bad {
			c.errorAt(e, "index must be an int, got %s", kindOrType(v))
		}
		return Dim{}, false
	}
	if k, isC := d.Const(); isC && k < 0 {
		d = size.Add(ConstDim(k))
	}
	return d, true
}

// countFlops adds forward FLOPs to the traced layer, if any.
func (c *checker) countFlops(d Dim) {
	if c.flops != nil {
		*c.flops = c.flops.Add(d)
	}
}
