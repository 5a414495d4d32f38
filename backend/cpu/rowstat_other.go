//go:build !amd64

package cpu

func colSumAVX2(acc *float64, x *float32, rows, n, stride int) { panic("unreachable") }

func lnColAVX2(acc *float64, x, dy *float32, st *float64, rows, n, stride int) {
	panic("unreachable")
}

func lnSumsAVX2(x *float32, n int, mean float64, sq int, s *[4]float64) { panic("unreachable") }

func lnApplyAVX2(o, x, w, b *float32, n int, mean, rstd float64) { panic("unreachable") }

func lnBackAVX2(o, x, w, dy *float32, n int, mean, rstd, mg, mgx float64) {
	panic("unreachable")
}

func maxAVX2(x *float32, n int) (m float32, nan bool) { panic("unreachable") }

func scaleAVX2(x *float32, n int, a float32) { panic("unreachable") }

func lnDotsAVX2(x, w, dy *float32, n int, mean, rstd float64, s *[8]float64) {
	panic("unreachable")
}

func lnSums4AVX2(x *float32, n, stride int, mean *[4]float64, sq int, s *[16]float64) {
	panic("unreachable")
}

func lnBackSumsAVX2(o, x, w, dy *float32, n int, mean, rstd, mg, mgx float64, dw, db *float64) {
	panic("unreachable")
}
