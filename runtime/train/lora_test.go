package train

import (
	"context"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/encc-lang/encc/ir/eval"
)

const loraProgram = `
dataset d {
    source = synthetic(shape: [8], classes: 3, n: 96)
    split  = { train: 0.75, test: 0.25 }
}

model Net {
    fc1  = Linear(8, 16)
    fc2  = Linear(16, 16)
    head = Linear(16, 3)

    forward(x: f32[B, 8]) -> f32[B, 3] {
        return x |> fc1 |> relu |> fc2 |> relu |> head
    }
}

train base {
    model  = Net()
    data   = d
    loss   = cross_entropy(model(x), label)
    epochs = 2
    save   = "runs/base.safetensors"
}

train adapt {
    model     = Net()
    data      = d
    init      = from(base)
    lora      = lora(targets: "fc*", r: 4, alpha: 8, dropout: 0.1, train: "head")
    loss      = cross_entropy(model(x), label)
    optimizer = Adam(lr: 0.05)
    epochs    = 3
    save      = "runs/adapt.safetensors"
}

train plain {
    model = Net()
    data  = d
    loss  = cross_entropy(model(x), label)
}
`

// TestLoRACheckpointAndMerge trains a LoRA train and checks: the base
// weights do not move; the checkpoint holds exactly the adapters and the
// head (with their optimizer state) and the base's path and hash; a run
// interrupted and resumed ends with the same weights as one straight
// run; and the merged weights give the adapted model's outputs within
// 1e-5 on the plain model.
// loraConvProgram is loraProgram with fc1 a Conv2d (PEFT's Conv2d LoRA:
// lora_A [r, 2, 3, 3], lora_B [16, r, 1, 1]); the merge folds B·A into
// the convolution's weight the same way.
var loraConvProgram = strings.Replace(loraProgram, `    fc1  = Linear(8, 16)
    fc2  = Linear(16, 16)
    head = Linear(16, 3)

    forward(x: f32[B, 8]) -> f32[B, 3] {
        return x |> fc1 |> relu |> fc2 |> relu |> head
    }`, `    fc1  = Conv2d(2, 16, 3, padding: 1)
    fc2  = Linear(64, 16)
    head = Linear(16, 3)

    forward(x: f32[B, 8]) -> f32[B, 3] {
        return reshape(x, B, 2, 2, 2) |> fc1 |> relu |> flatten |> fc2 |> relu |> head
    }`, 1)

func TestLoRACheckpointAndMerge(t *testing.T) {
	if !strings.Contains(loraConvProgram, "Conv2d") {
		t.Fatal("loraConvProgram has no Conv2d")
	}
	t.Run("linear", func(t *testing.T) { loraCheckpointAndMerge(t, loraProgram) })
	t.Run("conv2d", func(t *testing.T) { loraCheckpointAndMerge(t, loraConvProgram) })
}

func loraCheckpointAndMerge(t *testing.T, program string) {
	dir := t.TempDir()
	p := checkIn(t, dir, program)
	tr := p.Train("adapt")
	ctx := context.Background()
	res, err := Run(ctx, p, tr, Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	base, err := LoadCheckpoint(filepath.Join(dir, "runs/base.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range base.Weights {
		if name == "head.weight" || name == "head.bias" {
			continue
		}
		for i := range v {
			if res.Weights[name][i] != v[i] {
				t.Fatalf("frozen %s moved", name)
			}
		}
	}
	c, err := LoadCheckpoint(filepath.Join(dir, "runs/adapt.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range c.Weights {
		names = append(names, name)
	}
	sort.Strings(names)
	want := []string{"fc1.lora_A.weight", "fc1.lora_B.weight", "fc2.lora_A.weight", "fc2.lora_B.weight", "head.bias", "head.weight"}
	if len(names) != len(want) {
		t.Fatalf("checkpoint weights %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("checkpoint weights %v, want %v", names, want)
		}
	}
	if _, ok := c.State["fc1.lora_A.weight:exp_avg"]; !ok || len(c.State) != 2*len(want) {
		t.Errorf("optimizer state %d tensors, want exp_avg and exp_avg_sq of %d", len(c.State), len(want))
	}
	sum, _ := fileSHA256(filepath.Join(dir, "runs/base.safetensors"))
	if c.Meta.Base != "base.safetensors" || c.Meta.BaseSHA256 != sum {
		t.Errorf("base %q %q, want base.safetensors %s", c.Meta.Base, c.Meta.BaseSHA256, sum)
	}

	// Interrupted after one epoch, then resumed: the same weights.
	if _, err := Run(ctx, p, tr, Options{Quiet: true, MaxEpochs: 1}); err != nil {
		t.Fatal(err)
	}
	res2, err := Run(ctx, p, tr, Options{Quiet: true, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range res.Weights {
		for i := range v {
			if res2.Weights[name][i] != v[i] {
				t.Fatalf("resumed run differs at %s[%d]: %g vs %g", name, i, res2.Weights[name][i], v[i])
			}
		}
	}

	// Merge: the plain model with merged weights equals the adapted one.
	w, err := TrainWeights(tr, c, "adapt.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Merge(tr, w)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := merged["fc1.lora_A.weight"]; ok || len(merged) != 6 {
		t.Fatalf("merged holds %d tensors", len(merged))
	}
	const n = 5
	x := make([]float64, n*8)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	forward := func(name string, w map[string][]float32) []float64 {
		ptr := p.Train(name)
		g, err := p.LowerEval(ptr, n)
		if err != nil {
			t.Fatal(err)
		}
		in := map[string]*eval.Tensor{}
		for _, v := range g.Inputs {
			switch v.Name {
			case "x":
				in[v.Name] = eval.New(v.Type, x)
			case "label":
				in[v.Name] = eval.New(v.Type, make([]float64, n))
			default:
				f := make([]float64, len(w[v.Name]))
				for i, e := range w[v.Name] {
					f[i] = float64(e)
				}
				in[v.Name] = eval.New(v.Type, f)
			}
		}
		r, err := eval.Run(g, in)
		if err != nil {
			t.Fatal(err)
		}
		return r.Outputs["pred"].F
	}
	a, b, orig := forward("adapt", w), forward("plain", merged), forward("plain", base.Weights)
	differ := false
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-5*math.Max(1, math.Abs(a[i])) {
			t.Errorf("output %d: adapted %g, merged %g", i, a[i], b[i])
		}
		differ = differ || math.Abs(a[i]-orig[i]) > 1e-3
	}
	if !differ {
		t.Error("the adapters changed nothing: the merge test would pass vacuously")
	}
}
