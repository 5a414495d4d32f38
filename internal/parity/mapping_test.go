package parity

import (
	"slices"
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	m := Mapping{Rename: map[string]string{
		"layers.":             "blocks.",
		"self_attn.out_proj.": "attn.o.",
		"linear1.":            "ff1.",
		"norm.":               "final_norm.",
		"bert.":               "",
		"head":                "classifier",
		"a.b.":                "ab.",
		"a.":                  "A.",
	}}
	for _, c := range []struct{ in, want string }{
		{"layers.0.linear1.weight", "blocks.0.ff1.weight"},
		{"layers.1.self_attn.out_proj.bias", "blocks.1.attn.o.bias"},
		{"norm.weight", "final_norm.weight"},
		{"layers.0.norm1.weight", "blocks.0.norm1.weight"}, // "norm." is not "norm1."
		{"xlinear1.weight", "xlinear1.weight"},             // boundaries only
		{"bert.pooler.dense.weight", "pooler.dense.weight"},
		{"head.weight", "classifier.weight"},   // a key may end before a "."
		{"head", "classifier"},                 // or at the end
		{"heads.weight", "heads.weight"},       // but not inside a segment
		{"a.b.c", "ab.c"},                      // longest key first
		{"a.c", "A.c"},                         //
		{"layers.layers.x", "blocks.blocks.x"}, // every occurrence, one pass
		{"blocks.0.w", "blocks.0.w"},           // replaced text is not matched again
	} {
		if got := m.Name(c.in); got != c.want {
			t.Errorf("Name(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// torchLayerShapes is the state_dict of nn.TransformerEncoder(
// nn.TransformerEncoderLayer(32, 4, 64), 2, norm=nn.LayerNorm(32)).
func torchLayerShapes() map[string][]int {
	s := map[string][]int{"norm.weight": {32}, "norm.bias": {32}}
	for _, l := range []string{"layers.0.", "layers.1."} {
		s[l+"self_attn.in_proj_weight"] = []int{96, 32}
		s[l+"self_attn.in_proj_bias"] = []int{96}
		s[l+"self_attn.out_proj.weight"] = []int{32, 32}
		s[l+"self_attn.out_proj.bias"] = []int{32}
		s[l+"linear1.weight"] = []int{64, 32}
		s[l+"linear1.bias"] = []int{64}
		s[l+"linear2.weight"] = []int{32, 64}
		s[l+"linear2.bias"] = []int{32}
		for _, n := range []string{"norm1.", "norm2."} {
			s[l+n+"weight"] = []int{32}
			s[l+n+"bias"] = []int{32}
		}
	}
	return s
}

// enccEncoderShapes is the parameter tree of the stdlib
// TransformerEncoder(2, 32, 4, 64, norm: "pre") under prefix at.
func enccEncoderShapes(at string) map[string][]int {
	s := map[string][]int{at + "final_norm.weight": {32}, at + "final_norm.bias": {32}}
	for _, l := range []string{"blocks.0.", "blocks.1."} {
		for _, x := range []string{"q", "k", "v", "o"} {
			s[at+l+"attn."+x+".weight"] = []int{32, 32}
			s[at+l+"attn."+x+".bias"] = []int{32}
		}
		s[at+l+"ff1.weight"] = []int{64, 32}
		s[at+l+"ff1.bias"] = []int{64}
		s[at+l+"ff2.weight"] = []int{32, 64}
		s[at+l+"ff2.bias"] = []int{32}
		for _, n := range []string{"norm1.", "norm2."} {
			s[at+l+n+"weight"] = []int{32}
			s[at+l+n+"bias"] = []int{32}
		}
	}
	return s
}

func TestTorchTransformerEncoderPlan(t *testing.T) {
	for _, at := range []string{"", "encoder"} {
		prefix := ""
		if at != "" {
			prefix = at + "."
		}
		pieces, err := TorchTransformerEncoder(at).Plan(torchLayerShapes())
		if err != nil {
			t.Fatal(err)
		}
		if r := Check(pieces, enccEncoderShapes(prefix)); !r.OK() {
			t.Fatalf("at %q: %s", at, r)
		}
		var q Piece
		for _, p := range pieces {
			if p.To == prefix+"blocks.1.attn.k.weight" {
				q = p
			}
		}
		if q.From != "layers.1.self_attn.in_proj_weight" || q.Part != 1 || q.Parts != 3 || !slices.Equal(q.Shape, []int{32, 32}) {
			t.Errorf("at %q: k weight piece %+v", at, q)
		}
	}
}

func TestTake(t *testing.T) {
	data := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11} // [6, 2]
	p := Piece{Part: 1, Parts: 3}
	if got := Take(p, data); !slices.Equal(got, []int{4, 5, 6, 7}) {
		t.Errorf("Take part 1 of 3 = %v", got)
	}
	if got := Take(Piece{Parts: 1}, data); !slices.Equal(got, data) {
		t.Errorf("Take whole = %v", got)
	}
}

func TestPlanErrors(t *testing.T) {
	m := TorchTransformerEncoder("")
	_, err := m.Plan(map[string][]int{"layers.0.self_attn.in_proj_weight": {95, 32}})
	if err == nil || !strings.Contains(err.Error(), "layers.0.self_attn.in_proj_weight [95 32] cannot be split into 3 equal parts") {
		t.Errorf("indivisible split: %v", err)
	}
	m.Rename["linear2."] = "ff1."
	_, err = m.Plan(map[string][]int{"layers.0.linear1.weight": {64, 32}, "layers.0.linear2.weight": {32, 64}})
	if err == nil || !strings.Contains(err.Error(), "layers.0.linear1.weight and layers.0.linear2.weight both map to blocks.0.ff1.weight") {
		t.Errorf("collision: %v", err)
	}
}

// A wrong rename gives the missing / unexpected / mis-shaped report.
func TestCheckReport(t *testing.T) {
	m := TorchTransformerEncoder("")
	delete(m.Rename, "linear1.")                                               // linear1 stays: unexpected, ff1 missing
	m.Split["self_attn.in_proj_bias"] = []string{"attn.q.bias", "attn.k.bias"} // 48 each: mis-shaped, v missing
	pieces, err := m.Plan(torchLayerShapes())
	if err != nil {
		t.Fatal(err)
	}
	r := Check(pieces, enccEncoderShapes(""))
	if r.OK() {
		t.Fatal("report OK for a wrong mapping")
	}
	want := []string{
		"6 missing: blocks.0.attn.v.bias, blocks.0.ff1.bias, blocks.0.ff1.weight, blocks.1.attn.v.bias, blocks.1.ff1.bias, blocks.1.ff1.weight",
		"4 unexpected: blocks.0.linear1.bias (from layers.0.linear1.bias), blocks.0.linear1.weight (from layers.0.linear1.weight), blocks.1.linear1.bias (from layers.1.linear1.bias), blocks.1.linear1.weight (from layers.1.linear1.weight)",
		"4 mis-shaped: blocks.0.attn.k.bias: checkpoint [48] (from layers.0.self_attn.in_proj_bias), model [32]",
	}
	for _, w := range want {
		if !strings.Contains(r.Error(), w) {
			t.Errorf("report\n%s\nlacks\n%s", r, w)
		}
	}
}
