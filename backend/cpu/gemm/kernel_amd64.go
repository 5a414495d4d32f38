//go:build amd64

package gemm

import "golang.org/x/sys/cpu"

//go:noescape
func sgemmAVX2x6x16(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)

//go:noescape
func sgemmAVX2x6x16Col(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int, tiles int, pf uintptr, pfLines int)

//go:noescape
func sgemmAVX2x6x16ColBias(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int, tiles int, pf uintptr, pfLines int, bias *float32)

//go:noescape
func sgemmAVX2x6x16A(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc int)

//go:noescape
func sgemmAVX2x4x16(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)

//go:noescape
func sgemmAVX2x5x16(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)

//go:noescape
func sgemmAVX2x5x16A(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc int)

//go:noescape
func sgemmAVX512x12x32(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)

//go:noescape
func gemvNAVX2x64(k int, x, b *float32, ldb int, y *float32, acc int)

//go:noescape
func gemvNAVX2x8(k int, x, b *float32, ldb int, y *float32, acc int)

//go:noescape
func transpose8AVX2(blocks int, src *float32, lds int, dst *float32, ldd int)

//go:noescape
func pack6AVX2(blocks int, src *float32, lds int, dst *float32)

//go:noescape
func packB16AVX2(kc int, src *float32, ldb int, np int, dst *float32, pstride int)

//go:noescape
func packAT6AVX2(kc int, src *float32, lds int, np int, dst *float32, pstride int)

//go:noescape
func prefetchLines(p uintptr, lines int)

//go:noescape
func biasActAVX2(n int, row, bias *float32, relu int)

//go:noescape
func dot4AVX2(k int, x, b *float32, ldb int, out *float32)

func init() {
	if cpu.X86.HasAVX2 {
		biasAct = biasActAVX2
		packAT6 = packAT6AVX2
	}
}

func archKernels() []*kernel {
	var ks []*kernel
	hasAVX2 := cpu.X86.HasAVX2 && cpu.X86.HasFMA
	if hasAVX2 {
		ks = append(ks, &kernel{
			name: "avx2", mr: 6, nr: 16, kc: 256, mc: 240, nc: 4080,
			micro: sgemmAVX2x6x16, microCol: sgemmAVX2x6x16Col, microColBias: sgemmAVX2x6x16ColBias, micro4: sgemmAVX2x4x16, microA: sgemmAVX2x6x16A,
			micro5: sgemmAVX2x5x16, micro5A: sgemmAVX2x5x16A,
			gemvN: gemvNAVX2, gemvT: gemvTAVX2, transpose8: transpose8AVX2,
			pack6: pack6AVX2, packB16: packB16AVX2, prefetch: prefetchLines,
			dotNT: dotNT4x3AVX2,
		})
	}
	if hasAVX2 && cpu.X86.HasAVX512F {
		ks = append(ks, &kernel{
			name: "avx512", mr: 12, nr: 32, kc: 192, mc: 240, nc: 4064,
			micro: sgemmAVX512x12x32,
			gemvN: gemvNAVX2, gemvT: gemvTAVX2, transpose8: transpose8AVX2,
		})
	}
	return ks
}

// gemvNAVX2 computes y[0:n] (+)= x[0:k]·B for row-major B (k×n, ldb).
func gemvNAVX2(k, n int, x, b []float32, ldb int, y []float32, acc bool) {
	// The assembly reads x[0:k], rows b[p*ldb : p*ldb+n] and y[0:n].
	_, _, _ = x[k-1], b[(k-1)*ldb+n-1], y[n-1]
	ac := 0
	if acc {
		ac = 1
	}
	j := 0
	for ; j+64 <= n; j += 64 {
		gemvNAVX2x64(k, &x[0], &b[j], ldb, &y[j], ac)
	}
	for ; j+8 <= n; j += 8 {
		gemvNAVX2x8(k, &x[0], &b[j], ldb, &y[j], ac)
	}
	if j < n {
		gemvNGeneric(k, n-j, x, b[j:], ldb, y[j:n], acc)
	}
}

// gemvTAVX2 computes y[j] (+)= dot(x[0:k], B[j, 0:k]) for j < n, B
// row-major n×k with row stride ldb.
func gemvTAVX2(k, n int, x, b []float32, ldb int, y []float32, acc bool) {
	var out [4]float32
	// The assembly reads x[0:k] and rows b[j*ldb : j*ldb+k], j < n.
	_, _, _ = x[k-1], b[(n-1)*ldb+k-1], y[n-1]
	for j := 0; j < n; j += 4 {
		if j+4 <= n {
			_ = b[(j+3)*ldb+k-1]
			dot4AVX2(k, &x[0], &b[j*ldb], ldb, &out[0])
			if acc {
				y[j] += out[0]
				y[j+1] += out[1]
				y[j+2] += out[2]
				y[j+3] += out[3]
			} else {
				y[j], y[j+1], y[j+2], y[j+3] = out[0], out[1], out[2], out[3]
			}
			continue
		}
		for ; j < n; j++ {
			_ = b[j*ldb+k-1]
			// One row: ldb 0 makes the four dot products the same row.
			dot4AVX2(k, &x[0], &b[j*ldb], 0, &out[0])
			if acc {
				y[j] += out[0]
			} else {
				y[j] = out[0]
			}
		}
	}
}

// dotNT4x3AVX2 is kernel.dotNT: Dot4x3AVX2's micro-kernel (the same
// DOT4X3 macros of kernel_amd64.s) over rows of A lda floats apart and
// tiles down C, one segment.
//
//go:noescape
func dotNT4x3AVX2(k int, a *float32, lda, tiles int, b *float32, ldb int, c *float32, ldc, acc int)

// Dot4x3AVX2 computes tiles of 4×3 dot products in 8 lanes: the dot
// micro-kernel of backend/cpu's convolution weight gradients (addDots,
// addTapDots), the same code (kernel_amd64.s's DOT4X3 macros) as gemm's
// small-batch path (dotNT4x3AVX2). For t < tiles, i < 4, j < 3,
//
//	c[(4t+i)·ldc + j] (+)= Σ_{s<nseg} Σ_{q<k} a[i][t·atile + s·astride + q] · b[j][s·bstride + q]
//
// (added to c where acc != 0; astride, bstride and atile in bytes, ldc
// in floats, k ≥ 8, nseg ≥ 1, tiles ≥ 1). The bits of a dot product
// depend on its two rows, k and nseg only: lane l sums the depth steps
// q ≡ l mod 8 of each segment in order by FMA (the k mod 8 last of a
// segment through a masked block of the 8 floats that end at k), then
// the lanes pairwise; with one segment they are dotNT4x3AVX2's. It needs
// AVX2 and FMA (the caller checks).
//
//go:noescape
func Dot4x3AVX2(k, nseg, astride, bstride int, a *[4]*float32, b *[3]*float32, tiles, atile int, c *float32, ldc, acc int)
