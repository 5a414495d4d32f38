package train

import (
	"context"
	"math"
	"strings"
	"testing"
)

const pruneSrc = `
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

    phase dense (epochs: 3) {
    }
    phase prune (epochs: 4) {
        prune = magnitude(sparsity: 0.8, params: "fc1.weight", every: 10)
    }
    phase tune (epochs: 2) {
        lr = constant()
    }
}
`

// TestPruneMagnitude: after the pruning phase fc1.weight is 80% exact
// zeros, and the pruned weights and their Adam moments stay exactly zero
// through the later phase's updates; the mask is in the checkpoint; the
// other parameters are dense; accuracy holds.
func TestPruneMagnitude(t *testing.T) {
	p := check(t, pruneSrc)
	tr := p.Trains[0]
	var afterPrune map[string][]float32
	res, err := Run(context.Background(), p, tr, Options{Quiet: true, OnEpoch: func(st EpochStats, w map[string][]float32) {
		if st.Epoch == 7 {
			afterPrune = map[string][]float32{}
			for k, v := range w {
				afterPrune[k] = append([]float32(nil), v...)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	sp := Sparsity(res.Weights)
	if math.Abs(sp["fc1.weight"]-0.8) > 1e-3 {
		t.Errorf("fc1.weight sparsity %.4f, want 0.8", sp["fc1.weight"])
	}
	if sp["head.weight"] > 0.01 {
		t.Errorf("head.weight sparsity %.4f: not pruned, should be dense", sp["head.weight"])
	}
	if acc := res.Final["accuracy"]; acc < 0.85 {
		t.Errorf("accuracy %.4f after pruning", acc)
	}
	// The zeros after the pruning phase are zeros at the end, after the
	// tune phase's updates.
	for i, v := range afterPrune["fc1.weight"] {
		if v == 0 && res.Weights["fc1.weight"][i] != 0 {
			t.Fatalf("fc1.weight[%d] pruned after phase prune, %v at the end", i, res.Weights["fc1.weight"][i])
		}
	}
	c, err := LoadCheckpoint(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	mask := c.State["fc1.weight"+pruneMaskSuffix]
	if len(mask) != 64*48 {
		t.Fatalf("no mask in the checkpoint (state: %d tensors)", len(c.State))
	}
	moments := 0
	for name, v := range c.State {
		if !strings.HasPrefix(name, "fc1.weight:") || name == "fc1.weight"+pruneMaskSuffix {
			continue
		}
		moments++
		for i, m := range mask {
			if m == 0 && (v[i] != 0 || c.Weights["fc1.weight"][i] != 0) {
				t.Fatalf("%s[%d] = %v, weight %v where the mask is 0", name, i, v[i], c.Weights["fc1.weight"][i])
			}
		}
	}
	if moments < 2 {
		t.Errorf("found %d optimizer moments of fc1.weight, want Adam's 2", moments)
	}
}
