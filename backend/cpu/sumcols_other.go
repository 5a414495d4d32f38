//go:build !amd64

package cpu

func sumColsAVX2(x *float32, ldx, rows int, acc *float64, blocks int) { panic("unreachable") }
