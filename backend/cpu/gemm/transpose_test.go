package gemm

import "testing"

// TestTranspose checks Transpose with every kernel on shapes with whole
// 8×8 blocks, edges on either side and strides past the matrix.
func TestTranspose(t *testing.T) {
	defer SetKernel("auto")
	for _, name := range Kernels() {
		if err := SetKernel(name); err != nil {
			t.Fatal(err)
		}
		for _, s := range [][4]int{{1, 1, 1, 1}, {8, 8, 8, 8}, {64, 32, 128, 64}, {13, 21, 23, 17}, {9, 8, 8, 12}, {3, 40, 41, 3}} {
			rows, cols, lds, ldd := s[0], s[1], s[2], s[3]
			src := make([]float32, (rows-1)*lds+cols)
			for i := range src {
				src[i] = float32(i + 1)
			}
			dst := make([]float32, (cols-1)*ldd+rows+1)
			dst[len(dst)-1] = -7
			Transpose(rows, cols, src, lds, dst, ldd)
			for i := range rows {
				for j := range cols {
					if dst[j*ldd+i] != src[i*lds+j] {
						t.Fatalf("%s %v: dst[%d,%d] = %v, want %v", name, s, j, i, dst[j*ldd+i], src[i*lds+j])
					}
				}
			}
			if dst[len(dst)-1] != -7 {
				t.Fatalf("%s %v: wrote past the matrix", name, s)
			}
		}
	}
}
