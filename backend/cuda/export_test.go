package cuda

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/safetensors"
)

var gpucheck = flag.String("gpucheck", "", "write the bundles of scripts/gpu-check.sh into this directory")

// A bundle is one graph scripts/gpu_check.py runs: with a CPU reference
// (check) or for timing only.
type bundle struct {
	name, example string
	batch         int
	check         bool
}

var bundles = []bundle{
	{"digits_mlp", "digits_mlp", 32, true},
	{"digits_cnn", "digits_cnn", 32, true},
	{"w1_mnist_mlp", "mnist_mlp", 64, false},     // W1: 784-256-128-10, Adam, batch 64
	{"w3_mnist_lenet", "mnist_lenet", 64, false}, // W3: LeNet on 28×28, Adam, batch 64
}

// TestExportGPUCheck writes, for scripts/gpu-check.sh, one directory per
// bundle: the module (kernels.cu, plan.json, README.md) and, for the
// checked ones, inputs.safetensors (every input of one training step)
// and reference.safetensors (the CPU backend's outputs after the step,
// "out:NAME", and every updated input, "update:NAME"). Run it with
//
//	go test ./backend/cuda -run ExportGPUCheck -gpucheck DIR
func TestExportGPUCheck(t *testing.T) {
	if *gpucheck == "" {
		t.Skip("give -gpucheck DIR to write the GPU check bundles")
	}
	for _, b := range bundles {
		g := stepOf(t, b.example, b.batch)
		m := emit(t, g, ir.PlanOptions{}, fmt.Sprintf("examples/%s.enc batch %d", b.example, b.batch))
		dir := filepath.Join(*gpucheck, b.name)
		if err := m.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		if b.check {
			if err := exportReference(g, dir); err != nil {
				t.Fatalf("%s: %v", b.name, err)
			}
		}
		t.Logf("wrote %s", dir)
	}
}

// exportReference draws the inputs of one step (parameters uniform in
// ±0.3, zero optimizer state (step counts too), data in [0,1), labels in
// [0,classes), lr 1e-3, step 1, seed 7), runs the step on the CPU
// backend and writes inputs and results.
func exportReference(g *ir.Graph, dir string) error {
	p, err := cpu.Compile(g, cpu.Options{})
	if err != nil {
		return err
	}
	r := rand.New(rand.NewSource(1))
	classes := 10
	if pred := g.Output("pred"); pred != nil {
		classes = pred.Type.Shape[pred.Type.Rank()-1]
	}
	var inputs []*safetensors.Tensor
	for _, v := range g.Inputs {
		shape := shapeOf(v.Type.Shape)
		switch v.Type.DType {
		case ir.F32:
			x := p.Float32(v.Name)
			for i := range x {
				switch v.Role() {
				case ir.RoleParam:
					x[i] = float32(0.6*r.Float64() - 0.3)
				case ir.RoleData:
					x[i] = float32(r.Float64())
				}
			}
			if v.Role() == ir.RoleScalar {
				p.SetScalar(v.Name, 1e-3)
			}
			inputs = append(inputs, safetensors.FromFloat32(v.Name, shape, append([]float32{}, x...)))
		case ir.I32:
			x := p.Int32(v.Name)
			for i := range x {
				if v.Role() == ir.RoleData {
					x[i] = int32(r.Intn(classes))
				}
			}
			inputs = append(inputs, safetensors.FromInt32(v.Name, shape, append([]int32{}, x...)))
		case ir.I64:
			x := p.Int64(v.Name)
			switch {
			case v.Name == "step":
				x[0] = 1
			case v.Name == "seed":
				x[0] = 7
			case v.Role() == ir.RoleData:
				for i := range x {
					x[i] = int64(r.Intn(classes))
				}
			}
			inputs = append(inputs, safetensors.FromInt64(v.Name, shape, append([]int64{}, x...)))
		default:
			return fmt.Errorf("input %s: %v not exported", v.Name, v.Type)
		}
	}
	if err := p.Run(); err != nil {
		return err
	}
	var ref []*safetensors.Tensor
	for _, o := range g.Outputs {
		if in := o.Updates; in != nil {
			shape := shapeOf(in.Type.Shape)
			switch in.Type.DType {
			case ir.F32:
				ref = append(ref, safetensors.FromFloat32("update:"+in.Name, shape, append([]float32{}, p.Float32(in.Name)...)))
			case ir.I32:
				ref = append(ref, safetensors.FromInt32("update:"+in.Name, shape, append([]int32{}, p.Int32(in.Name)...)))
			case ir.I64:
				ref = append(ref, safetensors.FromInt64("update:"+in.Name, shape, append([]int64{}, p.Int64(in.Name)...)))
			default:
				return fmt.Errorf("update of %s: %v not exported", in.Name, in.Type)
			}
			continue
		}
		if o.Value.Type.DType != ir.F32 {
			continue
		}
		ref = append(ref, safetensors.FromFloat32("out:"+o.Name, shapeOf(o.Value.Type.Shape), append([]float32{}, p.Float32(o.Name)...)))
	}
	meta := map[string]string{"graph": g.Name, "by": "backend/cuda TestExportGPUCheck (backend/cpu reference)"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := safetensors.Write(filepath.Join(dir, "inputs.safetensors"), inputs, meta); err != nil {
		return err
	}
	return safetensors.Write(filepath.Join(dir, "reference.safetensors"), ref, meta)
}
