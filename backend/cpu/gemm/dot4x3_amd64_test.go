package gemm

import (
	"math"
	"math/rand"
	"testing"
	"unsafe"
)

// TestDot4x3: Dot4x3AVX2 with several segments and tiles (the general
// form; gemm's dot path runs one segment, backend/cpu's convolution
// weight gradients one tile) gives the reference dot products within
// rounding, adds into C or overwrites it, leaves the rest of C alone,
// and gives each tile the bits of the same tile computed alone.
func TestDot4x3(t *testing.T) {
	if active.Load().dotNT == nil {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(8))
	for it := 0; it < 300; it++ {
		k, nseg, tiles, acc := 8+r.Intn(40), 1+r.Intn(3), 1+r.Intn(3), r.Intn(2)
		lda, ldb, ldc := k+r.Intn(5), k+r.Intn(5), 3+r.Intn(4)
		rows := 4 * tiles
		as, bs := rows*lda+r.Intn(7), 3*ldb+r.Intn(7) // segment strides, floats
		a, b := randSlice(r, nseg*as), randSlice(r, nseg*bs)
		c := randSlice(r, rows*ldc)
		c0 := append([]float32(nil), c...)
		ap := [4]*float32{&a[0], &a[lda], &a[2*lda], &a[3*lda]}
		bp := [3]*float32{&b[0], &b[ldb], &b[2*ldb]}
		Dot4x3AVX2(k, nseg, 4*as, 4*bs, &ap, &bp, tiles, 16*lda, &c[0], ldc, acc)
		for i := 0; i < rows; i++ {
			for j := 0; j < ldc; j++ {
				got := c[i*ldc+j]
				if j >= 3 {
					if got != c0[i*ldc+j] {
						t.Fatalf("it %d: C[%d,%d] past the tile changed", it, i, j)
					}
					continue
				}
				w, sc := 0.0, 0.0
				if acc != 0 {
					w, sc = float64(c0[i*ldc+j]), math.Abs(float64(c0[i*ldc+j]))
				}
				for s := 0; s < nseg; s++ {
					for q := 0; q < k; q++ {
						x := float64(a[s*as+i*lda+q]) * float64(b[s*bs+j*ldb+q])
						w += x
						sc += math.Abs(x)
					}
				}
				if d := math.Abs(float64(got) - w); d > 1e-6*sc+1e-6 {
					t.Fatalf("it %d (k %d, %d segments, %d tiles, acc %d): C[%d,%d] = %v, want %v", it, k, nseg, tiles, acc, i, j, got, w)
				}
			}
		}
		for tt := 0; tt < tiles; tt++ {
			var one [12]float32
			at := [4]*float32{}
			for i := range at {
				at[i] = (*float32)(unsafe.Add(unsafe.Pointer(ap[i]), 16*lda*tt))
			}
			Dot4x3AVX2(k, nseg, 4*as, 4*bs, &at, &bp, 1, 0, &one[0], 3, 0)
			for i := 0; i < 4; i++ {
				for j := 0; j < 3; j++ {
					want := one[3*i+j]
					if acc != 0 {
						want = c0[(4*tt+i)*ldc+j] + want
					}
					if got := c[(4*tt+i)*ldc+j]; math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("it %d: tile %d [%d,%d] = %v, alone %v", it, tt, i, j, got, want)
					}
				}
			}
		}
	}
}
