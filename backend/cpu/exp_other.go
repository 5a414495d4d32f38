//go:build !amd64

package cpu

func expAVX2(dst, x *float64, n int) bool {
	panic("cpu: expAVX2 without amd64")
}

func logAVX2(dst, x *float64, n int) bool {
	panic("cpu: logAVX2 without amd64")
}
