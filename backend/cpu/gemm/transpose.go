package gemm

// Transpose writes dst[j·ldd + i] = src[i·lds + j] for i < rows and
// j < cols: the rows×cols matrix src (row stride lds ≥ cols) becomes the
// cols×rows matrix dst (row stride ldd ≥ rows). It uses the 8×8 block
// transposes of the active kernel where it has them. It panics if either
// matrix does not fit its slice.
func Transpose(rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_, _ = src[(rows-1)*lds+cols-1], dst[(cols-1)*ldd+rows-1]
	i, cb := 0, 0
	if t8 := active.Load().transpose8; t8 != nil && lds >= cols && ldd >= rows {
		cb = cols / 8
		if cb > 0 {
			for ; i+8 <= rows; i += 8 {
				t8(cb, &src[i*lds], lds, &dst[i], ldd)
			}
		}
	}
	for r := 0; r < i; r++ { // the columns the blocks left
		for j := cb * 8; j < cols; j++ {
			dst[j*ldd+r] = src[r*lds+j]
		}
	}
	for ; i < rows; i++ {
		for j, v := range src[i*lds : i*lds+cols] {
			dst[j*ldd+i] = v
		}
	}
}
