package compiler_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
)

// memoryProgram is a two-layer MLP trained on the embedded digits with
// the optimizer opt and the phase body phase ("" for none).
func memoryProgram(opt, phase string) string {
	train := "    epochs    = 1\n"
	if phase != "" {
		train = "    phase only (epochs: 1) {\n        " + phase + "\n    }\n"
	}
	return `model Net {
    fc1 = Linear(64, 32)
    fc2 = Linear(32, 10)

    forward(x: f32[B, 64]) -> f32[B, 10] {
        return x |> fc1 |> relu |> fc2
    }
}

dataset digits {
    source = builtin("digits")
    split  = { train: 0.8, test: 0.2 }
}

train t {
    model     = Net()
    data      = digits
    loss      = cross_entropy(model(image), label)
    optimizer = ` + opt + `
    batch     = 16
` + train + "}\n"
}

func memoryOf(t *testing.T, src string, batch int) (*compiler.Summary, *compiler.Memory) {
	t.Helper()
	p := checkOK(t, "mem.enc", []byte(src))
	s, err := p.Summarize("t")
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Memory(s, "t", batch)
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// TestMemoryOptimizers checks the parameter, gradient and optimizer-state
// bytes per optimizer (Adam keeps two tensors like each parameter and a
// step count, SGD with momentum one and a step count, RMSprop one, plain
// SGD none), the batch inputs and the total.
func TestMemoryOptimizers(t *testing.T) {
	const (
		fc1, fc2 = (64*32 + 32) * 4, (32*10 + 10) * 4
		params   = fc1 + fc2
		steps    = 4 * 8 // one i64 step count per parameter tensor
	)
	for _, tc := range []struct {
		opt   string
		state int64
	}{
		{"Adam(lr: 1e-3)", 2*params + steps},
		{"AdamW(lr: 1e-3)", 2*params + steps},
		{"SGD(lr: 0.1)", 0},
		{"SGD(lr: 0.1, momentum: 0.9)", params + steps},
		{"RMSprop(lr: 0.01)", params},
	} {
		t.Run(tc.opt, func(t *testing.T) {
			s, m := memoryOf(t, memoryProgram(tc.opt, ""), 0)
			if m.Batch != 16 || m.Params != params || m.Grads != params || m.State != tc.state {
				t.Errorf("batch %d, params %d, grads %d, state %d; want 16, %d, %d, %d", m.Batch, m.Params, m.Grads, m.State, params, params, tc.state)
			}
			if want := int64(16*64*4 + 16*4); m.Inputs != want { // image f32[16, 64], label i32[16]
				t.Errorf("inputs %d bytes, want %d", m.Inputs, want)
			}
			if m.Arena != max(m.StepArena, m.EvalArena) {
				t.Errorf("arena of the run %d, want the larger of %d and %d (its programs share one)", m.Arena, m.StepArena, m.EvalArena)
			}
			if m.Samples != 1797 || m.Dataset != 1797*m.Sample || m.Sample != 64*4+4 {
				t.Errorf("dataset %d samples × %d bytes = %d; want builtin digits' 1797 × 260", m.Samples, m.Sample, m.Dataset)
			}
			if m.Total != m.Params+m.State+m.Arena+m.Inputs+m.Dataset {
				t.Errorf("total %d is not the sum of its parts", m.Total)
			}
			if m.Saved <= 0 || m.StepArena < m.Saved || m.EvalArena <= 0 {
				t.Errorf("saved %d, step arena %d, eval arena %d", m.Saved, m.StepArena, m.EvalArena)
			}
			rows := map[string]compiler.RowMemory{}
			for i, r := range s.Rows {
				rows[r.Path] = m.Rows[i]
			}
			if r := rows["fc1"]; r.Params != fc1 || r.Grads != fc1 {
				t.Errorf("fc1: %+v", r)
			}
			if r := rows["fc2"]; r.Params != fc2 || r.Grads != fc2 {
				t.Errorf("fc2: %+v", r)
			}
		})
	}
}

// TestMemoryFrozen checks that a frozen layer has no gradients and no
// optimizer state.
func TestMemoryFrozen(t *testing.T) {
	s, m := memoryOf(t, memoryProgram("Adam(lr: 1e-3)", "freeze fc1"), 0)
	const fc2 = (32*10 + 10) * 4
	if m.Grads != fc2 || m.State != 2*fc2+2*8 {
		t.Errorf("grads %d, state %d; want %d, %d", m.Grads, m.State, fc2, 2*fc2+2*8)
	}
	for i, r := range s.Rows {
		if r.Path == "fc1" && (m.Rows[i].Grads != 0 || m.Rows[i].State != 0 || m.Rows[i].Params == 0) {
			t.Errorf("frozen fc1: %+v", m.Rows[i])
		}
	}
}

// TestMemorySaved checks the activations saved for backward: they grow
// with the batch, and each row has those its layer emitted: fc1 its
// output (read by relu's backward), fc2 the logits (read by the loss's
// backward). fc2's input, relu's output, belongs to no layer call.
func TestMemorySaved(t *testing.T) {
	s16, m16 := memoryOf(t, memoryProgram("SGD(lr: 0.1)", ""), 0)
	_, m64 := memoryOf(t, memoryProgram("SGD(lr: 0.1)", ""), 64)
	if m64.Batch != 64 || m64.Saved < 3*m16.Saved || m64.StepArena <= m16.StepArena {
		t.Errorf("batch 16: saved %d, arena %d; batch 64: saved %d, arena %d", m16.Saved, m16.StepArena, m64.Saved, m64.StepArena)
	}
	var rows []string
	var sum int64
	for i, r := range s16.Rows {
		rows = append(rows, fmt.Sprintf("%s %d", r.Path, m16.Rows[i].Saved))
		sum += m16.Rows[i].Saved
	}
	if got := strings.Join(rows, ", "); got != "fc1 2048, fc2 640" {
		t.Errorf("saved by row: %s", got)
	}
	if sum >= m16.Saved {
		t.Errorf("rows save %d bytes, the step %d: relu's output is not counted", sum, m16.Saved)
	}
}

// TestMemoryModel checks a model's forward memory, and a model whose
// forward cannot be planned without its sequence length.
func TestMemoryModel(t *testing.T) {
	p := checkOK(t, "m.enc", []byte(memoryProgram("SGD(lr: 0.1)", "")))
	s, err := p.Summarize("Net")
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Memory(s, "Net", 4)
	if err != nil {
		t.Fatal(err)
	}
	if m.Train != "" || m.Batch != 4 || m.Params != (64*32+32+32*10+10)*4 || m.StepArena <= 0 || m.Inputs != 4*64*4 || m.Grads != 0 || m.Unplanned != "" {
		t.Errorf("%+v", m)
	}
	p = checkOK(t, "t.enc", []byte(`model Tok {
    emb = Embedding(100, 8)

    forward(ids: i32[B, T]) -> f32[B, T, 8] {
        return emb(ids)
    }
}
`))
	if s, err = p.Summarize("Tok"); err != nil {
		t.Fatal(err)
	}
	if m, err = p.Memory(s, "Tok", 0); err != nil {
		t.Fatal(err)
	}
	if m.Params != 100*8*4 || m.Total != m.Params || !strings.Contains(m.Unplanned, "T") {
		t.Errorf("%+v", m)
	}
}

// TestMemoryIDXBytes checks that a sample of an idx dataset counts its
// image one byte an element, as runtime/data holds IDX images, and its
// label four, with an idx test source or a split.
func TestMemoryIDXBytes(t *testing.T) {
	src := func(test string) string {
		return `model Net {
    fc = Linear(784, 10)

    forward(x: f32[B, 1, 28, 28]) -> f32[B, 10] {
        return x |> flatten |> fc
    }
}

dataset mnist {
    source = idx(images: "nope-images.gz", labels: "nope-labels.gz")
` + test + `}

train t {
    model     = Net()
    data      = mnist
    loss      = cross_entropy(model(image), label)
    optimizer = SGD(lr: 0.1)
    batch     = 16
    epochs    = 1
}
`
	}
	_, m := memoryOf(t, src(`    test   = idx(images: "nope-t10k.gz", labels: "nope-t10k-labels.gz")
`), 0)
	if m.Sample != 28*28+4 {
		t.Errorf("idx sample %d bytes, want %d (image bytes, label i32)", m.Sample, 28*28+4)
	}
	_, m = memoryOf(t, src(`    split  = { train: 0.9, test: 0.1 }
`), 0)
	if m.Sample != 28*28+4 {
		t.Errorf("idx sample (split) %d bytes, want %d", m.Sample, 28*28+4)
	}
}
