//go:build !amd64

package cpu

const hasAVX2FMA = false

func adamAVX2(p, m, v, g *float32, n int, c *[8]float32) { panic("unreachable") }
