package weights

import (
	"errors"
	"slices"
	"sort"
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
		if _, err := Check(pieces, params(enccEncoderShapes(prefix)), CheckOptions{}); err != nil {
			t.Fatalf("at %q: %v", at, err)
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
	if err == nil || !strings.Contains(err.Error(), "layers.0.self_attn.in_proj_weight [95, 32] cannot be split into 3 equal parts") {
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
	_, err = Check(pieces, params(enccEncoderShapes("")), CheckOptions{File: "enc.safetensors", Model: "Enc"})
	var fe *FitError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a FitError", err)
	}
	want := []string{
		"enc.safetensors does not fit Enc",
		"missing (6): blocks.0.attn.v.bias [32], blocks.0.ff1.bias [64], blocks.0.ff1.weight [64, 32], blocks.1.attn.v.bias [32], blocks.1.ff1.bias [64], blocks.1.ff1.weight [64, 32]",
		"unexpected (4): blocks.0.linear1.bias [64] (from layers.0.linear1.bias), blocks.0.linear1.weight [64, 32] (from layers.0.linear1.weight), blocks.1.linear1.bias [64] (from layers.1.linear1.bias), blocks.1.linear1.weight [64, 32] (from layers.1.linear1.weight)",
		"mis-shaped (4): blocks.0.attn.k.bias: [48] in the file (part 2 of 2 of layers.0.self_attn.in_proj_bias), [32] in the model",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("report\n%s\nlacks\n%s", err, w)
		}
	}
}

// Only: unselected parameters are neither missing nor loaded; a piece
// outside the model is unexpected only where Only selects it; a tensor
// of integers fits no parameter.
func TestCheckOnlyNonFloat(t *testing.T) {
	params := []Param{{"enc.w", []int{2, 2}}, {"enc.b", []int{2}}, {"head.w", []int{3, 2}}}
	pieces, err := Mapping{Rename: map[string]string{"bert.": "enc."}}.Plan(map[string][]int{
		"bert.w": {2, 2}, "bert.b": {2}, "pooler.w": {2, 2}, "head.w": {3, 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	only := func(p string) bool { return strings.HasPrefix(p, "enc.") }
	got, err := Check(pieces, params, CheckOptions{Only: only})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["enc.w"].From != "bert.w" || got["enc.b"].From != "bert.b" {
		t.Errorf("loaded %v, want enc.w and enc.b", got)
	}
	_, err = Check(pieces, params, CheckOptions{File: "f", Model: "M", NonFloat: map[string]string{"bert.b": "I64"}})
	for _, w := range []string{"unexpected (1): pooler.w [2, 2]\n", "mis-shaped (1): enc.b: I64 [2] in the file (from bert.b), f32 [2] in the model"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}

// A split key that matches no tensor is an error of the mapping.
func TestPlanUnusedSplit(t *testing.T) {
	m := Mapping{Split: map[string][]string{"in_proj": {"q", "k"}, "attn.qkv": {"q", "k", "v"}}}
	_, err := m.Plan(map[string][]int{"bert.in_proj": {4, 2}, "qkv": {3}})
	if err == nil || !strings.Contains(err.Error(), `split "attn.qkv" matches no tensor`) || strings.Contains(err.Error(), `"in_proj"`) {
		t.Errorf("got %v", err)
	}
}

// The zero Mapping keeps every name: what encc eval and a resumed run
// load with.
func TestIdentity(t *testing.T) {
	pieces, err := Mapping{}.Plan(map[string][]int{"b.x": {1}, "a": {2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Piece{{From: "a", To: "a", Parts: 1, Shape: []int{2, 3}}, {From: "b.x", To: "b.x", Parts: 1, Shape: []int{1}}}
	if len(pieces) != 2 || pieces[0].To != want[0].To || pieces[1].To != want[1].To || pieces[0].Parts != 1 || !slices.Equal(pieces[0].Shape, want[0].Shape) {
		t.Errorf("Plan = %+v, want %+v", pieces, want)
	}
}

// params lists a parameter tree in path order.
func params(shapes map[string][]int) []Param {
	var out []Param
	for path, s := range shapes {
		out = append(out, Param{path, s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Missing parameters come in the model's order.
func TestCheckMissingOrder(t *testing.T) {
	_, err := Check(nil, []Param{{"b.weight", []int{2}}, {"b.bias", []int{2}}, {"a.weight", []int{1}}}, CheckOptions{File: "f", Model: "M"})
	if err == nil || !strings.Contains(err.Error(), "missing (3): b.weight [2], b.bias [2], a.weight [1]") {
		t.Errorf("got %v", err)
	}
}
