package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// torchMLPProgram loads the state_dict of PyTorch's
// Sequential(Linear(4, 3), ReLU(), Linear(3, 2)), saved by
// scripts/make_safetensors_fixture.py, into an .enc model by name.
const torchMLPProgram = `
model TorchMLP {
    first  = Linear(4, 3)
    second = Linear(3, 2)

    forward(x: f32[B, 4]) -> f32[B, 2] {
        return x |> first |> relu |> second
    }
}

dataset d {
    source = synthetic(shape: [4], classes: 2, n: 8)
}

train t {
    model     = TorchMLP()
    data      = d
    init      = load("torch_mlp.safetensors", rename: {"0.": "first.", "2.": "second."})
    loss      = cross_entropy(model(x), label)
    optimizer = SGD(lr: 0.1)
    batch     = 4
    epochs    = 1
}
`

// TestLoadPyTorchFile loads a safetensors file written by PyTorch by
// name (with rename:), checks every value against the fixture's JSON and
// runs the forward pass against the same computation done by hand.
func TestLoadPyTorchFile(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../safetensors/testdata/torch_mlp.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "torch_mlp.safetensors"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var fixture map[string]struct {
		Shape  []int     `json:"shape"`
		Values []float64 `json:"values"`
	}
	jb, err := os.ReadFile("../safetensors/testdata/torch_fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(jb, &fixture); err != nil {
		t.Fatal(err)
	}
	p := checkIn(t, dir, torchMLPProgram)
	tr := p.Trains[0]
	c, err := LoadCheckpoint(filepath.Join(dir, "torch_mlp.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := FitWeights(c, tr.Params, specOf(tr.Init), "torch_mlp.safetensors", "TorchMLP")
	if err != nil {
		t.Fatal(err)
	}
	for torch, enc := range map[string]string{"0.weight": "first.weight", "0.bias": "first.bias", "2.weight": "second.weight", "2.bias": "second.bias"} {
		want := fixture[torch].Values
		got := w[enc]
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d (from %s)", enc, len(got), len(want), torch)
		}
		for i := range want {
			if got[i] != float32(want[i]) {
				t.Errorf("%s[%d] = %v, want %v (%s)", enc, i, got[i], want[i], torch)
			}
		}
	}
	// The forward pass with those weights.
	b0, _, _ := backendFor("cpu")
	ex, g, xs, err := forward(p, tr.Model, w, 2, 0, b0, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{1, -2, 0.5, 3, -1, 0.25, 2, -0.5}
	if err := ex.Bind(xs[0].Name, x); err != nil {
		t.Fatal(err)
	}
	if err := ex.Run(); err != nil {
		t.Fatal(err)
	}
	got := ex.Float32(g.Outputs[0].Name)
	W0, B0, W2, B2 := fixture["0.weight"].Values, fixture["0.bias"].Values, fixture["2.weight"].Values, fixture["2.bias"].Values
	for n := 0; n < 2; n++ {
		h := make([]float64, 3)
		for j := range h {
			s := B0[j]
			for k := 0; k < 4; k++ {
				s += W0[j*4+k] * float64(x[n*4+k])
			}
			h[j] = math.Max(s, 0)
		}
		for o := 0; o < 2; o++ {
			s := B2[o]
			for j := range h {
				s += W2[o*3+j] * h[j]
			}
			if d := math.Abs(float64(got[n*2+o]) - s); d > 1e-5 {
				t.Errorf("out[%d][%d] = %v, want %v", n, o, got[n*2+o], s)
			}
		}
	}
	// A wrong rename is the missing/unexpected report, before training.
	p2 := checkIn(t, dir, strings.Replace(torchMLPProgram, `"2.": "second."`, `"2.": "third."`, 1))
	if _, err := Run(t.Context(), p2, p2.Trains[0], quiet()); err == nil {
		t.Fatal("a wrong rename loaded")
	} else if fe, ok := err.(*FitError); !ok || len(fe.Missing) != 2 || len(fe.Unexpected) != 2 {
		t.Errorf("wrong rename: %v", err)
	}
}
