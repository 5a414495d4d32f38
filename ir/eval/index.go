package eval

import "github.com/encc-lang/encc/ir"

// forEach calls f with every multi-index of s in row-major order and its
// flat offset. idx is reused between calls.
func forEach(s ir.Shape, f func(flat int, idx []int)) {
	n := s.NumElements()
	idx := make([]int, len(s))
	for flat := 0; flat < n; flat++ {
		f(flat, idx)
		for i := len(s) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < s[i] {
				break
			}
			idx[i] = 0
		}
	}
}

// bcastIndex maps each flat offset in out to the flat offset of the
// element of a tensor of shape in that broadcasting reads there.
func bcastIndex(out, in ir.Shape) []int {
	st := in.Strides()
	off := len(out) - len(in)
	m := make([]int, out.NumElements())
	forEach(out, func(flat int, idx []int) {
		o := 0
		for i, d := range in {
			if d != 1 {
				o += idx[off+i] * st[i]
			}
		}
		m[flat] = o
	})
	return m
}

// lines calls f with the flat offsets of each 1-D line of s along axis.
func lines(s ir.Shape, axis int, f func(offs []int)) {
	st := s.Strides()
	outer := s.Clone()
	outer[axis] = 1
	offs := make([]int, s[axis])
	forEach(outer, func(_ int, idx []int) {
		base := 0
		for i, j := range idx {
			base += j * st[i]
		}
		for k := range offs {
			offs[k] = base + k*st[axis]
		}
		f(offs)
	})
}
