//go:build amd64

package gemm

import "golang.org/x/sys/cpu"

//go:noescape
func biasTileAVX2(rows int, c *float32, ldc int, bias *float32, relu int)

func init() {
	if cpu.X86.HasAVX2 {
		biasTile = biasTileAVX2
	}
}
