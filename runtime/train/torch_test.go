package train

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/runtime/safetensors"
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
	w, err := FitWeights(c, tr.Params, LoadSpecOf(tr.Init), "torch_mlp.safetensors", "TorchMLP")
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

// torchEncoderProgram loads PyTorch's nn.TransformerEncoder (2 pre-norm
// layers, d 8, 2 heads, ffn 16, a final LayerNorm), saved by
// scripts/make_safetensors_fixture.py, into the member encoder of a
// model with the mapping of docs/pytorch-weights.md, written once for
// every layer. The encoder is frozen, so the checkpoint the run saves
// holds the loaded weights as they are.
const torchEncoderProgram = `
model Net {
    encoder = TransformerEncoder(2, 8, 2, 16, norm: "pre")
    head    = Linear(8, 2)

    forward(x: f32[B, 24]) -> f32[B, 2] {
        return x |> reshape(B, 3, 8) |> encoder |> mean(axis: 1) |> head
    }
}

dataset d {
    source = synthetic(shape: [24], classes: 2, n: 8)
}

train t {
    model     = Net()
    data      = d
    init      = load("torch_encoder.safetensors", only: "encoder",
        rename: {
            "layers.":             "encoder.blocks.",
            "norm.":               "encoder.final_norm.",
            "self_attn.out_proj.": "attn.o.",
            "linear1.":            "ff1.",
            "linear2.":            "ff2."
        },
        split: {
            "self_attn.in_proj_weight": ["attn.q.weight", "attn.k.weight", "attn.v.weight"],
            "self_attn.in_proj_bias":   ["attn.q.bias", "attn.k.bias", "attn.v.bias"]
        })
    loss      = cross_entropy(model(x), label)
    optimizer = SGD(lr: 0.1)
    batch     = 4
    epochs    = 1
    save      = "runs/t.safetensors"

    phase only_head (epochs: 1) {
        freeze encoder
    }
}
`

// torchEncoderPlaces says, written out by hand for each layer, where
// every tensor of nn.TransformerEncoder's state_dict goes: the encc
// parameter and, for the fused in_proj tensors, which third of the rows.
func torchEncoderPlaces(layers int) map[string]struct {
	from     string
	part, of int
} {
	type place = struct {
		from     string
		part, of int
	}
	out := map[string]place{
		"encoder.final_norm.weight": {"norm.weight", 0, 1},
		"encoder.final_norm.bias":   {"norm.bias", 0, 1},
	}
	for l := range layers {
		t := fmt.Sprintf("layers.%d.", l)
		e := fmt.Sprintf("encoder.blocks.%d.", l)
		for i, x := range []string{"q", "k", "v"} {
			out[e+"attn."+x+".weight"] = place{t + "self_attn.in_proj_weight", i, 3}
			out[e+"attn."+x+".bias"] = place{t + "self_attn.in_proj_bias", i, 3}
		}
		for enc, torch := range map[string]string{
			"attn.o.": "self_attn.out_proj.", "ff1.": "linear1.", "ff2.": "linear2.",
			"norm1.": "norm1.", "norm2.": "norm2.",
		} {
			out[e+enc+"weight"] = place{t + torch + "weight", 0, 1}
			out[e+enc+"bias"] = place{t + torch + "bias", 0, 1}
		}
	}
	return out
}

// TestLoadTorchTransformerEncoder: a train whose load() writes the
// documented nn.TransformerEncoder rename/split once loads a 2-layer
// encoder saved by PyTorch; every parameter of the encoder gets the
// file's tensor (or its third of the fused in_proj), bit for bit, both
// from FitWeights and in the checkpoint a run saves.
func TestLoadTorchTransformerEncoder(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../safetensors/testdata/torch_encoder.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "torch_encoder.safetensors"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	file, err := safetensors.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{}
	used := map[string]bool{}
	for path, pl := range torchEncoderPlaces(2) {
		x := file.Get(pl.from)
		if x == nil {
			t.Fatalf("the fixture has no %s", pl.from)
		}
		v, err := x.Float32()
		if err != nil {
			t.Fatal(err)
		}
		n := len(v) / pl.of
		want[path] = v[pl.part*n : (pl.part+1)*n]
		used[pl.from] = true
	}
	if len(used) != len(file.Names()) {
		t.Fatalf("the places use %d of the file's %d tensors", len(used), len(file.Names()))
	}

	p := checkIn(t, dir, torchEncoderProgram)
	tr := p.Trains[0]
	c, err := LoadCheckpoint(filepath.Join(dir, "torch_encoder.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := FitWeights(c, tr.Params, LoadSpecOf(tr.Init), "torch_encoder.safetensors", "Net")
	if err != nil {
		t.Fatal(err)
	}
	compare := func(what string, got map[string][]float32) {
		t.Helper()
		for path, w := range want {
			if !sameBits(got[path], w) {
				t.Errorf("%s: %s = %v, want %v (%s)", what, path, got[path], w, torchEncoderPlaces(2)[path].from)
			}
		}
	}
	if len(got) != len(want) || len(want) != 34 {
		t.Errorf("FitWeights loaded %d tensors, want the encoder's %d (34)", len(got), len(want))
	}
	compare("FitWeights", got)

	// The run loads them before its first step; the frozen encoder is
	// saved as loaded.
	if _, err := Run(context.Background(), p, tr, quiet()); err != nil {
		t.Fatal(err)
	}
	saved, err := LoadCheckpoint(filepath.Join(dir, "runs", "t.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	compare("saved after the run", saved.Weights)
}
