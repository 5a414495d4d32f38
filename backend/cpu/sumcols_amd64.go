//go:build amd64

package cpu

// sumColsAVX2 sets acc[0:16·blocks] to the float64 column sums of rows
// rows of x (row stride ldx floats), rows added in order; rows ≥ 1.
//
//go:noescape
func sumColsAVX2(x *float32, ldx, rows int, acc *float64, blocks int)
