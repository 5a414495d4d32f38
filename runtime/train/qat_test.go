package train

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/encc-lang/encc/backend"
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/safetensors"
)

// fakeQuantGraph compiles y = fake_quant(x, lo, hi) and d(Σ y·r)/dx on the
// CPU backend.
func fakeQuantGraph(t *testing.T, signed bool, rows, cols int, rangeShape []int) backend.Program {
	t.Helper()
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	m := func(v *ir.Value, err error) *ir.Value {
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	x := m(b.Input("x", ir.RoleParam, ir.TensorOf(ir.F32, rows, cols)))
	lo := m(b.Input("lo", ir.RoleData, ir.TensorOf(ir.F32, rangeShape...)))
	hi := m(b.Input("hi", ir.RoleData, ir.TensorOf(ir.F32, rangeShape...)))
	r := m(b.Input("r", ir.RoleData, ir.TensorOf(ir.F32, rows, cols)))
	y := m(b.Op(ir.OpFakeQuant, ir.Type{}, ir.FakeQuantAttr{Signed: signed}, x, lo, hi))
	loss := m(b.Sum(m(b.Mul(y, r)), nil, false))
	grads, err := ir.Grad(g, loss, []*ir.Value{x})
	if err != nil {
		t.Fatal(err)
	}
	g.AddOutput("y", y)
	g.AddOutput("dx", grads[x])
	p, err := backend.Compile(g, "cpu", backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFakeQuantTorch: fake_quant's forward and straight-through backward
// on the CPU backend against PyTorch's fake_quantize_per_tensor_affine
// (7-bit activations, encc's scale and zero point) and
// fake_quantize_per_channel_affine (symmetric int8 weights per row), on
// values inside and outside the range: equal to the bit.
func TestFakeQuantTorch(t *testing.T) {
	if exec.Command("/usr/bin/python3", "-c", "import torch").Run() != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("PyTorch is needed in CI (apt-get install python3-torch)")
		}
		t.Skip("no PyTorch (/usr/bin/python3 -c 'import torch' fails)")
	}
	const rows, cols = 6, 50
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, rows*cols)
	r := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 1.5)
		r[i] = float32(rng.NormFloat64())
	}
	// Per tensor: a range narrower than x's, so some values clip.
	lo, hi := float32(-1.3), float32(2.1)
	qp := gemm.QParamsFor(lo, hi)
	pt := fakeQuantGraph(t, false, rows, cols, []int{1})
	// Per channel: each row's own amax, except row 0's, halved so that
	// it clips.
	amax := make([]float32, rows)
	scale := make([]float32, rows)
	for i := range rows {
		for _, v := range x[i*cols : (i+1)*cols] {
			amax[i] = max(amax[i], float32(math.Abs(float64(v))))
		}
		if i == 0 {
			amax[i] /= 2
		}
		scale[i] = amax[i] / 127
	}
	pc := fakeQuantGraph(t, true, rows, cols, []int{rows, 1})
	run := func(p backend.Program, lo, hi []float32) ([]float32, []float32) {
		for name, v := range map[string][]float32{"x": x, "lo": lo, "hi": hi, "r": r} {
			if err := p.Bind(name, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), p.Float32("y")...), append([]float32(nil), p.Float32("dx")...)
	}
	yt, dt := run(pt, []float32{lo}, []float32{hi})
	yc, dc := run(pc, amax, amax)

	in, _ := json.Marshal(map[string]any{"x": x, "r": r, "rows": rows, "cols": cols,
		"scale": qp.Scale, "zero": qp.Zero, "cscale": scale})
	script := `
import json, sys, torch
a = json.load(sys.stdin)
x = torch.tensor(a["x"], dtype=torch.float32).reshape(a["rows"], a["cols"])
r = torch.tensor(a["r"], dtype=torch.float32).reshape(a["rows"], a["cols"])
out = {}
xt = x.clone().requires_grad_()
y = torch.fake_quantize_per_tensor_affine(xt, a["scale"], a["zero"], 0, 127)
(y * r).sum().backward()
out["yt"], out["dt"] = y.detach().flatten().tolist(), xt.grad.flatten().tolist()
xc = x.clone().requires_grad_()
s = torch.tensor(a["cscale"], dtype=torch.float32)
y = torch.fake_quantize_per_channel_affine(xc, s, torch.zeros(a["rows"], dtype=torch.int32), 0, -127, 127)
(y * r).sum().backward()
out["yc"], out["dc"] = y.detach().flatten().tolist(), xc.grad.flatten().tolist()
json.dump(out, sys.stdout)
`
	cmd := exec.Command("/usr/bin/python3", "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var ref map[string][]float64
	if err := json.Unmarshal(outb, &ref); err != nil {
		t.Fatal(err)
	}
	clipped := 0
	for name, got := range map[string][]float32{"yt": yt, "dt": dt, "yc": yc, "dc": dc} {
		for i, v := range got {
			if float64(v) != ref[name][i] {
				t.Errorf("%s[%d] = %v, PyTorch %v (x = %v)", name, i, v, ref[name][i], x[i])
				break
			}
			if name[0] == 'd' && v == 0 {
				clipped++
			}
		}
	}
	if clipped == 0 {
		t.Error("no value clipped: the test does not see the estimator's zero")
	}
}

const qatSrc = `
model Net {
    fc1  = Linear(64, 48)
    head = Linear(48, 10)

    forward(x: f32[B, 64]) -> f32[B, 10] {
        return x |> fc1 |> relu |> head
    }
}

dataset digits {
    source = builtin("digits")
    scale  = 1.0 / 16.0
    split  = { train: 0.8, test: 0.2 }
    seed   = 3
}

train t {
    model     = Net()
    data      = digits
    loss      = cross_entropy(model(image), label)
    optimizer = Adam(lr: 3e-3)
    batch     = 50
    metrics   = [accuracy]
    seed      = 11
    save      = "runs/t.safetensors"
    quantize  = int8(save: "runs/t_int8.safetensors", calibrate: 200)

    phase f32 (epochs: 3) {
    }
    phase qat (epochs: 2) {
        qat = fake_int8(momentum: 0.1)
    }
}
`

// TestQATRun: a train with a qat phase fake-quantizes exactly the
// quantized products in that phase's steps (none in the f32 phase), keeps
// a moving range per product input counted over the phase's steps, and
// its int8 checkpoint takes those ranges (not the calibration's); the int8
// model's accuracy holds.
func TestQATRun(t *testing.T) {
	p := check(t, qatSrc)
	tr := p.Trains[0]
	for ph, want := range []int{0, 4} { // x and W of fc1 and head
		sg, err := p.LowerStep(tr, ph, 50)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range sg.Graph.Values {
			if v.Op == ir.OpFakeQuant {
				n++
			}
		}
		if n != want {
			t.Errorf("phase %d: %d fake_quant ops, want %d", ph, n, want)
		}
	}
	res, err := Run(context.Background(), p, tr, Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Int8 == nil || res.Int8.Metrics["accuracy"] < 0.85 {
		t.Fatalf("int8 after qat: %+v", res.Int8)
	}
	c, err := LoadCheckpoint(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Read(res.Int8.Path)
	if err != nil {
		t.Fatal(err)
	}
	steps := float32(2 * ((1797*8/10 + 49) / 50))
	for _, w := range []string{"fc1.weight", "head.weight"} {
		lo, hi, n := c.State[w+":qat_lo"], c.State[w+":qat_hi"], c.State[w+":qat_steps"]
		if len(lo) != 1 || len(hi) != 1 || len(n) != 1 {
			t.Fatalf("%s: no moving range in the checkpoint", w)
		}
		if n[0] < steps-2 || n[0] > steps+2 || !(lo[0] <= 0 && hi[0] > 0) {
			t.Errorf("%s: range [%v, %v] over %v steps, want about %v steps", w, lo[0], hi[0], n[0], steps)
		}
		want := gemm.QParamsFor(lo[0], hi[0])
		s, _ := f.Get(w + ":input_scale").Float32()
		z, _ := f.Get(w + ":input_zero").Float32()
		if s[0] != want.Scale || z[0] != float32(want.Zero) {
			t.Errorf("%s: int8 input scale %v zero %v, the qat range gives %v %v", w, s[0], z[0], want.Scale, want.Zero)
		}
	}
	if !strings.Contains(f.Metadata[Int8Meta], `"observer":"qat"`) {
		t.Errorf("int8 metadata %s", f.Metadata[Int8Meta])
	}
}
