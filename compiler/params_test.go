package compiler_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
)

// checkOK checks src and fails the test on any diagnostic.
func checkOK(t testing.TB, name string, src []byte) *compiler.Program {
	t.Helper()
	p, diags := compiler.Check(name, src, nil)
	if len(diags) > 0 {
		t.Fatalf("%s: unexpected diagnostics:\n%s", name, shortDiags(diags))
	}
	return p
}

// defaultInstance returns the instance of model name with default
// hyper-parameters.
func defaultInstance(t testing.TB, p *compiler.Program, name string) *compiler.Instance {
	t.Helper()
	for _, m := range p.Models {
		if m.Name == name {
			if m.Default == nil {
				t.Fatalf("model %s has no default instance", name)
			}
			return m.Default
		}
	}
	t.Fatalf("no model %s", name)
	return nil
}

func countParams(in *compiler.Instance) (n int64) {
	for _, p := range in.Params() {
		n += p.Elements()
	}
	return n
}

func paramNames(in *compiler.Instance) []string {
	var out []string
	for _, p := range in.Params() {
		out = append(out, p.Path)
	}
	return out
}

// wrap checks a model of the stdlib instantiated as the only sub-layer
// "m" of a wrapper, and returns the wrapper's instance.
func wrap(t *testing.T, call, in, out string) *compiler.Instance {
	t.Helper()
	src := fmt.Sprintf("model W {\n    m = %s\n    forward(x: %s) -> %s { return m(x) }\n}\n", call, in, out)
	return defaultInstance(t, checkOK(t, "wrap.enc", []byte(src)), "W")
}

func TestDigitsMLPParams(t *testing.T) {
	p, diags := compiler.CheckFile("../examples/digits_mlp.enc", nil)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", shortDiags(diags))
	}
	s, err := p.Summarize("")
	if err != nil {
		t.Fatal(err)
	}
	// 64*128+128 + 128*64+64 + 64*10+10
	if got := s.Trainable + s.Frozen; got != 17226 {
		t.Errorf("summary: %d parameters, want 17,226", got)
	}
	tr := p.Train("classify")
	if tr == nil {
		t.Fatal("no train classify")
	}
	if got := countParams(tr.Model); got != 17226 {
		t.Errorf("Instance.Params: %d parameters, want 17,226", got)
	}
	got := strings.Join(paramNames(tr.Model), " ")
	want := "encoder.fc1.weight encoder.fc1.bias encoder.fc2.weight encoder.fc2.bias head.weight head.bias"
	if got != want {
		t.Errorf("parameter names:\n got %s\nwant %s", got, want)
	}
	shapes := map[string]string{}
	for _, q := range tr.Model.Params() {
		shapes[q.Path] = q.Type.String()
	}
	if s := shapes["encoder.fc1.weight"]; s != "f32[128, 64]" {
		t.Errorf("encoder.fc1.weight is %s, want f32[128, 64] (PyTorch [out, in])", s)
	}
}

// TestStdlibParams pins parameter counts of stdlib models to PyTorch's.
func TestStdlibParams(t *testing.T) {
	tests := []struct {
		call, in, out string
		want          int64
	}{
		// nn.TransformerEncoderLayer(128, 4, 512): in_proj 3*128*128+3*128,
		// out_proj 128*128+128, linear1 128*512+512, linear2 512*128+128,
		// norm1 and norm2 2*(2*128).
		{"TransformerEncoderLayer(128, 4, 512)", "f32[B, T, 128]", "f32[B, T, 128]", 198272},
		{`TransformerEncoderLayer(128, 4, 512, norm: "pre")`, "f32[B, T, 128]", "f32[B, T, 128]", 198272},
		// nn.MultiheadAttention(128, 4): 4*(128*128+128).
		{"MultiHeadAttention(128, 4)", "f32[B, T, 128]", "f32[B, T, 128]", 66048},
		// 6*(1*25)+6 + 16*(6*25)+16 + 400*120+120 + 120*84+84 + 84*10+10.
		{"LeNet5()", "f32[B, 1, 28, 28]", "f32[B, 10]", 61706},
		// Two layers and a final norm: 2*198272 + 2*128.
		{`TransformerEncoder(2, 128, 4, 512, norm: "pre")`, "f32[B, T, 128]", "f32[B, T, 128]", 2*198272 + 256},
		// 64*32+32 + 32*32+32 + 32*10+10.
		{"MLP(64, 32, 10, depth: 3)", "f32[B, 64]", "f32[B, 10]", 3466},
	}
	for _, tt := range tests {
		t.Run(tt.call, func(t *testing.T) {
			if got := countParams(wrap(t, tt.call, tt.in, tt.out)); got != tt.want {
				t.Errorf("%s: %d parameters, want %d", tt.call, got, tt.want)
			}
		})
	}
}

// TestStackParamNames checks the PyTorch ModuleList naming of repeat.
func TestStackParamNames(t *testing.T) {
	in := wrap(t, "TransformerEncoder(2, 16, 2, 32)", "f32[B, T, 16]", "f32[B, T, 16]")
	names := paramNames(in)
	want := []string{
		"m.blocks.0.attn.q.weight", "m.blocks.0.attn.q.bias", "m.blocks.0.attn.k.weight",
		"m.blocks.0.attn.k.bias", "m.blocks.0.attn.v.weight", "m.blocks.0.attn.v.bias",
		"m.blocks.0.attn.o.weight", "m.blocks.0.attn.o.bias",
		"m.blocks.0.ff1.weight", "m.blocks.0.ff1.bias", "m.blocks.0.ff2.weight", "m.blocks.0.ff2.bias",
		"m.blocks.0.norm1.weight", "m.blocks.0.norm1.bias", "m.blocks.0.norm2.weight", "m.blocks.0.norm2.bias",
	}
	if len(names) != 2*len(want) {
		t.Fatalf("got %d parameters, want %d: %v", len(names), 2*len(want), names)
	}
	for i, w := range want {
		if names[i] != w {
			t.Errorf("parameter %d is %s, want %s", i, names[i], w)
		}
		if w1 := strings.Replace(w, ".0.", ".1.", 1); names[len(want)+i] != w1 {
			t.Errorf("parameter %d is %s, want %s", len(want)+i, names[len(want)+i], w1)
		}
	}
}

// BERT-base has 109,482,240 parameters (Hugging Face bert-base-uncased,
// BertModel). Without the token-type embeddings (2*768 = 1,536) and the
// pooler (768*768 + 768 = 590,592) that is 108,890,112:
//
//	token embeddings     30522*768                 = 23,440,896
//	position embeddings    512*768                 =    393,216
//	embedding LayerNorm      2*768                 =      1,536
//	12 layers × 7,087,872                          = 85,054,464
//	  attention  4*(768*768 + 768)       = 2,362,368
//	  ffn        768*3072+3072 + 3072*768+768 = 4,722,432
//	  two LayerNorms  2*2*768            =     3,072
//	total                                         = 108,890,112
const bertBaseParams = 108_890_112

func TestBERTBaseParams(t *testing.T) {
	if 109_482_240-2*768-(768*768+768) != bertBaseParams {
		t.Fatal("arithmetic in the comment is wrong")
	}
	src, err := os.ReadFile("testdata/bert_base.enc")
	if err != nil {
		t.Fatal(err)
	}
	in := defaultInstance(t, checkOK(t, "testdata/bert_base.enc", src), "BertBase")
	if got := countParams(in); got != bertBaseParams {
		t.Errorf("BERT-base: %d parameters, want %d", got, bertBaseParams)
	}
}

// BenchmarkCheckBERTBase times a full Check of BERT-base: parsing the
// file and the stdlib, instantiating 12 layers and checking every
// forward.
func BenchmarkCheckBERTBase(b *testing.B) {
	src, err := os.ReadFile("testdata/bert_base.enc")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := compiler.Check("testdata/bert_base.enc", src, nil); len(diags) > 0 {
			b.Fatal(diags)
		}
	}
}
