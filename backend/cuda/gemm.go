// This file implements matmul and matmul_bias: cuBLAS GEMM calls in the
// plan (see GEMM for the row-major to column-major mapping), the tiled
// shared-memory kernel encc_sgemm as their fallback, and the epilogue
// kernel of matmul_bias (bias per column, then the activation).

package cuda

import (
	"fmt"

	"github.com/encc-lang/encc/ir"
)

func init() {
	register(genMatMul, ir.OpMatMul, ir.OpMatMulBias)
}

// gemmTile is the tile edge of encc_sgemm: blocks of gemmTile² threads,
// each computing one element of C.
const gemmTile = 16

// sgemmKernel is the fallback GEMM, row-major, batched over blockIdx.z.
const sgemmKernel = `
// encc_sgemm is the fallback GEMM: C[M,N] = op(A)[M,K]·op(B)[K,N], all
// row-major, op transposing when transA/transB; batch z offsets A, B, C
// by z·stride elements. 16×16 tiles staged in shared memory; one thread
// per element of C.
extern "C" __global__ void encc_sgemm(float* C, const float* A, const float* B, int M, int N, int K, int transA, int transB, long long strideA, long long strideB, long long strideC) {
  __shared__ float As[16][17];
  __shared__ float Bs[16][17];
  const long long z = blockIdx.z;
  A += z * strideA;
  B += z * strideB;
  C += z * strideC;
  const int row = blockIdx.y * 16 + threadIdx.y;
  const int col = blockIdx.x * 16 + threadIdx.x;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += 16) {
    const int ka = k0 + threadIdx.x;
    As[threadIdx.y][threadIdx.x] = (row < M && ka < K) ? (transA ? A[ka * M + row] : A[row * K + ka]) : 0.0f;
    const int kb = k0 + threadIdx.y;
    Bs[threadIdx.y][threadIdx.x] = (kb < K && col < N) ? (transB ? B[col * K + kb] : B[kb * N + col]) : 0.0f;
    __syncthreads();
    for (int kk = 0; kk < 16; kk++) acc += As[threadIdx.y][kk] * Bs[kk][threadIdx.x];
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}
`

// batchMap maps each batch index of the result to the batch index of an
// operand with batch dims in, broadcasting.
func batchMap(out, in ir.Shape) []int {
	st := in.Strides()
	off := len(out) - len(in)
	m := make([]int, out.NumElements())
	ost := out.Strides()
	for bi := range m {
		o := 0
		for i, d := range in {
			if d != 1 {
				o += (bi / ost[off+i] % out[off+i]) * st[i]
			}
		}
		m[bi] = o
	}
	return m
}

// affine returns s with m[i] == i·s for every i, s being 0 or 1.
func affine(m []int) (int, bool) {
	for _, s := range []int{0, 1} {
		ok := true
		for i, x := range m {
			if x != i*s {
				ok = false
				break
			}
		}
		if ok {
			return s, true
		}
	}
	return 0, false
}

func genMatMul(e *emitter, v *ir.Value) error {
	x, w := v.Args[0], v.Args[1]
	var ta, tb bool
	if v.Op == ir.OpMatMul {
		a := v.Aux.(ir.MatMulAttr)
		ta, tb = a.TransposeA, a.TransposeB
	} else {
		a := v.Aux.(ir.MatMulBiasAttr)
		ta, tb = a.TransposeA, a.TransposeB
	}
	if v.Type.DType != ir.F32 {
		return fmt.Errorf("matmul of %v: only f32", v.Type)
	}
	os, xs, ws := v.Type.Shape, x.Type.Shape, w.Type.Shape
	r := len(os)
	M, N := os[r-2], os[r-1]
	K := xs[len(xs)-1]
	if ta {
		K = xs[len(xs)-2]
	}
	if !e.gemm {
		e.gemm = true
		e.src.WriteString(sgemmKernel)
	}
	batch := ir.Shape(os[:r-2])
	nb := batch.NumElements()
	xm := batchMap(batch, ir.Shape(xs[:len(xs)-2]))
	wm := batchMap(batch, ir.Shape(ws[:len(ws)-2]))
	sx, okx := affine(xm)
	sw, okw := affine(wm)
	var epilogue *Launch
	if v.Op == ir.OpMatMulBias {
		epilogue = e.epilogue(v, N)
	}
	type call struct{ xOff, wOff, cOff, count, sx, sw int }
	var calls []call
	if okx && okw {
		calls = []call{{0, 0, 0, nb, sx * M * K, sw * K * N}}
	} else {
		for bi := range nb {
			calls = append(calls, call{xm[bi] * M * K, wm[bi] * K * N, bi * M * N, 1, 0, 0})
		}
	}
	for i, cl := range calls {
		g := &GEMM{
			TransA: "N", TransB: "N", M: N, N: M, K: K,
			A: e.argAt(w, cl.wOff, gemmSpan(cl.count, cl.sw, K*N)), LDA: N, StrideA: int64(cl.sw),
			B: e.argAt(x, cl.xOff, gemmSpan(cl.count, cl.sx, M*K)), LDB: K, StrideB: int64(cl.sx),
			C: e.argAt(v, cl.cOff, cl.count*M*N), LDC: N, StrideC: int64(M * N),
			Batch: cl.count, Alpha: 1, Beta: 0,
			Rows: M, Cols: N, Inner: K, TransX: ta, TransW: tb,
		}
		if tb {
			g.TransA, g.LDA = "T", K
		}
		if ta {
			g.TransB, g.LDB = "T", M
		}
		g.Fallback = &Launch{
			Kernel: "encc_sgemm",
			Grid:   [3]int{ceilDiv(N, gemmTile), ceilDiv(M, gemmTile), cl.count},
			Block:  [3]int{gemmTile, gemmTile, 1},
			Args: []Arg{g.C, g.B, g.A, intArg("i32", int64(M)), intArg("i32", int64(N)), intArg("i32", int64(K)),
				intArg("i32", b2i(ta)), intArg("i32", b2i(tb)),
				intArg("i64", int64(cl.sx)), intArg("i64", int64(cl.sw)), intArg("i64", int64(M*N))},
			Cover: [3]int{N, M, cl.count},
			Unit:  "thread",
		}
		if i == len(calls)-1 {
			g.Epilogue = epilogue
		}
		e.step(v, Step{Kind: "gemm", Out: g.C, GEMM: g})
	}
	return nil
}

// gemmSpan is the elements a batched operand touches: count matrices of
// size elements, stride apart.
func gemmSpan(count, stride, size int) int {
	return (count-1)*stride + size
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// epilogue writes the kernel adding the bias per column of v (N columns)
// and applying the activation, and returns its launch.
func (e *emitter) epilogue(v *ir.Value, N int) *Launch {
	a := v.Aux.(ir.MatMulBiasAttr)
	n := v.Type.NumElements()
	var c code
	c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
	c.line("if (i >= %d) return;", n)
	c.line("const float t = out[i] + bias[i %% %d];", N)
	suffix := "matmul_bias_epilogue"
	if act := a.Act; !act.IsNone() {
		x, _ := scalarExpr(act.Op, ir.F32, act.Aux, []string{"t"})
		c.line("out[i] = %s;", x)
		suffix = "matmul_bias_" + act.Op.String() + "_epilogue"
	} else {
		c.line("out[i] = t;")
	}
	k := e.kernel(v, suffix, []param{out(ir.F32, "out"), in(ir.F32, "bias")}, c.String())
	return e.threads(k, n, e.args(v, v.Args[2]))
}
