package compiler

import (
	"github.com/encc-lang/encc/lang"
)

// MaxElements bounds the number of elements of one tensor (2^50, a
// petabyte of f32). Beyond it, element and byte counts (and the products
// of shapes with a batch size) would overflow the int arithmetic of the
// IR and the runtimes; a real model is far below.
const MaxElements = 1 << 50

// elementsTooMany reports whether a tensor of type t, with every
// dimension variable taken as 1, has more than MaxElements elements or an
// element count that overflows.
func elementsTooMany(t TensorType) bool {
	if k, ok := constElements(t); ok {
		return k > MaxElements || k < 0
	}
	n := ConstDim(1)
	for _, d := range t.Dims {
		vars := map[string]Dim{}
		for _, v := range d.Vars() {
			vars[v] = ConstDim(1)
		}
		n = n.Mul(d.Subst(vars))
		if k, _ := n.Const(); n.Overflows() || k > MaxElements || k < 0 {
			return true
		}
	}
	return false
}

// constElements returns the element count of t when every dimension is a
// constant: the product as elementsTooMany's Dim arithmetic computes it,
// without building Dims (checkLayerSize runs for every layer of a model).
// Past MaxElements, or when a dimension is not constant, an operand had
// overflowed or the product overflows, ok is false and elementsTooMany
// decides.
func constElements(t TensorType) (k int64, ok bool) {
	k = 1
	for _, d := range t.Dims {
		c, isConst := d.Const()
		if !isConst || d.Overflows() || c < 0 {
			return 0, false
		}
		p, ovf := mulInt(k, c)
		if ovf || p > MaxElements {
			return 0, false
		}
		k = p
	}
	return k, true
}

// checkLayerSize reports, at n, a layer whose parameters are too large to
// exist (Linear(9223372036854775807, 2)), and returns false.
func (c *checker) checkLayerSize(l *LayerV, n lang.Node) bool {
	for _, lp := range l.E.layerParams(l.Args) {
		if elementsTooMany(lp.Type) {
			c.errorAt(n, "%s: parameter %s of type %s has more than 2^50 elements", c.text(n), lp.Name, lp.Type)
			return false
		}
	}
	return true
}
