package compiler_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/golden"
)

// TestGraphDot compares the model diagrams of `encc graph` with
// testdata/graph/*.dot (go test -update rewrites them).
func TestGraphDot(t *testing.T) {
	for _, tc := range []struct {
		golden string
		file   string
		name   string
		unfold bool
	}{
		{"digits_mlp", "../examples/digits_mlp.enc", "", false},
		{"digits_finetune", "../examples/digits_finetune.enc", "finetune", false},
		{"custom_layer", "../examples/custom_layer.enc", "", false},
		{"spam_transformer", "../examples/spam_transformer.enc", "", false},
		{"spam_transformer_unfold", "../examples/spam_transformer.enc", "", true},
		{"bert_base", "testdata/bert_base.enc", "BertBase", false},
		{"stacks", "testdata/graph/stacks.enc", "Net", false},
		{"stacks_unfold", "testdata/graph/stacks.enc", "Net", true},
		{"named", "testdata/graph/named.enc", "Two", false},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			p, diags := compiler.CheckFile(tc.file, nil)
			if len(diags) > 0 {
				t.Fatalf("%s:\n%s", tc.file, shortDiags(diags))
			}
			s, err := p.Summarize(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata/graph", tc.golden+".dot"), s.Dot(compiler.GraphOptions{Unfold: tc.unfold}))
		})
	}
}

// TestGraphEdges checks the data flow the diagram is drawn from: a
// residual connection, a stack fed block to block, an input that only
// meets the rest at the end, and a stack folded without edges between
// its blocks.
func TestGraphEdges(t *testing.T) {
	p, diags := compiler.CheckFile("testdata/graph/stacks.enc", nil)
	if len(diags) > 0 {
		t.Fatal(shortDiags(diags))
	}
	s, err := p.Summarize("Net")
	if err != nil {
		t.Fatal(err)
	}
	from := map[string][]string{}
	name := func(i int) string {
		if i < 0 {
			return s.Inputs[-1-i].Name
		}
		return s.Rows[i].Path
	}
	for _, r := range s.Rows {
		for _, f := range r.From {
			from[r.Path] = append(from[r.Path], name(f))
		}
	}
	var out []string
	for _, f := range s.Outputs[0].From {
		out = append(out, name(f))
	}
	for path, want := range map[string]string{
		"embed":         "x",
		"linears.0":     "embed",
		"linears.1":     "linears.0",
		"blocks.0":      "linears.2",
		"blocks.0.fc":   "linears.2",
		"blocks.0.norm": "linears.2 blocks.0.fc",
		"blocks.1.fc":   "blocks.0.norm",
		"scale":         "blocks.1.norm",
		"head":          "scale",
	} {
		if got := strings.Join(from[path], " "); got != want {
			t.Errorf("%s reads %q, want %q", path, got, want)
		}
	}
	if got := strings.Join(out, " "); got != "bias head" {
		t.Errorf("output from %q, want %q", got, "bias head")
	}
	if len(s.Inputs) != 2 || s.Inputs[1].Type != "f32[B, 4]" {
		t.Errorf("inputs %v", s.Inputs)
	}
	dot := string(s.Dot(compiler.GraphOptions{}))
	for _, want := range []string{`"linears ×3: Linear\nf32[B, 16]\n816 params"`, `"blocks ×2: Residual, 608 params"`} {
		if !strings.Contains(dot, want) {
			t.Errorf("folded graph has no %s:\n%s", want, dot)
		}
	}
	if strings.Contains(dot, "blocks.1") || strings.Contains(dot, "linears.1") {
		t.Errorf("folded graph draws a later block:\n%s", dot)
	}
}
