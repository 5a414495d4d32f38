// This file implements chains of products by frozen weights: an MLP's
// forward as one parallel region.

package cpu

import (
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// chainRows: the rows of a chain are cut over the cores in units of this
// many (gemm's AVX2 tile height).
const chainRows = 6

// chainMinMACs: a chain of fewer multiply-adds stays as its steps.
const chainMinMACs = 1 << 20

// chainKernel runs consecutive products by frozen weights
// (Options.FrozenWeights), each of whose x is the previous one's output,
// as one parallel region: the rows are cut over the cores once, and each
// task runs every product of the chain on its rows, one after another,
// with no wait between the products (W2, the MLP's forward). A row of a
// product reads only the same row of its x, so the tasks' rows stay
// independent through the chain; each product of a task's rows is gemm's
// serial call on the weight's packing, which gives every element the
// bits of the whole product (TestFrozenWeights). The values between the
// products, read by nothing else, go to the task's rows of two scratch
// buffers of the chain's own instead of their planned storage, which the
// arena may share with other values of the chain (the last output over
// the first hidden layer, say) that another task is still reading. When
// the last output shares storage with the first x, the products run one
// by one instead.
type chainKernel struct {
	ks      []*matmulF32
	m       int
	units   int
	maxN    int // the widest value between two products
	pool    *parallel.Pool
	ps      []gemm.Params // per first unit of a task and product
	scratch [2][]float32  // the values between products, units·chainRows rows of maxN
}

func (c *chainKernel) run() error {
	for _, k := range c.ks {
		k.pack(f32s(k.y))
	}
	if overlaps(c.ks[len(c.ks)-1].out, c.ks[0].x) {
		for _, k := range c.ks {
			if err := k.run(); err != nil {
				return err
			}
		}
		return nil
	}
	c.pool.ForRanger(c.units, c.grain(), c)
	return nil
}

// grain is the fewest units per task: the units cut into one task per
// core.
func (c *chainKernel) grain() int { return max(1, c.units/c.pool.Size()) }

func (c *chainKernel) Range(lo, hi int) {
	i0, i1 := lo*chainRows, min(hi*chainRows, c.m)
	first := c.ks[0]
	src := f32s(first.x)[i0*first.ps[0].LDA:]
	for l, k := range c.ks {
		p := &c.ps[lo*len(c.ks)+l]
		// k's Params, its Tile epilogue too: a Tile sees the rows of this
		// sub-call (i0 = 0 at row i0 of the product) and, but for the last
		// product, C in the scratch. The Tiles a frozen product can carry
		// do not use i0: a matmul_bias's GELU works in place, a folded
		// layernorm finds its rows from C's address and leaves rows
		// outside its product's storage to its own step (lnTile).
		*p = k.ps[0]
		p.M = i1 - i0
		p.A, p.B = src, f32s(k.y)
		if l == len(c.ks)-1 {
			p.C = f32s(k.out)[i0*p.LDC:]
		} else {
			p.C = c.scratch[l%2][i0*c.maxN:]
		}
		src = p.C
		if k.bias != nil {
			p.ColBias = f32s(k.bias)
		}
		p.Act, p.PackedB = k.act, k.packed
		gemm.SgemmExSerial(p)
		*p = gemm.Params{}
	}
}

// chainFrozen replaces each run of two or more consecutive steps that
// are products by frozen weights, of the same rows, each reading the
// previous one's output as its x and the only reader of it, by one
// chainKernel step (on 2+ cores, for chains of at least chainMinMACs).
func (p *Program) chainFrozen(pool *parallel.Pool) {
	if len(p.frozen) < 2 || pool.Size() < 2 {
		return
	}
	uses := map[*ir.Value]int{}
	for _, v := range p.g.Values {
		for _, a := range v.Args {
			uses[a]++
		}
	}
	for _, o := range p.g.Outputs {
		uses[o.Value] += 2
		if o.Updates != nil {
			uses[o.Updates] += 2
		}
	}
	link := func(k *matmulF32) bool {
		return k.frozen && !k.transA && len(k.ps) == 1
	}
	var kept []step
	for i := 0; i < len(p.steps); {
		k, ok := p.steps[i].k.(*matmulF32)
		j := i + 1
		if ok && link(k) {
			ks := []*matmulF32{k}
			macs := k.m * k.n * k.k
			for ; j < len(p.steps); j++ {
				n, ok := p.steps[j].k.(*matmulF32)
				last := ks[len(ks)-1]
				if !ok || !link(n) || n.m != k.m || n.x != last.out || p.steps[j].v.Args[0] != p.steps[j-1].v || uses[p.steps[j-1].v] != 1 {
					break
				}
				ks = append(ks, n)
				macs += n.m * n.n * n.k
			}
			units := (k.m + chainRows - 1) / chainRows
			if len(ks) >= 2 && macs >= chainMinMACs && units >= 2*pool.Size() {
				c := &chainKernel{ks: ks, m: k.m, units: units, pool: pool, ps: make([]gemm.Params, units*len(ks))}
				for _, e := range ks[:len(ks)-1] {
					c.maxN = max(c.maxN, e.n)
				}
				for s := range c.scratch {
					c.scratch[s] = make([]float32, units*chainRows*c.maxN)
				}
				kept = append(kept, step{v: p.steps[j-1].v, k: c})
				i = j
				continue
			}
			j = i + 1
		}
		kept = append(kept, p.steps[i])
		i = j
	}
	p.steps = kept
}
