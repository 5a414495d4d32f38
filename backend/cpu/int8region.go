// This file joins the int8 kernels of a program into int8 regions, after
// the kernels are built:
//
//   - fuseInt8Epilogues folds the per-channel bias add (and a relu) that
//     follows an int8 convolution into its epilogue, as fuseConvBias does
//     for the f32 one (the optimizer leaves them as fused(add, relu)).
//   - int8Regions keeps the activations in uint8 between consecutive int8
//     layers: when an int8 product's result (after its epilogue) is used
//     only by another int8 product, directly, through reshapes, or
//     through one maxpool2d, the producer's epilogue requantizes with the
//     consumer's input quantization and writes the consumer's uint8
//     input; a maxpool2d in between runs on the uint8 values. Both are
//     exact: quantization is monotone, so max(q(a), q(b)) = q(max(a, b)),
//     and the f32 values the producer would have written are those the
//     consumer would have quantized. A program with regions computes the
//     same bits as one without (int8RegionsOn = false; tested).
//   - planInt8 then allocates every int8 kernel's buffers.

package cpu

import (
	"encoding/binary"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/ir"
)

// int8RegionsOn turns int8Regions on (tests compare both).
var int8RegionsOn = true

// int8PackedChainOn lets a product write the next product's packed A
// (tests compare both).
var int8PackedChainOn = true

// An int8Kernel is matmulInt8 or convInt8.
type int8Kernel interface {
	kernel
	plan()
	// input returns the kernel's quantized input, its quantization and
	// whether a producer writes it already.
	input() (xq []uint8, q gemm.QParams, preq bool)
	// feed makes the kernel read xq as written by a producer.
	feed()
	// output returns whether the epilogue can requantize (its
	// activation is gemm's), and makes it write dst with q when dst is
	// not nil.
	requantize(dst []uint8, q gemm.QParams) bool
}

func (k *matmulInt8) input() ([]uint8, gemm.QParams, bool) { return k.xq, k.q.In, k.preq }
func (k *matmulInt8) feed()                                { k.preq = true }
func (k *matmulInt8) requantize(dst []uint8, q gemm.QParams) bool {
	if k.post != nil || k.toU8 {
		return false
	}
	if dst != nil {
		k.toU8, k.outU8, k.outQ = true, dst, q
	}
	return true
}

func (k *convInt8) feed() { k.preq = true }
func (k *convInt8) requantize(dst []uint8, q gemm.QParams) bool {
	if k.toU8 {
		return false
	}
	if dst != nil {
		k.toU8, k.outU8, k.outQ = true, dst, q
	}
	return true
}

// int8Passes runs the passes of this file.
func (p *Program) int8Passes() {
	p.fuseInt8Epilogues()
	if int8RegionsOn {
		p.int8Regions()
	}
	for _, s := range p.steps {
		if k, ok := s.k.(int8Kernel); ok {
			k.plan()
		}
	}
}

// useMap counts the uses of every value (a graph output counts twice).
func (p *Program) useMap() map[*ir.Value][]*ir.Value {
	uses := map[*ir.Value][]*ir.Value{}
	for _, v := range p.g.Values {
		for _, a := range v.Args {
			uses[a] = append(uses[a], v)
		}
	}
	for _, o := range p.g.Outputs {
		uses[o.Value] = append(uses[o.Value], nil, nil)
	}
	return uses
}

// fuseInt8Epilogues folds add(conv, b) or fused{add(conv, b), relu},
// with b one value per output channel, the conv's only use and its next
// step, into the int8 convolution's epilogue.
func (p *Program) fuseInt8Epilogues() {
	uses := p.useMap()
	drop := map[int]bool{}
	for i := 0; i+1 < len(p.steps); i++ {
		k, ok := p.steps[i].k.(*convInt8)
		next := p.steps[i+1].v
		cv := p.steps[i].v
		if !ok || k.bias != nil || len(uses[cv]) != 1 || uses[cv][0] != next || len(next.Args) != 2 {
			continue
		}
		act, isAdd := gemm.ActNone, next.Op == ir.OpAdd
		if next.Op == ir.OpFused {
			body := next.Aux.(ir.FusedAttr).Body
			if len(body) >= 1 && body[0].Op == ir.OpAdd && len(body[0].Args) == 2 && body[0].Args[0] != body[0].Args[1] &&
				body[0].Args[0] < 2 && body[0].Args[1] < 2 {
				isAdd = len(body) == 1
				if len(body) == 2 && body[1].Op == ir.OpRelu && len(body[1].Args) == 1 && body[1].Args[0] == 2 {
					isAdd, act = true, gemm.ActReLU
				}
			}
		}
		if !isAdd || next.Type.DType != ir.F32 {
			continue
		}
		b := next.Args[1]
		if b == cv {
			b = next.Args[0]
		}
		bs := b.Type.Shape
		perChannel := b != cv && b.Type.DType == ir.F32 && bs.NumElements() == k.O && len(bs) >= 3 && len(bs) <= 4 &&
			bs[len(bs)-3] == k.O && bs[len(bs)-2] == 1 && bs[len(bs)-1] == 1
		if !perChannel || !next.Type.Shape.Equal(cv.Type.Shape) {
			continue
		}
		out := p.bufs[next]
		if overlaps(out, p.bufs[b]) {
			continue
		}
		k.out, k.bias, k.act = out, p.bufs[b], act
		p.steps[i].v = next // the step now computes next's value
		drop[i+1] = true
	}
	p.dropSteps(drop)
}

// dropSteps removes the steps whose index drop holds.
func (p *Program) dropSteps(drop map[int]bool) {
	if len(drop) == 0 {
		return
	}
	kept := p.steps[:0]
	for i, s := range p.steps {
		if !drop[i] {
			kept = append(kept, s)
		}
	}
	p.steps = kept
}

// int8Regions joins int8 producers to their int8 consumers (see the file
// comment).
func (p *Program) int8Regions() {
	uses := p.useMap()
	at := map[*ir.Value]int{}
	for i, s := range p.steps {
		at[s.v] = i
		if k, ok := s.k.(*convInt8); ok {
			at[k.conv] = i // its step computes the fused epilogue's value
		}
	}
	// sole returns v's only use, looking through reshapes that alias
	// their operand's storage, or nil.
	var sole func(v *ir.Value) *ir.Value
	sole = func(v *ir.Value) *ir.Value {
		us := uses[v]
		if len(us) != 1 || us[0] == nil {
			return nil
		}
		if u := us[0]; p.plan.Alias[u] == v {
			return sole(u)
		}
		return us[0]
	}
	// reaches says whether a is v, or a reshape (alias) of it.
	reaches := func(a, v *ir.Value) bool {
		for a != v && p.plan.Alias[a] != nil {
			a = p.plan.Alias[a]
		}
		return a == v
	}
	for i, s := range p.steps {
		prod, ok := s.k.(int8Kernel)
		if !ok || !prod.requantize(nil, gemm.QParams{}) {
			continue
		}
		chain, u := s.v, sole(s.v)
		var pool *poolKernel
		var poolAt int
		if u != nil && u.Op == ir.OpMaxPool2D && reaches(u.Args[0], s.v) {
			poolAt, ok = at[u]
			if ok {
				pool, _ = p.steps[poolAt].k.(*poolKernel)
			}
			if pool == nil {
				continue
			}
			chain, u = u, sole(u)
		}
		if u == nil || len(u.Args) < 2 || !reaches(u.Args[0], chain) || u.Args[1].Op != ir.OpInput {
			continue
		}
		j, ok := at[u]
		if !ok || j <= i {
			continue
		}
		cons, ok := p.steps[j].k.(int8Kernel)
		if !ok {
			continue
		}
		xq, q, preq := cons.input()
		if preq || len(xq) != chain.Type.NumElements() {
			continue
		}
		if pool == nil {
			prod.requantize(xq, q)
			// Product to product with the same rows: the producer
			// writes the consumer's packed A.
			if pm, ok := prod.(*matmulInt8); ok {
				if cm, ok := cons.(*matmulInt8); ok && cm.m == pm.m && cm.k == pm.n && int8PackedChainOn {
					pm.next, cm.packedIn = cm, true
				}
			}
		} else {
			mid := make([]uint8, s.v.Type.NumElements())
			prod.requantize(mid, q)
			p.steps[poolAt].k = &poolU8{poolKernel: pool, x: mid, y: xq}
		}
		cons.feed()
	}
}

// poolU8 is maxpool2d on uint8 activations inside an int8 region: x
// holds the producer's requantized output, y the consumer's input.
type poolU8 struct {
	*poolKernel
	x, y []uint8
}

func (k *poolU8) run() error {
	parFor(k.pool, k.planes, k.H*k.W, k)
	return nil
}

func (k *poolU8) Range(lo, hi int) {
	HW, OHW, W, OW := k.H*k.W, k.OH*k.OW, k.W, k.OW
	for pl := lo; pl < hi; pl++ {
		x, y := k.x[pl*HW:][:HW], k.y[pl*OHW:][:OHW]
		if k.kh == 2 && k.kw == 2 && k.sh == 2 && k.sw == 2 && k.ph == 0 && k.pw == 0 {
			if maxpool2x2U8(y, x, k.OH, OW, W) {
				continue
			}
			for oh := range k.OH {
				r0, r1 := x[2*oh*W:][:2*OW], x[(2*oh+1)*W:][:2*OW]
				yr := y[oh*OW:][:OW]
				// 4 outputs from 8 bytes of each row at a time.
				ow := 0
				for ; ow+4 <= OW; ow += 4 {
					v := max7x8(binary.LittleEndian.Uint64(r0[2*ow:]), binary.LittleEndian.Uint64(r1[2*ow:]))
					v = max7x8(v, v>>8) & 0x00ff00ff00ff00ff // byte 2i: the max of window i
					v = (v | v>>8) & 0x0000ffff0000ffff
					binary.LittleEndian.PutUint32(yr[ow:], uint32(v|v>>16))
				}
				for ; ow < OW; ow++ {
					yr[ow] = max(r0[2*ow], r0[2*ow+1], r1[2*ow], r1[2*ow+1])
				}
			}
			continue
		}
		for oh := range k.OH {
			for ow := range k.OW {
				// An empty window (all padding) is −∞, quantized to 0.
				h0, h1, w0, w1 := k.window(oh, ow)
				var m uint8
				for ih := h0; ih < h1; ih++ {
					for _, e := range x[ih*W+w0 : ih*W+max(w0, w1)] {
						m = max(m, e)
					}
				}
				y[oh*OW+ow] = m
			}
		}
	}
}

// max7x8 is the bytewise maximum of a and b, whose bytes are all ≤ 127
// (7-bit activations): per byte, (a | 0x80) − b never borrows from the
// next byte and keeps its high bit exactly when a ≥ b.
func max7x8(a, b uint64) uint64 {
	const hi = 0x8080808080808080
	m := ((a | hi) - b) & hi >> 7 * 0xff
	return a&m | b&^m
}
