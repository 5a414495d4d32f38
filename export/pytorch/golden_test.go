package pytorch

import (
	"path/filepath"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/golden"
)

// TestModelGolden pins the model.py of a few examples, so a change to
// the generated code shows as a diff to review (go test -update, or
// ENCC_UPDATE=1, rewrites testdata/golden/).
func TestModelGolden(t *testing.T) {
	for _, c := range []struct{ file, name string }{
		{"digits_cnn", "cnn"},
		{"digits_finetune", "finetune"},
		{"spam_transformer", "spam_transformer"},
		{"custom_layer", "net"},
		{"spam_gru", "spam_gru"},
		{"mnist_lstm", "mnist_lstm"},
	} {
		p, diags := compiler.CheckFile(filepath.Join("../../examples", c.file+".enc"), nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		g := newModelGen(p)
		for tr := p.Train(c.name); tr != nil; tr = tr.From {
			must(t, g.visit(tr.Model))
		}
		src, err := g.write("")
		must(t, err)
		golden.Check(t, filepath.Join("testdata", "golden", c.file+".model.py"), []byte(src))
	}
}
