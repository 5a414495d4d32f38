package cpu

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/internal/golden"
	"github.com/encc-lang/encc/ir"
)

// TestW4Kernels pins which kernel each value of the W4 and W5 training
// steps (bench/w4_transformer.enc), and of W1's (the MLP, for relu), runs
// on, against
// testdata/w4_kernels.txt: for every op, its attributes and the kernel
// chosen (a fused body lists the loop of each instruction, "/avx2" a
// vector loop, "/table" the op table's arithmetic in float64), with how
// many values share them. A change to the VJPs, the passes or the kernel
// choice that moves an op to a slower or generic kernel changes the file;
// rewrite it with -update when the change is meant.
func TestW4Kernels(t *testing.T) {
	if !simdOn {
		t.Skip("the pinned kernels are those of a CPU with AVX2 and FMA")
	}
	var b strings.Builder
	for tr, name := range []string{"transformer_train", "transformer_finetune", "w1_mlp"} {
		var g *ir.Graph
		if tr < 2 {
			g = stepGraph(t, "bench/w4_transformer.enc", tr, 0, 32, true)
		} else {
			g = mlpGraph(64)
		}
		p, err := Compile(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		steps := flatSteps(p) // a stage's steps in its place
		for _, s := range steps {
			line := s.v.Op.String()
			if a := ir.FormatAux(s.v.Aux); a != "" && s.v.Op != ir.OpFused {
				line += " {" + a + "}"
			}
			counts[line+" → "+describeKernel(s.k)]++
		}
		lines := make([]string, 0, len(counts))
		for l, n := range counts {
			lines = append(lines, fmt.Sprintf("%3d × %s", n, l))
		}
		sort.Slice(lines, func(i, j int) bool { return lines[i][6:] < lines[j][6:] })
		fmt.Fprintf(&b, "== %s: %d steps\n%s\n", name, len(steps), strings.Join(lines, "\n"))
	}
	golden.Check(t, "testdata/w4_kernels.txt", []byte(b.String()))
}

// describeKernel names a kernel and the loops it runs.
func describeKernel(k kernel) string {
	switch k := k.(type) {
	case *fusedKernel:
		names := make([]string, len(k.body))
		for i, in := range k.body {
			names[i] = in.name
		}
		return "fused(" + strings.Join(names, ", ") + ")"
	case *unaryF32:
		switch {
		case k.act == gemm.ActGELU && simdOn:
			return "unaryF32/gelu/avx2"
		case k.act != gemm.ActNone:
			return "unaryF32/" + k.act.String()
		}
		return "unaryF32/table"
	case *gradF32:
		if k.sum != nil {
			return "gradF32/" + k.op.String() + "/avx2+column sums"
		}
		return "gradF32/" + k.op.String() + "/avx2"
	case *matmulF32:
		s := "gemm"
		if k.bias != nil {
			s += "+bias"
		}
		if k.act != gemm.ActNone {
			s += "+" + k.act.String()
		}
		if len(k.ps) > 0 {
			switch t := k.ps[0].Tile.(type) {
			case *geluTile:
				if t.deriv != nil {
					s += ", gelu/avx2 and GELU' in the epilogue"
				} else {
					s += ", gelu/avx2 in the epilogue"
				}
			case *geluGradTile:
				s += ", gelu_backward in the epilogue"
			case *lnTile:
				s += ", layernorm in the epilogue"
			}
		}
		if k.sums != nil {
			s += "+column sums of A"
		}
		return s
	case *layerNormKernel:
		if k.tiled {
			return "layerNormKernel, in its product's epilogue"
		}
	case *lnBackward:
		s := "lnBackward"
		if k.dw != nil {
			s += "+weight gradient"
		}
		if k.db != nil {
			s += "+bias gradient"
		}
		if k.k.dyRep > 1 {
			s += ", dy broadcast in place"
		}
		return s
	case copyRows:
		return "copyRows (a broadcast's source, for lnBackward)"
	case *matmulGroup:
		names := make([]string, len(k.ks))
		for i, m := range k.ks {
			names[i] = describeKernel(m)
		}
		return "group(" + strings.Join(names, ", ") + ")"
	case *unaryNum[float32]:
		if k.op == ir.OpRelu && simdOn {
			return "unaryNum[float32]/relu/avx2"
		}
	case *postActivation:
		if k.act == gemm.ActGELU && simdOn {
			return describeKernel(k.mm) + ", then gelu/avx2"
		}
		return describeKernel(k.mm) + ", then " + describeKernel(&unaryF32{act: k.act, f: k.f})
	}
	return strings.TrimPrefix(reflect.TypeOf(k).String(), "*cpu.")
}
