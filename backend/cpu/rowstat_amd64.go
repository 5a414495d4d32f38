//go:build amd64

package cpu

// The float64 kernels of rowstat_amd64.s: layernorm and column sums, lane
// for lane the operations of the portable loops in nn.go and reduce.go
// (bit-identical results). Callers check simdOn.

// colSumAVX2 adds x[r·stride+i] into acc[i] for rows rows (≥ 1) and n (a
// multiple of 4) columns.
//
//go:noescape
func colSumAVX2(acc *float64, x *float32, rows, n, stride int)

// lnColAVX2 adds dy·(x-mean)·rstd into acc over rows rows (≥ 1) and n (a
// multiple of 4) columns, mean and rstd of row r at st[2r], st[2r+1].
//
//go:noescape
func lnColAVX2(acc *float64, x, dy *float32, st *float64, rows, n, stride int)

// lnSumsAVX2 writes into s the four strided partial sums of x (sq == 0)
// or of (x-mean)² over n (a multiple of 4, ≥ 4) elements.
//
//go:noescape
func lnSumsAVX2(x *float32, n int, mean float64, sq int, s *[4]float64)

// lnApplyAVX2 writes layernorm's output (x-mean)·rstd·w + b for n (a
// multiple of 4, ≥ 4) elements.
//
//go:noescape
func lnApplyAVX2(o, x, w, b *float32, n int, mean, rstd float64)

// lnBackAVX2 writes layernorm_backward_input's rstd·(dy·w - mg - x̂·mgx)
// for n (a multiple of 4, ≥ 4) elements.
//
//go:noescape
func lnBackAVX2(o, x, w, dy *float32, n int, mean, rstd, mg, mgx float64)

// maxAVX2 returns the largest of n (a multiple of 8, ≥ 8) elements (of
// the non-NaN ones, either zero where the largest is ±0) and whether any
// is NaN.
//
//go:noescape
func maxAVX2(x *float32, n int) (m float32, nan bool)

// scaleAVX2 multiplies n (a multiple of 8) elements by a.
//
//go:noescape
func scaleAVX2(x *float32, n int, a float32)

// lnDotsAVX2 writes layernorm_backward_input's sums of g = dy·w and of
// g·x̂ in four strided lanes each (s[0:4], s[4:8]) over n (a multiple of
// 4, ≥ 4) elements.
//
//go:noescape
func lnDotsAVX2(x, w, dy *float32, n int, mean, rstd float64, s *[8]float64)

// lnSums4AVX2 is lnSumsAVX2 for four rows stride floats apart, side by
// side: s[4r:4r+4] are row r's four sums (of (x-mean[r])² when sq != 0).
//
//go:noescape
func lnSums4AVX2(x *float32, n, stride int, mean *[4]float64, sq int, s *[16]float64)

// lnBackSumsAVX2 is lnBackAVX2 that also adds h·dy into dw and dy into
// db, h = (x-mean)·rstd, for n (a multiple of 4, ≥ 4) elements.
//
//go:noescape
func lnBackSumsAVX2(o, x, w, dy *float32, n int, mean, rstd, mg, mgx float64, dw, db *float64)
