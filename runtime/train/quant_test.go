package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/runtime/safetensors"
)

const quantSrc = `
model Net {
    fc1  = Linear(64, 48)
    fc2  = Linear(48, 32)
    head = Linear(32, 10)

    forward(x: f32[B, 64]) -> f32[B, 10] {
        return x |> fc1 |> relu |> fc2 |> relu |> head
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
    epochs    = 6
    metrics   = [accuracy]
    seed      = 11
    save      = "runs/t.safetensors"
    quantize  = int8(save: "runs/t_int8.safetensors", calibrate: 300, OPTS)
}
`

// TestQuantizeInt8: encc run's post-training quantization writes an int8
// checkpoint (I8 weights with their scales; excluded layers in f32) whose
// test accuracy is close to the f32 one, that eval reproduces exactly on
// the CPU backend and that runs (dequantized) on the reference backend.
func TestQuantizeInt8(t *testing.T) {
	for _, opts := range []string{`observer: "percentile"`, `observer: "minmax", exclude: "head.*"`} {
		t.Run(opts, func(t *testing.T) {
			p := check(t, strings.Replace(quantSrc, "OPTS", opts, 1))
			tr := p.Trains[0]
			res, err := Run(context.Background(), p, tr, Options{Quiet: true, Device: "cpu"})
			if err != nil {
				t.Fatal(err)
			}
			q := res.Int8
			if q == nil {
				t.Fatal("no int8 result")
			}
			f32Acc, int8Acc := res.Final["accuracy"], q.Metrics["accuracy"]
			t.Logf("f32 %.4f, int8 %.4f, %d bytes (%.2f× the f32 weights), quantized %v", f32Acc, int8Acc, q.Bytes, float64(q.Bytes)/float64(q.F32Bytes), q.Quantized)
			if f32Acc < 0.85 || int8Acc < f32Acc-0.02 {
				t.Errorf("int8 accuracy %.4f, f32 %.4f", int8Acc, f32Acc)
			}
			excluded := strings.Contains(opts, "exclude")
			f, err := safetensors.Read(q.Path)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]safetensors.DType{"fc1.weight": safetensors.I8, "fc2.weight": safetensors.I8, "fc1.bias": safetensors.F32, "fc1.weight:weight_scale": safetensors.F32} {
				if got := f.Get(name); got == nil || got.DType != want {
					t.Errorf("%s: %v, want %s", name, got, want)
				}
			}
			if hw := f.Get("head.weight"); (hw.DType == safetensors.I8) == excluded {
				t.Errorf("head.weight is %s with exclude %v", hw.DType, excluded)
			}
			if !strings.Contains(f.Metadata[Int8Meta], `"calibration_samples":300`) {
				t.Errorf("metadata %s", f.Metadata[Int8Meta])
			}
			if q.Bytes > q.F32Bytes*3/10+4096 {
				t.Errorf("int8 checkpoint %d bytes, f32 weights %d", q.Bytes, q.F32Bytes)
			}

			ev, err := Eval(p, tr, q.Path, Options{Device: "cpu"})
			if err != nil {
				t.Fatal(err)
			}
			if ev.Metrics["accuracy"] != int8Acc || ev.Metrics["loss"] != q.Metrics["loss"] {
				t.Errorf("eval of the int8 checkpoint %v, the run reported %v", ev.Metrics, q.Metrics)
			}
			ref, err := Eval(p, tr, q.Path, Options{Device: "reference"})
			if err != nil {
				t.Fatal(err)
			}
			if ref.Metrics["accuracy"] < f32Acc-0.03 {
				t.Errorf("reference backend on the dequantized weights: %v", ref.Metrics)
			}
		})
	}
}

// TestInt8CheckpointCorrupt: an int8 tensor without its scales, or
// holding -128, is one error naming the file and the tensor.
func TestInt8CheckpointCorrupt(t *testing.T) {
	dir := t.TempDir()
	meta := (&Meta{Format: FormatName}).encode()
	write := func(ts ...*safetensors.Tensor) string {
		path := filepath.Join(dir, "q.safetensors")
		os.Remove(path)
		if err := safetensors.Write(path, ts, meta); err != nil {
			t.Fatal(err)
		}
		return path
	}
	w := &safetensors.Tensor{Name: "fc.weight", DType: safetensors.I8, Shape: []int{2, 2}, Data: []byte{1, 2, 3, 4}}
	path := write(w)
	c, _ := LoadCheckpoint(path)
	if _, err := decodeInt8(path, c); err == nil || !strings.Contains(err.Error(), "fc.weight needs a 2-D or 4-D I8 tensor with fc.weight:weight_scale [2]") {
		t.Errorf("missing scales: %v", err)
	}
	bad := &safetensors.Tensor{Name: "fc.weight", DType: safetensors.I8, Shape: []int{2, 2}, Data: []byte{1, 0x80, 3, 4}}
	path = write(bad, safetensors.FromFloat32("fc.weight:weight_scale", []int{2}, []float32{1, 1}),
		safetensors.FromFloat32("fc.weight:input_scale", []int{1}, []float32{0.1}),
		safetensors.FromFloat32("fc.weight:input_zero", []int{1}, []float32{0}))
	c, _ = LoadCheckpoint(path)
	if _, err := decodeInt8(path, c); err == nil || !strings.Contains(err.Error(), "holds -128") {
		t.Errorf("-128: %v", err)
	}
}

const quantConvSrc = `
model Net {
    conv1 = Conv2d(1, 8, kernel: 3, padding: 1)
    conv2 = Conv2d(8, 16, kernel: 3)
    head  = Linear(16 * 2 * 2, 10)

    forward(x: f32[B, 64]) -> f32[B, 10] {
        h = x |> reshape(B, 1, 8, 8) |> conv1 |> relu |> maxpool2d(kernel: 2)
        return h |> conv2 |> relu |> flatten |> head
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
    epochs    = 6
    metrics   = [accuracy]
    seed      = 11
    save      = "runs/t.safetensors"
    quantize  = int8(save: "runs/t_int8.safetensors", calibrate: 300)
}
`

// TestQuantizeInt8Conv: post-training quantization covers convolutions:
// their weights are I8 [O, C, KH, KW] with one scale per output channel,
// the int8 model (convolutions, relu and maxpool kept in uint8 between
// them) is close to the f32 one, and eval reproduces it exactly.
func TestQuantizeInt8Conv(t *testing.T) {
	p := check(t, quantConvSrc)
	tr := p.Trains[0]
	res, err := Run(context.Background(), p, tr, Options{Quiet: true, Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	q := res.Int8
	f32Acc, int8Acc := res.Final["accuracy"], q.Metrics["accuracy"]
	t.Logf("f32 %.4f, int8 %.4f, %d bytes (%.2f× the f32 weights), quantized %v", f32Acc, int8Acc, q.Bytes, float64(q.Bytes)/float64(q.F32Bytes), q.Quantized)
	if f32Acc < 0.85 || int8Acc < f32Acc-0.02 {
		t.Errorf("int8 accuracy %.4f, f32 %.4f", int8Acc, f32Acc)
	}
	if strings.Join(q.Quantized, " ") != "conv1.weight conv2.weight head.weight" {
		t.Errorf("quantized %v", q.Quantized)
	}
	f, err := safetensors.Read(q.Path)
	if err != nil {
		t.Fatal(err)
	}
	if w, s := f.Get("conv2.weight"), f.Get("conv2.weight:weight_scale"); w == nil || w.DType != safetensors.I8 || len(w.Shape) != 4 || s == nil || s.Shape[0] != 16 {
		t.Errorf("conv2.weight %v, scales %v", w, s)
	}
	ev, err := Eval(p, tr, q.Path, Options{Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Metrics["accuracy"] != int8Acc || ev.Metrics["loss"] != q.Metrics["loss"] {
		t.Errorf("eval of the int8 checkpoint %v, the run reported %v", ev.Metrics, q.Metrics)
	}
}
