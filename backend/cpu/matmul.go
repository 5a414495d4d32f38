// This file implements matmul: batched, with broadcast batch dims and
// transposes handed to gemm's packing.

package cpu

import (
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildMatMul, ir.OpMatMul)
}

// A matmulShape is a batched product: for batch b, the matrix at
// xOff[b] of x times the one at yOff[b] of y into matrix b of the result.
type matmulShape struct {
	m, n, k    int
	transA     bool
	transB     bool
	xOff, yOff []int
}

func newMatmulShape(v *ir.Value) matmulShape {
	at := v.Aux.(ir.MatMulAttr)
	xs, ys, os := v.Args[0].Type.Shape, v.Args[1].Type.Shape, v.Type.Shape
	r := len(os)
	s := matmulShape{m: os[r-2], n: os[r-1], transA: at.TransposeA, transB: at.TransposeB}
	s.k = xs[len(xs)-1]
	if at.TransposeA {
		s.k = xs[len(xs)-2]
	}
	batch := os[:r-2]
	s.xOff = offsetsOf(batch, bcastStrides(batch, xs[:len(xs)-2]))
	s.yOff = offsetsOf(batch, bcastStrides(batch, ys[:len(ys)-2]))
	for i := range s.xOff {
		s.xOff[i] *= s.m * s.k
		s.yOff[i] *= s.k * s.n
	}
	return s
}

// lds returns the leading dimensions of x and y as stored.
func (s *matmulShape) lds() (lda, ldb int) {
	lda, ldb = s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	return
}

// matmulF32 runs each batch's product through gemm. Small batched
// products are spread over the pool one batch per item; big ones run in
// order and gemm spreads each over the cores itself.
type matmulF32 struct {
	matmulShape
	ps        []gemm.Params // one per batch, A, B and C set at run time
	x, y, out *buffer
	bias      *buffer         // matmul_bias: added to every row, or nil
	act       gemm.Activation // matmul_bias: the epilogue activation
	pool      *parallel.Pool
	serial    bool // run by a stage task: every product on this core
	// sums: a bias gradient, the column sums of x (dY, [k, m]) over its
	// rows, computed by the product's tasks as they pack x
	// (gemm.Params.ASums, fuseBiasSums); nil where none.
	sums *sumWalk
	// ln: the layernorm whose rows the product's epilogue normalises
	// (foldLayerNormProducts): the product also reads its weight and
	// bias and writes its result; nil where none.
	ln *layerNormKernel

	// frozen: y is a weight of a program compiled with
	// Options.FrozenWeights; op(y) is packed once into packed (again
	// when y's storage is not packedAt: moved, or nil after
	// Program.WeightsChanged) and every run reads the packing.
	frozen   bool
	packed   *gemm.PackedB
	packedAt *float32
}

func (k *matmulF32) run() error {
	if len(k.ps) > 1 && k.m*k.n*k.k < 1<<16 {
		parFor(k.pool, len(k.ps), k.m*k.n*k.k/4, k)
	} else {
		k.Range(0, len(k.ps))
	}
	return nil
}

// runSerial is run on the calling core only (a step of a stage).
func (k *matmulF32) runSerial() error {
	k.serial = true
	k.Range(0, len(k.ps))
	k.serial = false
	return nil
}

func (k *matmulF32) Range(lo, hi int) {
	x, y, o := f32s(k.x), f32s(k.y), f32s(k.out)
	mn := k.m * k.n
	var bias []float32
	if k.bias != nil {
		bias = f32s(k.bias)
	}
	for b := lo; b < hi; b++ {
		p := &k.ps[b]
		p.A, p.B, p.C = x[k.xOff[b]:], y[k.yOff[b]:], o[b*mn:(b+1)*mn]
		p.ColBias, p.Act = bias, k.act
		if k.frozen {
			k.pack(y)
			p.PackedB = k.packed
		}
		if k.sums != nil {
			p.ASums = k.sums.acc
		}
		if k.serial {
			gemm.SgemmExSerial(p)
		} else {
			gemm.SgemmEx(p)
		}
		p.A, p.B, p.C, p.ColBias, p.PackedB, p.ASums = nil, nil, nil, nil, nil, nil
		if k.sums != nil {
			k.sums.emit(0, k.sums.out.n) // sumCols's conversion
		}
	}
}

// pack packs op(y), a frozen weight, where it was not packed from y's
// present storage.
func (k *matmulF32) pack(y []float32) {
	if len(y) == 0 || k.packedAt == &y[0] {
		return
	}
	p := k.ps[0]
	p.B = y
	k.packed = gemm.PackB(&p, k.packed)
	k.packedAt = &y[0]
}

// matmulInt is the plain triple loop for integer products.
type matmulInt[T numeric] struct {
	matmulShape
	x, y, out *buffer
}

func (k *matmulInt[T]) run() error {
	x, y, o := view[T](k.x), view[T](k.y), view[T](k.out)
	lda, ldb := k.lds()
	for b := range k.xOff {
		xm, ym, om := x[k.xOff[b]:], y[k.yOff[b]:], o[b*k.m*k.n:]
		for i := range k.m {
			for j := range k.n {
				var s T
				for q := range k.k {
					ia, ic := i*lda+q, q*ldb+j
					if k.transA {
						ia = q*lda + i
					}
					if k.transB {
						ic = j*ldb + q
					}
					a, c := xm[ia], ym[ic]
					s += a * c
				}
				om[i*k.n+j] = s
			}
		}
	}
	return nil
}

func buildMatMul(c *compileCtx, v *ir.Value) (kernel, error) {
	s := newMatmulShape(v)
	x, y, out := c.buf(v.Args[0]), c.buf(v.Args[1]), c.buf(v)
	switch v.Type.DType {
	case ir.F32:
		if q, err := c.int8Weight(v, &s); err != nil || q != nil {
			if err != nil {
				return nil, err
			}
			return c.observe(v, newMatmulInt8(c, v, &s, q)), nil
		}
		lda, ldb := s.lds()
		k := &matmulF32{matmulShape: s, x: x, y: y, out: out, pool: c.pool}
		k.ps = make([]gemm.Params, len(s.xOff))
		for i := range k.ps {
			k.ps[i] = gemm.Params{TransA: s.transA, TransB: s.transB, M: s.m, N: s.n, K: s.k,
				Alpha: 1, LDA: lda, LDB: ldb, LDC: s.n}
			if c.accumulate[v] {
				k.ps[i].Beta = 1
			}
		}
		if w := v.Args[1]; c.opts.FrozenWeights && len(k.ps) == 1 && s.m > 1 && w.Op == ir.OpInput &&
			(w.Role() == ir.RoleParam || w.Role() == ir.RoleConst) {
			k.frozen = true
			c.frozen = append(c.frozen, k)
		}
		return c.observe(v, k), nil
	case ir.I32:
		return &matmulInt[int32]{s, x, y, out}, nil
	case ir.I64:
		return &matmulInt[int64]{s, x, y, out}, nil
	}
	return nil, unsupported(v, v.Type)
}

// reluEpilogues finds the ReLUs of training that their product can apply
// in its epilogue: r = relu(m) of m = matmul_bias(x, w, b) (f32, no
// activation), where m's only other use is e = relu_backward(m, dy), the
// gradient of r. relu(m) > 0 exactly where m > 0 (NaN in neither), so e
// computes the same from relu(m) as from m: m's storage can hold relu(m)
// (the product's epilogue ReLU, which computes the relu op's bits) and r
// can be that storage, its step gone. That holds while m's storage is
// m's, up to e: so r and every reader of r come after m and before e in
// program order, no value shares r's storage (a view or an op in place
// over it), and neither m nor r is a graph output. It returns r → m and
// the set of such m. The compile loop gives r m's storage; when m's
// kernel cannot take the ReLU (an int8 or observed product), r's step
// stays and runs in place over m, with the same result.
func reluEpilogues(g *ir.Graph, plan *ir.Plan) (map[*ir.Value]*ir.Value, map[*ir.Value]bool) {
	if !reluEpilogueOn {
		return nil, nil
	}
	index, uses, out := graphUses(g)
	shared := map[*ir.Value]bool{} // storage another value shares
	for _, a := range plan.Alias {
		shared[a] = true
	}
	for _, in := range plan.InPlace {
		shared[in] = true
	}
	into, ms := map[*ir.Value]*ir.Value{}, map[*ir.Value]bool{}
	for _, m := range g.Values {
		if m.Op != ir.OpMatMulBias || m.Type.DType != ir.F32 || out[m] || len(uses[m]) != 2 || plan.Alias[m] != nil {
			continue
		}
		if at, ok := m.Aux.(ir.MatMulBiasAttr); !ok || !at.Act.IsNone() {
			continue
		}
		var r, e *ir.Value
		for _, u := range uses[m] {
			switch {
			case u.Op == ir.OpRelu && len(u.Args) == 1:
				r = u
			case u.Op == ir.OpReluBackward && u.Args[0] == m && u.Args[1] != m:
				e = u
			}
		}
		if r == nil || e == nil || out[r] || shared[r] || plan.Alias[r] != nil || index[r] < index[m] || index[e] < index[r] {
			continue
		}
		ok := true
		for _, u := range uses[r] {
			if index[u] >= index[e] {
				ok = false
			}
		}
		if !ok {
			continue
		}
		into[r], ms[m] = m, true
	}
	return into, ms
}

// reluEpilogueOn turns reluEpilogues on (tests turn it off to compare).
var reluEpilogueOn = true
